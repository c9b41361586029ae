"""The figures of a run: one table per phase, and the one-line summary last."""

from __future__ import annotations

from dataclasses import dataclass

from bench.scaling.measures import percentile
from bench.scaling.settings import Settings
from bench.scaling.tracker import Timeline


@dataclass
class Spent:
    """What the programs spent over one phase."""

    seconds: float
    hooks_cpu: float  # CPU seconds of aurora-hooks (master and workers)
    metacontroller_cpu: float
    api_writes: float
    queries: float  # instant queries Prometheus answered
    hook_millis: list[float]  # each MLDeployment sync's time, Prometheus reads included
    hooks_memory: float  # MiB, peak, summed over the processes
    metacontroller_memory: float


def fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "-" if value is None else pattern.format(value)


def phase_table(name: str, spent: Spent) -> list[str]:
    millis = spent.hook_millis
    rows = [
        ("wall time", f"{spent.seconds:.0f} s"),
        ("hook syncs", f"{len(millis)} ({len(millis) / spent.seconds:.1f}/s)"),
        ("hook p50 / p99", f"{fmt(percentile(millis, 0.5))} / {fmt(percentile(millis, 0.99))} ms"),
        ("hooks CPU", f"{spent.hooks_cpu / spent.seconds:.2f} cores"),
        ("Metacontroller CPU", f"{spent.metacontroller_cpu / spent.seconds:.2f} cores"),
        ("API writes", f"{spent.api_writes / spent.seconds:.1f}/s"),
        ("Prometheus queries", f"{spent.queries:.0f}"),
        ("peak memory", f"hooks {spent.hooks_memory:.0f} MiB, Metacontroller {spent.metacontroller_memory:.0f} MiB"),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"== {name}"] + [f"  {label:<{width}}  {value}" for label, value in rows]


def rollout_table(lines: dict[str, Timeline], wanted: dict[str, str], spent: Spent) -> list[str]:
    ended = [line for line in lines.values() if line.ended is not None]
    wrong = [key for key, line in lines.items() if line.ended is not None and line.outcome != wanted[key]]
    firsts = [line.first_weight - line.changed for line in lines.values() if line.first_weight]
    lags = [lag for line in lines.values() for lag in line.lags]
    checks = len(lags)
    promoted = sum(line.outcome == "Promoted" for line in ended)
    lag = f"{fmt(percentile(lags, 0.5))} / {fmt(percentile(lags, 0.99))} / {fmt(max(lags, default=None))}"
    rows = [
        ("finished", f"{len(ended)}/{len(lines)} ({len(wrong)} ended otherwise than their metrics say)"),
        ("stuck", f"{len(lines) - len(ended)}"),
        ("promoted / rolled back", f"{promoted} / {len(ended) - promoted}"),
        ("first weight p50 / p99", f"{fmt(percentile(firsts, 0.5))} / {fmt(percentile(firsts, 0.99))} s"),
        ("checks", f"{checks}; decision lag p50 / p99 / max {lag} s"),
        ("queries per check", fmt(spent.queries / checks if checks else None)),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"  {label:<{width}}  {value}" for label, value in rows]


def summary(settings: Settings, lines: dict[str, Timeline], spent: Spent) -> str:
    ended = sum(line.ended is not None for line in lines.values())
    firsts = [line.first_weight - line.changed for line in lines.values() if line.first_weight]
    lags = [lag for line in lines.values() for lag in line.lags]
    return (
        f"scale: {settings.deployments} deployments, {settings.rollouts} rollouts: finished {ended}/{len(lines)}, "
        f"stuck {len(lines) - ended}, "
        f"first-weight p50/p99 {fmt(percentile(firsts, 0.5))}/{fmt(percentile(firsts, 0.99))} s, "
        f"decision lag p99 {fmt(percentile(lags, 0.99))} s (interval {settings.interval} s), "
        f"hook p99 {fmt(percentile(spent.hook_millis, 0.99))} ms, "
        f"hooks CPU {spent.hooks_cpu / spent.seconds:.2f} cores, "
        f"API writes {spent.api_writes / spent.seconds:.1f}/s"
    )
