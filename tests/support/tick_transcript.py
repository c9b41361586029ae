"""Tick transcripts the README shows; `python -m tests.support.tick_transcript` prints them.

- A rollout nobody sends traffic to (`steps: []`, so no weighted route): checks every 30 s see
  no canary request; after maxInconclusive (10) of them the rollout pauses.
- A promotion, then `aurora.dev/rollback` inside the rollback window: the share of traffic each
  version answers, as the emitted Ingress and Service route it to ready pods, sync by sync.
- What `kubectl aurora get mld housing --watch` draws while a healthy rollout runs: the tree
  after each sync that changed the MLDeployment.
"""

from __future__ import annotations

from datetime import timedelta

from tests.support.ticked_rollout import NEW, OLD, TickedRollout, new_parent, started


def transcript() -> list[str]:
    rollout = TickedRollout(new_parent(steps=[]))
    rollout.tick(5)
    rollout.tick(5)
    rollout.set(version="v20261126-090000")
    lines, began = [], rollout.now
    for _ in range(13):
        elapsed = int((rollout.now - began).total_seconds())
        status = rollout.tick()
        analysis = status.get("analysis") or {}
        lines.append(
            f"{elapsed:>4}s  {status['phase']:<11} weight {status['canaryWeight']:<3} "
            f"{analysis.get('verdict') or '-':<12} {status.get('reason', '')}"
        )
    lines.append(f"message: {status['message']}")
    return lines


def rollback_line(rollout: TickedRollout, at: float, what: str) -> str:
    status, traffic = rollout.status, rollout.traffic()
    previous = status.get("previous") or {}
    ready = f"{previous['version']} {previous['readyReplicas']}/{previous['replicas']} ready" if previous else "-"
    shares = f"{traffic.get(OLD, 0):>6.2f} {traffic.get(NEW, 0):>6.2f}"
    return f"{at:>4.0f}s  {what:<20} {status['phase']:<11} {shares}  {ready}"


def rollback_transcript() -> list[str]:
    """NEW promoted over OLD, then rolled back with aurora.dev/rollback; one line per sync."""
    rollout = started()
    began = rollout.now
    lines = [*legend(), f"       {'':<20} {'phase':<11} {'on old':>6} {'on new':>6}  previous track"]

    def sync(what: str, seconds: float = 31, settle: bool = True) -> None:
        at = (rollout.now - began).total_seconds()
        rollout.tick(seconds, settle=settle)
        lines.append(rollback_line(rollout, at, what))

    while rollout.status.get("reason") != "Promoted":
        sync("sync")
    sync("sync", 20)
    rollout.annotate("rollback", "1")
    sync("aurora.dev/rollback", 5, settle=False)
    rollout.become_ready()
    lines.append(rollback_line(rollout, (rollout.now - began).total_seconds(), "(stable pods at old)"))
    sync("sync", 5)
    sync("sync", 5)
    lines.append(f"message: {rollout.status['message']}")
    return lines


def legend() -> list[str]:
    return [f"(old = {OLD}, new = {NEW}; share of requests each answers, through the emitted routes)"]


def plugin_cast(frames: tuple[int, ...] = (1, 2, 4, 5, 6)) -> list[str]:
    """`kubectl aurora get mld housing --watch` right after the syncs `frames` of a healthy rollout."""
    from kubectl_aurora.render import deployment_tree

    rollout, lines = started(), []
    began = rollout.now
    for sync in range(1, max(frames) + 1):
        at = rollout.now
        rollout.tick()
        if sync in frames:
            lines.append(f"--- the sync at {int((at - began).total_seconds())}s")
            lines += deployment_tree(rollout.cluster.parent, at + timedelta(seconds=1))
    return lines


def main() -> None:
    print("\n".join(transcript()))
    print()
    print("\n".join(rollback_transcript()))
    print()
    print("\n".join(plugin_cast()))


if __name__ == "__main__":
    main()
