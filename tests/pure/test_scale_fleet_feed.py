"""bench/scale's fleet of series: which pods answer as a bad version's."""

from __future__ import annotations

from bench.scaling.fleet_feed import BAD_ERROR_RATE, FleetFeed
from tests.support.fleet import Target

OLD, NEW = "v20261204-101500", "v20261204-102000"


def error_rate(feed: FleetFeed, namespace: str, model: str, version: str) -> float:
    return feed.behaviour(Target(namespace, f"{model}-pod", model, version, "canary")).error_rate


def test_only_the_new_versions_of_a_bad_model_fail_whatever_other_models_name_theirs():
    feed = FleetFeed(kube=None, fleet=None, requests_per_second=5.0)
    feed.fail_new("ns-a", "m0001", serving=OLD)
    assert error_rate(feed, "ns-a", "m0001", NEW) == BAD_ERROR_RATE
    # What it serves stays healthy.
    assert error_rate(feed, "ns-a", "m0001", OLD) == 0.0
    # Another model's run chose the same second, so the same version name: a good version.
    assert error_rate(feed, "ns-a", "m0002", NEW) == 0.0
    # The same model name in another namespace is another model.
    assert error_rate(feed, "ns-b", "m0001", NEW) == 0.0
