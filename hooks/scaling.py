"""How many pods the stable track runs, and who decides: spec.replicas, or an HPA.

With `spec.autoscaling` an HPA owns the stable Deployment's replicas. Metacontroller applies
what the hook returns and removes a field the hook leaves out (the Deployment would fall
to 1 pod), so the hook returns the count it observed, the HPA's, kept within the HPA's
bounds. Turning autoscaling off never drops the pods below what they were: that count is
held until the spec changes again (`kubectl scale mld/NAME --replicas=N`, say).
"""

from __future__ import annotations

from typing import NamedTuple


class Scale(NamedTuple):
    replicas: int  # the stable Deployment's replicas for this sync
    status: dict  # what status remembers: whether autoscaling was on, and a held count


def scaling_errors(spec: dict) -> list[str]:
    scaling = spec.get("autoscaling")
    if scaling is None:
        return []
    low, high, target = (scaling.get(k) for k in ("minReplicas", "maxReplicas", "targetCPUUtilizationPercentage"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, target)):
        return ["spec.autoscaling needs minReplicas, maxReplicas and targetCPUUtilizationPercentage as integers"]
    errors = []
    if not 1 <= low <= high:
        errors.append(f"spec.autoscaling: minReplicas {low} must be at least 1 and at most maxReplicas {high}")
    if not 1 <= target <= 100:
        errors.append(f"spec.autoscaling.targetCPUUtilizationPercentage {target} must be within 1..100")
    return errors


def stable_scale(spec: dict, stable: dict | None, previous: dict, generation: int) -> Scale:
    """The stable track's replicas; `previous` is the last status, `stable` the observed Deployment."""
    running = observed_replicas(stable)
    scaling = spec.get("autoscaling")
    if scaling:
        wanted = running if running is not None else max(spec["replicas"], scaling["minReplicas"])
        return Scale(min(max(wanted, scaling["minReplicas"]), scaling["maxReplicas"]), {"autoscaled": True})
    held = previous.get("heldReplicas")
    if previous.get("autoscaled") is True:
        # Autoscaling was just turned off: keep what runs if that is more than spec.replicas.
        held = max(spec["replicas"], running or 0)
        return Scale(held, {"heldReplicas": held, "heldGeneration": generation})
    if type(held) is int and previous.get("heldGeneration") == generation and held > spec["replicas"]:
        return Scale(held, {"heldReplicas": held, "heldGeneration": generation})
    return Scale(spec["replicas"], {})


def observed_replicas(deployment: dict | None) -> int | None:
    value = ((deployment or {}).get("spec") or {}).get("replicas")
    return value if type(value) is int and value >= 1 else None
