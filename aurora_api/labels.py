"""The label keys Aurora puts on what it creates, and selects by."""

from __future__ import annotations

MODEL = "aurora.dev/model"  # the model a pod, Job or Service serves or trains
VERSION = "aurora.dev/model-version"  # the model version a pod serves or a Job publishes
DEPLOYMENT = "aurora.dev/deployment"  # the MLDeployment an inference object belongs to
TRACK = "aurora.dev/track"  # stable, canary or previous
RUN = "aurora.dev/training-job"  # the MLTrainingJob a training Job runs
RUN_UID = "aurora.dev/training-job-uid"  # and its uid: a re-created run of one name is another run
