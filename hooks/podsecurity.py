"""The Kubernetes "restricted" Pod Security profile, for every pod Aurora creates."""

from __future__ import annotations

# A fixed non-root identity; images are built to run as it.
USER_ID = 10001


def pod_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "runAsGroup": USER_ID,
        "fsGroup": USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
