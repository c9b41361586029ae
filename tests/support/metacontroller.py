"""The real Metacontroller against the cluster tier, calling a local `aurora-hooks`.

Metacontroller v4.17.2 is built from its source by `scripts/cluster build`. Aurora's
CompositeControllers (applied with the kind overlay) call the hooks at their in-cluster Service
address; the tests run the hooks as a local `aurora-hooks`, so while Metacontroller runs the
controllers' webhook URLs point at it, and afterwards the controllers are applied again as the
kind overlay has them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml

from tests.support.documents import built
from tests.support.kube_cluster import Resource
from tests.support.processes import Program
from tests.support.servers import free_port

CONTROLLERS = Resource("metacontroller.k8s.io/v1alpha1", "compositecontrollers", namespaced=False)
NAMES = ("mltrainingjob-controller", "mldeployment-controller")
STRATEGIES = ("dynamic-apply", "server-side-apply")


def hook_urls(controller: dict) -> dict[str, str]:
    """Each hook's webhook URL, by hook (sync, customize, finalize)."""
    hooks = controller["spec"].get("hooks") or {}
    return {hook: body["webhook"]["url"] for hook, body in hooks.items() if (body.get("webhook") or {}).get("url")}


def pointed_at(url: str, base: str) -> str:
    """The same path on another scheme and host: http://svc.ns/mld/sync -> <base>/mld/sync."""
    return base + "/" + url.split("://", 1)[1].split("/", 1)[1]


def set_urls(kube, name: str, urls: dict[str, str]) -> None:
    hooks = {hook: {"webhook": {"url": url}} for hook, url in urls.items()}
    kube.call("PATCH", CONTROLLERS.path(name=name), {"spec": {"hooks": hooks}}, None, "application/merge-patch+json")


def restore(cluster) -> None:
    """The CompositeControllers exactly as the kind overlay applies them (same field manager), so
    that applying the overlay again changes nothing."""
    controllers = [doc for doc in built("kind") if doc["kind"] == "CompositeController"]
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=yaml.safe_dump_all(controllers))


class Metacontroller:
    """A running Metacontroller; `log_lines(text)` finds what it logged."""

    def __init__(self, program: Program):
        self.program = program

    def log_lines(self, text: str) -> list[str]:
        return [line for line in self.program.log.read_text(errors="replace").splitlines() if text in line]


@contextlib.contextmanager
def running_metacontroller(
    cluster, hooks_url: str, work: Path, strategy: str = "dynamic-apply", flags: tuple[str, ...] = ()
):
    """Metacontroller with `--apply-strategy=strategy` and `flags`, its controllers calling `hooks_url`."""
    kube = cluster.admin()
    for name in NAMES:
        urls = hook_urls(kube.get(CONTROLLERS.path(name=name)))
        set_urls(kube, name, {hook: pointed_at(url, hooks_url) for hook, url in urls.items()})
    health = f"127.0.0.1:{free_port()}"
    argv = [
        str(cluster.bin / "metacontroller"),
        f"--kubeconfig={cluster.kubeconfig}",
        f"--metrics-address=127.0.0.1:{free_port()}",
        f"--health-probe-bind-address={health}",
        # What the production manifests run with, but discovery every 5 s: tests install CRDs.
        "--discovery-interval=5s",
        "--zap-log-level=4",
        f"--apply-strategy={strategy}",
        *flags,
    ]
    program = None
    try:
        program = Program(argv, work / f"metacontroller-{strategy}.log")
        program.wait_for(f"http://{health}/healthz", "Metacontroller")
        yield Metacontroller(program)
    finally:
        if program:
            program.stop()
        restore(cluster)
