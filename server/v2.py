"""The Open Inference Protocol (V2) over REST: JSON tensors and the binary tensor data extension.

A request is a JSON header, optionally followed by raw little-endian tensor bytes: the header
`Inference-Header-Content-Length` gives the JSON part's length, and each input sent as bytes
says how many in `parameters.binary_data_size`, in input order. Inputs may mix both forms.
The model takes either one input of shape [rows, features], or one input per feature, named
after it, of shape [rows] or [rows, 1]. Every length, shape and datatype is checked here,
before anything is predicted; a mismatch is a 400 naming the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import orjson
from marshmallow import ValidationError

from server import validation
from server.errors import InvalidRequest

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_SIZE = "binary_data_size"
OUTPUT = "predict"
# Raw tensor bytes are little-endian, whatever the machine.
BINARY_TYPES = {
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    **{f"INT{bits}": f"<i{bits // 8}" for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": f"<u{bits // 8}" for bits in (8, 16, 32, 64)},
}
SCHEMA = validation.InferRequestSchema()


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    matrix: np.ndarray
    binary_output: bool


def decode(body: bytes, header_length: str | None, features: list[str], max_rows: int) -> InferRequest:
    """An inference request's matrix, id and output form; InvalidRequest (400) for anything malformed."""
    header, tensor_bytes = split_body(body, header_length)
    try:
        request = SCHEMA.load(parse_json(header))
    except ValidationError as err:
        raise InvalidRequest(validation.error_message(err.messages)) from None
    matrix = inputs_matrix(request["inputs"], tensor_bytes, features, max_rows)
    return InferRequest(request["id"], matrix, wants_binary(request))


def inputs_matrix(inputs: list[dict], tensor_bytes, features: list[str], max_rows: int) -> np.ndarray:
    """The model's matrix from validated input tensors and their raw bytes (REST and gRPC alike)."""
    try:
        return assemble(read_inputs(inputs, memoryview(tensor_bytes), max_rows), features)
    except ValidationError as err:
        raise InvalidRequest(validation.error_message(err.messages)) from None


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    if header_length is None:
        return body, memoryview(b"")
    if not header_length.isdigit() or int(header_length) > len(body):
        raise InvalidRequest(f"{HEADER_LENGTH} {header_length!r} must be a length within the body's {len(body)} bytes")
    split = int(header_length)
    return body[:split], memoryview(body)[split:]


def parse_json(data: bytes) -> dict:
    """A request's JSON object (all of a /predict body, the JSON part of a V2 one)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InvalidRequest(f"the request is not valid JSON: {err}") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("the request must be a JSON object")
    return parsed


def read_inputs(inputs: list[dict], tensor_bytes: memoryview, max_rows: int) -> list[tuple[str, np.ndarray]]:
    """Each input as a float64 array of its declared shape; all raw bytes must be used up."""
    arrays, offset = [], 0
    for index, tensor in enumerate(inputs):
        where = f"inputs[{index}] ({tensor['name']})"
        shape = tensor["shape"]
        if not 1 <= len(shape) <= 2 or shape[0] < 1:
            raise ValidationError(f"{where}: shape {shape} must be [rows] or [rows, columns] with rows >= 1")
        validation.check_row_count(shape[0], max_rows)
        if tensor["datatype"] in validation.UNSUPPORTED_TYPES:
            raise ValidationError(f"{where}: datatype {tensor['datatype']} is not supported; the model takes numbers")
        size = (tensor.get("parameters") or {}).get(BINARY_SIZE)
        if size is None:
            arrays.append((tensor["name"], json_tensor(tensor, where)))
            continue
        arrays.append((tensor["name"], binary_tensor(tensor, where, size, tensor_bytes[offset:])))
        offset += size
    if offset != len(tensor_bytes):
        raise ValidationError(f"the body has {len(tensor_bytes) - offset} bytes after the inputs' binary data")
    return arrays


def json_tensor(tensor: dict, where: str) -> np.ndarray:
    if tensor["data"] is None:
        raise ValidationError(f"{where}: has neither data nor parameters.{BINARY_SIZE}")
    shape, datatype = tensor["shape"], tensor["datatype"]
    data = tensor["data"]
    if isinstance(data, list) and data and type(data[0]) is list and len(data) != shape[0]:
        raise ValidationError(f"{where}: data has {len(data)} rows; shape {shape} says {shape[0]}")
    flat = validation.flatten(data, where)
    if len(flat) != math.prod(shape):
        raise ValidationError(f"{where}: shape {shape} needs {math.prod(shape)} values, data has {len(flat)}")
    allowed = validation.NUMBERS if datatype in validation.FLOAT_TYPES else validation.INTEGERS
    if not allowed.issuperset(map(type, flat)):
        raise ValidationError(f"{where} ({datatype}) {validation.non_number(flat, allowed)}")
    declared = validation.FLOAT_TYPES.get(datatype) or validation.INT_TYPES[datatype]
    array = validation.finite_matrix(flat, declared, f"{where} ({datatype})")
    return array.astype(np.float64, copy=False).reshape(shape)


def binary_tensor(tensor: dict, where: str, size, remaining: memoryview) -> np.ndarray:
    shape, datatype = tensor["shape"], tensor["datatype"]
    if tensor["data"] is not None:
        raise ValidationError(f"{where}: has both data and parameters.{BINARY_SIZE}")
    dtype = np.dtype(BINARY_TYPES[datatype])
    needed = math.prod(shape) * dtype.itemsize
    if type(size) is not int or size != needed:
        raise ValidationError(f"{where}: {BINARY_SIZE} {size!r} does not match shape {shape} of {datatype} ({needed})")
    if len(remaining) < size:
        raise ValidationError(f"{where}: {BINARY_SIZE} {size} but only {len(remaining)} bytes remain in the body")
    array = np.frombuffer(remaining[:size], dtype=dtype).reshape(shape)
    if dtype.kind == "f" and not np.isfinite(array).all():
        position = [int(i) for i in np.argwhere(~np.isfinite(array))[0]]
        raise ValidationError(f"{where} ({datatype}): value at {position} is NaN or infinite")
    return array.astype(np.float64)


def assemble(tensors: list[tuple[str, np.ndarray]], features: list[str]) -> np.ndarray:
    """One [rows, features] input as it is, or one input per feature as the columns in feature order."""
    width = len(features)
    if len(tensors) == 1 and tensors[0][1].ndim == 2 and tensors[0][1].shape[1] == width:
        return tensors[0][1]
    columns = {name: array for name, array in tensors}
    if len(columns) == len(tensors) == width and set(columns) == set(features):
        flat = [columns[name].reshape(len(columns[name]), -1) for name in features]
        if all(column.shape == flat[0].shape and column.shape[1] == 1 for column in flat):
            return np.hstack(flat)
    raise ValidationError(
        f"expected one input of shape [rows, {width}], or one input per feature of shape [rows] "
        f"named {', '.join(features)}; got {[(name, list(array.shape)) for name, array in tensors]}"
    )


def wants_binary(request: dict) -> bool:
    """Whether `predict` comes back as raw bytes: asked for by output, or for all outputs."""
    outputs = request.get("outputs") or []
    check_outputs(output.get("name") for output in outputs)
    chosen = [bool((o.get("parameters") or {}).get("binary_data")) for o in outputs]
    return any(chosen) if outputs else bool((request.get("parameters") or {}).get("binary_data_output"))


def check_outputs(names) -> None:
    """Every output a request asks for must be the model's one output."""
    for name in names:
        if name != OUTPUT:
            raise InvalidRequest(f"unknown output {name!r}; the model has one output, {OUTPUT!r}")


def encode(request: InferRequest, predictions: np.ndarray, model: str, version: str) -> tuple[bytes, dict]:
    """The response body and its headers: JSON only, or JSON followed by the raw FP64 predictions."""
    output = {"name": OUTPUT, "shape": [len(predictions)], "datatype": "FP64"}
    raw = b""
    if request.binary_output:
        raw = predictions.astype("<f8", copy=False).tobytes()
        output["parameters"] = {BINARY_SIZE: len(raw)}
    else:
        output["data"] = predictions
    response = {"model_name": model, "model_version": version, "outputs": [output]}
    if request.id is not None:
        response["id"] = request.id
    header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    if not raw:
        return header, {"Content-Type": "application/json"}
    return header + raw, {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}
