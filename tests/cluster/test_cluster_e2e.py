"""End to end on the real control plane, the real Metacontroller, a real router and real pods:
train, serve, roll out, promote, roll back at once, and roll a broken canary back, with users'
requests going through the router all along.

What runs for real: etcd, kube-apiserver, kube-controller-manager (Deployments, ReplicaSets, Jobs
with their pod failure policy, EndpointSlices, garbage collection), kube-scheduler, a kubelet
with containerd and runc running Aurora's image (training Jobs' `aurora-train`; inference pods
with their init container, probes, preStop, restricted securityContext and read-only root
filesystem), Metacontroller v4.17.2 built from its source and calling `aurora-hooks` under
gunicorn, Traefik v3.7 routing by the canary Ingresses (router `nginx`) or the HTTPRoute (router
`gatewayAPI`) to the pods' own addresses, Prometheus, and `kubectl get mld -w`. The broken
version is a real model trained on a corrupted target: fast, all 200s, and wrong.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.datasets import diabetes_rows, shifted_diabetes
from tests.support.manifests import dump, host, ml_deployment, training_job
from tests.support.paths import ROOT
from tests.support.platform import DEPLOYMENTS, TRAINING_JOBS, Platform, pods_may_write
from tests.support.traffic import RouteWeights, Users, header_answers, shares
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster
INTERVAL_SECONDS = 3
HEADER = {"name": "X-Aurora-Canary", "value": "always"}
# Two close versions of one model, then one trained on the target moved by 150 (a label bug).
SHIFTED = "/models/data/diabetes-shifted.csv"
# The third version's predictions shift by a PSI near 15. The second version's differ from the
# first's by 0.03 over the rows the users send; chance adds about 0.3-0.6 at the header step's
# 60-80 predictions a window (the check judges a shift of 2 only below a chance PSI of 1).
MAX_SHIFT = 2.0
# The share of requests the canary gets at a weight, as measured through the router, may differ
# from the weight by this much (Traefik's weighted round robin is exact over whole cycles).
SHARE_TOLERANCE = 0.05
# What the pods get from the real node's kubelet (cgroup v1 limits): aurora-serve's two workers
# and its gRPC threads peak near 160 MiB; a ridge regression trains in far less than 1 GiB.
SERVER_RESOURCES = {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
TRAINER_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def training_jobs(namespace: str) -> str:
    """Three runs of one model applied together, as a sweep in one GitOps change would be."""
    gate = {"metric": "r2", "min": 0.2}
    good = training_job(namespace, "diabetes-a", params={"alpha": 1.0}, gate=gate)
    newer = training_job(namespace, "diabetes-b", params={"alpha": 0.95}, gate=gate)
    broken = training_job(namespace, "diabetes-c", gate=gate)
    broken["spec"]["dataset"] = {"csv": {"path": SHIFTED, "target": "target"}}
    for run in (good, newer, broken):
        run["spec"]["resources"] = TRAINER_RESOURCES
    return dump(good, newer, broken)


def serving(namespace: str, version: str, router: str) -> str:
    """Three steps: the header route alone (weight 0), then 20 % and 50 %, each checked."""
    interval = f"{INTERVAL_SECONDS}s"
    canary = {
        "replicas": 1,
        "steps": [{"pause": {"duration": interval}}, {"setWeight": 20}, {"setWeight": 50}],
        "analysis": {
            "interval": interval,
            "minRequests": 10,
            "maxErrorRate": 0.05,
            "failureLimit": 2,
            "maxPredictionShift": MAX_SHIFT,
        },
    }
    deployment = ml_deployment(namespace, version=version, router=router, header=HEADER, canary=canary)
    deployment["spec"]["resources"] = SERVER_RESOURCES
    return dump(deployment)


class Scenario:
    """The platform, the users and what they saw, and the moments that matter."""

    def __init__(self, cluster, platform: Platform, router, name: str):
        self.cluster, self.platform, self.router, self.name = cluster, platform, router, name
        self.began = time.monotonic()
        self.times: dict[str, float] = {}
        self.checks: list[str] = []
        self.pods: list[tuple[str, str]] = []  # (moment, `kubectl get pods -o wide`)

    def status(self) -> dict:
        return self.platform.status(DEPLOYMENTS, "diabetes")

    def wait(self, check, timeout: float, what: str, interval: float = 0.1):
        """wait_until, saying on a timeout what the MLDeployment's status was."""
        try:
            return wait_until(check, timeout, what, interval)
        except AssertionError as err:
            raise AssertionError(f"{err}; the MLDeployment's status: {json.dumps(self.status(), indent=1)}") from None

    def set_version(self, version: str) -> float:
        patch = f'{{"spec":{{"version":"{version}"}}}}'
        self.cluster.kubectl("patch", "mld", "diabetes", "-n", self.platform.namespace, "--type=merge", "-p", patch)
        return time.monotonic()

    def stable_on(self, version: str) -> dict | None:
        status = self.status()
        self.note_check(status)
        ready = (status.get("stable") or {}).get("readyReplicas")
        settled = (status.get("phase"), status.get("stableVersion"), ready) == ("Stable", version, 2)
        return status if settled and not status.get("canaryVersion") else None

    def note_check(self, status: dict) -> None:
        """Each analysis check once, as the status records it."""
        analysis = status.get("analysis") or {}
        if analysis.get("time") and (not self.checks or not self.checks[-1].startswith(analysis["time"])):
            step = f"step {analysis.get('step', 0) + 1}"
            self.checks.append(f"{analysis['time']} {step}: {analysis.get('verdict')}, {analysis.get('message')}")

    def start_users(self) -> None:
        # Every other request carries the header: at weight 0 the canary gets half of them.
        self.users = Users(self.router, host(self.platform.namespace), HEADER, header_every=2, rows=diabetes_rows())
        self.routes = RouteWeights(self.platform.kube, self.platform.namespace, "diabetes")
        for thread in (self.users, self.routes):
            thread.start()
        self.platform.stack.callback(self.routes.stop)
        self.platform.stack.callback(self.users.stop)


def train_three_versions(scenario: Scenario) -> list[str]:
    platform = scenario.platform
    shifted_diabetes(platform.models / SHIFTED.removeprefix("/models/"))
    pods_may_write(platform.models)
    platform.apply(training_jobs(platform.namespace))

    def trained():
        runs = [platform.status(TRAINING_JOBS, f"diabetes-{x}") for x in "abc"]
        return runs if all(run.get("phase") == "Succeeded" for run in runs) else None

    runs = wait_until(trained, 120, "three training runs to succeed")
    versions = [run["modelVersion"] for run in runs]
    assert versions == sorted(set(versions)) and all(run["metrics"]["r2"] > 0.2 for run in runs)
    assert all(run["gatePassed"] and run["promoted"] for run in runs)
    scenario.times["trained"] = time.monotonic() - scenario.began
    return versions


def promote(scenario: Scenario, newer: str) -> None:
    """The new version goes through the header step, 20 % and 50 %, and is promoted."""
    began = scenario.set_version(newer)

    def promoted():
        if scenario.status().get("phase") == "Promoting":
            scenario.times.setdefault("promoting", time.monotonic())
        return scenario.stable_on(newer)

    status = scenario.wait(promoted, 120, "the canary to be promoted")
    assert status["reason"] == "Promoted"
    scenario.times["rollout"], scenario.times["promoted"] = began, time.monotonic() - began


def roll_back_at_once(scenario: Scenario, good: str, newer: str) -> None:
    """aurora.dev/rollback sends all traffic to the previous track's ready pods, then the stable
    track runs the previous version again."""

    def previous_ready():
        status = scenario.status()
        return status if (status.get("previous") or {}).get("readyReplicas") == 2 else None

    assert scenario.wait(previous_ready, 60, "the previous track to be ready")["previousVersion"] == good
    scenario.pods.append(("promoted; the replaced version ready on the previous track", scenario.platform.pods()))

    def only_newer_answers() -> bool:
        recent = scenario.users.since(time.monotonic() - 1.0)
        return bool(recent) and {a.version for a in recent} == {newer}

    # The old version's last pods have drained: whatever answers with it next is the rollback.
    wait_until(only_newer_answers, 30, "users to get only the promoted version", interval=0.1)
    asked = time.monotonic()
    namespace = scenario.platform.namespace
    scenario.cluster.kubectl("annotate", "mld", "diabetes", "-n", namespace, "aurora.dev/rollback=e2e")
    wait_until(lambda: scenario.users.first_answer(good, asked), 30, "the previous version to answer", interval=0.05)
    scenario.times["switched"] = scenario.users.first_answer(good, asked) - asked

    def back_on_good():
        status = scenario.status()
        settled = not status.get("trafficOnPrevious") and not status.get("previousVersion")
        running = status.get("stable") == {"version": good, "replicas": 2, "readyReplicas": 2}
        return status if running and settled else None

    status = scenario.wait(back_on_good, 90, "the stable track to run the previous version")
    scenario.times["restored"] = time.monotonic() - asked
    assert (status["phase"], status["reason"], status["failedVersion"]) == ("RolledBack", "RollbackRequested", newer)


def roll_back_broken(scenario: Scenario, good: str, broken: str) -> None:
    def rolled_back():
        status = scenario.status()
        scenario.note_check(status)
        if (status.get("canary") or {}).get("readyReplicas") and len(scenario.pods) < 2:
            scenario.pods.append(("the broken version's canary ready", scenario.platform.pods()))
        done = status.get("phase") == "RolledBack" and status.get("failedVersion") == broken
        return status if done and not status.get("canaryVersion") else None

    began = scenario.set_version(broken)
    status = scenario.wait(rolled_back, 120, "the broken canary to be rolled back")
    scenario.times["rolled_back"] = time.monotonic() - began
    assert status["stableVersion"] == good and status["canaryWeight"] == 0
    assert "canary predictions shifted from stable's" in status["message"]


def settles(scenario: Scenario) -> None:
    """Once the canary is drained and gone, no status write causes another."""
    path = DEPLOYMENTS.path(scenario.platform.namespace, "diabetes")
    seen = [scenario.platform.kube.get(path)["metadata"]["resourceVersion"], time.monotonic()]

    def unchanged_for_5s() -> bool:
        version = scenario.platform.kube.get(path)["metadata"]["resourceVersion"]
        if version != seen[0]:
            seen[:] = [version, time.monotonic()]
        return time.monotonic() - seen[1] > 5

    wait_until(unchanged_for_5s, 30, "the MLDeployment to stop changing", interval=0.2)


@pytest.mark.parametrize(
    "router_kind, strategy",
    [("nginx", "dynamic-apply"), ("gatewayAPI", "dynamic-apply"), ("nginx", "server-side-apply")],
    ids=["nginx-dynamic-apply", "gatewayAPI-dynamic-apply", "nginx-server-side-apply"],
)
def test_train_serve_promote_and_roll_back_through_the_router(
    cluster, aurora_installed, router, namespace, tmp_path, router_kind, strategy
):
    platform = Platform(cluster, namespace, tmp_path, strategy=strategy)
    scenario = Scenario(cluster, platform, router, f"{router_kind}-{strategy}")
    try:
        good, newer, broken = train_three_versions(scenario)
        platform.apply(serving(namespace, good, router_kind))
        scenario.wait(lambda: scenario.stable_on(good), 60, "the first version to be served")
        scenario.times["served"] = time.monotonic() - scenario.began
        scenario.start_users()
        # The router programs a new route a moment after the pods are ready: users count from then.
        scenario.times["routed"] = wait_until(lambda: scenario.users.first_answer(good, 0), 30, "the router to route")
        promote(scenario, newer)
        roll_back_at_once(scenario, good, newer)
        roll_back_broken(scenario, good, broken)
        settles(scenario)
        answers = scenario.users.stop()
    finally:
        errors = platform.stop()
    assert errors == []
    check_what_users_saw(scenario, answers, newer, broken)
    report(scenario, answers, newer)


def canary_answers(scenario: Scenario, answers) -> list:
    """Answers to requests sent while the new version was the canary, before its promotion began."""
    return [a for a in answers if scenario.times["rollout"] <= a.sent < scenario.times["promoting"]]


def check_what_users_saw(scenario: Scenario, answers, newer: str, broken: str) -> None:
    # Nothing was lost: every request was answered, by a version; the broken one's too.
    lost = [a for a in answers if a.sent >= scenario.times["routed"] and (not a.version or a.status != 200)]
    assert lost == [], timeline(scenario, lost)
    assert any(a.version == broken for a in answers)
    # At each weight the canary got its share of the requests without the header; at weight 0, none.
    rollout = canary_answers(scenario, answers)
    measured = shares(rollout, scenario.routes, newer)
    for weight in (20, 50):
        hits, total = measured[weight]
        assert total >= 30 and abs(hits / total - weight / 100) <= SHARE_TOLERANCE, (weight, hits, total)
    assert measured[0][0] == 0 and measured[0][1] > 0
    # A request with the header reached the canary while its weight was 0.
    by_header = header_answers(rollout, scenario.routes)
    assert by_header and {a.version for a in by_header} == {newer}


def timeline(scenario: Scenario, lost) -> str:
    """Lost requests among the route changes and the moments of the scenario, for a failure."""
    began = scenario.began
    events = [(a.sent, f"lost: {a.status} header={a.header}") for a in lost]
    events += [(at, f"route: {route}") for at, route in scenario.routes.changes]
    events += [(at, name) for name, at in scenario.times.items() if at > began]
    return "\n".join(f"{at - began:8.2f} {what}" for at, what in sorted(events))


def report(scenario: Scenario, answers, newer: str) -> None:
    times, rollout = scenario.times, canary_answers(scenario, answers)
    measured = shares(rollout, scenario.routes, newer)
    steps = "\n".join(
        f"  weight {weight:>3} %: canary answered {hits} of {total} requests ({100 * hits / total:.1f} %)"
        for weight, (hits, total) in sorted(measured.items())
    )
    header = header_answers(rollout, scenario.routes)
    outcomes: dict[str, int] = {}
    for a in answers:
        key = f"{a.version or 'router'} {a.status}"
        outcomes[key] = outcomes.get(key, 0) + 1
    watch = scenario.platform.watch_file.read_text()
    tables = scenario.cluster.kubectl("get", "mltj,mld", "-n", scenario.platform.namespace).stdout
    text = (
        f"{scenario.name}: trained 3 versions in {times['trained']:.1f} s; first version served at "
        f"{times['served']:.1f} s;\ncanary promoted {times['promoted']:.1f} s after the version change; "
        f"aurora.dev/rollback: the previous version answered {times['switched']:.2f} s after the annotation, "
        f"the stable track ran it again {times['restored']:.1f} s after;\nbroken canary rolled back "
        f"{times['rolled_back']:.1f} s after its version change; analysis interval {INTERVAL_SECONDS} s\n"
        f"shares through Traefik while the new version was the canary (requests without the header):\n{steps}\n"
        f"  with the header {HEADER['name']}: {len(header)} requests at weight 0, answered by "
        f"{sorted({a.version for a in header})}\n"
        f"answers (version status): {dict(sorted(outcomes.items()))}\n\n"
        f"$ kubectl get mld -w\n{watch}\n$ kubectl get mltj,mld\n{tables}\n"
        + "".join(f"$ kubectl get pods -o wide   # {moment}\n{pods}\n" for moment, pods in scenario.pods)
        + "analysis checks (status.analysis):\n"
        + "\n".join(scenario.checks)
        + "\n"
    )
    out = ROOT / "var" / f"cluster-e2e-{scenario.name}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text)
