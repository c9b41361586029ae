"""Golden fixture pairs of the hooks: `<case>.request.json` in, `<case>.response.json` out.

`python -m tests.support.hook_fixtures` rewrites every response from the current code; review the
diff before committing it, since the responses are what the tests hold the hooks to.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hooks import mldeployment, mltrainingjob
from hooks.config import HookConfig
from tests.support.paths import FIXTURES

FIXED_NOW = datetime(2026, 11, 26, 10, 5, 0, tzinfo=UTC)
TEST_CONFIG = HookConfig(trainer_image="registry.example.com/aurora:0.1.0")
TEST_CONFIG_MLD = HookConfig(server_image="registry.example.com/aurora:0.1.0", drain_seconds=10)


def observations_path(path: Path) -> Path:
    return path.with_name(f"{case_name(path)}.observations.json")


def mldeployment_sync(request: dict, path: Path) -> dict:
    """MLDeployment cases may carry what Prometheus answered in <case>.observations.json."""
    extra = observations_path(path)
    observations = json.loads(extra.read_text()) if extra.is_file() else None
    return mldeployment.sync(request, now=FIXED_NOW, observations=observations, config=TEST_CONFIG_MLD)


HOOKS = {
    "mltrainingjob": lambda request, path: mltrainingjob.sync(request, now=FIXED_NOW, config=TEST_CONFIG),
    "mldeployment": mldeployment_sync,
}


def cases(controller: str) -> list[Path]:
    return sorted((FIXTURES / controller).glob("*.request.json"))


def case_name(path: Path) -> str:
    return path.name.removesuffix(".request.json")


def response_path(path: Path) -> Path:
    return path.with_name(f"{case_name(path)}.response.json")


def regenerate() -> None:
    for controller, hook in HOOKS.items():
        for path in cases(controller):
            response = hook(json.loads(path.read_text()), path)
            response_path(path).write_text(json.dumps(response, indent=2, sort_keys=True) + "\n")
            print(f"wrote {response_path(path).relative_to(FIXTURES)}")


# MLDeployments as kubectl-aurora reads them, with the text it draws for each.
RECORDED = FIXTURES / "kubectl-aurora"


def recorded(name: str) -> dict:
    """An MLDeployment as the hooks left it, recorded for the plugin's tests."""
    return json.loads((RECORDED / f"{name}.json").read_text())


def emitted_children(controller: str) -> list[dict]:
    """Every child with a spec in the golden responses of `controller`, namespaced as Metacontroller sends it."""
    children = []
    for path in cases(controller):
        response = json.loads(response_path(path).read_text())
        for child in response["children"]:
            # Metacontroller fills in the namespace; the schemas want a complete object.
            if "spec" in child:
                children.append({**child, "metadata": {**child["metadata"], "namespace": "ml"}})
    return children


if __name__ == "__main__":
    regenerate()
