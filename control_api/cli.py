"""`aurora-control-api`: serve the control API under gunicorn, or `bootstrap` the controllers.

`aurora-control-api bootstrap [--manifests DIR]` applies Aurora's CRDs and
CompositeControllers with server-side apply (field manager "aurora"): running it again
changes nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from aurora_runtime.multiproc import prepare_multiprocess_dir

REPO = Path(__file__).resolve().parent.parent
APPLY_PATHS = {
    "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
    "CompositeController": "/apis/metacontroller.k8s.io/v1alpha1/compositecontrollers/{name}",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aurora-control-api", description="Aurora's REST info API.")
    parser.add_argument("command", nargs="?", choices=["serve", "bootstrap"], default="serve")
    parser.add_argument("--bind", default=os.environ.get("AURORA_BIND", "0.0.0.0:8080"), help="HOST:PORT")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("AURORA_WORKERS", 2)))
    parser.add_argument(
        "--manifests", default=str(REPO), help="folder holding manifests/crds and composite-controllers"
    )
    return parser.parse_args(argv)


def manifests(root: Path) -> list[dict]:
    """CRDs first: a CompositeController's parent resource must exist before it."""
    import yaml

    files = sorted((root / "manifests" / "crds").glob("*.yaml")) + sorted(
        (root / "composite-controllers").glob("*.yaml")
    )
    documents = (doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc)
    return [doc for doc in documents if doc.get("kind") in APPLY_PATHS]


def bootstrap(root: Path, kube) -> int:
    documents = manifests(root)
    if not documents:
        print(f"aurora-control-api bootstrap: no manifests under {root}", file=sys.stderr)
        return 2
    for document in documents:
        path = APPLY_PATHS[document["kind"]].format(name=document["metadata"]["name"])
        kube.apply(path, document)
        print(f"applied {document['kind']} {document['metadata']['name']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    from control_api.errors import AppError, ConfigError

    if args.command == "bootstrap":
        from control_api.kube import Kube

        try:
            return bootstrap(Path(args.manifests), Kube())
        except AppError as err:
            print(f"aurora-control-api bootstrap: {err.message}", file=sys.stderr)
            return 1
    from control_api.config import ApiConfig

    try:
        config = ApiConfig.from_env()
    except ConfigError as err:
        print(f"aurora-control-api: {err}", file=sys.stderr)
        return 2
    prepare_multiprocess_dir()
    from aurora_runtime.gunicorn import GunicornServer
    from control_api.app import create_app

    options = {"bind": args.bind, "workers": args.workers, "threads": 4, "graceful_timeout": 10}
    GunicornServer(lambda: create_app(config), options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
