"""The objects of examples/, created on the real cluster under a name and namespace of the test's."""

from __future__ import annotations

import copy

from tests.support.documents import documents
from tests.support.paths import ROOT
from tests.support.platform import DEPLOYMENTS, TRAINING_JOBS

EXAMPLE = {kind: documents(ROOT / "examples" / f"{kind}.yaml")[0] for kind in ("mltrainingjob", "mldeployment")}


def create(cluster, kind: str, namespace: str, name: str, status: dict | None = None) -> dict:
    """The example of `kind` created as `name` in `namespace`, with `status` written when given."""
    obj = copy.deepcopy(EXAMPLE[kind])
    obj["metadata"].update(name=name, namespace=namespace)
    resource = TRAINING_JOBS if kind == "mltrainingjob" else DEPLOYMENTS
    created = cluster.admin().call("POST", resource.path(namespace), obj)
    if status:
        created["status"] = status
        created = cluster.admin().call("PUT", resource.path(namespace, name) + "/status", created)
    return created
