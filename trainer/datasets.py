"""Datasets the trainer reads: scikit-learn's built-in ones and CSV files.

A dataset is named by a source string: `builtin:diabetes`, `builtin:california-housing`
or `csv:PATH:TARGET`. Loading returns the features as a float matrix, the target,
the feature names in column order and a sha256 that identifies the data.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from aurora_api.training import BUILTIN_DATASETS
from trainer.errors import InputError


@dataclass(frozen=True)
class Dataset:
    name: str
    features: np.ndarray
    target: np.ndarray
    feature_names: list[str]
    sha256: str

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])


def load(source: str) -> Dataset:
    """Load a dataset from its source string; raise InputError when it cannot be had."""
    kind, sep, rest = source.partition(":")
    if kind == "builtin" and sep:
        return load_builtin(rest)
    if kind == "csv" and sep:
        path, sep, target = rest.rpartition(":")
        if not sep or not path or not target:
            raise InputError(f"dataset {source!r}: expected csv:PATH:TARGET")
        return load_csv(path, target)
    raise InputError(f"dataset {source!r}: expected builtin:diabetes, builtin:california-housing or csv:PATH:TARGET")


def load_builtin(name: str) -> Dataset:
    from sklearn import datasets

    if name == "diabetes":
        bunch = datasets.load_diabetes()
    elif name == "california-housing":
        bunch = fetch_california_housing(datasets)
    else:
        raise InputError(f"unknown built-in dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}")
    features = np.asarray(bunch.data, dtype=np.float64)
    target = np.asarray(bunch.target, dtype=np.float64)
    return Dataset(f"builtin:{name}", features, target, list(bunch.feature_names), digest(features, target))


def fetch_california_housing(datasets):
    """Use scikit-learn's cache; download only when it is empty, and say so when offline."""
    try:
        return datasets.fetch_california_housing()
    except OSError as err:
        home = datasets.get_data_home()
        raise InputError(
            f"builtin:california-housing is not in scikit-learn's cache ({home}) and could not be "
            f"downloaded ({err}). Run once where the network is reachable, or copy the cache "
            "(set SCIKIT_LEARN_DATA to its folder), or export it to CSV and use csv:PATH:TARGET"
        ) from err


def load_csv(path: str, target: str) -> Dataset:
    """Read a CSV with a header row; every column must be numeric."""
    try:
        # utf-8-sig: a byte-order mark must not become part of the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as f:
            raw = f.read()
    except OSError as err:
        raise InputError(f"cannot read CSV {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise InputError(f"CSV {path} is not UTF-8 text: {err.reason} at byte {err.start}") from None
    try:
        return table_dataset(path, target, raw)
    except csv.Error as err:
        raise InputError(f"CSV {path} cannot be parsed: {err}") from None


def table_dataset(path: str, target: str, raw: str) -> Dataset:
    reader = csv.reader(raw.splitlines())
    header = next(reader, None)
    if not header:
        raise InputError(f"CSV {path} is empty")
    header = [name.strip() for name in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated or "" in header:
        raise InputError(f"CSV {path}: column names must be unique and non-empty (repeated: {duplicated})")
    if target not in header:
        raise InputError(f"CSV {path} has no target column {target!r}; columns are {header}")
    table = parse_rows(path, header, reader)
    column = header.index(target)
    features = np.delete(table, column, axis=1)
    names = [name for i, name in enumerate(header) if i != column]
    if not names:
        raise InputError(f"CSV {path} has no feature columns besides {target!r}")
    return Dataset(f"csv:{path}", features, table[:, column], names, hashlib.sha256(raw.encode()).hexdigest())


def parse_rows(path: str, header: list[str], reader) -> np.ndarray:
    rows = []
    for line, row in enumerate(reader, 2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"CSV {path} line {line}: {len(row)} fields, the header has {len(header)}")
        rows.append([parse_number(path, line, header[i], cell) for i, cell in enumerate(row)])
    if len(rows) < 2:
        raise InputError(f"CSV {path} has {len(rows)} data rows; at least 2 are needed to train and test")
    return np.asarray(rows, dtype=np.float64)


def parse_number(path: str, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"CSV {path} line {line}, column {column!r}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"CSV {path} line {line}, column {column!r}: {cell!r} is not finite")
    return value


def digest(features: np.ndarray, target: np.ndarray) -> str:
    """A sha256 of the data itself, stable across runs and machines."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(features, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(target, dtype="<f8").tobytes())
    return h.hexdigest()
