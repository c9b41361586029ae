"""What the run's programs spend, read from outside them: CPU seconds and peak memory of a
process group (/proc), the API server's write requests and Prometheus's queries (their own
/metrics), and the hooks' time per call (their log, one JSON line a call)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

TICKS = os.sysconf("SC_CLK_TCK")
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}


def group_pids(pgid: int) -> list[int]:
    """Every live process of a process group (a gunicorn master and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pgid: int) -> float:
    """User and system CPU of the group's live processes (and of their waited-for children)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def peak_memory_mib(pgid: int) -> float:
    """The sum of the group's processes' peak resident memory (VmHWM)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0)
    return total / 1024


def samples(text: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def api_writes(kube) -> float:
    """Write requests the API server has answered since it started."""
    answer = kube.session.get(kube.server + "/metrics", timeout=30, verify=kube.ca)
    answer.raise_for_status()
    return sum(s.value for s in samples(answer.text, "apiserver_request_total") if s.labels.get("verb") in WRITE_VERBS)


def prometheus_queries(url: str) -> float:
    """Instant queries Prometheus has answered since it started (the hooks send only those)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    handled = samples(text, "prometheus_http_requests_total")
    return sum(s.value for s in handled if s.labels.get("handler") == "/api/v1/query")


def hook_call_millis(log: Path, controller: str = "mldeployment") -> list[float]:
    """Every sync call's time, from the hooks' log lines, in order."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        start = line.find('{"controller"')
        if start < 0:
            continue
        try:
            call = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if call.get("controller") == controller and call.get("hook") == "sync":
            times.append(call["durationMs"])
    return times


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile; None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
