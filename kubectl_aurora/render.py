"""What `kubectl aurora` prints, from the objects as the API server returns them: pure text.

Every number a verdict rests on is shown next to its threshold; times are given relative to
`now`, which the caller passes in.
"""

from __future__ import annotations

from datetime import datetime

from aurora_api.phases import ROLLING, Phase, RunPhase
from aurora_api.reasons import ConditionType
from aurora_api.times import parse_duration, parse_rfc3339

COLOURS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}
PHASE_COLOUR = {
    Phase.STABLE: "green",
    RunPhase.SUCCEEDED: "green",
    Phase.PROGRESSING: "yellow",
    Phase.PROMOTING: "yellow",
    Phase.PAUSED: "yellow",
    RunPhase.RUNNING: "yellow",
    RunPhase.PENDING: "yellow",
    Phase.ROLLED_BACK: "red",
    Phase.FAILED: "red",  # and RunPhase.FAILED, the same word
}


class Paint:
    """ANSI colours, only when the output is a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, colour: str) -> str:
        return f"\033[{COLOURS[colour]}m{text}\033[0m" if self.enabled and text else text

    def phase(self, phase: str) -> str:
        return self(phase, PHASE_COLOUR.get(phase, "bold"))


PLAIN = Paint(False)


def ago(moment: datetime | None, now: datetime) -> str:
    return "-" if moment is None else span((now - moment).total_seconds()) + " ago"


def span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def tree(title: str, rows: list[tuple[str, str]]) -> list[str]:
    """A title and its branches; a value with line breaks continues under its branch."""
    lines = [title]
    for i, (label, value) in enumerate(rows):
        last = i == len(rows) - 1
        first, *more = value.split("\n")
        lines.append(f"{'└─' if last else '├─'} {label:<10} {first}".rstrip())
        lines += [f"{'  ' if last else '│ '} {'':<10} {line}".rstrip() for line in more]
    return lines


# MLDeployment


def deployment_tree(mld: dict, now: datetime, paint: Paint = PLAIN) -> list[str]:
    metadata, spec, status = mld["metadata"], mld.get("spec") or {}, mld.get("status") or {}
    phase = status.get("phase") or "-"
    reason = f" ({status['reason']})" if status.get("reason") else ""
    title = f"MLDeployment {metadata.get('namespace')}/{metadata['name']}  {paint.phase(phase)}{reason}"
    rows = [("model", spec.get("model", "-")), ("desired", status.get("desiredVersion") or "-")]
    rows += track_rows(spec, status, paint)
    rows += [("steps", steps_line(spec, status, now, paint))]
    analysis = analysis_text(spec, status, now)
    if analysis:
        rows.append(("analysis", analysis))
    if status.get("previousVersion"):
        rows.append(("rollback", window_line(status, now)))
    rows.append(("message", status.get("message") or condition_message(status, ConditionType.PROGRESSING) or "-"))
    return tree(title, rows)


def track_rows(spec: dict, status: dict, paint: Paint) -> list[tuple[str, str]]:
    weight = status.get("canaryWeight") or 0
    header = (spec.get("traffic") or {}).get("canaryHeader")
    rows = []
    for track, version_key in (
        ("stable", "stableVersion"),
        ("canary", "canaryVersion"),
        ("previous", "previousVersion"),
    ):
        observed = status.get(track) or {}
        version = status.get(version_key) or observed.get("version") or ""
        if not version and track != "stable":
            continue
        ready = f"{observed.get('readyReplicas', 0)}/{observed.get('replicas', 0)} ready"
        share = {"stable": 100 - weight, "canary": weight}.get(track)
        traffic = f"weight {share}%" if share is not None else "no traffic (rollback ready)"
        if track == "canary" and not status.get("canaryVersion"):
            traffic = "no traffic (draining, then removed)"
        if track == "stable" and status.get("trafficOnPrevious"):
            traffic = "all traffic on this version's ready pods (rolling back)"
        extra = f"   header {header['name']}: {header['value']}" if track == "canary" and header else ""
        rows.append((track, f"{version or '-':<17} {ready:<12} {traffic}{extra}"))
    return rows


def steps_line(spec: dict, status: dict, now: datetime, paint: Paint) -> str:
    steps = (spec.get("canary") or {}).get("steps")
    if not steps:
        return "none: promote after the first passing check"
    current = status.get("currentStep") if status.get("canaryVersion") else None
    started = parse_rfc3339(status.get("stepStartedAt"))
    parts = []
    for i, step in enumerate(steps):
        text = step_text(step)
        if current is not None and i < current:
            parts.append(paint(f"✔ {text}", "dim"))
        elif current is not None and i == current:
            left = step_time_left(step, started, now)
            parts.append(paint(f"▶ {text}{left}", "bold"))
        else:
            parts.append(text)
    position = f"step {current + 1}/{len(steps)}: " if current is not None else ""
    return position + " → ".join(parts)


def step_text(step: dict) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "mirror" in step:
        return f"mirror {(step.get('mirror') or {}).get('duration')} (shadow traffic)"
    duration = (step.get("pause") or {}).get("duration")
    return f"pause {duration}" if duration else "pause (until aurora.dev/promote)"


def step_time_left(step: dict, started: datetime | None, now: datetime) -> str:
    seconds = parse_duration((step.get("pause") or step.get("mirror") or {}).get("duration"))
    if not seconds or started is None:
        return ""
    return f" ({span(seconds - (now - started).total_seconds())} left)"


def analysis_text(spec: dict, status: dict, now: datetime) -> str:
    analysis = status.get("analysis") or {}
    if not analysis.get("time"):
        return ""
    limits = analysis.get("thresholds") or {}
    canary = analysis.get("canary") or {}
    checked = parse_rfc3339(analysis["time"])
    head = f"{analysis.get('verdict', '?')} {ago(checked, now)} at step {analysis.get('step', 0) + 1}"
    # Against stable, a ceiling applies only when written: one not set is not shown.
    ceiling, p99_ceiling = limits.get("maxErrorRate"), limits.get("maxLatencyP99Seconds")
    numbers = [
        f"requests {number(canary.get('requests'))} (min {limits.get('minRequests', '-')})",
        f"error rate {number(canary.get('errorRate'))}" + (f" (max {ceiling})" if ceiling is not None else ""),
        f"p99 {seconds(canary.get('latencyP99'))}" + (f" (max {p99_ceiling}s)" if p99_ceiling is not None else ""),
        f"failed checks {analysis.get('failedChecks', 0)}/{limits.get('failureLimit', '-')}",
    ]
    lines = [head, "   ".join(numbers)]
    if limits.get("baseline"):
        lines += against_stable_lines(analysis, limits)
    interval = parse_duration(((spec.get("canary") or {}).get("analysis") or {}).get("interval") or "")
    if interval and status.get("phase") in ROLLING and checked:
        due = interval - (now - checked).total_seconds()
        lines.append(f"next check in {span(due)}" if due > 0 else "next check due now")
    return "\n".join(lines)


def against_stable_lines(analysis: dict, limits: dict) -> list[str]:
    """Both tracks over the last window, and what the rollout's checks have shown against stable."""
    canary, stable = analysis.get("canary") or {}, analysis.get("stable") or {}
    evidence = analysis.get("evidence") or {}
    errors, slow = evidence.get("errors") or {}, evidence.get("latency") or {}
    tracks = (
        f"against stable: canary error rate {number(canary.get('errorRate'))} p99 {seconds(canary.get('latencyP99'))}"
        f", stable {number(stable.get('errorRate'))} p99 {seconds(stable.get('latencyP99'))}"
    )
    confidence = limits.get("confidence")
    shown = (
        f"over {number(evidence.get('requests'))} canary requests, at {percent(confidence)} confidence: "
        f"error rate {signed(errors.get('estimate'))} on stable's (at least {signed(errors.get('lowerBound'))}; "
        f"allowed +{limits.get('maxErrorRateIncrease', '-')})"
    )
    if slow.get("weight"):
        shown += (
            f"   slower than stable's p99 +{percent(limits.get('maxLatencyIncrease'))}: {percent(slow.get('estimate'))}"
            f" (at least {percent(slow.get('lowerBound'))}; a p99 allows 1%)"
        )
    else:
        shown += "   latency: no stable p99 to compare with yet"
    return [tracks, shown]


def signed(value) -> str:
    return "-" if value is None else f"{value:+.3g}"


def percent(value) -> str:
    return "-" if value is None else f"{100 * value:.3g}%"


def number(value) -> str:
    return "-" if value is None else f"{value:g}"


def seconds(value) -> str:
    return "-" if value is None else f"{value:g}s"


def window_line(status: dict, now: datetime) -> str:
    ends = parse_rfc3339(status.get("rollbackWindowEndsAt"))
    left = f", {span((ends - now).total_seconds())} left" if ends and ends > now else ", ended"
    return f"to {status['previousVersion']} until {status.get('rollbackWindowEndsAt')}{left}"


def condition_message(status: dict, kind: str) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("message") or ""
    return ""


# MLTrainingJob


def training_tree(mltj: dict, job: dict | None, pods: list[dict], now: datetime, paint: Paint = PLAIN) -> list[str]:
    metadata, spec, status = mltj["metadata"], mltj.get("spec") or {}, mltj.get("status") or {}
    phase = status.get("phase") or "-"
    title = f"MLTrainingJob {metadata.get('namespace')}/{metadata['name']}  {paint.phase(phase)}"
    metrics = status.get("metrics") or {}
    gate = (spec.get("evaluation") or {}).get("gate") or {}
    rows = [
        ("model", f"{spec.get('model', '-')}   {(spec.get('estimator') or {}).get('type', '')}".rstrip()),
        ("version", status.get("modelVersion") or "-"),
        ("metrics", "   ".join(f"{k} {number(v)}" for k, v in sorted(metrics.items())) or "-"),
        ("gate", gate_line(gate, metrics, status, paint)),
        ("job", job_line(status, job)),
    ]
    rows += [("pod", pod_line(pod)) for pod in pods]
    failed = condition_message(status, ConditionType.FAILED) if any_true(status, ConditionType.FAILED) else ""
    if failed:
        rows.append(("failed", failed))
    return tree(title, rows)


def gate_line(gate: dict, metrics: dict, status: dict, paint: Paint) -> str:
    if not gate:
        return "none"
    verdict = {True: paint("passed", "green"), False: paint("failed", "red")}.get(status.get("gatePassed"), "not yet")
    value = metrics.get(gate.get("metric"))
    bound = f"min {gate['min']}" if "min" in gate else f"max {gate.get('max')}"
    return f"{verdict}: {gate.get('metric')} {number(value)} ({bound})"


def job_line(status: dict, job: dict | None) -> str:
    if job is None:
        return f"{status.get('jobName') or '-'} (gone)" if status.get("jobName") else "-"
    counts = job.get("status") or {}
    done = ", ".join(f"{k} {counts[k]}" for k in ("active", "succeeded", "failed") if counts.get(k))
    return f"{job['metadata']['name']}   {done or 'no pod yet'}"


def pod_line(pod: dict) -> str:
    state = (pod.get("status") or {}).get("phase", "?")
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated:
            state += f", exit code {terminated.get('exitCode')}"
    return f"{pod['metadata']['name']}   {state}"


def any_true(status: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


# Lists


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def listing(deployments: list[dict], jobs: list[dict]) -> list[str]:
    """Every MLDeployment and MLTrainingJob, one table each."""
    lines = []
    if deployments:
        rows = [["NAMESPACE", "MLDEPLOYMENT", "PHASE", "READY", "DESIRED", "STABLE", "CANARY", "WEIGHT"]]
        for d in deployments:
            s = d.get("status") or {}
            rows.append(
                [
                    d["metadata"].get("namespace", ""),
                    d["metadata"]["name"],
                    s.get("phase") or "-",
                    s.get("ready") or "-",
                ]
                + [s.get(k) or "-" for k in ("desiredVersion", "stableVersion", "canaryVersion")]
                + [str(s.get("canaryWeight", 0))]
            )
        lines += table(rows)
    if jobs:
        rows = [["NAMESPACE", "MLTRAININGJOB", "PHASE", "MODEL", "VERSION", "R2", "GATE"]]
        for j in jobs:
            s = j.get("status") or {}
            gate = {True: "passed", False: "failed"}.get(s.get("gatePassed"), "-")
            r2 = (s.get("metrics") or {}).get("r2")
            rows.append(
                [j["metadata"].get("namespace", ""), j["metadata"]["name"], s.get("phase") or "-"]
                + [(j.get("spec") or {}).get("model", "-"), s.get("modelVersion") or "-", number(r2), gate]
            )
        lines += ([""] if lines else []) + table(rows)
    return lines or ["No MLDeployments or MLTrainingJobs found."]
