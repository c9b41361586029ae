"""Request validation: marshmallow schemas whose tensor fields turn JSON into a float64 matrix.

The structure (keys, types, datatypes) is checked by marshmallow; the numbers are
checked row by row for type and once, vectorised, for finiteness, so a 100-row
request costs microseconds rather than a per-value schema walk.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from server.errors import PayloadTooLarge

NUMBERS = frozenset((int, float))
INTEGERS = frozenset((int,))
FLOAT_TYPES = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
INT_TYPES = {
    name: getattr(np, name.lower())
    for name in ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
}
UNSUPPORTED_TYPES = ("BOOL", "BYTES")


def error_message(messages) -> str:
    """Flatten marshmallow's nested error dict into one line naming the field."""
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {error_message(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return "; ".join(error_message(m) for m in messages)
    return str(messages)


def check_row_count(rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise PayloadTooLarge(f"{rows} rows in one request; the limit is {max_rows}")


def finite_matrix(rows, dtype, where: str) -> np.ndarray:
    """Convert checked Python numbers into an array of `dtype`; reject overflow and NaN/inf."""
    try:
        # Overflow to a narrower float gives inf, which the finiteness check reports.
        with np.errstate(over="ignore"):
            array = np.array(rows, dtype=dtype)
    except (OverflowError, ValueError) as err:
        raise ValidationError(f"{where}: a value does not fit {np.dtype(dtype).name}: {err}") from None
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            position = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValidationError(f"{where}: value at {list(position)} is NaN or infinite")
    return array


def non_number(row: list, allowed: frozenset) -> str:
    kind = "an integer" if allowed is INTEGERS else "a number"
    for column, value in enumerate(row):
        if type(value) not in allowed:
            return f"column {column}: {value!r} is not {kind}"
    return ""


class Rows(fields.Field):
    """`instances`: rows as lists of numbers, or objects keyed by feature name."""

    def __init__(self, features: list[str], max_rows: int, **kwargs):
        super().__init__(**kwargs)
        self.features = features
        self.index = {name: i for i, name in enumerate(features)}
        self.max_rows = max_rows

    def _deserialize(self, value, attr, data, **kwargs) -> np.ndarray:
        if not isinstance(value, list) or not value:
            raise ValidationError("must be a non-empty list of rows")
        check_row_count(len(value), self.max_rows)
        if isinstance(value[0], dict):
            value = [self.ordered(row, i) for i, row in enumerate(value)]
        width = len(self.features)
        for i, row in enumerate(value):
            if type(row) is not list:
                raise ValidationError(f"row {i}: expected a list of {width} numbers or an object of features")
            if len(row) != width:
                raise ValidationError(f"row {i}: expected {width} features, got {len(row)}")
            if not NUMBERS.issuperset(map(type, row)):
                raise ValidationError(f"row {i}, {non_number(row, NUMBERS)}")
        return finite_matrix(value, np.float64, "instances")

    def ordered(self, row, i: int) -> list:
        """An object row as a list in the model's feature order; names must match exactly."""
        if not isinstance(row, dict):
            raise ValidationError(f"row {i}: rows must all be objects or all be lists")
        if row.keys() != self.index.keys():
            unknown = sorted(set(row) - set(self.index))
            missing = [name for name in self.features if name not in row]
            raise ValidationError(f"row {i}: unknown features {unknown}, missing features {missing}")
        return [row[name] for name in self.features]


def predict_schema(features: list[str], max_rows: int) -> Schema:
    """The schema of POST /predict for a model with these features."""
    schema = Schema.from_dict({"instances": Rows(features, max_rows, required=True)}, name="PredictRequest")
    return schema(unknown=RAISE)


class TensorSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True)
    shape = fields.List(fields.Integer(strict=True, validate=validate.Range(min=0)), required=True)
    datatype = fields.String(required=True, validate=validate.OneOf([*FLOAT_TYPES, *INT_TYPES, *UNSUPPORTED_TYPES]))
    # Absent when the tensor's values follow the JSON as raw bytes (parameters.binary_data_size).
    data = fields.Raw(load_default=None)
    parameters = fields.Dict(load_default=None)


class OutputSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True)
    parameters = fields.Dict(load_default=None)


class InferRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(load_default=None)
    parameters = fields.Dict(load_default=None)
    inputs = fields.List(fields.Nested(TensorSchema), required=True, validate=validate.Length(min=1, max=4096))
    outputs = fields.List(fields.Nested(OutputSchema), load_default=None)


def flatten(data, where: str) -> list:
    """V2 data is row-major, flat or nested one level per dimension."""
    if not isinstance(data, list):
        raise ValidationError(f"{where}: data must be a list")
    if data and type(data[0]) is list:
        if not all(type(row) is list for row in data):
            raise ValidationError(f"{where}: data mixes nested lists and values")
        lengths = {len(row) for row in data}
        if len(lengths) != 1:
            raise ValidationError(f"{where}: data rows have different lengths {sorted(lengths)}")
        return list(chain.from_iterable(data))
    return data
