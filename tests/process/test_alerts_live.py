"""The error-rate alert on real parts: aurora-serve with faults, Prometheus, Alertmanager, a webhook.

The rule is the shipped AuroraInferenceHighErrorRate with its window and `for` shortened
(5m -> 10s) so it fires within seconds; promtool's unit tests cover the real durations.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
import yaml

from tests.support.datasets import ROW
from tests.support.live_canary import Traffic
from tests.support.paths import ROOT
from tests.support.servers import Server, free_port
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

ALERT = "AuroraInferenceHighErrorRate"


def short_rule() -> dict:
    groups = yaml.safe_load((ROOT / "manifests" / "alerts" / "aurora.rules.yml").read_text())["groups"]
    rule = next(r for g in groups for r in g["rules"] if r["alert"] == ALERT)
    rule = {**rule, "expr": rule["expr"].replace("[5m]", "[10s]"), "for": "10s"}
    return {"groups": [{"name": "live", "interval": "1s", "rules": [rule]}]}


class Receiver:
    """An Alertmanager webhook receiver that remembers what it was sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def alertmanager_config(receiver_url: str) -> dict:
    """One route, to the webhook, grouping for a second."""
    return {
        "route": {"receiver": "hook", "group_wait": "1s", "group_interval": "5s", "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": receiver_url}]}],
    }


def prometheus_config(rules: Path, alertmanager_port: int, server_port: int) -> dict:
    """Scrape the server every second, evaluate the short rule every second, alert the Alertmanager."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
        "scrape_configs": [
            {
                "job_name": "inference",
                "static_configs": [{"targets": [f"127.0.0.1:{server_port}"], "labels": {"namespace": "ml"}}],
            }
        ],
    }


def start_alertmanager(binary: str, folder: Path, port: int, receiver: Receiver) -> subprocess.Popen:
    (folder / "am.yml").write_text(yaml.safe_dump(alertmanager_config(receiver.url)))
    return subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'am.yml'}",
            f"--storage.path={folder / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_prometheus(binary: str, folder: Path, port: int, alertmanager_port: int, server: Server) -> subprocess.Popen:
    (folder / "rules.yml").write_text(yaml.safe_dump(short_rule()))
    config = prometheus_config(folder / "rules.yml", alertmanager_port, server.port)
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    return subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def assert_fired_for_the_stable_track(payload: dict) -> None:
    """The webhook's payload: the alert firing, critical, for the model's stable track, described."""
    (alert,) = [a for a in payload["alerts"] if a["labels"]["alertname"] == ALERT]
    assert payload["status"] == "firing" and alert["labels"]["severity"] == "critical"
    assert alert["labels"]["model"] == "diabetes" and alert["labels"]["track"] == "stable"
    assert "of requests with 5xx" in alert["annotations"]["description"]


def test_the_error_rate_alert_fires_and_reaches_alertmanager(trained, tmp_path):
    prometheus_bin, alertmanager_bin = require_tool("prometheus"), require_tool("prometheus-alertmanager")
    (tmp_path / "serve").mkdir()
    server = Server(trained[0], tmp_path / "serve", AURORA_FAULT_ERROR_RATE="0.3")
    receiver = Receiver()
    am_port, prom_port = free_port(), free_port()
    processes = [
        start_alertmanager(alertmanager_bin, tmp_path, am_port, receiver),
        start_prometheus(prometheus_bin, tmp_path, prom_port, am_port, server),
    ]
    traffic = Traffic([server.url])
    started = time.monotonic()
    traffic.start()
    try:
        wait_until(lambda: receiver.received, 60, "the alert at the Alertmanager webhook")
        delivered_at, payload = receiver.received[0]
        assert_fired_for_the_stable_track(payload)
        print(f"\n{ALERT}: delivered to the webhook {delivered_at - started:.1f}s after faults began")
        assert requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=5).status_code in (200, 500)
    finally:
        traffic.stopped.set()
        traffic.join(timeout=5)
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        receiver.server.shutdown()
        server.stop()
