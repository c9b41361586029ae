"""Faults while the rollouts are in flight, each an analysis interval after the previous one
ended: Metacontroller killed (and started again an interval later, as its StatefulSet would on
another node), one aurora-hooks worker killed (gunicorn starts another), the API server
restarted (etcd keeps every object). Each is recorded with when it began and when its program
was back: answering, or for the hooks worker, replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from bench.scaling import measures
from tests.support import kube_cluster
from tests.support.waiting import wait_until


@dataclass
class Fault:
    name: str
    began: float  # wall clock
    recovered: float = 0.0  # when the program was back


class Faults(threading.Thread):
    """Injects the faults in order, `gap` seconds apart, the first `gap` seconds after start."""

    def __init__(self, tier, cluster, gap: float, down: float):
        super().__init__(daemon=True)
        self.tier, self.cluster, self.gap, self.down = tier, cluster, gap, down
        self.done: list[Fault] = []
        self.writes_before_restart: dict[str, float] | None = None  # the API server's counters restart at 0
        self.killed: dict[int, tuple[str, float]] = {}  # the CPU of each process gone, just before
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for name, inject in (
                ("Metacontroller killed", self.kill_metacontroller),
                ("one aurora-hooks worker killed", self.kill_hooks_worker),
                ("API server restarted", self.restart_apiserver),
            ):
                time.sleep(self.gap)
                fault, running = Fault(name, time.time()), measures.cpu_by_process()
                inject()
                fault.recovered = time.time()
                self.done.append(fault)
                gone = running.keys() - measures.cpu_by_process().keys()
                self.killed.update({pid: running[pid] for pid in gone})
        except BaseException as err:  # noqa: BLE001 - reported by the run, which then fails
            self.error = err

    def kill_metacontroller(self) -> None:
        program = self.tier.metacontroller
        program.kill()
        time.sleep(self.down)
        program.start_again()
        health = next(a.split("=", 1)[1] for a in program.argv if a.startswith("--health-probe-bind-address="))
        program.wait_for(f"http://{health}/healthz", "Metacontroller, started again")

    def kill_hooks_worker(self) -> None:
        master = self.tier.hooks.process.pid
        workers = workers_of(master)
        os.kill(workers[0], signal.SIGKILL)

        def replaced() -> bool:
            now = workers_of(master)
            return len(now) == len(workers) and workers[0] not in now

        wait_until(replaced, 60, "gunicorn to start another aurora-hooks worker", interval=0.1)

    def restart_apiserver(self) -> None:
        self.writes_before_restart = measures.api_writes(self.tier.kube)
        env = kube_cluster.script_env(self.cluster.home)
        subprocess.run([str(kube_cluster.SCRIPT), "restart-apiserver"], env=env, check=True, timeout=180)


def workers_of(master: int) -> list[int]:
    """gunicorn's workers: the master's process group, without the master."""
    return [pid for pid in measures.group_pids(master) if pid != master]


def checks_around(lines, fault: Fault, interval: int) -> list[float]:
    """How late the checks ran that were due from the fault's start until an interval after its
    program answered again."""
    return [
        lag for line in lines.values() for due, lag in line.checks if fault.began <= due <= fault.recovered + interval
    ]
