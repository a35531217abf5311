"""The GitHub Classroom workflow template (classroom/autograde.yml): hardened, valid, and
its grading step works as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlcicd_course import workflows
from tests.conftest import ROOT

TEMPLATE = ROOT / "classroom" / "autograde.yml"
BIN = Path(sys.executable).parent


def template() -> dict:
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


def test_it_is_not_one_of_this_repositorys_workflows():
    assert not (ROOT / ".github" / "workflows" / "autograde.yml").exists()
    assert not (ROOT / ".github" / "workflows" / "classroom.yml").exists()


def test_triggers_permissions_and_timeouts():
    data = template()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert data["permissions"] == {"contents": "read"}
    for job_id, job in data["jobs"].items():
        assert "permissions" not in job, f"{job_id} must not widen the permissions"
        assert isinstance(job.get("timeout-minutes"), int), f"{job_id} needs timeout-minutes"


def test_actions_are_pinned_to_a_commit_with_the_version_in_a_comment():
    uses = re.findall(r"uses:\s*(\S+)(.*)", TEMPLATE.read_text(encoding="utf-8"))
    assert len(uses) == 3
    for action, comment in uses:
        name, _, ref = action.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name} is not pinned to a commit SHA"
        version = re.fullmatch(r"\s*# (v\d+\.\d+\.\d+)", comment)
        assert version, f"{name}: add the version as `# vX.Y.Z`"
    # That they are the same pins as .github/workflows/ (which Dependabot updates, this
    # file not) is checked in tests/test_workflow_policy.py (rule consistent-pins).


def test_no_expressions_inside_run_and_quoted_python():
    for job in template()["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"expression in run: {step['run']!r}"
            version = step.get("with", {}).get("python-version")
            assert version is None or isinstance(version, str)


def test_the_grader_comes_from_a_pinned_commit_not_the_learners_copy():
    grader = template()["env"]["GRADER"]
    assert re.fullmatch(r"mlcicd-course @ git\+https://\S+@[0-9a-f]{40}", grader), grader
    runs = [s.get("run", "") for s in template()["jobs"]["autograding"]["steps"]]
    assert 'python -m pip install "$GRADER"' in runs
    assert not any("pip install -e" in r or "pip install ." in r for r in runs)


def test_the_course_policy_checks_pass():
    found = workflows.check_workflow(workflows.load_workflow(TEMPLATE))
    assert not found, [f"{f.line}: {f.rule}: {f.message}" for f in found]


@pytest.mark.parametrize("command", [
    ["zizmor", "--offline", "--no-progress", str(TEMPLATE)],
    ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(TEMPLATE)],
    ["check-jsonschema", "--builtin-schema", "custom.github-workflows-require-timeout",
     str(TEMPLATE)],
])
def test_offline_workflow_linters_accept_it(command):
    tool = BIN / command[0]
    assert tool.exists(), f"{command[0]} is not installed in this environment"
    done = subprocess.run([str(tool), *command[1:]], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="the runner's shell is bash")
def test_the_grading_step_runs_as_written(tmp_path):
    """Run the template's `mlcicd grade` step with the workflow's env, as the runner would."""
    data = template()
    step = next(s for s in data["jobs"]["autograding"]["steps"] if "mlcicd grade" in
                s.get("run", ""))
    (tmp_path / "exercises").mkdir()
    shutil.copy(ROOT / "solutions" / "01_drift_exercises.ipynb",
                tmp_path / "exercises" / "01_drift_exercises.ipynb")
    summary = tmp_path / "summary.md"
    env = {**os.environ, **{k: str(v) for k, v in data["env"].items()},
           "GITHUB_STEP_SUMMARY": str(summary), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    # the learner's repository has no solutions: the public checks' points only
    assert "::notice title=Autograding complete::Points 13/13" in done.stdout
    assert summary.read_text().startswith("## Autograding: 13/13 points")
    assert (tmp_path / "grades.csv").read_text().splitlines()[2].startswith(
        "exercises/01_drift_exercises.ipynb,01_drift_exercises,1,1,3,3,2,3,13,13,ok")
    assert (tmp_path / "feedback" / "exercises__01_drift_exercises.md").is_file()
