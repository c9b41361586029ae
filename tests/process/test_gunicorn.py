"""The real server: aurora-serve (gunicorn, two workers) on 127.0.0.1, scraped by a real Prometheus."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.support.datasets import ROW
from tests.support.servers import Server, free_port
from tests.support.tools import require_tool
from tests.support.waiting import wait_until


@pytest.fixture
def server(trained, tmp_path):
    running = Server(trained[0], tmp_path)
    yield running
    running.stop()


def series_sum(text: str, name: str) -> float:
    """The sum of every series of `name` in an exposition text."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def scraped_sum(server: Server, name: str) -> float:
    return series_sum(requests.get(f"{server.url}/metrics", timeout=5).text, name)


def test_gunicorn_serves_predictions_with_the_version_header(server, trained):
    response = requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=5)
    assert response.status_code == 200
    assert response.headers["X-Model-Version"] == trained[2]
    assert response.headers["Server"].startswith("gunicorn")
    assert len(response.json()["predictions"]) == 1


def test_request_counts_are_summed_over_all_workers(server):
    # A fresh connection per request lets the kernel spread them over both workers.
    for _ in range(60):
        assert requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=5).ok
    worker_files = {path.name.split("_")[-1] for path in server.multiproc.glob("counter_*.db")}
    assert len(worker_files) >= 2, "both workers should have served requests"
    # Whichever worker answers the scrape reports the total of all of them.
    assert [scraped_sum(server, "aurora_inference_http_request_total") for _ in range(6)] == [60.0] * 6


def test_every_series_of_the_multiprocess_exposition_carries_the_model_labels(server, trained):
    requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=5)
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(samples) > 10
    for line in samples:
        assert 'model="diabetes"' in line and f'model_version="{trained[2]}"' in line and 'track="stable"' in line, line


def send_batches(server: Server, batches: int) -> int:
    """Requests of 1, 2, ... rows over fresh connections (so both workers answer); the rows sent."""
    for rows in range(1, batches + 1):
        assert requests.post(f"{server.url}/predict", json={"instances": [ROW] * rows}, timeout=5).ok
    return batches * (batches + 1) // 2


def test_every_prediction_reaches_the_histogram_once_traffic_stops(server):
    sent = send_batches(server, 30)
    # No request follows: each worker's own flusher still adds what it kept.
    wait_until(lambda: scraped_sum(server, "aurora_inference_prediction_count") == sent, 3, "counts")


def test_a_stopping_worker_counts_the_predictions_it_kept(trained, tmp_path):
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    server = Server(trained[0], tmp_path)
    sent = send_batches(server, 30)
    assert server.stop() == 0  # at once: the last predictions are still waiting for a flush
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(server.multiproc))
    assert series_sum(generate_latest(registry).decode(), "aurora_inference_prediction_count") == sent


def test_sigterm_lets_the_request_in_flight_finish(trained, tmp_path):
    server = Server(trained[0], tmp_path, AURORA_FAULT_LATENCY_SECONDS="1.5")
    result = {}

    def slow_request():
        result["response"] = requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=10)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    os.killpg(server.process.pid, signal.SIGTERM)
    thread.join(timeout=10)
    assert result["response"].status_code == 200
    assert server.stop() == 0


def test_a_port_held_by_another_server_is_refused(trained, tmp_path):
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        script = os.path.join(os.path.dirname(sys.executable), "aurora-serve")
        env = {**os.environ, "AURORA_MODEL_ROOT": str(trained[0]), "AURORA_MODEL": "diabetes"}
        result = subprocess.run(
            [script, "--bind", f"127.0.0.1:{port}"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_real_prometheus_scrapes_version_labelled_metrics(server, trained, tmp_path):
    prometheus = require_tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: inference\n    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(25):
            requests.post(f"{server.url}/predict", json={"instances": [ROW, ROW]}, timeout=5)
        labels = f'model="diabetes",model_version="{trained[2]}",track="stable"'
        query = f"sum(aurora_inference_predicted_rows_total{{{labels}}})"

        def rows_seen():
            answer = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5)
            if not answer.ok:  # 503 while Prometheus is still starting
                return None
            results = answer.json()["data"]["result"]
            return results and float(results[0]["value"][1]) == 50.0

        wait_until(rows_seen, 60, "Prometheus to scrape 50 predicted rows")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_port_with_closing_connections_of_a_previous_run_is_free():
    from aurora_runtime.gunicorn import check_port_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        # The server side closes first, so its end of the connection lingers in TIME_WAIT.
        accepted.close()
        client.close()
    check_port_free(f"127.0.0.1:{port}")
