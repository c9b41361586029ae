"""Fault injection for drills: fail a fraction of inference requests and/or slow them down.

Off unless AURORA_FAULT_* settings are given. Canary and alert drills use it to show
that rollbacks and alerts fire on a real server.
"""

from __future__ import annotations

import random
import time

from server.config import ServerConfig
from server.errors import InjectedFault


class FaultInjector:
    def __init__(self, config: ServerConfig, rng: random.Random | None = None, sleep=time.sleep):
        self.error_rate = config.fault_error_rate
        self.latency = config.fault_latency_seconds
        self.latency_rate = config.fault_latency_rate
        self.rng = rng or random.Random()
        self.sleep = sleep

    def apply(self) -> None:
        """Maybe sleep, then maybe raise InjectedFault (answered 500)."""
        if self.latency and self.rng.random() < self.latency_rate:
            self.sleep(self.latency)
        if self.error_rate and self.rng.random() < self.error_rate:
            raise InjectedFault("injected fault (AURORA_FAULT_ERROR_RATE)")
