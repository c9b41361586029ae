"""One bench/scale run: N models trained and served Stable, then M of them retrained at once
and rolled out, each phase measured; a table per phase and the summary line last."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.scaling import deployments, measures
from bench.scaling.faults import Faults
from bench.scaling.report import Spent, fault_table, phase_table, rollout_table, summary
from bench.scaling.settings import Settings, parse
from bench.scaling.tier import Tier
from bench.scaling.tracker import Tracker
from tests.support import kube_cluster

PROGRESS_SECONDS = 30


class Meter:
    """What the programs have spent so far; two readings make a phase's Spent."""

    def __init__(self, tier: Tier):
        self.tier = tier

    def read(self) -> dict:
        return {
            "time": time.monotonic(),
            "api_writes": measures.api_writes(self.tier.kube),
            "queries": measures.prometheus_queries(self.tier.prometheus_url),
            "calls": measures.hook_calls(self.tier.hooks.log),
            "cpu": measures.cpu_by_process(),
        }

    def spent(self, before: dict, faults: Faults | None = None) -> Spent:
        """What was spent since `before`. With faults, the CPU of the processes killed counts up to
        their end, and the API server's writes before its restart are added to those since."""
        after = self.read()
        if faults:
            after["cpu"] = {**faults.killed, **after["cpu"]}
        writes = measures.increase(before["api_writes"], after["api_writes"])
        if faults and faults.writes_before_restart is not None:
            # The restarted API server counts from zero: what it counted before is added.
            done = measures.increase(before["api_writes"], faults.writes_before_restart)
            writes = {
                k: done.get(k, 0.0) + after["api_writes"].get(k, 0.0) for k in done.keys() | after["api_writes"].keys()
            }
        return Spent(
            seconds=after["time"] - before["time"],
            cpu=measures.cpu_by_program(before["cpu"], after["cpu"]),
            api_writes=writes,
            queries=after["queries"] - before["queries"],
            hook_calls=calls_since(before["calls"], after["calls"], "mldeployment"),
            training_calls=calls_since(before["calls"], after["calls"], "mltrainingjob"),
            hooks_memory=measures.peak_memory_mib(self.tier.hooks.process.pid),
            metacontroller_memory=measures.peak_memory_mib(self.tier.metacontroller_pgid),
        )


def calls_since(before: dict, after: dict, controller: str) -> list:
    return after.get(controller, [])[len(before.get(controller, [])) :]


def wait_for(what: str, count, total: int, settings: Settings) -> bool:
    """Wait until `count()` reaches `total` within the phase's time, saying how far it is every
    half minute on stderr; False when it did not come."""
    deadline, said = time.monotonic() + settings.timeout, time.monotonic()
    while (done := count()) < total:
        if time.monotonic() >= deadline:
            return False
        if time.monotonic() - said >= PROGRESS_SECONDS:
            print(f"bench/scale: {what}: {done}/{total}", file=sys.stderr, flush=True)
            said = time.monotonic()
        time.sleep(1.0)
    return True


def run(cluster, tier: Tier, settings: Settings, work: Path) -> list[str]:
    meter, tracker = Meter(tier), Tracker(tier.kube, settings.interval)
    tracker.start()
    placed = {}
    try:
        before = meter.read()
        placed = deployments.create(cluster, settings, work / "models")
        keys = {f"{namespace}/{name}" for name, namespace in placed.items()}
        settled = wait_for("MLDeployments Stable", lambda: tracker.settled(keys), len(keys), settings)
        out = phase_table(f"{settings.deployments} models trained and Stable", meter.spent(before))
        if not settled:
            out.append(f"  not all Stable when the phase's time ran out: {tracker.settled(keys)}/{len(keys)}")
        models, bad = deployments.chosen(placed, settings)
        serving = {model: tracker.serving(f"{placed[model]}/{model}") for model in models}
        for model in bad:
            tier.feed.fail_new(placed[model], model, serving[model])
        before, started = meter.read(), time.time()
        for model in models:
            tracker.expect(f"{placed[model]}/{model}", serving[model], started)
        deployments.retrain(tier.kube, placed, models)
        faults = start_faults(tier, cluster, settings)
        wait_for("rollouts finished", tracker.finished, len(models), settings)
        if faults:
            faults.join()  # the rollouts' figures then include a fault that outlasted them (the table says)
        spent = meter.spent(before, faults)
        outcomes = {f"{placed[m]}/{m}": "RolledBack" if m in bad else "Promoted" for m in models}
        out += phase_table(f"{settings.rollouts} retrained and rolled out at once", spent)
        out += rollout_table(tracker.timelines, outcomes, spent)
        if faults:
            out += fault_table(faults, tracker.timelines, started, settings.interval)
            if faults.error is not None:
                raise SystemExit("\n".join([*out, f"bench/scale: a fault could not be injected: {faults.error}"]))
        return out + ["", summary(settings, tracker.timelines, spent)]
    finally:
        tracker.stop()
        deployments.remove(cluster, placed)


def start_faults(tier: Tier, cluster, settings: Settings) -> Faults | None:
    """The faults, an analysis interval apart (Metacontroller down for one), when asked."""
    if not settings.faults:
        return None
    faults = Faults(tier, cluster, gap=settings.interval, down=settings.interval)
    faults.start()
    return faults


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
