"""The BENCH_* knobs of bench/serve, read once from the environment and validated."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from serving.logs import BenchError

SERVERS = ("aurora", "aurora-no-histogram", "mlserver", "kserve", "kserve-logging")
ENCODINGS = ("json", "binary", "grpc")
WRK_THREADS = 2
DIABETES_ROWS = 442
MODELS = ("bench-ridge", "bench-gb")
ESTIMATOR = {"bench-ridge": "ridge", "bench-gb": "gradient_boosting"}
TRAIN_PARAMS = {"bench-ridge": "{}", "bench-gb": '{"n_estimators": 100}'}
MODEL_LABELS = {"bench-ridge": "ridge", "bench-gb": "gradient_boosting"}


@dataclass(frozen=True)
class Cell:
    """One encoding and rows per request, loaded at every connection count."""

    encoding: str
    rows: int
    text: str  # as BENCH_CELLS spells it

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Settings:
    cache: Path
    duration: int
    warmup: int
    connections: list[int]
    cells: list[Cell]
    rounds: int
    ghz_version: str
    servers: list[str]
    wrk_timeout: str
    ready_timeout: str
    kserve_workers: int
    mlserver_version: str
    kserve_version: str
    python: str
    aurora_workers: str
    aurora_repo: Path | None
    sklearn: str
    out: str

    @property
    def row_counts(self) -> list[int]:
        """Distinct rows per request, in the order the cells name them."""
        return list(dict.fromkeys(cell.rows for cell in self.cells))

    def wants(self, server: str) -> bool:
        return server in self.servers


def is_uint(text: str) -> bool:
    return text.isascii() and text.isdigit()


def whole(env: dict, name: str, default: str, minimum: int, message: str) -> int:
    value = env.get(name) or default
    if not is_uint(value) or int(value) < minimum:
        raise BenchError(message)
    return int(value)


def parse_connections(text: str) -> list[int]:
    counts = []
    for c in text.split():
        if not is_uint(c) or int(c) < WRK_THREADS:
            raise BenchError(f"BENCH_CONNECTIONS: {c} is not a number >= {WRK_THREADS}")
        counts.append(int(c))
    return counts


def parse_cells(text: str) -> list[Cell]:
    cells = []
    for cell in text.split():
        encoding, _, rows = cell.partition(":")
        rows = rows if ":" in cell else cell
        if encoding not in ENCODINGS:
            raise BenchError(f"BENCH_CELLS: '{cell}' is not json:N, binary:N or grpc:N")
        if not is_uint(rows) or not 1 <= int(rows) <= DIABETES_ROWS:
            raise BenchError(f"BENCH_CELLS: {rows} is not within 1..{DIABETES_ROWS} (diabetes rows)")
        cells.append(Cell(encoding, int(rows), cell))
    return cells


def parse_servers(text: str) -> list[str]:
    for server in text.split():
        if server not in SERVERS:
            raise BenchError(f"BENCH_SERVERS: unknown server '{server}'")
    return text.split()


def parse_aurora_workers(text: str) -> str:
    if text and not is_uint(text):
        raise BenchError("AURORA_WORKERS must be a whole number")
    return text


def read_settings(env: dict, stamp: str) -> Settings:
    """Every knob, validated; a bad one raises BenchError with the message to print."""
    cache = Path(env.get("AURORA_BENCH_CACHE") or "/tmp/aurora-bench").absolute()
    settings = Settings(
        cache=cache,
        duration=whole(env, "BENCH_DURATION", "10", 1, "BENCH_DURATION must be a whole number of seconds > 0"),
        warmup=whole(env, "BENCH_WARMUP", "2", 0, "BENCH_WARMUP must be a whole number of seconds"),
        connections=parse_connections(env.get("BENCH_CONNECTIONS") or "16 64"),
        cells=parse_cells(env.get("BENCH_CELLS") or "json:1 json:100 binary:100 grpc:1 grpc:100"),
        rounds=whole(env, "BENCH_ROUNDS", "1", 1, "BENCH_ROUNDS must be a whole number > 0"),
        ghz_version=env.get("BENCH_GHZ_VERSION") or "v0.120.0",
        servers=parse_servers(env.get("BENCH_SERVERS") or "aurora mlserver kserve kserve-logging"),
        wrk_timeout=env.get("BENCH_WRK_TIMEOUT") or "5",
        ready_timeout=env.get("BENCH_READY_TIMEOUT") or "120",
        kserve_workers=whole(env, "BENCH_KSERVE_WORKERS", "2", 1, "BENCH_KSERVE_WORKERS must be a whole number > 0"),
        aurora_workers=parse_aurora_workers(env.get("AURORA_WORKERS") or ""),
        mlserver_version=env.get("BENCH_MLSERVER_VERSION") or "1.7.1",
        kserve_version=env.get("BENCH_KSERVE_VERSION") or "0.21.0",
        python=env.get("BENCH_PYTHON") or "python3",
        aurora_repo=Path(env["BENCH_AURORA_REPO"]).resolve() if env.get("BENCH_AURORA_REPO") else None,
        sklearn=env.get("BENCH_SKLEARN_VERSION") or "",
        out=env.get("BENCH_OUT") or str(cache / "results" / f"serve-{stamp}.json"),
    )
    if shutil.which(settings.python) is None:
        raise BenchError(f"no {settings.python} (set BENCH_PYTHON)")
    if settings.aurora_repo and not (settings.aurora_repo / "server").is_dir():
        raise BenchError(f"BENCH_AURORA_REPO: {settings.aurora_repo} has no server/ package")
    return settings
