"""How the packages meet: the API's words in one leaf package, no service importing another,
and the plugin's action guards the very ones the hook applies."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest

from aurora_api.actions import Action
from kubectl_aurora import actions as plugin
from tests.support.hook_fixtures import FIXED_NOW, cases, mldeployment_sync
from tests.support.paths import ROOT

PROJECT = ("aurora_api", "aurora_runtime", "hooks", "server", "control_api", "kubectl_aurora", "trainer")
SHARED = {"aurora_api", "aurora_runtime"}
# The model store and the estimators' parameter names live in the trainer package; these are
# the only modules of another package a service may use.
ALLOWED = {
    "hooks": {"trainer.parameters"},
    "server": {"trainer.store"},
    "control_api": {"trainer.store"},
}


def imported_modules(package: str) -> set[str]:
    """Every project module a package's code imports (absolute imports), at any depth of the code."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        if "protos" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from trainer import store` uses trainer.store, not the whole package.
                names = [f"{node.module}.{a.name}" for a in node.names] if node.module in PROJECT else [node.module]
            found |= {n for n in names if n.split(".")[0] in PROJECT}
    return found


def test_the_api_words_are_a_leaf_that_imports_nothing_of_the_project():
    assert {m for m in imported_modules("aurora_api") if not m.startswith("aurora_api")} == set()


def test_the_runtime_imports_no_service():
    assert {m.split(".")[0] for m in imported_modules("aurora_runtime")} <= {"aurora_runtime"}


@pytest.mark.parametrize("package", ["hooks", "server", "control_api", "kubectl_aurora", "trainer"])
def test_no_service_imports_another(package):
    foreign = {m for m in imported_modules(package) if m.split(".")[0] not in SHARED | {package}}
    assert foreign <= ALLOWED.get(package, set()), sorted(foreign)


def as_written(path: Path) -> dict:
    """The request of the sync after this fixture's: the parent with the status the hook wrote,
    which is what the plugin reads before it sets an annotation."""
    request = json.loads(path.read_text())
    written = mldeployment_sync(copy.deepcopy(request), path)["status"]
    return {**request, "parent": {**request["parent"], "status": written}}


def acted(request: dict, path: Path, action: Action) -> bool:
    """Whether a new value of the action's annotation changes what the hook does, beyond
    remembering the value."""
    asked = copy.deepcopy(request)
    annotations = asked["parent"]["metadata"].setdefault("annotations", {})
    annotations[action.annotation] = "asked-by-the-test"
    before, after = mldeployment_sync(copy.deepcopy(request), path), mldeployment_sync(asked, path)
    for response in (before, after):
        response["status"].pop("actions", None)
    return json.dumps(before, sort_keys=True) != json.dumps(after, sort_keys=True)


def is_settled(path: Path) -> bool:
    """A sync that, without any annotation, keeps the phase and the versions: an action then
    acts or not by the guards alone (a new version or a due check would act anyway)."""
    request = as_written(path)
    status = request["parent"]["status"]
    response = mldeployment_sync(copy.deepcopy(request), path)["status"]
    keys = ("phase", "desiredVersion", "canaryVersion", "stableVersion")
    return bool(status.get("phase")) and all(response.get(k) == status.get(k) for k in keys)


SETTLED = [p for p in cases("mldeployment") if is_settled(p)]


def test_the_guards_are_compared_on_requests_of_every_phase():
    phases = {as_written(p)["parent"]["status"]["phase"] for p in SETTLED}
    assert phases >= {"Stable", "Progressing", "Paused", "RolledBack"}, phases


@pytest.mark.parametrize("path", SETTLED, ids=[p.name.removesuffix(".request.json") for p in SETTLED])
def test_the_plugin_refuses_exactly_the_actions_the_hook_ignores(path):
    request = as_written(path)
    said = {action: plugin.refusal(action, request["parent"], FIXED_NOW) is None for action in Action}
    done = {action: acted(request, path, action) for action in Action}
    assert said == done
