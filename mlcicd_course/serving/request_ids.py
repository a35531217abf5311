"""Request ids: every request through the router carries one, in `X-Request-Id`.

A client may send its own id (printable ASCII, at most 128 characters, no spaces);
otherwise, or when the one sent is not acceptable, the router makes a new random one.
The router passes the id on to the backends and to a shadow, and echoes it in its
answer, so one request can be followed through every log, and a label that arrives
later can be joined to the prediction it belongs to.
"""

from __future__ import annotations

import uuid

REQUEST_ID_HEADER = b"x-request-id"
MAX_LENGTH = 128


def new_request_id() -> str:
    """A fresh random id: 32 hex digits (a UUID4 without dashes)."""
    return uuid.uuid4().hex


def accepted(value: bytes | None) -> str | None:
    """The client's id when it is acceptable (printable, no spaces, not too long), else None."""
    if not value or len(value) > MAX_LENGTH or not all(33 <= byte <= 126 for byte in value):
        return None
    return value.decode("ascii")
