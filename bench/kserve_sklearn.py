"""A scikit-learn model for KServe's ModelServer, used by bench/serve.

KServe's own sklearnserver is not published on PyPI, so this stands in for it and
does what it does: joblib.load() the model in load() and set ready, then predict()
turns the V2 input into a numpy array, calls the estimator's predict and returns
the result as an InferResponse. Run it with the kserve venv's python:

    python bench/kserve_sklearn.py --model_name NAME --model_dir DIR \
        --http_port PORT --workers 2 --enable_grpc false

KServe's REST server listens on 0.0.0.0 with no option to change it; this launcher
rebinds it to --bind_host (127.0.0.1 by default) before the server starts.
bench/serve also passes --log_config_file bench/kserve_logging.json, which keeps
KServe's startup logs but drops its per-request access and timing lines (MLServer and
Aurora log no line per request either).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import joblib
import kserve
from kserve import InferRequest, InferResponse, Model, ModelServer
from kserve.protocol.rest import server as rest_server
from kserve.utils.utils import get_predict_input, get_predict_response

MODEL_FILES = ("model.joblib", "model.pkl", "model.pickle")

# Newer FastAPI releases warn on every response that KServe builds with ORJSONResponse,
# writing a multi-line warning to stderr per request. Silence that one warning. This runs
# at import, so also in the REST worker processes that multiprocessing spawns.
warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")


class SKLearnModel(Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = model_dir
        self._model = None

    def load(self) -> bool:
        for file_name in MODEL_FILES:
            path = os.path.join(self.model_dir, file_name)
            if os.path.isfile(path):
                self._model = joblib.load(path)
                break
        else:
            raise RuntimeError(f"no {' / '.join(MODEL_FILES)} in {self.model_dir}")
        self.ready = True
        return self.ready

    def predict(self, payload: dict | InferRequest, headers: dict[str, str] | None = None) -> dict | InferResponse:
        instances = get_predict_input(payload)
        result = self._model.predict(instances)
        return get_predict_response(payload, result, self.name)


def bind_rest_server_to(host: str) -> None:
    """Make every RESTServer that KServe creates listen on `host` only."""
    original_init = rest_server.RESTServer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.config.host = host

    rest_server.RESTServer.__init__ = init


def main() -> int:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_dir", required=True, help="folder holding model.joblib")
    parser.add_argument("--bind_host", default="127.0.0.1", help="address the REST server listens on")
    args, _ = parser.parse_known_args()
    if args.enable_grpc:
        # KServe's gRPC server always listens on [::]; the benchmark keeps it off.
        print(
            "kserve_sklearn.py: refusing to start gRPC (it would bind [::]); pass --enable_grpc false", file=sys.stderr
        )
        return 2
    bind_rest_server_to(args.bind_host)
    model = SKLearnModel(args.model_name, args.model_dir)
    model.load()
    ModelServer().start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
