"""The figures of a run: one table per phase, and the one-line summary last."""

from __future__ import annotations

from dataclasses import dataclass

from bench.scaling.faults import Faults, checks_around
from bench.scaling.measures import percentile
from bench.scaling.settings import Settings
from bench.scaling.tracker import Timeline


@dataclass
class Spent:
    """What the programs spent over one phase."""

    seconds: float
    api_writes: dict[str, float]  # by resource and verb
    cpu: dict[str, float]  # CPU seconds by program name, every process of the machine

    @property
    def hooks_cpu(self) -> float:
        """aurora-hooks, master and workers (a worker killed takes its seconds with it)."""
        return self.cpu.get("aurora-hooks", 0.0)

    @property
    def metacontroller_cpu(self) -> float:
        return self.cpu.get("metacontroller", 0.0)

    @property
    def writes_per_second(self) -> float:
        return sum(self.api_writes.values()) / self.seconds

    def top_writes(self, count: int = 5) -> str:
        """The resources written most, per second."""
        return busiest(self.api_writes, self.seconds, count, "{:.1f}")

    def top_cpu(self, count: int = 6) -> str:
        """The programs that took the most CPU, in cores."""
        return busiest(self.cpu, self.seconds, count, "{:.2f}")

    queries: float  # instant queries Prometheus answered
    hook_calls: list[tuple[float, float | None]]  # each MLDeployment sync's ms, and its Prometheus read's
    training_calls: list[tuple[float, float | None]]  # each MLTrainingJob sync's ms

    @property
    def hook_millis(self) -> list[float]:
        return [call for call, _ in self.hook_calls]

    @property
    def read_millis(self) -> list[float]:
        """The Prometheus reads' own times."""
        return [read for _, read in self.hook_calls if read is not None]

    @property
    def reading_call_millis(self) -> list[float]:
        """The times of the calls that read, their read included."""
        return [call for call, read in self.hook_calls if read is not None]

    hooks_memory: float  # MiB, peak, summed over the processes
    metacontroller_memory: float


def busiest(totals: dict[str, float], seconds: float, count: int, pattern: str) -> str:
    top = sorted(((v, k) for k, v in totals.items() if v > 0), reverse=True)[:count]
    return ", ".join(f"{k} {pattern.format(v / seconds)}" for v, k in top)


def fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "-" if value is None else pattern.format(value)


def p50_p99(values: list[float]) -> str:
    return f"{fmt(percentile(values, 0.5))} / {fmt(percentile(values, 0.99))}"


def phase_table(name: str, spent: Spent) -> list[str]:
    millis, training = spent.hook_millis, [call for call, _ in spent.training_calls]
    rows = [
        ("wall time", f"{spent.seconds:.0f} s"),
        ("MLDeployment syncs", f"{len(millis)} ({len(millis) / spent.seconds:.1f}/s)"),
        ("their p50 / p99", f"{p50_p99(millis)} ms"),
        ("calls that read", f"{len(spent.read_millis)}, p50 / p99 {p50_p99(spent.reading_call_millis)} ms"),
        ("their read alone", f"p50 / p99 {p50_p99(spent.read_millis)} ms"),
        ("MLTrainingJob syncs", f"{len(training)}, p50 / p99 {p50_p99(training)} ms"),
        ("hooks CPU", f"{spent.hooks_cpu / spent.seconds:.2f} cores"),
        ("Metacontroller CPU", f"{spent.metacontroller_cpu / spent.seconds:.2f} cores"),
        ("API writes", f"{spent.writes_per_second:.1f}/s ({spent.top_writes()})"),
        ("busiest programs", f"{spent.top_cpu()} cores"),
        ("Prometheus queries", f"{spent.queries:.0f}"),
        ("peak memory", f"hooks {spent.hooks_memory:.0f} MiB, Metacontroller {spent.metacontroller_memory:.0f} MiB"),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"== {name}"] + [f"  {label:<{width}}  {value}" for label, value in rows]


def rollout_table(lines: dict[str, Timeline], wanted: dict[str, str], spent: Spent) -> list[str]:
    ended = [line for line in lines.values() if line.ended is not None]
    wrong = [key for key, line in lines.items() if line.ended is not None and line.outcome != wanted[key]]
    resolved = [line.resolved - line.changed for line in lines.values() if line.resolved]
    firsts = [line.first_weight - line.changed for line in lines.values() if line.first_weight]
    starts = [line.canary_started - line.changed for line in lines.values() if line.canary_started]
    lags = [lag for line in lines.values() for lag in line.lags]
    checks = len(lags)

    def per_check(count: float) -> float | None:
        return count / checks if checks else None

    promoted = sum(line.outcome == "Promoted" for line in ended)
    lag = f"{fmt(percentile(lags, 0.5))} / {fmt(percentile(lags, 0.99))} / {fmt(max(lags, default=None))}"
    rows = [
        ("finished", f"{len(ended)}/{len(lines)} ({len(wrong)} ended otherwise than their metrics say)"),
        ("stuck", f"{len(lines) - len(ended)}"),
        ("promoted / rolled back", f"{promoted} / {len(ended) - promoted}"),
        ("new version resolved p50 / p99", f"{p50_p99(resolved)} s"),
        ("canary started p50 / p99", f"{p50_p99(starts)} s"),
        ("first weight p50 / p99", f"{p50_p99(firsts)} s"),
        ("checks", f"{checks}; decision lag p50 / p99 / max {lag} s"),
        ("from a stale copy", f"{stale_statuses(lines)}"),
        (
            "reads / queries per check",
            f"{fmt(per_check(len(spent.read_millis)), '{:.2f}')} / {fmt(per_check(spent.queries), '{:.2f}')}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"  {label:<{width}}  {value}" for label, value in rows]


def stale_statuses(lines: dict[str, Timeline]) -> str:
    back = sum(line.went_back for line in lines.values())
    early = sum(line.repeated for line in lines.values())
    return f"{back} statuses with a check time gone back, {early} checks repeated early"


def fault_table(faults: Faults, lines: dict[str, Timeline], started: float, interval: int) -> list[str]:
    """Each fault: when, how long its program took to be back, how late the checks around it ran."""
    last_end = max((line.ended for line in lines.values() if line.ended is not None), default=None)
    rows = ["== faults (in order, each an analysis interval after the previous one ended)"]
    for fault in faults.done:
        lags = checks_around(lines, fault, interval)
        late = f"{p50_p99(lags)} / {fmt(max(lags, default=None))}"
        after = " (after every rollout had ended)" if last_end is not None and fault.began > last_end else ""
        rows.append(
            f"  {fault.name:<31}  at +{fault.began - started:.0f} s, back after {fault.recovered - fault.began:.1f} s; "
            f"{len(lags)} checks due meanwhile ran p50 / p99 / max {late} s late{after}"
        )
    if faults.error is not None:
        rows.append(f"  stopped by {type(faults.error).__name__}: {faults.error}")
    return rows


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
        f"API writes {spent.writes_per_second:.1f}/s"
    )
