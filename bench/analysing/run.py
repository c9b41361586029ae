"""bench/analysis: per traffic and scenario, how each policy ends rollouts; then the threshold
policy tuned to the false-rollback rate the baseline promises; the one-line summary last."""

from __future__ import annotations

import argparse
import math

from bench.analysing.policies import FLAGGER_ARGO, TUNING, Policy, against_stable, aurora_thresholds
from bench.analysing.rollouts import INTERVAL, STEPS, Outcome, simulate
from bench.analysing.traffic import SCENARIOS, Scenario
from bench.scaling import measures

RATES = (1, 10, 200)
TUNED_AT = 10  # requests/s
SHOWN = 5  # the fastest tuned settings printed


SIMULATED: dict[tuple, list[Outcome]] = {}  # each cell once, whichever table asks for it


def outcomes(policy: Policy, scenario: Scenario, rate: float, count: int, seed: int) -> list[Outcome]:
    key = (policy.name, scenario.name, rate, count, seed)
    if key not in SIMULATED:
        index = SCENARIOS.index(scenario)
        SIMULATED[key] = [simulate(policy, scenario, rate, [seed, index, int(rate * 10), i]) for i in range(count)]
    return SIMULATED[key]


def share(results: list[Outcome], ending: str) -> float:
    return 100 * sum(o.ending == ending for o in results) / len(results)


def rollback_times(results: list[Outcome]) -> list[float]:
    """Each rollout's time to roll back; one that never did (promoted or held) counts as never."""
    return sorted(o.seconds if o.ending == "rolled back" else math.inf for o in results)


def percentile(times: list[float], share: float) -> float | None:
    """The nearest-rank percentile; None (never) when it falls on a rollout never rolled back."""
    value = measures.percentile(times, share)
    return None if value is None or math.isinf(value) else value


def median(times: list[float]) -> float | None:
    return percentile(times, 0.5)


def p90(times: list[float]) -> float | None:
    return percentile(times, 0.9)


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


def cell(results: list[Outcome], scenario: Scenario) -> str:
    """Healthy: the share rolled back (false rollbacks); a regression: the share promoted
    (missed), and the time to roll back, counting those never rolled back as never."""
    times = rollback_times(results)
    held = share(results, "held")
    held_text = f", held {held:.1f} %" if held else ""
    if scenario.is_healthy:
        return f"false rollbacks {share(results, 'rolled back'):.1f} %{held_text}"
    return (
        f"missed {share(results, 'promoted'):.1f} %{held_text}, rolled back in "
        f"{seconds(median(times))} (p90 {seconds(p90(times))})"
    )


def tuned_threshold(count: int, seed: int, target: float, healthy: list[Scenario]) -> tuple[Policy | None, list[str]]:
    """Of the threshold settings a user could choose, those with at most `target` % false
    rollbacks in each of the `healthy` scenarios at TUNED_AT requests/s: the fastest, and the
    lines of the SHOWN fastest to roll back +5 points (median, never rolled back counting as never)."""
    regression = SCENARIOS[4]
    best, best_time, lines = None, None, []
    for policy in TUNING:
        false = max(share(outcomes(policy, s, TUNED_AT, count, seed), "rolled back") for s in healthy)
        if false > target:
            continue
        time = median(rollback_times(outcomes(policy, regression, TUNED_AT, count, seed)))
        if time is not None:
            lines.append(
                (time, f"  {policy.name}: false rollbacks {false:.1f} %, +5 pt rolled back in {seconds(time)}")
            )
        if time is not None and (best_time is None or time < best_time):
            best, best_time = policy, time
    return best, [line for _, line in sorted(lines)[:SHOWN]]


def print_tuning(title: str, found: tuple[Policy | None, list[str]]) -> None:
    best, lines = found
    print(f"\n== {title}")
    print("\n".join(lines) if lines else "  none rolls +5 pt back in the median rollout")
    print(f"  fastest: {best.name if best else 'none'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/analysis", description=__doc__)
    parser.add_argument("--rollouts", type=int, default=1000, help="rollouts per policy and scenario (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    policies = (FLAGGER_ARGO, aurora_thresholds(), against_stable())
    baseline = policies[-1]
    confidence = baseline.settings["confidence"]
    steps = ", ".join(f"{w} % for {s} s" for w, s in STEPS)
    print(f"{args.rollouts} rollouts per cell, seed {args.seed}; steps {steps}, a check every {INTERVAL} s")
    found: dict[tuple[str, str, float], list[Outcome]] = {}
    for rate in RATES:
        print(f"\n== {rate} requests/s")
        for scenario in SCENARIOS:
            print(f"  {scenario.name}")
            for policy in policies:
                results = outcomes(policy, scenario, rate, args.rollouts, args.seed)
                found[(policy.name, scenario.name, rate)] = results
                print(f"    {policy.name:<22}  {cell(results, scenario)}")
    target = 100 * (1 - confidence)
    healthy = [s for s in SCENARIOS if s.is_healthy]
    everywhere = tuned_threshold(args.rollouts, args.seed, target, healthy)
    print_tuning(
        f"thresholds with at most {target:g} % false rollbacks at {TUNED_AT} requests/s, bad day included", everywhere
    )
    print_tuning(
        f"thresholds with at most {target:g} % false rollbacks at {TUNED_AT} requests/s on a healthy stable only",
        tuned_threshold(args.rollouts, args.seed, target, healthy[:1]),
    )
    tuned = everywhere[0]
    worst = max(share(found[(baseline.name, s.name, r)], "rolled back") for s in healthy for r in RATES)
    bad_day = SCENARIOS[1].name
    ours_bad_day = max(share(found[(baseline.name, bad_day, r)], "rolled back") for r in RATES)
    theirs_bad_day = max(share(found[(policies[1].name, bad_day, r)], "rolled back") for r in RATES)
    plus5 = SCENARIOS[4]
    ours = median(rollback_times(found[(baseline.name, plus5.name, TUNED_AT)]))
    theirs = median(rollback_times(outcomes(tuned, plus5, TUNED_AT, args.rollouts, args.seed))) if tuned else None
    print(
        f"\nanalysis: healthy false-rollbacks max {worst:.1f} % (confidence {confidence:g}), bad-day baseline "
        f"{ours_bad_day:.1f} % vs threshold {theirs_bad_day:.1f} %, +5pt at {TUNED_AT} req/s "
        f"median time-to-rollback baseline {seconds(ours)} vs threshold {seconds(theirs)}"
    )
    return 0
