"""Contexts: what `github.*`, `inputs.*`, ... hold for a local run of an event."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows.expressions import interpolate, to_number, to_string
from mlcicd_course.workflows.reader import Workflow

EVENTS = ("push", "pull_request", "schedule", "workflow_dispatch")


def default_context(workflow: Workflow, event: str, *, repository: str = "example-org/churn-model",
                    sha: str = "0" * 40, base_sha: str | None = None,
                    inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An explicit, complete context for a local run of `workflow` on `event`.

    Values that a real event would not have are present and null (so `a.b || c` works
    as on GitHub), while names that no event has stay unknown and are errors.
    """
    if event not in EVENTS:
        raise UserInputError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
    owner = repository.split("/", 1)[0]
    base_sha = base_sha or sha
    pull_request = None
    ref, ref_name, head_ref, base_ref = "refs/heads/main", "main", "", ""
    payload: dict[str, Any] = {"repository": {"full_name": repository, "name":
                               repository.split("/")[-1], "owner": {"login": owner},
                               "default_branch": "main"},
                               "sender": {"login": "octocat"}}
    if event == "pull_request":
        pull_request = {
            "number": 7, "title": "Tune the churn model", "body": "", "draft": False,
            "user": {"login": "octocat"},
            "head": {"ref": "tune-model", "sha": sha, "repo": {"full_name": repository,
                                                              "fork": False}},
            "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": repository}},
            "labels": [],
        }
        ref, ref_name, head_ref, base_ref = "refs/pull/7/merge", "7/merge", "tune-model", "main"
        payload.update({"action": "synchronize", "number": 7})
    payload["pull_request"] = pull_request
    payload["schedule"] = None
    if event == "schedule":
        crons = workflow.on.get("schedule", {}).get("entries") or [{}]
        payload["schedule"] = crons[0].get("cron") if isinstance(crons[0], Mapping) else None
    declared = workflow.on.get("workflow_dispatch", {}).get("inputs") or {}
    values = _dispatch_inputs(workflow, declared, inputs or {}, event)
    payload["inputs"] = values if event == "workflow_dispatch" else None
    github = {
        "event_name": event, "event": payload, "ref": ref, "ref_name": ref_name,
        "ref_type": "branch", "head_ref": head_ref, "base_ref": base_ref, "sha": sha,
        "repository": repository, "repository_owner": owner, "actor": "octocat",
        "triggering_actor": "octocat", "workflow": workflow.name,
        "run_id": "1001", "run_number": "1", "run_attempt": "1", "job": "",
        "server_url": "https://github.com", "api_url": "https://api.github.com",
        "graphql_url": "https://api.github.com/graphql", "token": "***", "workspace": "",
        "action": "", "retention_days": "90",
    }
    return {"github": github, "inputs": values, "vars": {}, "secrets": {"GITHUB_TOKEN": "***"},
            "env": {}, "runner": {"os": "Linux", "arch": "X64", "name": "local", "temp": "",
                                  "tool_cache": "", "environment": "local"}}


def _dispatch_inputs(workflow: Workflow, declared: Mapping[str, Any], given: Mapping[str, Any],
                     event: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UserInputError(f"workflow {workflow.path.name} has no input {unknown[0]!r} "
                             f"(inputs: {', '.join(sorted(declared)) or 'none'})")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, Mapping) else {}
        if event != "workflow_dispatch":
            values[name] = None
            continue
        value = given.get(name, spec.get("default"))
        kind = spec.get("type", "string")
        if value is None and spec.get("required"):
            raise UserInputError(f"input {name!r} is required")
        if kind == "boolean" and isinstance(value, str):
            if value.lower() not in ("true", "false"):
                raise UserInputError(f"input {name!r} must be true or false, got {value!r}")
            value = value.lower() == "true"
        if kind == "number" and isinstance(value, str):
            number = to_number(value)
            if math.isnan(number):
                raise UserInputError(f"input {name!r} must be a number, got {value!r}")
            value = number
        if kind == "choice" and value is not None and value not in (spec.get("options") or []):
            raise UserInputError(f"input {name!r} must be one of "
                                 f"{', '.join(map(str, spec.get('options') or []))}, got {value!r}")
        values[name] = value
    return values


def set_dotted(context: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `context[a][b][c] = value` for "a.b.c", creating mappings on the way."""
    parts = dotted.split(".")
    if not all(parts):
        raise UserInputError(f"bad context path {dotted!r} (expected e.g. "
                             "github.event.pull_request.title)")
    node = context
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def evaluate_env(env: Mapping[str, Any], context: Mapping[str, Any], **kwargs: Any
                 ) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in env.items():
        scope = {**context, "env": {**context.get("env", {}), **values}}
        values[str(key)] = to_string(interpolate(value, scope, **kwargs))
    return values
