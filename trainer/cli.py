"""`aurora-train`: train one model, evaluate it and publish it as a new version.

Exit codes: 0 published, 2 bad input (never worth retrying), 3 quality gate failed
(the version is published unpromoted), 1 anything else. Progress goes to stderr;
a JSON summary goes to stdout and, inside a pod, to the termination message, which
is how the controller learns the metrics.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime

import joblib
import numpy
import sklearn

from aurora_api.reasons import RunReason
from trainer import datasets, store
from trainer.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_GATE_FAILED, EXIT_PUBLISHED, InputError
from trainer.estimators import ESTIMATORS, new_estimator
from trainer.gate import parse_gate
from trainer.train import prediction_buckets, split, train

log = logging.getLogger("aurora.train")
TERMINATION_LOG = "/dev/termination-log"
# Kubernetes keeps at most 4096 bytes of a termination message.
TERMINATION_LIMIT = 4096


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aurora-train", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model name (DNS-1123 label); its folder under the root")
    parser.add_argument(
        "--dataset", required=True, help="builtin:diabetes | builtin:california-housing | csv:PATH:TARGET"
    )
    parser.add_argument("--estimator", required=True, choices=sorted(ESTIMATORS))
    parser.add_argument("--params", default="{}", help="JSON object of estimator parameters")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--gate", help="quality gate, e.g. 'r2>=0.6' or 'rmse<=0.5'")
    parser.add_argument("--no-promote", action="store_true", help="publish without moving latest")
    parser.add_argument("--version", help="vYYYYMMDD-HHMMSS; default: the current UTC time")
    parser.add_argument("--model-root", required=True, help="root folder of the model store")
    return parser.parse_args(argv)


def parse_params(text: str) -> dict:
    try:
        params = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"--params is not valid JSON: {err}") from None
    if not isinstance(params, dict):
        raise InputError(f"--params must be a JSON object, got {type(params).__name__}")
    return params


def run(args: argparse.Namespace, now: datetime, run_id: str = "") -> tuple[int, dict]:
    """Train, evaluate and publish; return the exit code and the summary."""
    model_store = store.ModelStore(args.model_root)
    store.check_model_name(args.model)
    # Before any training: a volume this run cannot write to is not worth the time, nor a retry.
    model_store.check_writable(args.model)
    if args.version:
        store.check_version(args.version)
        # Checked before any training: a retried run finds its own version, another run's is refused.
        finished = finished_earlier(model_store, args, run_id)
        if finished:
            return finished
    gate = parse_gate(args.gate) if args.gate else None
    params = parse_params(args.params)
    estimator = new_estimator(args.estimator, params, args.seed)

    log.info("loading dataset %s", args.dataset)
    dataset = datasets.load(args.dataset)
    log.info("training %s on %d rows x %d features", args.estimator, dataset.rows, len(dataset.feature_names))
    started = time.monotonic()
    fitted, metrics = train(dataset, estimator, test_fraction=args.test_fraction, seed=args.seed)
    metrics["trainSeconds"] = round(time.monotonic() - started, 3)
    log.info("r2=%.4f rmse=%.4f mae=%.4f", metrics["r2"], metrics["rmse"], metrics["mae"])

    passed, reason = gate.check(metrics) if gate else (True, "no gate")
    promote = passed and not args.no_promote
    metadata = new_metadata(args, dataset, params, now, run_id)
    gate_record = {**gate.to_dict(), "passed": passed, "reason": reason} if gate else None
    metadata.update(metrics=metrics, gate=gate_record, promoted=promote)
    metadata["predictionBuckets"] = prediction_buckets(split(dataset, args.test_fraction, args.seed)[2])
    version = model_store.publish(
        args.model,
        metadata,
        lambda folder: joblib.dump(fitted, folder / store.MODEL_FILE),
        version=args.version,
        now=now,
        promote=promote,
    )
    log.info("published %s/%s%s (%s)", args.model, version, " as latest" if promote else "", reason)
    summary = new_summary(args.model, version, metrics, passed, promote, reason)
    summary["path"] = str(model_store.version_dir(args.model, version))
    return (EXIT_PUBLISHED if passed else EXIT_GATE_FAILED), summary


def finished_earlier(model_store: store.ModelStore, args: argparse.Namespace, run_id: str) -> tuple[int, dict] | None:
    """The outcome of this very run if an earlier attempt published its version (a retried pod)."""
    if not model_store.version_dir(args.model, args.version).exists():
        return None
    metadata = model_store.read_metadata(args.model, args.version)
    if not run_id or metadata.get("runId") != run_id:
        raise store.VersionExists(
            f"model {args.model!r} already has version {args.version!r} from another run; versions are immutable"
        )
    model_store.verify(args.model, args.version)
    if metadata.get("promoted") and model_store.latest(args.model) != args.version:
        model_store.promote(args.model, args.version)
    gate = metadata.get("gate") or {}
    passed = gate.get("passed", True)
    log.info("version %s/%s was already published by this run", args.model, args.version)
    summary = new_summary(
        args.model, args.version, metadata["metrics"], passed, metadata["promoted"], gate.get("reason", "no gate")
    )
    return (EXIT_PUBLISHED if passed else EXIT_GATE_FAILED), summary


def new_metadata(args, dataset, params, now: datetime, run_id: str = "") -> dict:
    """What a version records of how it was made; run() adds its metrics, gate and promotion."""
    return {
        "runId": run_id,
        "createdAt": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "estimator": {"type": args.estimator, "params": params},
        "dataset": {"name": dataset.name, "rows": dataset.rows, "sha256": dataset.sha256},
        "features": dataset.feature_names,
        "evaluation": {"testFraction": args.test_fraction, "seed": args.seed},
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
    }


def new_summary(model, version, metrics, passed, promoted, reason) -> dict:
    return {
        "model": model,
        "version": version,
        "metrics": {k: metrics[k] for k in ("r2", "rmse", "mae", "rows", "trainSeconds")},
        "gatePassed": passed,
        "promoted": promoted,
        "reason": reason,
    }


def write_termination_message(summary: dict) -> None:
    """Inside a pod, leave the summary where the kubelet reads it into the pod status."""
    path = os.environ.get("AURORA_TERMINATION_LOG", TERMINATION_LOG)
    if not os.path.exists(path):
        return
    text = json.dumps(summary, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > TERMINATION_LIMIT:
        # Only free text can be long: shorten it and keep the message valid JSON.
        short = {k: (v[:1000] if isinstance(v, str) else v) for k, v in summary.items() if k != "path"}
        text = json.dumps(short, separators=(",", ":"), sort_keys=True)
    with open(path, "w") as f:
        f.write(text)


def unexpected_failure(model: str, err: Exception) -> tuple[int, dict]:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        # A full volume: retrying the same run cannot help until someone frees space.
        log.error("the model store is full: %s", err)
        return EXIT_BAD_INPUT, {
            "model": model,
            "error": f"the model store is full: {err}",
            "reason": RunReason.NO_SPACE,
        }
    log.exception("training failed")
    return EXIT_FAILED, {"model": model, "error": f"{type(err).__name__}: {err}"}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s aurora-train %(message)s")
    args = parse_args(argv)
    try:
        code, summary = run(args, datetime.now(UTC), os.environ.get("AURORA_RUN_ID", ""))
    except store.NotWritable as err:
        code, summary = EXIT_BAD_INPUT, {"model": args.model, "error": str(err), "reason": RunReason.STORE_NOT_WRITABLE}
        log.error("%s", err)
    except (InputError, store.InvalidName, store.VersionExists, store.CorruptVersion) as err:
        code, summary = EXIT_BAD_INPUT, {"model": args.model, "error": str(err), "reason": RunReason.INVALID_INPUT}
        log.error("%s", err)
    except Exception as err:  # the last line of defence: report, then exit non-zero
        code, summary = unexpected_failure(args.model, err)
    summary["exitCode"] = code
    print(json.dumps(summary, sort_keys=True))
    write_termination_message(summary)
    return code


if __name__ == "__main__":
    sys.exit(main())
