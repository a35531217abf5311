"""Observations and the queries analysis metrics read from them."""

from __future__ import annotations

import pytest

from mlcicd_course.rollout.observations import (
    Observations,
    SmokeReport,
    VersionMetrics,
    read_query,
)

OBS = Observations(
    metrics={"green": VersionMetrics(400, 6, 4.5, 31.0, accuracy=0.91),
             "idle": VersionMetrics(0, 0, 0.0, 0.0)},
    smoke={"green": SmokeReport(total=5, failures=("health", "schema"))},
    ready={"green": True}, alarms=("green-5xx",))


@pytest.mark.parametrize(("query", "version", "expected"), [
    ("error_rate", "green", (0.015, 400)),
    ("latency_p50_ms", "green", (4.5, 400)),
    ("latency_p99_ms", "green", (31.0, 400)),
    ("accuracy", "green", (0.91, 400)),
    ("smoke_failed", "green", (2.0, 5)),
    ("error_rate", "idle", (None, 0)),         # no requests: no data, not a rate of 0
    ("latency_p99_ms", "missing", (None, 0)),
    ("smoke_failed", "idle", (None, 0)),        # no smoke tests ran
    ("accuracy", "idle", (None, 0)),
])
def test_queries_return_value_and_sample(query, version, expected):
    assert read_query(query, OBS, version) == expected


def test_unknown_query_and_impossible_counts_are_refused():
    with pytest.raises(ValueError, match="unknown query 'p95'"):
        read_query("p95", OBS, "green")
    with pytest.raises(ValueError, match="errors <= requests"):
        VersionMetrics(10, 11, 1.0, 2.0)


def test_observations_are_plain_data():
    data = OBS.to_dict()
    assert data["metrics"]["green"]["error_rate"] == 0.015
    assert data["smoke"]["green"] == {"total": 5, "failed": 2, "failures": ["health", "schema"]}
    assert data["alarms"] == ["green-5xx"] and data["approve"] is False
    assert Observations().to_dict()["metrics"] == {}
