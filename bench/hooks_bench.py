"""Cost of one MLDeployment sync against the JSON floor every hook pays, and syncs/s under gunicorn.

Run through bench/hooks. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hooks import mldeployment  # noqa: E402
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG_MLD, observations_path  # noqa: E402
from tests.support.servers import free_port  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

CASE = ROOT / "tests" / "fixtures" / "mldeployment" / "05-passing-check-advances.request.json"


def per_call_microseconds(function, seconds: float = 2.0) -> float:
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            function()
        calls += 200
    return (time.perf_counter() - started) / calls * 1e6


def reconciler_cost() -> None:
    body = CASE.read_bytes()
    observations = json.loads(observations_path(CASE).read_text())
    response = mldeployment.sync(json.loads(body), now=FIXED_NOW, observations=observations, config=TEST_CONFIG_MLD)

    def floor():
        json.loads(body)
        json.dumps(response, separators=(",", ":"))

    def full():
        request = json.loads(body)
        answer = mldeployment.sync(request, now=FIXED_NOW, observations=observations, config=TEST_CONFIG_MLD)
        json.dumps(answer, separators=(",", ":"))

    floor_us, full_us = per_call_microseconds(floor), per_call_microseconds(full)
    print(f"mid-rollout sync ({CASE.name}, {len(body):,} bytes in, {len(json.dumps(response)):,} out)")
    print(f"  JSON floor (decode request + encode response): {floor_us:8.1f} us")
    print(f"  decode + reconcile + encode:                   {full_us:8.1f} us")
    print(f"  ratio: {full_us / floor_us:.2f} (target <= 1.5)")


def gunicorn_rate(duration: int) -> None:
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="aurora-hooks-bench-")}
    script = Path(sys.executable).parent / "aurora-hooks"
    server = subprocess.Popen(
        [str(script), "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    lua = Path(tempfile.mkdtemp()) / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{CASE.read_text()}]==]\n"
    )
    try:
        import requests

        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok, 30, "aurora-hooks")
        result = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c8",
                f"-d{duration}s",
                "--latency",
                "-s",
                str(lua),
                f"http://127.0.0.1:{port}/mldeployment/sync",
            ],
            capture_output=True,
            text=True,
            timeout=duration + 30,
        )
        lines = [line.strip() for line in result.stdout.splitlines()]
        rate = next(line for line in lines if line.startswith("Requests/sec"))
        p99 = next(line for line in lines if line.startswith("99%"))
        errors = [line for line in lines if line.startswith("Non-2xx")]
        print(f"aurora-hooks under gunicorn (2 workers), wrk -t2 -c8 -d{duration}s, POST /mldeployment/sync:")
        print(f"  {rate}; p99 {p99.split()[-1]}; {errors[0] if errors else 'all 2xx'}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    reconciler_cost()
    print()
    gunicorn_rate(args.duration)
    if not args.skip_live:
        print(
            "\nfault onset to canary weight 0, real Prometheus and aurora-serve (python -m tests.support.live_canary):"
        )
        subprocess.run([sys.executable, "-m", "tests.support.live_canary"], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
