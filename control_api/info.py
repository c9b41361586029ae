"""What the control API reports, as pure functions of Kubernetes objects and the model store."""

from __future__ import annotations

from aurora_api.phases import RunPhase
from trainer import store

RWX_PROVISIONERS = ("cephfs", "nfs", "efs", "filestore", "azurefile", "file.csi", "glusterfs", "longhorn")


def info_node(node: dict) -> dict:
    metadata, status = node.get("metadata") or {}, node.get("status") or {}
    labels = metadata.get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
    ready = next((c.get("status") == "True" for c in status.get("conditions") or [] if c.get("type") == "Ready"), False)
    pick = lambda resources: {k: (resources or {}).get(k) for k in ("cpu", "memory")}  # noqa: E731
    return {
        "name": metadata.get("name"),
        "roles": roles or ["worker"],
        "ready": ready,
        "kubeletVersion": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "capacity": pick(status.get("capacity")),
        "allocatable": pick(status.get("allocatable")),
    }


def info_storage_class(storage_class: dict) -> dict:
    """Whether a class can serve ReadWriteMany is judged from its provisioner (CephFS, NFS, ...)."""
    metadata = storage_class.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    provisioner = storage_class.get("provisioner", "")
    return {
        "name": metadata.get("name"),
        "provisioner": provisioner,
        "default": annotations.get("storageclass.kubernetes.io/is-default-class") == "true",
        "readWriteMany": any(marker in provisioner.lower() for marker in RWX_PROVISIONERS),
    }


def info_training_job(job: dict) -> dict:
    metadata, spec, status = job.get("metadata") or {}, job.get("spec") or {}, job.get("status") or {}
    return {
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "model": spec.get("model"),
        "phase": status.get("phase", RunPhase.PENDING),
        "version": status.get("modelVersion", ""),
        "metrics": status.get("metrics", {}),
        "conditions": condition_summary(status),
    }


def info_deployment(deployment: dict) -> dict:
    metadata, spec, status = (
        deployment.get("metadata") or {},
        deployment.get("spec") or {},
        deployment.get("status") or {},
    )
    analysis = status.get("analysis") or {}
    return {
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "model": spec.get("model"),
        "version": spec.get("version"),
        "versionFrom": spec.get("versionFrom"),
        "desiredVersion": status.get("desiredVersion", ""),
        "phase": status.get("phase", ""),
        "stableVersion": status.get("stableVersion", ""),
        "canaryVersion": status.get("canaryVersion", ""),
        "previousVersion": status.get("previousVersion", ""),
        "rollbackWindowEndsAt": status.get("rollbackWindowEndsAt", ""),
        "canaryWeight": status.get("canaryWeight", 0),
        "lastAnalysis": {k: analysis.get(k) for k in ("time", "verdict", "failedChecks", "message") if k in analysis},
        "message": status.get("message", ""),
        "conditions": condition_summary(status),
    }


def condition_summary(status: dict) -> dict:
    return {c.get("type"): f"{c.get('status')} {c.get('reason', '')}".strip() for c in status.get("conditions") or []}


def info_models(model_store: store.ModelStore) -> list[dict]:
    return [
        {"name": name, "latest": model_store.latest(name), "versions": len(model_store.versions(name))}
        for name in model_store.models()
    ]


def info_model_versions(model_store: store.ModelStore, model: str) -> dict:
    """Every version with its metrics; the model name is checked first (it is a folder name)."""
    store.check_model_name(model)
    versions = model_store.versions(model)
    if not versions:
        raise store.VersionNotFound(f"model {model!r} has no versions")
    latest = model_store.latest(model)
    return {
        "model": model,
        "latest": latest,
        "versions": [version_entry(model_store, model, v, latest) for v in versions],
    }


def version_entry(model_store: store.ModelStore, model: str, version: str, latest: str | None) -> dict:
    try:
        metadata = model_store.read_metadata(model, version)
    except store.StoreError as err:
        return {"version": version, "latest": version == latest, "error": str(err)}
    return {
        "version": version,
        "latest": version == latest,
        "createdAt": metadata.get("createdAt"),
        "estimator": (metadata.get("estimator") or {}).get("type"),
        "metrics": metadata.get("metrics"),
        "promoted": metadata.get("promoted"),
    }
