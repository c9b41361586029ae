"""What the run's programs spend, read from outside them: CPU seconds of every program and peak
memory of a process group (/proc), the API server's write requests and Prometheus's queries (their own
/metrics), and the hooks' time per call and per Prometheus read (their log, one JSON line a call)."""

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


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """CPU seconds of every live user-space process of the machine, by pid, with its name: what the
    hooks and Metacontroller share the cores with (the API server, etcd, Prometheus, the fleet)."""
    spent = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes():
                continue  # a kernel thread
            name, fields = (entry / "stat").read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        spent[int(entry.name)] = (name, sum(int(value) for value in fields.split()[11:13]) / TICKS)
    return spent


def cpu_by_program(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each program took between two readings (a process born between them counts whole)."""
    spent: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        spent[name] = spent.get(name, 0.0) + seconds - before.get(pid, (name, 0.0))[1]
    return spent


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


def increase(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What counters grew by between two readings; a counter that went down was reset (the
    API server restarted) and counts from zero."""
    return {k: v - before.get(k, 0.0) if v >= before.get(k, 0.0) else v for k, v in after.items()}


def samples(text: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def api_writes(kube) -> dict[str, float]:
    """Write requests the API server has answered since it started, by resource (and
    subresource) and verb: `deployments PUT`, `mldeployments/status PUT`."""
    answer = kube.session.get(kube.server + "/metrics", timeout=30, verify=kube.ca)
    answer.raise_for_status()
    writes: dict[str, float] = {}
    for s in samples(answer.text, "apiserver_request_total"):
        if s.labels.get("verb") in WRITE_VERBS:
            resource = "/".join(filter(None, (s.labels.get("resource"), s.labels.get("subresource"))))
            key = f"{resource} {s.labels['verb']}"
            writes[key] = writes.get(key, 0.0) + s.value
    return writes


def prometheus_queries(url: str) -> float:
    """Instant queries Prometheus has answered since it started (the hooks send only those)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    handled = samples(text, "prometheus_http_requests_total")
    return sum(s.value for s in handled if s.labels.get("handler") == "/api/v1/query")


def hook_calls(log: Path) -> dict[str, list[tuple[float, float | None]]]:
    """By controller, every sync call's time and, when it read Prometheus, that read's time, in
    order (ms)."""
    calls: dict[str, list[tuple[float, float | None]]] = {}
    for line in log.read_text(errors="replace").splitlines():
        start = line.find('{"controller"')
        if start < 0:
            continue
        try:
            call = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if call.get("hook") == "sync":
            calls.setdefault(call.get("controller"), []).append((call["durationMs"], call.get("prometheusMs")))
    return calls


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile; None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
