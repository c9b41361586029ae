"""Following every MLDeployment of a run by watching them, as `kubectl get mld -A -w` does:
when each one resolved its new training run's version, when its rollout first gave its canary
weight, when each check ran against when it was due, and how each ended.

A watch costs the API server only the changes; a list a second of 500 objects took a share of
the cores the measured programs run on. Times are those the events arrive at; the status's own
are whole seconds.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import requests

from aurora_api.phases import Phase
from aurora_api.times import parse_rfc3339
from bench.scaling.deployments import BENCH_LABEL, DEPLOYMENTS


def is_settled(status: dict) -> bool:
    """Stable, with its one stable pod ready."""
    return status.get("phase") == Phase.STABLE and status.get("ready") == "1/1"


SELECTOR = f"{BENCH_LABEL}=scale"
WATCH_SECONDS = 30  # each watch request ends after this, and the next goes on from where it was
# Times in the status are whole seconds: a check on time can seem up to a second early.
EARLY_SECONDS = 1.0


@dataclass
class Timeline:
    """One MLDeployment's rollout, as seen."""

    serving: str = ""  # the version it served when it was moved to a new run
    changed: float = 0.0  # when it was moved (wall clock)
    version: str = ""  # the new run's version, once the MLDeployment resolved it; '' until then
    resolved: float | None = None  # when it did: the run published and the MLDeployment saw it
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
        self.halt = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        session.headers.update(self.kube.session.headers)
        version = None
        while not self.halt.is_set():
            try:
                version = self.follow(session, version or self.listed())
            except Exception:  # noqa: BLE001 - an API server restarting is one of the faults
                version = None  # listed again: what changed meanwhile is seen then
                self.halt.wait(1.0)

    def listed(self) -> str:
        """Every MLDeployment of the run as it is now; the version to watch from."""
        answer = self.kube.get(DEPLOYMENTS.path(), labelSelector=SELECTOR)
        self.seen(answer["items"])
        return answer["metadata"]["resourceVersion"]

    def follow(self, session: requests.Session, version: str) -> str | None:
        """The changes from `version` on, for one watch request; the version to go on from, or
        None when the API server no longer has it (then everything is listed again)."""
        params = {"watch": "1", "resourceVersion": version, "labelSelector": SELECTOR}
        params |= {"allowWatchBookmarks": "true", "timeoutSeconds": str(WATCH_SECONDS)}
        url, waits = self.kube.server + DEPLOYMENTS.path(), (5, WATCH_SECONDS + 30)
        with session.get(url, params=params, stream=True, timeout=waits, verify=self.kube.ca) as answer:
            answer.raise_for_status()
            for line in answer.iter_lines():
                event = json.loads(line)
                if event["type"] == "ERROR":
                    return None
                version = event["object"]["metadata"]["resourceVersion"]
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.seen([event["object"]])
                if self.halt.is_set():
                    break
        return version

    def seen(self, items: list[dict]) -> None:
        now = time.time()
        with self.lock:
            for item in items:
                self.observe(f"{item['metadata']['namespace']}/{item['metadata']['name']}", item, now)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

    def expect(self, key: str, serving: str, changed: float) -> None:
        with self.lock:
            self.timelines[key] = Timeline(serving=serving, changed=changed)

    def serving(self, key: str) -> str:
        """The stable version of an MLDeployment as last listed."""
        with self.lock:
            return (self.statuses.get(key) or {}).get("stableVersion", "")

    def observe(self, key: str, item: dict, now: float) -> None:
        status = item.get("status") or {}
        self.statuses[key] = status
        line = self.timelines.get(key)
        if line is None or line.ended is not None:
            return
        desired = status.get("desiredVersion")
        if not line.version and desired and desired != line.serving:
            line.version, line.resolved = desired, now
        if not line.version:
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
