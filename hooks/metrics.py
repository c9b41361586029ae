"""The hook service's metrics: syncs, errors and latency per controller and hook, and the
MLDeployment phase changes the hook decided (an event count per object: counters never go
stale, as a per-object gauge kept by stateless replicas would). MLTrainingJobs are left out:
every run has a name of its own, so their series would only accumulate."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from hooks.request import parent_parts

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
        self.reads = Histogram(
            f"{PREFIX}_prometheus_read_duration_seconds",
            "Time to read one due check's numbers from Prometheus, by whether it answered",
            ("result",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.transitions = Counter(
            f"{PREFIX}_phase_transitions_total",
            "MLDeployment phase changes decided by the sync hook, by object, new phase and reason",
            ("controller", "namespace", "name", "phase", "reason"),
            registry=registry,
        )

    def record(self, controller: str, hook: str, result: str, seconds: float) -> None:
        self.calls.labels(controller, hook, result).inc()
        self.latency.labels(controller, hook).observe(seconds)

    def record_read(self, answered: bool, seconds: float) -> None:
        self.reads.labels("ok" if answered else "unavailable").observe(seconds)

    def record_transition(self, body: dict, answer: dict) -> None:
        """Count an MLDeployment sync whose status moves to another phase or reason."""
        parent, _, before = parent_parts(body)
        after = answer.get("status") or {}
        if (before.get("phase"), before.get("reason")) != (after.get("phase"), after.get("reason")):
            metadata = parent["metadata"]
            labels = (metadata.get("namespace") or "", metadata["name"], after.get("phase"), after.get("reason") or "")
            self.transitions.labels("mldeployment", *labels).inc()
