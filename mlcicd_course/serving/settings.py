"""Settings of a model server (model, version name, teaching knobs) and of a router.

The knobs make a deliberately bad release for the rollout chapters: added latency, a
share of requests that fail with 500, and a share of predictions flipped to another
class (a worse model). They are fixed when the server starts, from these settings or
the `mlcicd serve` flags; no client request can change them. Their random draws come
from a generator seeded with `seed`, so a run is repeatable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_yaml
from mlcicd_course.serving.routing import RoutingTable, TableError, check_known

MAX_BATCH_ROWS = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024
UPSTREAM_CLIENTS = ("aiohttp", "httpx")


@dataclass(frozen=True)
class ServerSettings:
    """What a model server serves and how (checked when created)."""

    model_path: Path
    version: str = ""                  # name in responses and metrics; default: file stem
    expected_sha256: str | None = None  # pin the exact model bytes (see modelstore)
    max_batch_rows: int = MAX_BATCH_ROWS
    added_latency_ms: float = 0.0      # knob: extra delay on every prediction
    error_rate: float = 0.0            # knob: share of predictions answered with 500
    flip_rate: float = 0.0             # knob: share of predicted rows given another class
    seed: int = 0                      # seeds the knobs' random draws

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_path", Path(self.model_path))
        if not self.version:
            object.__setattr__(self, "version", self.model_path.name.split(".")[0])
        checks = [
            (0 < self.max_batch_rows <= 100_000, "max_batch_rows must be in 1..100000"),
            (_finite(self.added_latency_ms) and 0 <= self.added_latency_ms <= 60_000,
             "added_latency_ms must be in 0..60000"),
            (_finite(self.error_rate) and 0 <= self.error_rate <= 1, "error_rate must be in 0..1"),
            (_finite(self.flip_rate) and 0 <= self.flip_rate <= 1, "flip_rate must be in 0..1"),
            (self.version.isprintable() and len(self.version) <= 64,
             "version must be printable, at most 64 characters"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(f"server settings: {message}")

    @property
    def knobs(self) -> dict[str, float]:
        """The teaching knobs that are switched on (empty for a normal release)."""
        knobs = {"added_latency_ms": self.added_latency_ms, "error_rate": self.error_rate,
                 "flip_rate": self.flip_rate}
        return {name: value for name, value in knobs.items() if value}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as text)."""
        return {**asdict(self), "model_path": str(self.model_path)}


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True)
class RouterSettings:
    """What a router knows at start: its backends, its first table, timeouts and sizes.

    `backends` maps each version name to its base URL. It is fixed for the router's
    life: the admin API can change the table, never point the router at a new address.
    """

    backends: Mapping[str, str]
    table: RoutingTable
    request_timeout_s: float = 5.0      # whole upstream request, connect included
    connect_timeout_s: float = 1.0
    max_connections: int = 100          # pooled connections to all backends together
    keepalive_s: float = 4.0            # idle pooled connections closed after this
    health_interval_s: float = 0.5      # active health checks of /health/ready
    health_timeout_s: float = 2.0
    shadow_queue_size: int = 256        # mirror mode: copies waiting; more are dropped
    shadow_workers: int = 2
    shadow_timeout_s: float = 2.0
    shadow_log: str | None = None       # mirror mode: JSONL file both answers are appended to
    seed: int = 0                       # draws for requests without a unit id
    upstream_client: str = "aiohttp"    # or "httpx" (slower; see bench/router_bench.py)

    def __post_init__(self) -> None:
        if self.upstream_client not in UPSTREAM_CLIENTS:
            raise UserInputError(f"router settings: upstream_client must be one of "
                                 f"{', '.join(UPSTREAM_CLIENTS)}, got {self.upstream_client!r}")
        if not isinstance(self.backends, Mapping) or not self.backends:
            raise UserInputError("router settings: backends must map version names to URLs")
        backends = {}
        for name, url in self.backends.items():
            backends[str(name)] = _base_url(name, url)
        object.__setattr__(self, "backends", MappingProxyType(backends))
        try:
            check_known(self.table, backends)
        except TableError as err:
            raise UserInputError(f"router settings: table: {err}") from None
        for name in ("request_timeout_s", "connect_timeout_s", "keepalive_s",
                     "health_interval_s", "health_timeout_s", "shadow_timeout_s"):
            value = getattr(self, name)
            if not _finite(value) or not 0 < value <= 3600:
                raise UserInputError(f"router settings: {name} must be in (0, 3600], "
                                     f"got {value!r}")
        if self.shadow_log is not None:
            log = Path(self.shadow_log) if isinstance(self.shadow_log, str) and \
                self.shadow_log.strip() else None
            if log is None or log.is_dir() or not log.parent.is_dir():
                raise UserInputError(f"router settings: shadow_log must be a file path in an "
                                     f"existing folder, got {self.shadow_log!r}")
        for name in ("max_connections", "shadow_queue_size", "shadow_workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100_000:
                raise UserInputError(f"router settings: {name} must be an integer in "
                                     f"1..100000, got {value!r}")


def _base_url(name: Any, url: Any) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserInputError(f"router settings: backend {name}: expected an http:// URL, "
                             f"got {url!r}")
    return url.rstrip("/")


ROUTES_KEYS = ("backends", "table", "settings")


def load_routes(path: str | os.PathLike[str]) -> RouterSettings:
    """Read a routes file (YAML) into `RouterSettings`; one-line UserInputError if bad.

    Layout::

        backends: {blue: "http://127.0.0.1:8001", green: "http://127.0.0.1:8002"}
        table: {mode: single, weights: {blue: 100, green: 0}}
        settings: {request_timeout_s: 5}     # optional, any RouterSettings field
    """
    data = read_yaml(path, what="routes")
    where = f"routes file {path}"
    if not isinstance(data, Mapping):
        raise UserInputError(f"{where}: expected a mapping with backends and table")
    unknown = sorted(set(data) - set(ROUTES_KEYS))
    if unknown:
        raise UserInputError(f"{where}: unknown key {unknown[0]!r}; allowed: "
                             f"{', '.join(ROUTES_KEYS)}")
    options = data.get("settings") or {}
    allowed = {f.name for f in fields(RouterSettings)} - {"backends", "table"}
    if not isinstance(options, Mapping) or set(options) - allowed:
        extra = sorted(set(options) - allowed) if isinstance(options, Mapping) else ["?"]
        raise UserInputError(f"{where}: settings: unknown option {extra[0]!r}; allowed: "
                             f"{', '.join(sorted(allowed))}")
    try:
        table = RoutingTable.from_dict(data.get("table"))
        return RouterSettings(backends=data.get("backends"), table=table, **options)
    except TableError as err:
        raise UserInputError(f"{where}: table: {err}") from None
    except UserInputError as err:
        raise UserInputError(f"{where}: {str(err).removeprefix('router settings: ')}") from None
