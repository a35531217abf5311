"""Prometheus metrics of the model server and of the router, one registry per app.

Each app gets its own `CollectorRegistry` instead of prometheus-client's global one,
so two servers in one process (tests, a notebook) never mix their numbers, and an app
can be created twice without "Duplicated timeseries" errors. `/metrics` renders the
registry in Prometheus' text format (`render`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Latency buckets in seconds: fine below 10 ms, where a healthy model server answers.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """The model server's counters: requests, errors, latency, predictions per class."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("model_requests", "Prediction requests by HTTP status",
                                ["version", "status"], registry=self.registry)
        self.errors = Counter("model_errors", "Failed prediction requests by kind "
                              "(invalid input, injected, internal)", ["version", "kind"],
                              registry=self.registry)
        self.latency = Histogram("model_request_latency_seconds",
                                 "Time to answer a prediction request", ["version"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("model_predictions", "Predicted rows per class",
                                   ["version", "predicted_class"], registry=self.registry)


class RouterMetrics:
    """The router's counters, labelled by the version that served each request."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("router_requests", "Proxied requests by version and status",
                                ["version", "status"], registry=self.registry)
        self.latency = Histogram("router_request_latency_seconds",
                                 "Time from request to response through the router",
                                 ["version"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.upstream_errors = Counter("router_upstream_errors",
                                       "Backend failures answered with 502 by the router",
                                       ["version"], registry=self.registry)
        self.unavailable = Counter("router_unavailable", "Requests refused with 503 "
                                   "because no healthy backend could take them",
                                   registry=self.registry)
        self.switches = Counter("router_table_switches", "Routing tables put in place",
                                registry=self.registry)
        self.shadow = Counter("router_shadow_requests", "Mirrored copies by version and "
                              "outcome (ok, error, timeout, dropped, unlogged)",
                              ["version", "outcome"], registry=self.registry)


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text exposition format."""
    return generate_latest(registry)
