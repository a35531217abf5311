"""What a job's GITHUB_TOKEN may do: its scopes, as the policy and the fake GitHub API read them.

GitHub's rules: a job's `permissions:` replaces the workflow's; a mapping grants the scopes
it lists and nothing else (`{}` grants none); `read-all` / `write-all` grant every scope;
with neither, the repository's default applies (here the restricted default of new
repositories: contents and packages read). A pull request from a fork gets a read-only
token whatever the workflow asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCOPES = ("actions", "attestations", "checks", "contents", "deployments", "discussions",
          "id-token", "issues", "models", "packages", "pages", "pull-requests",
          "security-events", "statuses")
RESTRICTED_DEFAULT = {"contents": "read", "packages": "read"}


def permission_values(permissions: Any) -> tuple[str | None, dict[str, str]]:
    """(`read-all`/`write-all` or None, {scope: level}) of a `permissions:` value."""
    if isinstance(permissions, str):
        return permissions, {}
    if isinstance(permissions, Mapping):
        return None, {str(k): str(v) for k, v in permissions.items()}
    return None, {}


def token_scopes(workflow_permissions: Any, job_permissions: Any, *,
                 from_fork: bool = False) -> dict[str, str]:
    """{scope: "none" | "read" | "write"} of the token a job gets."""
    chosen = job_permissions if job_permissions is not None else workflow_permissions
    if chosen is None:
        scopes = dict(RESTRICTED_DEFAULT)
    else:
        whole, scopes = permission_values(chosen)
        if whole in ("read-all", "write-all"):
            scopes = dict.fromkeys(SCOPES, whole.split("-")[0])
    granted = {scope: scopes.get(scope, "none") for scope in SCOPES}
    if from_fork:
        granted = {scope: ("read" if level == "write" and scope != "id-token" else
                           "none" if scope == "id-token" else level)
                   for scope, level in granted.items()}
    return granted
