"""The phases of the two custom resources (status.phase): closed sets, each with what is true in it."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """An MLDeployment's phase."""

    STABLE = "Stable"  # one version serves all traffic; no canary takes any
    PROGRESSING = "Progressing"  # a canary is starting, or walking the steps under analysis
    PAUSED = "Paused"  # the canary holds its weight: spec.paused, a gate step, or checks that stay inconclusive
    PROMOTING = "Promoting"  # the stable track moves to the canary's version; the canary keeps its weight meanwhile
    ROLLED_BACK = "RolledBack"  # the canary failed or was aborted; stable serves all until a new version or retry
    FAILED = "Failed"  # the spec is invalid and no stable track exists to keep serving


# The phases of a rollout in progress: the ones promote and abort act on.
ROLLING = frozenset({Phase.PROGRESSING, Phase.PAUSED})


class RunPhase(StrEnum):
    """An MLTrainingJob's phase."""

    PENDING = "Pending"  # the Job is created or about to be; no trainer pod is running yet
    RUNNING = "Running"  # a trainer pod is running
    SUCCEEDED = "Succeeded"  # the trainer published the version (and promoted it if asked and the gate passed)
    FAILED = "Failed"  # the run ended without a published promotable version; the Failed condition says why
