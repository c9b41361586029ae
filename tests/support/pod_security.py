"""The Kubernetes "restricted" Pod Security Standard, as a checker for the pods we emit.

Mirrors the checks the admission controller applies at level `restricted` (baseline
included) to the fields our pods can carry. Returns the violations; empty means admitted.
"""

from __future__ import annotations

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}


def violations(pod_spec: dict) -> list[str]:
    problems = []
    pod_context = pod_spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key):
            problems.append(f"{key} is set")
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']} uses {sorted(kinds - ALLOWED_VOLUMES)}")
    containers = (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])
    for container in containers:
        problems += container_violations(container, pod_context)
    return problems


def container_violations(container: dict, pod_context: dict) -> list[str]:
    name, context = container["name"], container.get("securityContext") or {}
    problems = []
    if context.get("privileged"):
        problems.append(f"{name}: privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation must be false")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append(f"{name}: capabilities must drop ALL")
    if set(capabilities.get("add") or []) - ALLOWED_ADDED_CAPABILITIES:
        problems.append(f"{name}: adds capabilities {capabilities['add']}")
    if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
        problems.append(f"{name}: runAsNonRoot must be true")
    if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
        problems.append(f"{name}: runs as user 0")
    seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{name}: hostPort {port['hostPort']}")
    return problems
