"""What a bench/scale run does: its size, its scenario and Metacontroller's settings."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

# Metacontroller's own defaults (v4.17.2): 5 workers, client-go at 5 queries/s, burst 10.
DEFAULT_METACONTROLLER = {"workers": 5, "qps": 5.0, "burst": 10}


@dataclass(frozen=True)
class Settings:
    deployments: int
    rollouts: int
    bad_share: float  # the share of new versions that fail their checks
    interval: int  # analysis interval, seconds
    per_namespace: int
    workers: int
    qps: float
    burst: int
    timeout: int  # seconds a phase may take before what has not finished counts as stuck
    requests_per_second: float  # each inference pod's traffic
    faults: bool  # Metacontroller, a hooks worker and the API server fail while rollouts run

    @property
    def namespaces(self) -> int:
        return -(-self.deployments // self.per_namespace)

    @property
    def bad_rollouts(self) -> int:
        return round(self.rollouts * self.bad_share)

    def metacontroller_flags(self) -> list[str]:
        return [f"--workers={self.workers}", f"--client-go-qps={self.qps:g}", f"--client-go-burst={self.burst}"]


def parse(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="bench/scale", description=__doc__)
    parser.add_argument("--deployments", type=int, default=50, help="MLDeployments (default 50)")
    parser.add_argument("--rollouts", type=int, help="rollouts started at once (default deployments/5)")
    parser.add_argument("--bad-share", type=float, default=0.2, help="share of bad new versions (default 0.2)")
    parser.add_argument("--interval", type=int, default=10, help="analysis interval in seconds (default 10)")
    parser.add_argument("--per-namespace", type=int, default=50, help="MLDeployments per namespace (default 50)")
    parser.add_argument("--workers", type=int, default=DEFAULT_METACONTROLLER["workers"])
    parser.add_argument("--qps", type=float, default=DEFAULT_METACONTROLLER["qps"], help="Metacontroller's client QPS")
    parser.add_argument("--burst", type=int, default=DEFAULT_METACONTROLLER["burst"], help="its client burst")
    parser.add_argument("--timeout", type=int, default=900, help="seconds each phase may take (default 900)")
    parser.add_argument("--rps", type=float, default=5.0, help="requests/s each inference pod serves (default 5)")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="while the rollouts run, kill Metacontroller, then one aurora-hooks worker, then restart the API server",
    )
    args = parser.parse_args(argv)
    rollouts = args.deployments // 5 if args.rollouts is None else args.rollouts
    if args.deployments < 1 or not 0 <= rollouts <= args.deployments:
        parser.error("--deployments must be at least 1 and --rollouts within 0..deployments")
    if not 0 <= args.bad_share <= 1 or args.interval < 1 or args.per_namespace < 1:
        parser.error("--bad-share is a share (0..1); --interval and --per-namespace are at least 1")
    return Settings(
        deployments=args.deployments,
        rollouts=rollouts,
        bad_share=args.bad_share,
        interval=args.interval,
        per_namespace=args.per_namespace,
        workers=args.workers,
        qps=args.qps,
        burst=args.burst,
        timeout=args.timeout,
        requests_per_second=args.rps,
        faults=args.faults,
    )
