"""Following every MLDeployment of a run, by listing them once a second: when each rollout first
gave its canary weight, when each check ran against when it was due, and how each ended.

A list a second is one more reader of the API server, as `kubectl get mld -A -w` would be; its
resolution is the status's own (whole seconds) and the second between two lists.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from aurora_api.phases import Phase
from aurora_api.times import parse_rfc3339
from bench.scaling.deployments import BENCH_LABEL, DEPLOYMENTS


def is_settled(status: dict) -> bool:
    """Stable, with its one stable pod ready."""
    return status.get("phase") == Phase.STABLE and status.get("ready") == "1/1"


# Times in the status are whole seconds: a check on time can seem up to a second early.
EARLY_SECONDS = 1.0


@dataclass
class Timeline:
    """One MLDeployment's rollout, as seen."""

    version: str = ""  # the version it was moved to; '' while none
    changed: float = 0.0  # when it was moved (wall clock)
    canary_started: float | None = None  # when its status first named the canary (its Deployment asked for)
    first_weight: float | None = None
    ended: float | None = None
    outcome: str = ""  # Promoted or RolledBack
    checks: list[tuple[float, float]] = field(default_factory=list)  # when each check was due, and how late it ran
    last_check: datetime | None = None
    last_step_started: datetime | None = None
    went_back: int = 0  # statuses whose check time was older than one seen before
    repeated: int = 0  # checks that ran well before they were due by the status seen before

    @property
    def lags(self) -> list[float]:
        """Seconds each check ran after it was due."""
        return [lag for _, lag in self.checks]


class Tracker(threading.Thread):
    def __init__(self, kube, interval: int):
        super().__init__(daemon=True)
        self.kube, self.interval = kube, interval
        self.lock = threading.Lock()
        self.statuses: dict[str, dict] = {}  # namespace/name -> latest status
        self.timelines: dict[str, Timeline] = {}
        self.lists = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(1.0):
            try:
                items = self.kube.list(DEPLOYMENTS, None, labelSelector=f"{BENCH_LABEL}=scale")
            except Exception:  # noqa: BLE001 - an API server restarting is one of the faults
                continue
            now = time.time()
            with self.lock:
                self.lists += 1
                for item in items:
                    self.observe(f"{item['metadata']['namespace']}/{item['metadata']['name']}", item, now)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

    def expect(self, key: str, version: str, changed: float) -> None:
        with self.lock:
            self.timelines[key] = Timeline(version=version, changed=changed)

    def observe(self, key: str, item: dict, now: float) -> None:
        status = item.get("status") or {}
        self.statuses[key] = status
        line = self.timelines.get(key)
        if line is None or line.ended is not None:
            return
        if status.get("canaryVersion") == line.version:
            line.canary_started = line.canary_started or now
            if (status.get("canaryWeight") or 0) > 0:
                line.first_weight = line.first_weight or now
        self.record_check(line, status)
        if status.get("phase") == Phase.STABLE and status.get("stableVersion") == line.version:
            line.ended, line.outcome = now, "Promoted"
        elif status.get("phase") == Phase.ROLLED_BACK and status.get("failedVersion") == line.version:
            line.ended, line.outcome = now, "RolledBack"

    def record_check(self, line: Timeline, status: dict) -> None:
        """A check of this rollout that ran since the last list, and how long after it was due by
        the hook's own rule: an interval after the later of the step's start and the last check.
        A check time older than one already seen, or a check well before it was due, is a status
        written from a stale copy of the object (Metacontroller's cache behind its own write):
        counted apart, never as a check's lag."""
        ran = parse_rfc3339((status.get("analysis") or {}).get("time"))
        if ran and line.last_check and ran < line.last_check:
            line.went_back += 1
            return
        if ran and ran.timestamp() >= line.changed - 1 and ran != line.last_check and line.last_step_started:
            due = max(line.last_step_started, line.last_check or line.last_step_started).timestamp() + self.interval
            if ran.timestamp() - due < -EARLY_SECONDS:
                line.repeated += 1  # the check repeated by a sync that saw a stale copy of the object
            else:
                line.checks.append((due, ran.timestamp() - due))
            line.last_check = ran
        step_started = parse_rfc3339(status.get("stepStartedAt"))
        if step_started and step_started.timestamp() >= line.changed - 1:
            line.last_step_started = max(step_started, line.last_step_started or step_started)

    def settled(self, keys: set[str]) -> int:
        """Of these MLDeployments (namespace/name), those Stable with their stable pod ready:
        objects of an earlier run, still being deleted, carry the same label."""
        with self.lock:
            return sum(1 for key in keys if is_settled(self.statuses.get(key) or {}))

    def finished(self) -> int:
        with self.lock:
            return sum(1 for line in self.timelines.values() if line.ended is not None)
