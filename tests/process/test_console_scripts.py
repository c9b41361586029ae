"""Console scripts run as a user runs them: aurora-train's output streams, aurora-hooks under gunicorn.
(aurora-serve has tests/process/test_gunicorn.py, aurora-control-api tests/process/test_control_api.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import requests

from tests.support.hook_fixtures import cases
from tests.support.models import MODEL
from tests.support.servers import free_port
from tests.support.waiting import wait_until

FIRST = cases("mltrainingjob")[0]


def test_the_console_script_keeps_stdout_for_json_and_progress_on_stderr(model_root):
    script = os.path.join(os.path.dirname(sys.executable), "aurora-train")
    result = subprocess.run(
        [
            script,
            "--model",
            MODEL,
            "--dataset",
            "builtin:diabetes",
            "--estimator",
            "ridge",
            "--model-root",
            str(model_root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == MODEL
    assert "training ridge on 442 rows" in result.stderr


def test_aurora_hooks_serves_under_gunicorn(tmp_path):
    port = free_port()
    script = os.path.join(os.path.dirname(sys.executable), "aurora-hooks")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    with open(tmp_path / "hooks.log", "w") as log:
        process = subprocess.Popen(
            [script, "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: requests.get(f"{url}/healthz", timeout=2).ok, 30, "aurora-hooks")
            answer = requests.post(f"{url}/mltrainingjob/sync", data=FIRST.read_bytes(), timeout=5)
            assert answer.status_code == 200
            assert answer.json()["children"][0]["kind"] == "Job"
            assert "aurora_hooks_calls_total" in requests.get(f"{url}/metrics", timeout=5).text
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
