"""The variables a GitHub-hosted runner gives every step, and running a command with them.

`runner_variables` is what the local runner gives each step. `run_as_step` runs any
command with them (empty GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY
files in a temporary RUNNER_TEMP), so that a test suite or a CLI command can be tried on
a laptop under the environment it meets on GitHub: `mlcicd workflow env -- make test-fast`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows.contexts import default_context
from mlcicd_course.workflows.reader import parse_workflow

#: The files through which a step talks back to the runner.
FILE_COMMANDS = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")


def runner_variables(github: Mapping[str, Any], job_id: str, workspace: Path,
                     temp: Path) -> dict[str, str]:
    """CI, GITHUB_* and RUNNER_* for a step of job `job_id` (the event file goes in `temp`)."""
    event_file = temp / "event.json"
    if not event_file.exists():
        event_file.write_text(json.dumps(github["event"], indent=2), "utf-8")
    return {
        "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_EVENT_NAME": github["event_name"], "GITHUB_REF": github["ref"],
        "GITHUB_REF_NAME": github["ref_name"], "GITHUB_SHA": github["sha"],
        "GITHUB_REPOSITORY": github["repository"],
        "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
        "GITHUB_HEAD_REF": github["head_ref"], "GITHUB_BASE_REF": github["base_ref"],
        "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_NUMBER": github["run_number"],
        "GITHUB_RUN_ATTEMPT": github["run_attempt"], "GITHUB_JOB": job_id,
        "GITHUB_WORKFLOW": github["workflow"], "GITHUB_ACTOR": github["actor"],
        "GITHUB_SERVER_URL": github["server_url"], "GITHUB_API_URL": github["api_url"],
        "GITHUB_EVENT_PATH": str(event_file), "RUNNER_OS": "Linux", "RUNNER_TEMP": str(temp),
        "RUNNER_ARCH": "X64",
    }


def file_command_files(temp: Path, suffix: str = "") -> dict[str, Path]:
    """Empty GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files in `temp`."""
    files = {key: temp / f"{key.lower()}{suffix}" for key in FILE_COMMANDS}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    return files


def run_as_step(argv: Sequence[str], workspace: Path | None = None) -> int:
    """Run `argv` with this environment plus a runner's variables; return its exit code."""
    if not argv:
        raise UserInputError("give the command to run after --, e.g. -- make test-fast")
    workspace = Path(workspace or Path.cwd()).resolve()
    workflow = parse_workflow("on: push\njobs:\n  local:\n    runs-on: ubuntu-24.04\n",
                              "local.yml")
    github = default_context(workflow, "push")["github"]
    with tempfile.TemporaryDirectory(prefix="mlcicd-runner-temp-") as folder:
        temp = Path(folder)
        env = {**os.environ, **runner_variables(github, "local", workspace, temp),
               **{key: str(path) for key, path in file_command_files(temp).items()}}
        try:
            return subprocess.run(list(argv), cwd=workspace, env=env).returncode
        except OSError as err:
            raise UserInputError(f"cannot run {argv[0]}: {err.strerror}") from None
