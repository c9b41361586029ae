"""What Aurora's prediction histogram costs: aurora against aurora-no-histogram, paired within
each round, per cell and over all pairs."""

from __future__ import annotations

import math
import statistics

from serving.tables import cell_key, fmt, table

# Aurora serving a model version without predictionBuckets: the same server with no prediction histogram.
WITHOUT_HISTOGRAM = "aurora-no-histogram"


def histogram_pairs(rounds: list[dict]) -> dict[tuple, list[tuple[dict, dict]]]:
    """(aurora, aurora-no-histogram) runs of the same cell in the same round, by model and cell."""
    runs = {(r["model"], r["server"], r["encoding"], r["rows"], r["connections"], r["round"]): r for r in rounds}
    pairs: dict[tuple, list[tuple[dict, dict]]] = {}
    for (model, server, encoding, rows, conns, round_), on in runs.items():
        off = runs.get((model, WITHOUT_HISTOGRAM, encoding, rows, conns, round_))
        if server == "aurora" and off and off["rps"]:
            pairs.setdefault((model, encoding, rows, conns), []).append((on, off))
    return pairs


def cpu_ratios(pairs: list[tuple[dict, dict]]) -> list[float]:
    return [
        on["cpu_us_per_request"] / off["cpu_us_per_request"]
        for on, off in pairs
        if on.get("cpu_us_per_request") and off.get("cpu_us_per_request")
    ]


def histogram_cost(pairs: dict[tuple, list[tuple[dict, dict]]]) -> list[dict]:
    """Aurora with its prediction histogram against itself without, per model and cell.

    A round's two runs of a cell make one pair; each figure is the median over the pairs, so a
    slow spell of the machine falls on both sides of the pairs it touches.
    """
    out = []
    for (model, encoding, rows, conns), cell in pairs.items():
        ratios = [on["rps"] / off["rps"] for on, off in cell]
        cpu_on = [on["cpu_us_per_request"] for on, _ in cell if on.get("cpu_us_per_request")]
        cpu_off = [off["cpu_us_per_request"] for _, off in cell if off.get("cpu_us_per_request")]
        cpu = cpu_ratios(cell)
        out.append(
            {
                "model": model,
                "encoding": encoding,
                "rows": rows,
                "connections": conns,
                "pairs": len(cell),
                "throughput_change": statistics.median(ratios) - 1,
                "throughput_change_min": min(ratios) - 1,
                "throughput_change_max": max(ratios) - 1,
                "cpu_us_on": statistics.median(cpu_on) if cpu_on else None,
                "cpu_us_off": statistics.median(cpu_off) if cpu_off else None,
                "cpu_change": statistics.median(cpu) - 1 if cpu else None,
            }
        )
    return sorted(out, key=lambda c: (c["model"], *cell_key(c)))


def overall_change(ratios: list[float]) -> tuple[float, float]:
    """Geometric mean change of paired ratios and the half-width of its 95 % interval (normal)."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    half = 1.96 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    return math.exp(mean) - 1, half


def cost_row(c: dict, labels: dict) -> list[str]:
    return [
        labels.get(c["model"], c["model"]),
        c["encoding"],
        str(c["rows"]),
        str(c["connections"]),
        str(c["pairs"]),
        f"{100 * c['throughput_change']:+.1f} %",
        f"{100 * c['throughput_change_min']:+.1f} .. {100 * c['throughput_change_max']:+.1f} %",
        fmt(c["cpu_us_off"]),
        fmt(c["cpu_us_on"]),
        "-" if c["cpu_change"] is None else f"{100 * c['cpu_change']:+.1f} %",
    ]


def print_histogram_cost(rounds: list[dict], labels: dict) -> list[dict]:
    """Print the cost table and the overall change; return the per-cell figures."""
    pairs = histogram_pairs(rounds)
    cost = histogram_cost(pairs)
    if not cost:
        return cost
    print(f"\nPrediction histogram cost: aurora against {WITHOUT_HISTOGRAM} (same server, same model, no")
    print("predictionBuckets), paired within each round; change < 0: the histogram costs throughput")
    headers = ["model", "encoding", "rows/req", "conns", "pairs", "req/s change", "range"]
    print(table(headers + ["CPU us/req off", "on", "CPU change"], [cost_row(c, labels) for c in cost]))
    every = [pair for cell in pairs.values() for pair in cell]
    change, half = overall_change([on["rps"] / off["rps"] for on, off in every])
    line = f"all {len(every)} pairs: throughput {100 * change:+.2f} % (95 % interval +/- {100 * half:.2f})"
    if cpu := cpu_ratios(every):
        change, half = overall_change(cpu)
        line += f"; server CPU per request {100 * change:+.2f} % (+/- {100 * half:.2f})"
    print(line)
    return cost
