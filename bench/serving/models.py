"""The benchmark models: bench-ridge and bench-gb, trained with aurora-train (or the equivalent
fallback trainer here), their reference predictions, and the copies some servers need.

The jobs at the bottom run under a venv's python with scikit-learn:
`python -m serving.models train|expect|without-histogram ...`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from serving.context import RunContext
from serving.logs import BenchError, log
from serving.settings import ESTIMATOR, MODELS, TRAIN_PARAMS
from serving.venvs import sklearn_of

FALLBACK = "bench/serving/models.py train"


def train_with_aurora(ctx: RunContext) -> None:
    """aurora-train both models into the run folder; on failure Aurora is marked failed."""
    trainer = ctx.venv["aurora"] / "bin" / "aurora-train"
    for model in MODELS:
        log(f"aurora-train {model} ({ESTIMATOR[model]})")
        command = [str(trainer), "--model", model, "--dataset", "builtin:diabetes", "--estimator", ESTIMATOR[model]]
        command += ["--params", TRAIN_PARAMS[model], "--model-root", str(ctx.model_root)]
        out, err = ctx.run_dir / f"train-{model}.json", ctx.run_dir / f"train-{model}.log"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            if subprocess.run(command, stdout=stdout, stderr=stderr, env=ctx.aurora_env()).returncode != 0:
                ctx.failed["aurora"] = f"aurora-train failed for {model} (see {err})"
                return
    ctx.model_sklearn = sklearn_of(ctx.aurora_python)


def train_fallback(ctx: RunContext, python: Path, model_root: Path) -> str:
    """Train both models with the fallback trainer under `python`; returns the model that failed, or ""."""
    for model in MODELS:
        args = ["train", "--model-root", str(model_root), "--model", model, "--estimator", ESTIMATOR[model]]
        if ctx.job(python, "models", *args, stdout=subprocess.DEVNULL).returncode != 0:
            return model
    return ""


def train_models(ctx: RunContext) -> None:
    """The reference models: aurora-train's, or the fallback trainer's when Aurora cannot train."""
    if ctx.is_usable("aurora") and ctx.aurora_python:
        train_with_aurora(ctx)
    if ctx.model_sklearn:
        return
    # No Aurora trainer: train the reference copy with the equivalent fallback trainer.
    log(f"training the models with {FALLBACK} (aurora-train unavailable: {ctx.failed.get('aurora', '?')})")
    if failed := train_fallback(ctx, ctx.tool_python, ctx.model_root):
        raise BenchError(f"fallback training of {failed} failed")
    ctx.model_sklearn = sklearn_of(ctx.tool_python)
    ctx.notes.append(f"models trained by {FALLBACK}, not aurora-train")


def write_references(ctx: RunContext, reference_body: Path) -> None:
    """Every server's model file is the reference one, whose local predictions are written."""
    for model in MODELS:
        try:
            reference = (ctx.model_root / model / "latest" / "model.joblib").resolve(strict=True)
        except OSError as err:
            raise BenchError(f"no model file for {model}") from err
        for server in ctx.settings.servers:
            ctx.model_file[(server, model)] = reference
        with open(ctx.run_dir / f"expected-{model}.json", "wb") as out:
            done = ctx.job(ctx.tool_python, "models", "expect", str(reference), str(reference_body), stdout=out)
        if done.returncode != 0:
            raise BenchError(f"reference predictions for {model} failed")


def copy_without_histogram(ctx: RunContext) -> None:
    """The models again, without predictionBuckets, for aurora-no-histogram."""
    for model in MODELS:
        args = ["without-histogram", "--model-root", str(ctx.model_root), "--model", model]
        if ctx.job(ctx.aurora_python, "models", *args, "--out", str(ctx.run_dir / "models-no-histogram")).returncode:
            ctx.failed["aurora-no-histogram"] = f"could not copy {model} without predictionBuckets"
            return


def train_peer_copies(ctx: RunContext) -> None:
    """A peer whose scikit-learn differs from the models' serves a copy trained in its own venv."""
    for server in ("mlserver", "kserve"):
        if not ctx.settings.wants(server) or server in ctx.failed:
            continue
        peer_sklearn = sklearn_of(ctx.venv[server] / "bin" / "python") or "?"
        if peer_sklearn == ctx.model_sklearn:
            continue
        ctx.peer_retrain.add(server)
        ctx.notes.append(
            f"{server} has scikit-learn {peer_sklearn}, not {ctx.model_sklearn}: it serves its own copy of the "
            f"models, trained in its venv by {FALLBACK}"
        )
        root = ctx.run_dir / f"models-{server}"
        if failed := train_fallback(ctx, ctx.venv[server] / "bin" / "python", root):
            ctx.failed[server] = f"training its own copy of {failed} failed"
            continue
        for model in MODELS:
            ctx.model_file[(server, model)] = (root / model / "latest" / "model.joblib").resolve()
    for model in MODELS:
        if ("kserve", model) in ctx.model_file:
            ctx.model_file[("kserve-logging", model)] = ctx.model_file[("kserve", model)]


# --------------------------------------------------------------------------- jobs in a venv


def diabetes():
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    return bunch.data, bunch.target


def new_estimator(estimator: str, n_estimators: int):
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge

    if estimator == "ridge":
        return Ridge()
    return GradientBoostingRegressor(n_estimators=n_estimators, random_state=42)


def publish(model_dir: Path, version: str) -> None:
    """Point MODEL/latest at versions/VERSION, replacing the link in one step."""
    tmp = model_dir / ".latest.tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(Path("versions") / version)
    os.replace(tmp, model_dir / "latest")


def cmd_train(args: argparse.Namespace) -> int:
    """Fallback trainer, equivalent to aurora-train for the two benchmark models.

    Same data, same split (train_test_split, test_size=0.2, random_state=42) and the
    same estimators (Ridge(); GradientBoostingRegressor(n_estimators=100,
    random_state=42)). Writes ROOT/MODEL/versions/VERSION/model.joblib and the
    ROOT/MODEL/latest symlink, like aurora-train's store layout.
    """
    import joblib
    import sklearn
    from sklearn.model_selection import train_test_split

    features, target = diabetes()
    x_train, _, y_train, _ = train_test_split(features, target, test_size=0.2, random_state=42)
    estimator = new_estimator(args.estimator, args.n_estimators)
    estimator.fit(x_train, y_train)

    version = datetime.now(UTC).strftime("v%Y%m%d-%H%M%S")
    model_dir = Path(args.model_root) / args.model
    folder = model_dir / "versions" / version
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, folder / "model.joblib")
    metadata = {"trainedBy": FALLBACK, "estimator": args.estimator, "sklearn": sklearn.__version__}
    (folder / "metadata.json").write_text(json.dumps({**metadata, "dataset": "builtin:diabetes"}, indent=2))
    publish(model_dir, version)
    print(folder / "model.joblib")
    return 0


def cmd_without_histogram(args: argparse.Namespace) -> int:
    """Copy a model's latest version without predictionBuckets: one the server serves with no
    prediction histogram, like a version published before the histogram existed. Needs the
    repo on the path (it signs the copy with the trainer's own SHA256SUMS writer)."""
    import shutil

    from trainer.store import write_checksums

    source = (Path(args.model_root) / args.model / "latest").resolve()
    target = Path(args.out) / args.model / "versions" / source.name
    shutil.copytree(source, target)
    metadata = json.loads((target / "metadata.json").read_text())
    metadata.pop("predictionBuckets", None)
    (target / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    write_checksums(target)
    (Path(args.out) / args.model / "latest").symlink_to(Path("versions") / source.name)
    return 0


def cmd_expect(args: argparse.Namespace) -> int:
    """Predict the body rows with a model file locally: the reference every server must match."""
    import joblib
    import numpy as np

    model = joblib.load(args.model_file)
    body = json.loads(Path(args.body).read_text())
    tensor = body["inputs"][0]
    x = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
    print(json.dumps([float(v) for v in model.predict(x)]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.models")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train", help="fallback trainer (same models as aurora-train)")
    p.add_argument("--model-root", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--estimator", required=True, choices=["ridge", "gradient_boosting"])
    p.add_argument("--n-estimators", type=int, default=100)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("expect", help="reference predictions of a model for a body")
    p.add_argument("model_file")
    p.add_argument("body")
    p.set_defaults(func=cmd_expect)
    p = sub.add_parser("without-histogram", help="copy a model version without predictionBuckets")
    p.add_argument("--model-root", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_without_histogram)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
