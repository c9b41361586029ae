"""The Plan: what a valid MLDeployment spec asks of the rollout, read once per sync."""

from __future__ import annotations

from dataclasses import dataclass

from aurora_api.times import parse_duration
from hooks.config import HookConfig
from hooks.observed import Observed
from hooks.rollout import Step, parse_steps


@dataclass(frozen=True)
class Plan:
    """What a valid spec asks of the rollout, read once per sync."""

    version: str
    replicas: int
    canary_replicas: int
    deadline_seconds: int
    steps: tuple[Step, ...]
    analysis: dict
    interval_seconds: int
    paused: bool
    generation: int
    window_seconds: int
    # From the hook's settings: how long a canary out of traffic keeps its pods.
    drain_seconds: int
    # Why the router cannot mirror requests (a mirror step then holds); None when it can.
    mirror_blocker: str | None = None


def new_plan(
    seen: Observed, version: str, replicas: int, config: HookConfig, mirror_blocker: str | None = None
) -> Plan:
    spec = seen.spec
    canary = spec["canary"]
    return Plan(
        version=version,
        replicas=replicas,
        canary_replicas=canary["replicas"],
        deadline_seconds=canary["progressDeadlineSeconds"],
        steps=parse_steps(canary["steps"]),
        analysis=canary["analysis"],
        interval_seconds=parse_duration(canary["analysis"]["interval"]),
        paused=spec["paused"],
        generation=seen.generation,
        window_seconds=parse_duration(spec["rollbackWindow"]),
        drain_seconds=config.drain_seconds,
        mirror_blocker=mirror_blocker,
    )
