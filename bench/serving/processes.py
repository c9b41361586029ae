"""Process groups: every server runs as the leader of a session of its own and is stopped by
its group, when its turn ends or, on any failure or signal, by `ProcessGroups.cleanup()`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from serving.logs import log

STOP_WAIT_SECONDS = 10


def group_stats(pgid: int) -> dict[int, list[str]]:
    """/proc/PID/stat fields (after the command name) of every process in a process group."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended between the listing and now
        if int(fields[2]) == pgid:
            stats[int(entry.name)] = fields
    return stats


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of a process group's live processes and of the children they reaped."""
    ticks = sum(int(fields[i]) for fields in group_stats(pgid).values() for i in (11, 12, 13, 14))
    # Rounded to the millisecond, as the figures of earlier results were.
    return round(ticks / os.sysconf("SC_CLK_TCK"), 3)  # utime stime cutime cstime, in clock ticks


class ProcessGroups:
    """The server groups and the load run this driver started, so that it can stop them all."""

    def __init__(self) -> None:
        self.leaders: dict[int, subprocess.Popen] = {}
        self.load: subprocess.Popen | None = None

    def start(self, command: list[str], workdir: Path, logfile: Path, env: dict | None = None) -> int:
        """Run `command` in `workdir` as the leader of a new session; return its process group."""
        with open(logfile, "wb") as out:
            leader = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.leaders[leader.pid] = leader
        time.sleep(0.2)
        try:
            pgid = os.getpgid(leader.pid)
        except ProcessLookupError:
            pgid = leader.pid
        if pgid != leader.pid:
            log(f"warning: server pid {leader.pid} is in process group {pgid}, not its own")
        return leader.pid

    def is_leader_alive(self, pgid: int) -> bool:
        """Whether the group's leader (the server's main process) still runs."""
        leader = self.leaders.get(pgid)
        return leader is not None and leader.poll() is None

    def is_alive(self, pgid: int) -> bool:
        leader = self.leaders.get(pgid)
        if leader is not None:
            leader.poll()  # reap the leader, so that a zombie does not count as alive
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self, pgid: int) -> None:
        """SIGTERM the group, and SIGKILL it if it is still there after 10 s."""
        if self.is_alive(pgid):
            self.signal(pgid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while self.is_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.25)
            if self.is_alive(pgid):
                log(f"process group {pgid} ignored SIGTERM for {STOP_WAIT_SECONDS}s; sending SIGKILL")
                self.signal(pgid, signal.SIGKILL)
        self.leaders.pop(pgid, None)

    @staticmethod
    def signal(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def run_bounded(self, command: list[str], outfile: str, seconds: int) -> None:
        """Run one load tool to its end, or for at most 30 s past its duration."""
        with open(outfile, "wb") as out:
            self.load = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            try:
                self.load.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                self.load.terminate()
                self.load.wait()
        self.load = None

    def cleanup(self) -> None:
        """Stop the load run and every server group still running."""
        if self.load is not None and self.load.poll() is None:
            self.load.terminate()
        for pgid in list(self.leaders):
            self.stop(pgid)


def exit_on_signals() -> None:
    """Turn SIGINT and SIGTERM into SystemExit, so that cleanup runs on the way out."""

    def handler(signum: int, _frame) -> None:
        log("interrupted" if signum == signal.SIGINT else "terminated")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
