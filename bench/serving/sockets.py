"""Free loopback ports for the servers, and the check that a server listens on loopback only."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from serving.processes import group_stats


def free_ports(count: int) -> list[int]:
    """Free TCP ports on 127.0.0.1 (all held open until every one is picked)."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def decode_address(hex_addr: str, v6: bool) -> str:
    host, port = hex_addr.split(":")
    raw = bytes.fromhex(host)
    if v6:
        # /proc prints four host-order 32-bit words.
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        text = socket.inet_ntop(socket.AF_INET6, raw)
    else:
        text = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return f"{text}:{int(port, 16)}"


def listening(inodes: set[str]) -> list[str]:
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                found.append(decode_address(cols[1], v6))
    return sorted(set(found))


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or host.startswith("::ffff:127.")


def group_listeners(pgid: int) -> tuple[str, str]:
    """The TCP listeners of a process group, and what is wrong ("" when all are on loopback)."""
    inodes: set[str] = set()
    for pid in group_stats(pgid):
        inodes |= socket_inodes(pid)
    addresses = listening(inodes)
    outside = [a for a in addresses if not is_loopback(a)]
    shown = " ".join(addresses) if addresses else "(none)"
    return shown, f"listening outside loopback: {' '.join(outside)}" if outside else ""
