"""The suite does not depend on the caller's CI variables, which every GitHub runner sets.

Each test runs without GITHUB_*, RUNNER_*, ACTIONS_* and CI (the autouse fixture in
tests/conftest.py). The tests here run the environment-sensitive tests under the
variables a GitHub-hosted runner sets (`mlcicd workflow env`, with a real
GITHUB_STEP_SUMMARY file and the other file commands), so that a test that reads one of
them cannot come back unnoticed. `make test-github-env` runs the whole fast suite so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import CI_VARIABLE, ROOT

#: Tests whose outcome would change if a variable of the runner reached them.
ENVIRONMENT_SENSITIVE = [
    "tests/test_workflow_github_env.py::test_no_ci_variable_reaches_a_test_or_its_processes",
    "tests/test_workflow_runner.py::test_summary_command_appends_to_the_job_summary",
]
SHOW_ENV = ("import json, os, pathlib; print(json.dumps({k: [v, pathlib.Path(v).is_file()] "
            "for k, v in os.environ.items()})); raise SystemExit(3)")


def test_workflow_env_sets_what_a_github_runner_sets(run_cli):
    result = run_cli("workflow", "env", "--", sys.executable, "-c", SHOW_ENV)
    assert result.returncode == 3, result.stderr  # the command's own exit code
    env = json.loads(result.stdout)
    assert {env[k][0] for k in ("CI", "GITHUB_ACTIONS")} == {"true"}
    assert env["RUNNER_OS"][0] == "Linux" and env["GITHUB_EVENT_NAME"][0] == "push"
    for key in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH",
                "GITHUB_EVENT_PATH"):
        assert env[key][1], f"{key} is not a file: {env[key][0]}"


def test_no_ci_variable_reaches_a_test_or_its_processes():
    assert [name for name in os.environ if CI_VARIABLE.match(name)] == []
    child = subprocess.run([sys.executable, "-c", "import os; print('\\n'.join(os.environ))"],
                           capture_output=True, text=True, timeout=60)
    assert [name for name in child.stdout.split() if CI_VARIABLE.match(name)] == []


def test_the_environment_sensitive_tests_pass_under_a_github_runners_variables(run_cli,
                                                                            monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # nbval and xdist: not needed
    result = run_cli("workflow", "env", "--", sys.executable, "-m", "pytest", "-q",
                     "-p", "no:cacheprovider", *ENVIRONMENT_SENSITIVE, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{len(ENVIRONMENT_SENSITIVE)} passed" in result.stdout
