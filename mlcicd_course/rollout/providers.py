"""Where an analysis gets its numbers: metric providers, read as counters.

In Argo Rollouts a metric names a provider (Prometheus, a web endpoint, ...). Here a
provider is any callable that returns, per version, the counters served so far
(`Counters`: requests, errors, a latency histogram). Two readings make a window:
`window(before, after)` is what happened in between, as `VersionMetrics` with p50 and
p99 from the histogram's buckets. Providers:

- `prometheus_counters(text, prefix)`: the Prometheus text of the router's
  `/router/metrics` (prefix "router") or of a model server's `/metrics` ("model"),
  read with prometheus-client's own parser; errors are the 5xx answers;
- `scrape(url, prefix)`: a provider that GETs that text from a running server;
- any Python callable returning `{version: Counters}` (a test, a CloudWatch query).
"""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from mlcicd_course.rollout.observations import VersionMetrics

SCRAPE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Counters:
    """One version's counters at one moment: requests, 5xx errors, and the latency
    histogram as (upper bound in seconds, cumulative count) pairs, +inf last."""

    requests: int = 0
    errors: int = 0
    buckets: tuple[tuple[float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"requests": self.requests, "errors": self.errors,
                "buckets": [list(b) for b in self.buckets]}


Provider = Callable[[], Mapping[str, Counters]]
"""Returns the counters of every version so far."""


def prometheus_counters(text: str, prefix: str) -> dict[str, Counters]:
    """Per-version counters from Prometheus text (`PREFIX_requests_total{version,status}`
    and the histogram `PREFIX_request_latency_seconds{version}`)."""
    requests: dict[str, list[int]] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            version = sample.labels.get("version")
            if version is None:
                continue
            if sample.name == f"{prefix}_requests_total":
                counts = requests.setdefault(version, [0, 0])
                counts[0] += int(sample.value)
                if sample.labels.get("status", "").startswith("5"):
                    counts[1] += int(sample.value)
            elif sample.name == f"{prefix}_request_latency_seconds_bucket":
                buckets.setdefault(version, []).append((float(sample.labels["le"]),
                                                        sample.value))
    return {v: Counters(n, e, tuple(sorted(buckets.get(v, ()))))
            for v, (n, e) in sorted(requests.items())}


def scrape(url: str, prefix: str, *, timeout_s: float = SCRAPE_TIMEOUT_S) -> Provider:
    """A provider that reads `url` (a metrics page) each time it is called."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def read() -> dict[str, Counters]:
        with opener.open(url, timeout=timeout_s) as response:
            return prometheus_counters(response.read().decode("utf-8"), prefix)
    return read


def _quantile_ms(buckets: list[tuple[float, float]], q: float) -> float:
    """The upper bound (ms) of the first bucket holding the q-quantile; the largest finite
    bound when it falls in the +inf bucket."""
    total = buckets[-1][1]
    finite = [le for le, _ in buckets if math.isfinite(le)]
    for le, count in buckets:
        if count >= q * total:
            return 1000 * (le if math.isfinite(le) else finite[-1])
    return 1000 * finite[-1]


def window(before: Mapping[str, Counters], after: Mapping[str, Counters]) -> dict[str,
                                                                                   VersionMetrics]:
    """What each version served between two readings (a version new in `after` counts
    from zero); versions without requests in between are left out."""
    result = {}
    for version, now in after.items():
        then = before.get(version, Counters())
        requests, errors = now.requests - then.requests, now.errors - then.errors
        if requests <= 0:
            continue
        old = dict(then.buckets)
        diff = [(le, count - old.get(le, 0.0)) for le, count in now.buckets]
        p50, p99 = ((_quantile_ms(diff, 0.5), _quantile_ms(diff, 0.99))
                    if diff and diff[-1][1] > 0 else (math.nan, math.nan))
        result[version] = VersionMetrics(requests, errors, p50, p99)
    return result
