"""Fault drills on real processes, shared by tests/process/test_chaos.py and bench/chaos.

- `kill_workers_under_load`: clients call aurora-serve while its gunicorn workers are
  SIGKILLed at intervals; gunicorn starts new ones. Counts answers by outcome.
- `switch_latest_under_reads`: readers resolve and verify `latest` while a publisher
  publishes and promotes new versions; counts torn reads.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from tests.support.datasets import ROW
from trainer import store


def worker_pids(master: int) -> list[int]:
    """gunicorn workers: the children of the master process."""
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def kill_workers_under_load(url: str, master: int, *, seconds: float, clients: int, kill_every: float) -> dict:
    outcomes: Counter = Counter()
    versions: Counter = Counter()
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                # A new connection per request: a failure is a request the killed worker had.
                response = requests.post(f"{url}/predict", json={"instances": [ROW]}, timeout=5)
                outcomes[f"http_{response.status_code}"] += 1
                versions[response.headers.get("X-Model-Version")] += 1
            except requests.RequestException as err:
                outcomes[type(err).__name__] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    kills, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(kill_every)
        pids = worker_pids(master)
        if pids:
            os.kill(pids[kills % len(pids)], signal.SIGKILL)
            kills += 1
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    total = sum(outcomes.values())
    return {
        "kills": kills,
        "total": total,
        "ok": outcomes["http_200"],
        "outcomes": dict(outcomes),
        "versions": dict(versions),
    }


def switch_latest_under_reads(root: Path, model: str, *, publishes: int, readers: int) -> dict:
    model_store = store.ModelStore(root)
    stop = threading.Event()
    reads: Counter = Counter()
    published: list[str] = []

    def reader():
        while not stop.is_set():
            try:
                version = model_store.resolve(model, "latest")
                model_store.verify(model, version)
                assert model_store.read_metadata(model, version)["version"] == version
                reads["consistent"] += 1
            except Exception as err:  # any failure here is a torn read
                reads[f"torn: {type(err).__name__}: {err}"] += 1

    def publish(i: int) -> None:
        version = f"v20261126-12{i // 60:02d}{i % 60:02d}"
        model_store.publish(
            model,
            {"features": ["x"]},
            lambda folder: (folder / "model.joblib").write_bytes(os.urandom(2048)),
            version=version,
            promote=True,
        )
        published.append(version)

    # One promoted version first: before it there is no `latest` to read at all.
    publish(0)
    threads = [threading.Thread(target=reader, daemon=True) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for i in range(1, publishes):
        publish(i)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return {"publishes": publishes, "reads": dict(reads), "latest": model_store.latest(model), "last": published[-1]}
