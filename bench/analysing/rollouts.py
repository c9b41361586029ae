"""One simulated rollout: the spec's default steps (10 % for 60 s, then 50 % for 120 s), a check
every 30 s, judged by one policy, step and rollback rules as the hook applies them
(hooks/decisions.py): a step moves on once its time is up and a check at it passed; failureLimit
failed checks roll back; maxInconclusive inconclusive checks in a row hold the rollout."""

from __future__ import annotations

from dataclasses import dataclass

from aurora_api.verdicts import Verdict
from bench.analysing.policies import Policy
from bench.analysing.traffic import Scenario, window
from hooks.baseline import Evidence

INTERVAL = 30
STEPS = ((10, 60), (50, 120))  # (weight %, seconds)
MAX_CHECKS = 40  # a rollout still running then counts as held


@dataclass(frozen=True)
class Outcome:
    ending: str  # promoted, rolled back or held
    seconds: int  # from the canary's first step to the ending


def simulate(policy: Policy, scenario: Scenario, rate: float, seed: list[int]) -> Outcome:
    step, step_started, failed, inconclusive, evidence = 0, 0, 0, 0, Evidence()
    for check in range(1, MAX_CHECKS + 1):
        now = check * INTERVAL
        weight, pause = STEPS[step]
        verdict, evidence = policy.judge(window([*seed, check], scenario, rate, weight, INTERVAL), evidence)
        failed += verdict == Verdict.FAIL
        inconclusive = inconclusive + 1 if verdict == Verdict.INCONCLUSIVE else 0
        if failed >= policy.failure_limit:
            return Outcome("rolled back", now)
        if policy.max_inconclusive and inconclusive >= policy.max_inconclusive:
            return Outcome("held", now)
        if verdict == Verdict.PASS and now - step_started >= pause:
            step, step_started = step + 1, now
            if step == len(STEPS):
                return Outcome("promoted", now)
    return Outcome("held", MAX_CHECKS * INTERVAL)
