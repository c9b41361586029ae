"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`), on the same data plane.

Each gunicorn worker runs a gRPC server beside its HTTP one (started after the fork, as gRPC
requires), all on one port through SO_REUSEPORT, as the HTTP side is. A request is checked
exactly as over REST (server/v2.py): the same schema for its tensors, the same lengths and
datatypes for raw_input_contents; an AppError becomes the gRPC status of its HTTP status.
Calls are counted in the HTTP series with protocol="grpc" (server/metrics.py).
"""

from __future__ import annotations

import logging
from concurrent import futures
from timeit import default_timer

import grpc
from marshmallow import ValidationError

from server import v2, validation
from server.dataplane import DataPlane
from server.errors import AppError, InvalidRequest
from server.protos import open_inference_pb2 as pb
from server.protos import open_inference_pb2_grpc as pb_grpc

log = logging.getLogger("aurora.serve")
CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.FAILED_PRECONDITION,
    503: grpc.StatusCode.UNAVAILABLE,
}
# The typed field of InferTensorContents each datatype's values come in (FP16 only as raw bytes).
CONTENTS = {
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
}
HEALTH = frozenset({"ServerLive", "ServerReady", "ModelReady"})
TENSORS = validation.TensorSchema(many=True)


def request_tensors(request: pb.ModelInferRequest) -> tuple[list[dict], bytes]:
    """The request's inputs in the REST codec's form, and their raw bytes in input order."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidRequest(f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs")
    tensors = []
    for index, tensor in enumerate(request.inputs):
        body = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        if raw:
            body["parameters"] = {v2.BINARY_SIZE: len(raw[index])}
        else:
            body["data"] = list(getattr(tensor.contents, CONTENTS.get(tensor.datatype, "bytes_contents")))
        tensors.append(body)
    try:
        return TENSORS.load(tensors), b"".join(raw)
    except ValidationError as err:
        raise InvalidRequest(validation.error_message(err.messages)) from None


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, plane: DataPlane, max_rows: int):
        self.plane = plane
        self.max_rows = max_rows
        self.served = plane.served

    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.served.ready)

    def ModelReady(self, request, context):
        return self.call("ModelReady", context, lambda: self.model_ready(request))

    def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name="aurora", version="v2", extensions=[])

    def ModelMetadata(self, request, context):
        return self.call("ModelMetadata", context, lambda: self.model_metadata(request))

    def ModelInfer(self, request, context):
        return self.call("ModelInfer", context, lambda: self.infer(request))

    def call(self, method: str, context, answer):
        """Answer one RPC; an AppError aborts it with the matching status, every call is counted."""
        started, status = default_timer(), 200
        try:
            return answer()
        except AppError as err:
            status = err.status
            self.plane.metrics.count_error(err.reason)
            context.abort(CODES.get(err.status, grpc.StatusCode.INTERNAL), err.message)
        except Exception:
            status = 500
            log.exception("unexpected error in %s", method)
            self.plane.metrics.count_error("internal")
            context.abort(grpc.StatusCode.INTERNAL, "internal error")
        finally:
            if method not in HEALTH:
                self.plane.metrics.record("grpc", method, f"grpc_{method}", status, default_timer() - started)

    def model_ready(self, request):
        self.plane.check_model(request.name, request.version)
        return pb.ModelReadyResponse(ready=self.served.ready)

    def model_metadata(self, request):
        self.plane.check_model(request.name, request.version)
        metadata, tensor = self.plane.metadata(), pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=metadata["name"],
            versions=metadata["versions"],
            platform=metadata["platform"],
            inputs=[tensor(**t) for t in metadata["inputs"]],
            outputs=[tensor(**t) for t in metadata["outputs"]],
        )

    def infer(self, request):
        self.plane.check_model(request.model_name, request.model_version)
        self.plane.require_ready()
        v2.check_outputs(output.name for output in request.outputs)
        tensors, raw = request_tensors(request)
        predictions = self.plane.predict(v2.inputs_matrix(tensors, raw, self.served.features, self.max_rows))
        output = pb.ModelInferResponse.InferOutputTensor(name=v2.OUTPUT, datatype="FP64", shape=[len(predictions)])
        response = pb.ModelInferResponse(
            model_name=self.served.name, model_version=self.served.version, id=request.id, outputs=[output]
        )
        # Raw bytes back to a client that sent raw bytes; typed values otherwise.
        if raw:
            response.raw_output_contents.append(predictions.astype("<f8", copy=False).tobytes())
        else:
            response.outputs[0].contents.fp64_contents.extend(predictions.tolist())
        return response


def start(plane: DataPlane, max_rows: int, bind: str, threads: int, max_message: int) -> grpc.Server:
    """A started gRPC server for this process, sharing `bind` with the other workers."""
    options = [
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", max_message),
        ("grpc.max_send_message_length", max_message),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads), options=options)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceService(plane, max_rows), server)
    if server.add_insecure_port(bind) == 0:
        raise RuntimeError(f"aurora-serve: cannot listen for gRPC on {bind}")
    server.start()
    return server
