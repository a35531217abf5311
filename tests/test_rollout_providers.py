"""Metric providers: counters read from Prometheus text, and windows between two readings."""

from __future__ import annotations

import math

import pytest

from mlcicd_course.rollout.providers import Counters, prometheus_counters, window
from mlcicd_course.serving.metrics import RouterMetrics, ServerMetrics, render


def router_text(served: dict[str, list[tuple[int, float]]]) -> str:
    """The router's /router/metrics after serving (status, seconds) per version."""
    metrics = RouterMetrics()
    for version, answers in served.items():
        for status, seconds in answers:
            metrics.requests.labels(version, str(status)).inc()
            metrics.latency.labels(version).observe(seconds)
    return render(metrics.registry).decode()


def test_router_counters_count_requests_5xx_and_the_histogram():
    text = router_text({"v1": [(200, 0.002)] * 98 + [(503, 0.002), (422, 0.004)],
                        "v2": [(200, 0.02), (500, 0.3)]})
    counters = prometheus_counters(text, "router")
    assert (counters["v1"].requests, counters["v1"].errors) == (100, 1)  # a 422 is not 5xx
    assert (counters["v2"].requests, counters["v2"].errors) == (2, 1)
    assert counters["v1"].buckets[-1] == (math.inf, 100.0)


def test_a_model_servers_metrics_read_the_same_way():
    metrics = ServerMetrics()
    metrics.requests.labels("v2", "200").inc(7)
    metrics.latency.labels("v2").observe(0.001)
    assert prometheus_counters(render(metrics.registry).decode(), "model")["v2"].requests == 7


def test_a_window_is_the_difference_of_two_readings():
    before = prometheus_counters(router_text({"v1": [(200, 0.002)] * 50}), "router")
    after = prometheus_counters(router_text({"v1": [(200, 0.002)] * 50 + [(200, 0.2)] * 50
                                             + [(500, 0.2)] * 10,
                                             "v2": [(200, 0.004)] * 20}), "router")
    metrics = window(before, after)
    assert (metrics["v1"].requests, metrics["v1"].errors) == (60, 10)
    # all 60 new v1 requests took 0.2 s: both percentiles in the (0.1, 0.25] bucket
    assert (metrics["v1"].latency_p50_ms, metrics["v1"].latency_p99_ms) == (250.0, 250.0)
    assert metrics["v2"].requests == 20 and metrics["v2"].latency_p99_ms == 5.0
    assert window(after, after) == {}          # nothing new: no data, not zeros


def test_a_callable_provider_without_a_histogram_has_no_latency():
    metrics = window({}, {"v2": Counters(requests=10, errors=2)})
    assert metrics["v2"].error_rate == pytest.approx(0.2)
    assert math.isnan(metrics["v2"].latency_p99_ms)
