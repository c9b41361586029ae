"""One bench/scale run: N MLDeployments made Stable, then M rollouts at once, each phase
measured; a table per phase and the summary line last."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.scaling import deployments, measures
from bench.scaling.report import Spent, phase_table, rollout_table, summary
from bench.scaling.settings import Settings, parse
from bench.scaling.tier import Tier
from bench.scaling.tracker import Tracker
from tests.support import kube_cluster
from tests.support.waiting import wait_until


class Meter:
    """What the programs have spent so far; two readings make a phase's Spent."""

    def __init__(self, tier: Tier):
        self.tier = tier

    def read(self) -> dict:
        return {
            "time": time.monotonic(),
            "hooks_cpu": measures.cpu_seconds(self.tier.hooks.process.pid),
            "metacontroller_cpu": measures.cpu_seconds(self.tier.metacontroller_pgid),
            "api_writes": measures.api_writes(self.tier.kube),
            "queries": measures.prometheus_queries(self.tier.prometheus_url),
            "calls": len(measures.hook_calls(self.tier.hooks.log)),
            "cpu": measures.cpu_by_process(),
        }

    def spent(self, before: dict) -> Spent:
        after = self.read()
        return Spent(
            seconds=after["time"] - before["time"],
            hooks_cpu=after["hooks_cpu"] - before["hooks_cpu"],
            metacontroller_cpu=after["metacontroller_cpu"] - before["metacontroller_cpu"],
            api_writes={k: v - before["api_writes"].get(k, 0.0) for k, v in after["api_writes"].items()},
            queries=after["queries"] - before["queries"],
            cpu=measures.cpu_by_program(before["cpu"], after["cpu"]),
            hook_calls=measures.hook_calls(self.tier.hooks.log)[before["calls"] :],
            hooks_memory=measures.peak_memory_mib(self.tier.hooks.process.pid),
            metacontroller_memory=measures.peak_memory_mib(self.tier.metacontroller_pgid),
        )


def wait_for(what: str, done, settings: Settings) -> bool:
    """Wait for `done()` within the phase's time; False when it did not come."""
    try:
        wait_until(done, settings.timeout, what, interval=1.0)
    except AssertionError:
        return False
    return True


def run(cluster, tier: Tier, settings: Settings, work: Path) -> list[str]:
    meter, tracker = Meter(tier), Tracker(tier.kube, settings.interval)
    tracker.start()
    placed = {}
    try:
        before = meter.read()
        placed = deployments.create(cluster, settings, work / "models")
        wait_for(f"{settings.deployments} MLDeployments Stable", lambda: tracker.settled() == len(placed), settings)
        out = phase_table(f"{settings.deployments} MLDeployments created and Stable", meter.spent(before))
        tier.feed.fail(deployments.BAD)
        before, started = meter.read(), time.time()
        wanted = deployments.roll_out(tier.kube, placed, settings)
        for name, version in wanted.items():
            tracker.expect(f"{placed[name]}/{name}", version, started)
        wait_for(f"{settings.rollouts} rollouts", lambda: tracker.finished() == len(wanted), settings)
        spent = meter.spent(before)
        outcomes = {f"{placed[n]}/{n}": "RolledBack" if v == deployments.BAD else "Promoted" for n, v in wanted.items()}
        out += phase_table(f"{settings.rollouts} rollouts at once", spent)
        out += rollout_table(tracker.timelines, outcomes, spent)
        return out + ["", summary(settings, tracker.timelines, spent)]
    finally:
        tracker.stop()
        deployments.remove(cluster, placed)


def main(argv: list[str]) -> int:
    settings = parse(argv)
    # A terminated run still stops what it started and removes what it created.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="aurora-scale-"))
    (work / "models").mkdir()
    cluster = kube_cluster.start(kube_cluster.cluster_home())
    try:
        tier = Tier(cluster, settings, work)
        try:
            lines = run(cluster, tier, settings, work)
        finally:
            tier.stop()
    finally:
        kube_cluster.stop(cluster)
    print("\n".join(lines))
    print(f"(logs in {work})")
    return 0
