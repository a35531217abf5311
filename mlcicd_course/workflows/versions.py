"""What the policy knows about versions: oldest majors that run, recorded tags, oldest Python.

The workflow files are the source of truth for which version each action is pinned to
(Dependabot updates them); nothing here has to change when a pin moves. `KNOWN_TAGS`
only records facts about released commits, so that a `# vX.Y.Z` comment that does not
match its SHA is caught; a SHA it does not list is simply not checked against it.
"""

from __future__ import annotations

import re

#: The first major written for node24, the runners' Node (node20 was removed on 2026-09-16).
#: Older majors still start: GitHub runs them on node24 with a warning, and most pass.
#: Keys are lower case: GitHub reads action names case-insensitively.
MINIMUM_MAJORS: dict[str, int] = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/github-script": 8,
    "codecov/codecov-action": 6,
    "aws-actions/configure-aws-credentials": 6,  # v5 was written for node20
}

#: Majors below these are refused outright: every run that uses them fails (since
#: 2025-01-30 for the artifact actions).
REFUSED_BELOW: dict[str, int] = {"actions/upload-artifact": 4, "actions/download-artifact": 4}

#: Action (lower case) -> {commit SHA: the release tag that points at it}.
KNOWN_TAGS: dict[str, dict[str, str]] = {
    "actions/checkout": {"3d3c42e5aac5ba805825da76410c181273ba90b1": "v7.0.1"},
    "actions/setup-python": {"5fda3b95a4ea91299a34e894583c3862153e4b97": "v7.0.0"},
    "actions/cache": {"27d5ce7f107fe9357f9df03efb73ab90386fccae": "v5.0.5"},
    "actions/upload-artifact": {"043fb46d1a93c77aae656e7c1c64a875d1fc6a0a": "v7.0.1"},
    "actions/download-artifact": {"3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": "v8.0.1"},
    "actions/github-script": {"ed597411d8f924073f98dfc5c65a23a2325f34cd": "v8.0.0"},
    "aws-actions/configure-aws-credentials": {
        "e6de054238d6b7531b4efff3b6587d9aade6a06c": "v6.2.3"},
}

#: Oldest Python a workflow may ask for (3.9 ended 2025-10-31, 3.10 in October 2026).
MINIMUM_PYTHON = (3, 11)

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT_RE = re.compile(r"#\s*(v(\d+)(?:\.\d+){0,2})\b")


def recorded_tag(action: str, sha: str) -> str | None:
    """The release tag recorded for `action` at commit `sha` (None when not recorded)."""
    return KNOWN_TAGS.get(action.lower(), {}).get(sha.lower())
