"""A scikit-learn model for KServe's ModelServer, used by bench/serve.

KServe's own sklearnserver is not published on PyPI, so this stands in for it and
does what it does: joblib.load() the model in load() and set ready, then predict()
turns the V2 input into a numpy array, calls the estimator's predict and returns
the result as an InferResponse. Run it with the kserve venv's python:

    python bench/kserve_sklearn.py --model_name NAME --model_dir DIR \
        --http_port PORT --workers 2 --grpc_port PORT [--quiet_grpc]

KServe's REST server listens on 0.0.0.0 and its gRPC server on [::], with no option to
change either; this launcher rebinds both to --bind_host (127.0.0.1 by default) before
the servers start. --quiet_grpc drops KServe's gRPC interceptor that logs every call.
bench/serve also passes --log_config_file bench/kserve_logging.json, which keeps
KServe's startup logs but drops its per-request access and timing lines (MLServer and
Aurora log no line per request either).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from types import SimpleNamespace

import joblib
import kserve
from kserve import InferRequest, InferResponse, Model, ModelServer
from kserve.protocol.grpc import server as grpc_server
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


def bind_grpc_server_to(host: str, quiet: bool) -> None:
    """Make KServe's gRPC server listen on `host` only; with `quiet`, log no line per call."""
    make_server = grpc_server.aio.server

    def server(*args, **kwargs):
        if quiet:
            kept = [i for i in kwargs.get("interceptors", ()) if not isinstance(i, grpc_server.LoggingInterceptor)]
            kwargs["interceptors"] = tuple(kept)
        made = make_server(*args, **kwargs)
        add_port = made.add_insecure_port
        made.add_insecure_port = lambda address: add_port(address.replace("[::]", host, 1))
        return made

    grpc_server.aio = SimpleNamespace(server=server)


def main() -> int:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_dir", required=True, help="folder holding model.joblib")
    parser.add_argument("--bind_host", default="127.0.0.1", help="address the REST and gRPC servers listen on")
    parser.add_argument("--quiet_grpc", action="store_true", help="no log line per gRPC call")
    args, _ = parser.parse_known_args()
    bind_rest_server_to(args.bind_host)
    bind_grpc_server_to(args.bind_host, args.quiet_grpc)
    model = SKLearnModel(args.model_name, args.model_dir)
    model.load()
    ModelServer().start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
