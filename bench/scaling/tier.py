"""What a bench/scale run stands on: the cluster tier's control plane with enough fake nodes,
Prometheus scraping the fleet of inference series, `aurora-hooks` under gunicorn and the real
Metacontroller. Everything starts in order and stops in reverse, also after a failure."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

from bench.scaling.fleet_feed import FleetFeed
from bench.scaling.settings import Settings
from tests.support.fleet import Fleet
from tests.support.kube_cluster import Resource
from tests.support.metacontroller import running_metacontroller
from tests.support.processes import Program, start_hooks, start_prometheus
from tests.support.waiting import wait_until

NODES = Resource("v1", "nodes", namespaced=False)
PODS_PER_NODE = 100  # kwok's fake nodes offer 110 (cluster/kwok/stages.yaml)
# As many hooks processes as the manifests deploy: two replicas of two workers (four threads each).
HOOKS_WORKERS = 4


def fake_node(name: str) -> dict:
    """A node kwok plays, as scripts/cluster makes them."""
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    labels["type"] = "kwok"
    metadata = {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}}
    return {"apiVersion": "v1", "kind": "Node", "metadata": metadata}


class Tier:
    def __init__(self, cluster, settings: Settings, work: Path):
        self.cluster, self.settings, self.work = cluster, settings, work
        self.kube = cluster.admin()
        self.stack = contextlib.ExitStack()
        try:
            self.start()
        except BaseException:
            self.stack.close()
            raise

    def start(self) -> None:
        self.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", "manifests/overlays/kind")
        self.cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self.add_nodes()
        self.fleet = Fleet()
        self.fleet.start()
        self.stack.callback(self.fleet.stop)
        self.prometheus_url = self.start_prometheus()
        self.hooks = self.start_hooks()
        flags = (*self.settings.metacontroller_flags(), "--zap-log-level=info")
        self.metacontroller = self.stack.enter_context(
            running_metacontroller(self.cluster, self.hooks_url, self.work, flags=flags)
        ).program
        self.feed = FleetFeed(self.kube, self.fleet, self.settings.requests_per_second)
        self.feed.start()
        self.stack.callback(self.feed.stop)

    def add_nodes(self) -> None:
        """Enough fake nodes for every pod of the run: a stable pod per model, and per rollout a
        training pod, a canary pod and a previous-track pod. A finished training pod takes no
        place (the scheduler leaves out pods that have ended)."""
        pods = self.settings.deployments + 3 * self.settings.rollouts
        names = [f"kwok-scale-{i}" for i in range(math.ceil(pods / PODS_PER_NODE))]
        for name in names:
            self.kube.call("POST", NODES.path(), fake_node(name))
            self.stack.callback(self.kube.delete, NODES.path(name=name))

        def ready() -> bool:
            nodes = {n["metadata"]["name"]: n for n in self.kube.list(NODES)}
            return all(is_schedulable(nodes.get(name)) for name in names)

        wait_until(ready, 180, f"{len(names)} fake nodes Ready and untainted")

    def start_prometheus(self) -> str:
        # honor_labels: the fleet's namespace and pod labels stand for what discovery would add.
        job = {"job_name": "inference", "honor_labels": True, "static_configs": [{"targets": [self.fleet.address]}]}
        config = {"global": {"scrape_interval": "2s", "evaluation_interval": "2s"}, "scrape_configs": [job]}
        program = start_prometheus(config, self.work)
        self.stack.callback(program.stop)
        return program.url

    def start_hooks(self) -> Program:
        program = start_hooks(self.prometheus_url, self.work, workers=HOOKS_WORKERS)
        self.stack.callback(program.stop)
        self.hooks_url = program.url
        return program

    @property
    def metacontroller_pgid(self) -> int:
        """Its process group (it runs in a session of its own), the new one after a restart."""
        return self.metacontroller.process.pid

    def stop(self) -> None:
        self.stack.close()


def is_schedulable(node: dict | None) -> bool:
    if not node:
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and not (node.get("spec") or {}).get("taints")
