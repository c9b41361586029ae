"""The conditions of both custom resources and every reason they or status.reason give."""

from __future__ import annotations

from enum import StrEnum


class ConditionType(StrEnum):
    AVAILABLE = "Available"  # MLDeployment: the stable track serves
    PROGRESSING = "Progressing"  # MLDeployment: a rollout is in progress
    VERSION_RESOLVED = "VersionResolved"  # MLDeployment: spec.version or spec.versionFrom gave a version
    COMPLETE = "Complete"  # MLTrainingJob: the version is published
    FAILED = "Failed"  # MLTrainingJob: the run failed (also a Job's condition of that name)
    INVALID_SPEC = "InvalidSpec"  # both: the spec is refused


class Reason(StrEnum):
    """Why an MLDeployment is where it is: status.reason and its conditions' reasons."""

    # status.reason: how the last rollout ended, or why it holds
    PROMOTED = "Promoted"  # every step passed and the stable track runs the canary's version
    STEPS_COMPLETED = "StepsCompleted"  # promoting: every step passed
    ANALYSIS_PASSED = "AnalysisPassed"  # promoting: a rollout without steps passed its check
    PROMOTED_BY_HAND = "PromotedByHand"  # promoting: aurora.dev/promote
    ANALYSIS_FAILED = "AnalysisFailed"  # rolled back: failureLimit checks failed
    WORSE_THAN_STABLE = "CanaryWorseThanStable"  # rolled back: the checks showed an excess over stable
    ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"  # paused: maxInconclusive checks in a row could not tell
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"  # rolled back: the canary was not ready in time
    ABORTED = "Aborted"  # rolled back: aurora.dev/abort
    ROLLBACK_REQUESTED = "RollbackRequested"  # rolled back to the previous version: aurora.dev/rollback
    VERSION_REVERTED = "VersionReverted"  # spec.version went back to the stable (or previous) version
    MIRROR_UNSUPPORTED = "MirrorUnsupported"  # paused: a mirror step on Gateways that cannot mirror
    # conditions
    NO_ROLLOUT = "NoRollout"
    STABLE_READY = "StableReady"
    STABLE_NOT_READY = "StableNotReady"
    ROLLING_BACK = "RollingBack"
    NO_VERSION = "NoVersion"
    INVALID_SPEC = "InvalidSpec"
    SPEC_VALID = "SpecValid"
    SPEC_VERSION = "SpecVersion"
    TRAINING_SUCCEEDED = "TrainingSucceeded"
    WAITING_FOR_TRAINING = "WaitingForTraining"
    MODEL_MISMATCH = "ModelMismatch"
    GATE_FAILED = "GateFailed"
    TRAINING_FAILED = "TrainingFailed"


class RunReason(StrEnum):
    """Why an MLTrainingJob is where it is: its conditions' reasons, the trainer's among them."""

    PUBLISHED = "Published"
    WAITING_FOR_VERSION = "WaitingForVersion"  # waiting for an earlier run of the model to choose its version
    NOT_FAILED = "NotFailed"
    INVALID_SPEC = "InvalidSpec"
    SPEC_VALID = "SpecValid"
    QUALITY_GATE_FAILED = "QualityGateFailed"  # published, unpromoted: the gate refused it
    INVALID_INPUT = "InvalidInput"  # the trainer refused its dataset or parameters
    STORE_NOT_WRITABLE = "StoreNotWritable"  # the trainer cannot write to the models volume
    NO_SPACE = "NoSpace"  # the models volume is full
    JOB_FAILED = "JobFailed"  # the Job failed and said no more
