"""The tick transcript of a rollout nobody sends traffic to (`steps: []`, so no weighted route).

`python -m tests.tick_transcript` prints it; the README shows it. Checks every 30 s see no canary
request; after maxInconclusive (10) of them the rollout pauses instead of waiting forever.
"""

from __future__ import annotations

from tests.test_mldeployment import Rollout, new_parent


def transcript() -> list[str]:
    rollout = Rollout(new_parent(steps=[]))
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


def main() -> None:
    print("\n".join(transcript()))


if __name__ == "__main__":
    main()
