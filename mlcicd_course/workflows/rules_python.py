"""Rules about the Python versions a workflow asks for."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlcicd_course.workflows.findings import Finding, finding, rule
from mlcicd_course.workflows.reader import Job, Workflow
from mlcicd_course.workflows.versions import (
    MINIMUM_PYTHON,
)


def _python_keys(job: Job) -> set[str]:
    """Matrix keys that hold Python versions: named "python..." or fed to setup-python."""
    keys = {str(key) for key in job.matrix if "python" in str(key).lower()}
    for step in job.steps:
        if step.is_action("actions/setup-python"):
            keys.update(re.findall(r"\bmatrix\.([A-Za-z_][\w-]*)",
                                   str(step.with_.get("python-version", ""))))
    return keys


def _python_versions(workflow: Workflow) -> Iterator[tuple[Any, tuple, str | None]]:
    """(value, key path, job) for every Python version the workflow asks for.

    A multi-line `python-version:` (setup-python installs each line) gives one value per
    line; a matrix list gives one value per entry.
    """
    for key, value in workflow.env.items():
        if "python" in str(key).lower():
            yield value, ("env", key), None
    for job in workflow.jobs.values():
        for key, value in job.env.items():
            if "python" in str(key).lower():
                yield value, ("jobs", job.id, "env", key), job.id
        python_keys = _python_keys(job)
        matrix_keys = ("jobs", job.id, "strategy", "matrix")
        for key, values in job.matrix.items():
            if str(key) in python_keys and isinstance(values, list):
                for index, value in enumerate(values):
                    yield value, (*matrix_keys, key, index), job.id
        for entry_index, entry in enumerate(job.matrix.get("include") or []):
            if isinstance(entry, Mapping):
                for key, value in entry.items():
                    if str(key) in python_keys:
                        yield value, (*matrix_keys, "include", entry_index, key), job.id
        for step in job.steps:
            if step.is_action("actions/setup-python") and "python-version" in step.with_:
                value = step.with_["python-version"]
                keys = ("jobs", job.id, "steps", step.index, "with", "python-version")
                multi = isinstance(value, str) and "\n" in value.strip()
                lines = value.split() if multi else [value]
                for line in lines:
                    yield line, keys, job.id


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _written(workflow: Workflow, value: Any, keys: tuple) -> str:
    """The version as written in the file: 3.10 is "3.10" even though YAML read 3.1."""
    return (workflow.written(*keys) or repr(value)) if _is_number(value) else str(value).strip()


@rule("quoted-python-version", "Python versions are quoted strings (YAML reads 3.10 as 3.1)")
def _check_quoted_python(workflow: Workflow) -> Iterator[Finding]:
    for value, keys, job in _python_versions(workflow):
        if _is_number(value):
            text = _written(workflow, value, keys)
            yield finding(workflow, "quoted-python-version", f"Python version {text} is read "
                          f"as the number {value!r}; quote it: \"{text}\"", keys, job)


@rule("supported-python", f"no Python older than {MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} "
      "(3.9 and 3.10 are past end of life)")
def _check_supported_python(workflow: Workflow) -> Iterator[Finding]:
    for value, keys, job in _python_versions(workflow):
        if not isinstance(value, str) and not _is_number(value):
            continue
        text = _written(workflow, value, keys)
        match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?", text)
        if match and (int(match.group(1)), int(match.group(2))) < MINIMUM_PYTHON:
            yield finding(workflow, "supported-python", f"Python {text} is past end of life; "
                          f"use {MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} or newer", keys, job)
