"""Keyed hashing (GrowthBook's vectors), the routing table's checks, sticky monotone ramps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mlcicd_course.experiments import hashing
from mlcicd_course.serving.routing import RoutingTable, TableError, assign, check_known, pick
from tests.conftest import ROOT

VECTORS = json.loads((ROOT / "tests" / "data" / "hash_vectors.json").read_text("utf-8"))


@pytest.mark.parametrize(("seed", "unit", "expected"), VECTORS["vectors"])
def test_bucket_matches_growthbooks_cross_sdk_vectors(seed, unit, expected):
    assert hashing.bucket(seed, unit) == expected


def test_fnv1a32_matches_the_published_reference_values():
    # Reference values of the FNV-1a 32-bit hash (Noll's test suite).
    assert [hashing.fnv1a32(t) for t in ("", "a", "foobar")] == [
        0x811C9DC5, 0xE40C292C, 0xBF9CF968]


def test_vectorised_buckets_equal_the_scalar_ones():
    ids = [f"user-{i}" for i in range(300)] + ["", "ünïcode", 12345]
    expected = [hashing.bucket("exp-1", str(u)) for u in ids]
    assert hashing.buckets("exp-1", ids).tolist() == expected
    assert hashing.buckets("exp-1", []).tolist() == []


def test_the_assignment_is_the_same_in_processes_with_different_hash_seeds():
    ours = "from mlcicd_course.experiments.hashing import bucket; " \
           "print([bucket('s', f'u{i}') for i in range(20)])"
    builtin = "print(hash('u1'))"

    def run(code, seed):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout

    assert run(ours, "1") == f"{[hashing.bucket('s', f'u{i}') for i in range(20)]}\n"
    assert run(builtin, "1") != run(builtin, "2")  # Python's hash() moves with the seed


def test_another_seed_gives_an_independent_assignment():
    ids = [f"user-{i}" for i in range(20_000)]
    first = hashing.buckets("exp-1", ids) < 0.5
    second = hashing.buckets("exp-2", ids) < 0.5
    # Independent halves overlap on about a quarter of the users.
    assert abs(np.mean(first & second) - 0.25) < 0.015


@pytest.mark.parametrize(("table", "message"), [
    (dict(weights={"blue": 90, "green": 20}), "sum to 100, got 110"),
    (dict(weights={"blue": 101, "green": -1}), "weight of blue must be an integer 0-100"),
    (dict(weights={"blue": 50.0, "green": 50}), "weight of blue must be an integer"),
    (dict(weights={"blue": True, "green": 99}), "weight of blue must be an integer"),
    (dict(weights={}), "non-empty mapping"),
    (dict(weights={"": 100}), "version name"),
    (dict(weights={"blue": 50, "green": 50}), "single mode needs one version at 100"),
    (dict(weights={"blue": 100}, mode="canary"), "mode must be one of"),
    (dict(weights={"blue": 100}, mode="experiment"), "at least two versions"),
    (dict(weights={"blue": 100}, mode="mirror"), "needs a shadow"),
    (dict(weights={"blue": 90, "green": 10}, mode="mirror", shadow="green"), "weight 0"),
    (dict(weights={"blue": 100}, mode="mirror", shadow="g", shadow_percent=101),
     "shadow_percent"),
    (dict(weights={"blue": 100}, shadow="green"), "only used in mirror mode"),
    (dict(weights={"blue": 100}, seed=""), "seed"),
])
def test_invalid_tables_are_refused_with_the_reason(table, message):
    with pytest.raises(TableError, match=message):
        RoutingTable(**table)


def test_from_dict_refuses_unknown_keys_and_round_trips():
    table = RoutingTable({"blue": 100}, mode="mirror", shadow="green", shadow_percent=30)
    assert RoutingTable.from_dict(table.to_dict()) == table
    with pytest.raises(TableError, match="unknown key 'weight'"):
        RoutingTable.from_dict({"weight": {"blue": 100}})
    with pytest.raises(TableError, match="mapping"):
        RoutingTable.from_dict([1, 2])


def test_the_table_cannot_be_changed_in_place():
    table = RoutingTable({"blue": 100, "green": 0})
    with pytest.raises(TypeError):
        table.weights["green"] = 100  # type: ignore[index]
    with pytest.raises(AttributeError):
        table.mode = "weighted"  # type: ignore[misc]


def test_check_known_names_the_unknown_backend():
    table = RoutingTable({"blue": 100}, mode="mirror", shadow="red")
    with pytest.raises(TableError, match="unknown backend 'red'; known: blue, green"):
        check_known(table, {"blue", "green"})


def test_with_weights_follows_single_and_weighted_mode():
    table = RoutingTable({"blue": 100, "green": 0}, seed="s")
    canary = table.with_weights({"blue": 90, "green": 10})
    assert (canary.mode, canary.seed) == ("weighted", "s")
    assert canary.with_weights({"blue": 0, "green": 100}).mode == "single"


def test_the_split_of_many_users_follows_the_weights():
    table = RoutingTable({"blue": 70, "green": 20, "red": 10}, mode="weighted", seed="t")
    chosen = [assign(table, f"user-{i}") for i in range(20_000)]
    shares = {name: chosen.count(name) / len(chosen) for name in table.weights}
    assert shares == pytest.approx({"blue": 0.7, "green": 0.2, "red": 0.1}, abs=0.015)


def test_a_ramp_only_adds_users_and_users_stay_put():
    users = [f"user-{i}" for i in range(2000)]
    previous: set[str] = set()
    for percent in (0, 1, 5, 10, 25, 50, 75, 100):
        table = RoutingTable({"blue": 100 - percent, "green": percent},
                             mode="weighted" if 0 < percent < 100 else "single", seed="ramp")
        on_green = {u for u in users if assign(table, u) == "green"}
        assert previous <= on_green, f"users left green when it went to {percent}%"
        assert on_green == {u for u in users if assign(table, u) == "green"}  # sticky
        previous = on_green
    assert previous == set(users)


def test_unhealthy_versions_are_left_out_and_pick_covers_every_bucket():
    table = RoutingTable({"blue": 50, "green": 50}, mode="weighted")
    assert {pick(table, n, healthy={"green"}) for n in range(10_000)} == {"green"}
    assert pick(table, 0, healthy=set()) is None
    assert [pick(table, n) for n in (0, 4999, 5000, 9999)] == ["blue", "blue", "green", "green"]
