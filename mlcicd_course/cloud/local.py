"""A local AWS endpoint (moto's server) for notebooks, and where boto3 clients point.

`local_aws()` starts moto's `ThreadedMotoServer` on 127.0.0.1 on a free port and
stops it when the `with` block ends, even after an error. boto3 then makes real HTTP
calls to it, just as it would to AWS.

Two settings point the same code at a real account instead:

1. `endpoint_url`: leave it out (None), and boto3 uses AWS's public endpoint for the
   region;
2. the credentials: instead of the fake keys used here, take them from the default
   chain: in GitHub Actions a role assumed through OIDC
   (`aws-actions/configure-aws-credentials` with `role-to-assume`, no stored keys), on
   a laptop a named profile (`AwsTarget(region, profile="...")`).
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session

FAKE_KEY = "testing"
"""The access key, secret and session token used against moto (it accepts any)."""


@dataclass(frozen=True)
class AwsTarget:
    """Where boto3 clients go: a region, an endpoint (None = AWS itself) and credentials.

    With `fake_credentials`, clients carry the fixed keys `FAKE_KEY` and ignore the
    caller's AWS environment variables and profiles; otherwise boto3's default chain
    (or `profile`) supplies them.
    """

    region: str
    endpoint_url: str | None = None
    profile: str | None = None
    fake_credentials: bool = False

    def session(self) -> boto3.session.Session:
        """A boto3 session with this target's credentials and region."""
        if self.fake_credentials:
            # no source for the profile name: AWS_PROFILE and config files are ignored
            core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
            core.set_credentials(FAKE_KEY, FAKE_KEY, FAKE_KEY)
            return boto3.session.Session(botocore_session=core, region_name=self.region)
        return boto3.session.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str, session: boto3.session.Session | None = None) -> Any:
        """A boto3 client for `service` at this target (from `session` if given)."""
        return (session or self.session()).client(service, endpoint_url=self.endpoint_url)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (never any secret)."""
        return {"region": self.region, "endpoint_url": self.endpoint_url,
                "profile": self.profile, "fake_credentials": self.fake_credentials}


@contextmanager
def local_aws(region: str = "us-east-1") -> Iterator[AwsTarget]:
    """Run a moto server on 127.0.0.1:<free port> for the `with` block; yield its target.

    On the way out, the server's state is reset (moto keeps it per process) and the
    server is stopped, even when the block raised. The clients ignore the caller's AWS
    settings, but moto's server reads `AWS_PROFILE` itself when it loads a service:
    unset it if it names a profile that does not exist on this machine.
    """
    from moto.server import ThreadedMotoServer  # slow to import: only when used

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    request_log = logging.getLogger("werkzeug")  # the server's one line per request
    level = request_log.level
    request_log.setLevel(logging.WARNING)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            yield AwsTarget(region=region, endpoint_url=url, fake_credentials=True)
        finally:
            reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
            with suppress(OSError):   # never hide the block's own error behind this one
                urllib.request.urlopen(reset, timeout=10).close()
    finally:
        server.stop()
        request_log.setLevel(level)
