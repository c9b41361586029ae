"""The hook service's metrics: syncs, errors and latency per controller and hook."""

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

    def record(self, controller: str, hook: str, result: str, seconds: float) -> None:
        self.calls.labels(controller, hook, result).inc()
        self.latency.labels(controller, hook).observe(seconds)
