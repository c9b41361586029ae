"""The three ways of judging a canary that bench/analysis compares, each over the same windows:
- as Flagger and Argo Rollouts judge by default: a 1 % error-rate ceiling (Flagger's
  request-success-rate of 99 %) and a 500 ms p99 ceiling, one failed check rolls back, and a
  window without canary requests fails ("no values found");
- Aurora's thresholds (hooks/analysis.py judge), with the spec's defaults unless tuned;
- Aurora against stable (hooks/analysis.py judge_against_stable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aurora_api.verdicts import Verdict
from hooks import analysis
from hooks.baseline import Evidence
from hooks.deployment_spec import with_defaults


@dataclass(frozen=True)
class Policy:
    name: str
    settings: dict = field(default_factory=dict)

    @property
    def failure_limit(self) -> int:
        return self.settings.get("failureLimit", 1)

    @property
    def max_inconclusive(self) -> int | None:
        return self.settings.get("maxInconclusive")

    def judge(self, observations: dict, evidence: Evidence) -> tuple[str, Evidence]:
        if self.settings.get("baseline"):
            verdict, _, evidence = analysis.judge_against_stable(observations, self.settings, evidence)
            return verdict, evidence
        if "ceiling" in self.settings:
            return ceiling_verdict(observations["canary"], self.settings), evidence
        return analysis.judge(observations, self.settings)[0], evidence


def ceiling_verdict(canary: dict, settings: dict) -> str:
    """A canary under both ceilings passes. Fewer than minRequests requests is Inconclusive; with
    minRequests 0, a window without requests fails (Flagger's "no values found")."""
    if canary["requests"] < settings["minRequests"]:
        return Verdict.INCONCLUSIVE
    if not canary["requests"]:
        return Verdict.FAIL
    too_slow = canary["latencyP99"] is None or canary["latencyP99"] > 0.5
    return Verdict.FAIL if canary["errorRate"] > settings["ceiling"] or too_slow else Verdict.PASS


def ceilings(ceiling: float = 0.01, failure_limit: int = 1, min_requests: int = 0) -> Policy:
    settings = {"ceiling": ceiling, "failureLimit": failure_limit, "minRequests": min_requests}
    return Policy(f"ceilings (errors {ceiling:g}, failureLimit {failure_limit}, minRequests {min_requests})", settings)


FLAGGER_ARGO = Policy("Flagger/Argo defaults", ceilings().settings)


def spec_analysis(written: dict) -> dict:
    """The analysis settings as the hook applies them: what is written, and the defaults."""
    return with_defaults({"canary": {"analysis": written}})["canary"]["analysis"]


def aurora_thresholds(**tuned) -> Policy:
    settings = spec_analysis(tuned)
    name = "Aurora thresholds" + (f" ({', '.join(f'{k} {v:g}' for k, v in tuned.items())})" if tuned else "")
    return Policy(name, settings)


def against_stable(**tuned) -> Policy:
    return Policy("Aurora against stable", spec_analysis({"baseline": "stable", **tuned}))


# The thresholds a user could tune towards fewer false rollbacks, Flagger's and Argo's as well
# as Aurora's: error-rate ceiling, failures tolerated, requests needed.
TUNING = [
    tuned(maxErrorRate=ceiling, failureLimit=limit, minRequests=requests)
    for tuned in (aurora_thresholds, lambda **k: ceilings(k["maxErrorRate"], k["failureLimit"], k["minRequests"]))
    for ceiling in (0.01, 0.02, 0.03, 0.05)
    for limit in (1, 2, 3, 4)
    for requests in (0, 10, 20, 30, 50)
]
