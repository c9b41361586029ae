"""The hook service's metrics: syncs, errors and latency per controller and hook, and the
phase changes the hooks decided (an event count per object: counters never go stale)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

PREFIX = "aurora_hooks"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class HookMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.calls = Counter(
            f"{PREFIX}_calls_total",
            "Hook calls by controller, hook and result",
            ("controller", "hook", "result"),
            registry=registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_call_duration_seconds",
            "Time to answer a hook call",
            ("controller", "hook"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

        self.transitions = Counter(
            f"{PREFIX}_phase_transitions_total",
            "Status phase changes decided by a sync hook, by object, new phase and reason",
            ("controller", "namespace", "name", "phase", "reason"),
            registry=registry,
        )

    def record(self, controller: str, hook: str, result: str, seconds: float) -> None:
        self.calls.labels(controller, hook, result).inc()
        self.latency.labels(controller, hook).observe(seconds)

    def record_transition(self, controller: str, body: dict, answer: dict) -> None:
        """Count a sync whose status moves its object to another phase or reason."""
        parent = body.get("parent") or {}
        before = parent.get("status") if isinstance(parent.get("status"), dict) else {}
        after = answer.get("status") or {}
        moved = (before.get("phase"), before.get("reason")) != (after.get("phase"), after.get("reason"))
        if moved and after.get("phase"):
            metadata = parent.get("metadata") or {}
            labels = (metadata.get("namespace") or "", metadata.get("name") or "")
            self.transitions.labels(controller, *labels, after["phase"], after.get("reason") or "").inc()
