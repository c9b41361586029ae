"""The API group, its version, and the two kinds with their plural names."""

from __future__ import annotations

GROUP = "aurora.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DEPLOYMENTS = "mldeployments"  # kind MLDeployment, short name mld
TRAINING_JOBS = "mltrainingjobs"  # kind MLTrainingJob, short name mltj
# How Metacontroller keys a related or child object of this kind in a hook request.
TRAINING_JOB_KEY = f"MLTrainingJob.{API_VERSION}"
