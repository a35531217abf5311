"""`RouterAdmin`: a small synchronous client of the router's admin API.

It has the two methods a rollout controller shifts traffic with, `weights()` and
`set_weights(...)`, so it can stand wherever a traffic shifter is expected (the
controller does not need to know it talks HTTP), plus `table()`, `set_table(...)`,
`promote(name)`, `abort()` and `undo()`. A refused request raises `AdminError` with
the router's reason; the router's table is then unchanged.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any


class AdminError(Exception):
    """The router refused an admin request (`status` is its HTTP status)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"router answered {status}: {detail}")
        self.status = status
        self.detail = detail


class RouterAdmin:
    """Talks to the admin API of the router at `url` with its bearer `token`."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        # No proxy from the environment: the router is on this machine.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def state(self) -> dict[str, Any]:
        """Table, stable version, undo depth and backends with their health."""
        return self._call("GET", "table")

    def table(self) -> dict[str, Any]:
        """The routing table now in place: mode, weights, seed (and shadow)."""
        return self.state()["table"]

    def weights(self) -> dict[str, int]:
        """The current split, in percent per version."""
        return dict(self.table()["weights"])

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Switch to a new split in one step (the table's other fields stay)."""
        self._call("PUT", "weights", dict(weights))

    def set_table(self, table: Mapping[str, Any]) -> dict[str, Any]:
        """Put a whole new table in place; return the new state."""
        return self._call("PUT", "table", dict(table))

    def promote(self, version: str) -> dict[str, Any]:
        """All traffic to `version`, which becomes the stable version."""
        return self._call("POST", "promote", {"version": version})

    def abort(self) -> dict[str, Any]:
        """All traffic back to the stable version."""
        return self._call("POST", "abort")

    def undo(self) -> dict[str, Any]:
        """Put the previous table back."""
        return self._call("POST", "undo")

    def _call(self, method: str, action: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/router/admin/{action}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise AdminError(err.code, _detail(err.read())) from None


def _detail(body: bytes) -> str:
    try:
        return str(json.loads(body).get("detail", ""))
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")[:200]
