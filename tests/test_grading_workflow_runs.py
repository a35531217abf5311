"""A learner's workflow file is untrusted code: the grader runs it (exercise 03, questions 2
and 4) only in an isolated, time-limited process, confined with Landlock on Linux, and a
workflow that reaches out, hangs or leaves processes behind earns nothing from it."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from mlcicd_course.grading import landlock
from mlcicd_course.grading.bank import load_exercise
from mlcicd_course.grading.checking import SubmissionRefused, grade_question, grading_as
from mlcicd_course.grading.files import SubmittedFile
from mlcicd_course.grading.markers import question_code
from mlcicd_course.grading.notebooks import read_cells
from mlcicd_course.grading.runner import ForkLauncher, LearnerTimeout, Limits, SpawnLauncher
from mlcicd_course.grading.workflow_runs import Push, find_escapes, graded_pull_request
from mlcicd_course.workflows.reader import parse_workflow
from tests.conftest import ROOT

EXERCISE = "03_github_actions_exercises"
ANSWER = ROOT / "solutions" / "03_workflows" / "pr-model-comparison.yml"
RUNS_BASH = pytest.mark.skipif(shutil.which("bash") is None, reason="the runner needs bash")
NODE = shutil.which("node")
CONFINED = pytest.mark.skipif(landlock.abi_version() == 0,
                              reason="Landlock confines the run on Linux kernels that have it")
PROBE = Push("probe")  # an empty repository: the fastest run


def one_step(run: str, extra: str = "") -> str:
    return ("on: pull_request\npermissions:\n  contents: read\njobs:\n  probe:\n"
            f"    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n    steps:\n{extra}"
            f"      - run: {run}\n")


def hidden(path: Path | str) -> str:
    """A shell word that prints `path` without writing it (so no static reading sees it)."""
    return f'"$(echo {base64.b64encode(str(path).encode()).decode()} | base64 -d)"'


@pytest.fixture(scope="module")
def launcher():
    owned = (ForkLauncher(preload=("mlcicd_course.grading.child",)) if os.name == "posix"
             else SpawnLauncher())
    yield owned
    owned.close()


def grade_q4(text: str, launcher, timeout: float = 60):
    spec = load_exercise(EXERCISE, ROOT / "solutions")
    cells = read_cells(ROOT / "solutions" / f"{EXERCISE}.ipynb")
    source = question_code(cells, "q4", spec.question_ids)
    files = (SubmittedFile("pr_workflow", "03_workflows/pr-model-comparison.yml", text),)
    source = type(source)(source.status, source.cells, source.reason, source.note, files)
    return grade_question(spec, "q4", source, launcher=launcher, limits=Limits(timeout=timeout))


@pytest.mark.parametrize("text, found", [
    (one_step("cat /etc/hostname"), "names a path outside the workspace"),
    (one_step("mlcicd train --data=/data/x.csv"), "names a path outside the workspace"),
    (one_step("cat ~/.ssh/id_rsa"), "names a path outside the workspace"),
    (one_step('cat "$HOME/notes"'), "names a path outside the workspace"),
    (one_step("cat ../../solutions/x.ipynb"), "climbs out of the workspace"),
    (one_step("true", "      - uses: actions/checkout@v5\n        with:\n"
                          "          path: /tmp/out\n"), "names a path outside"),
    (one_step("echo hi > /dev/null"), None),
    (one_step("cat ../data/x.csv").replace("      - run:", "      - working-directory: b\n"
                                           "        run:"), None),
    (ANSWER.read_text(), None),
])
def test_find_escapes_reads_what_the_steps_run_and_are_given(text, found):
    parse_workflow(text, "t.yml")  # each case is a valid workflow
    escapes = find_escapes(text)
    if found is None:
        assert escapes == []
    else:
        assert len(escapes) == 1 and found in escapes[0], escapes


def test_a_workflow_that_names_a_path_outside_scores_zero_before_it_runs(launcher):
    text = ANSWER.read_text().replace("run: python -m pip install -e .",
                                      "run: cat /etc/hostname > reports/comparison.md")
    with grading_as(launcher, Limits(timeout=20)), pytest.raises(SubmissionRefused):
        graded_pull_request(text)
    result = grade_q4(text, launcher)
    assert (result.status, result.points) == ("error", 0)
    assert "reaches outside its workspace" in result.reason
    assert "job compare, step 4 (Install the package)" in result.reason


@RUNS_BASH
@CONFINED
def test_a_command_cannot_read_or_write_outside_its_working_folder(tmp_path, launcher):
    secret = tmp_path / "solutions.txt"
    secret.write_text("the hidden answer key\n")
    grades = tmp_path / "grades.csv"
    grades.write_text("alice,17\n")
    text = one_step(f"cat {hidden(secret)}").replace(
        "      - run:", f"      - run: echo 0 > {hidden(grades)}\n      - if: always()\n"
                       "        run:")
    assert find_escapes(text) == []  # the paths are hidden from any reading of the file
    with grading_as(launcher, Limits(timeout=20)):
        runs = graded_pull_request(text, (PROBE,))
    run = runs["probe"]
    assert runs.confined
    failed = run.failed_steps()
    assert len(failed) == 2 and all("Permission denied" in s["output"] for s in failed)
    assert "hidden answer key" not in str(runs.to_dict())
    assert grades.read_text() == "alice,17\n"


@RUNS_BASH
def test_a_workflow_that_hangs_is_stopped_at_its_time_limit(launcher):
    text = one_step("sleep 31415")
    with grading_as(launcher, Limits(timeout=2)), pytest.raises(LearnerTimeout) as stop:
        graded_pull_request(text, (PROBE,))
    assert "longer than the 6 s time limit" in str(stop.value)
    assert not _processes_with("31415")


@RUNS_BASH
def test_processes_a_workflow_leaves_behind_are_killed(launcher):
    text = one_step("setsid sleep 27182 > /dev/null 2>&1 & (sleep 27183 > /dev/null 2>&1 &)")
    with grading_as(launcher, Limits(timeout=20)):
        run = graded_pull_request(text, (PROBE,))["probe"]
    assert run.ok, run.failed_steps()
    assert not _processes_with("27182") and not _processes_with("27183")


def _processes_with(argument: str) -> list[int]:
    """Pids of live processes whose command line has `argument` (Linux; [] elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argument.encode() in words and state != "Z":
            found.append(int(entry.name))
    return found


@RUNS_BASH
@pytest.mark.slow
@pytest.mark.skipif(NODE is None, reason="actions/github-script runs under Node.js")
def test_without_pull_requests_write_the_comment_is_refused(launcher):
    text = ANSWER.read_text().replace("pull-requests: write", "contents: read")
    result = grade_q4(text, launcher)
    points = {c.name: c.earned for c in result.checks}
    assert points == {"check_policy_and_one_command_per_step": 1, "check_least_privilege": 0,
                      "check_first_push_comments_once": 0,
                      "check_regression_fails_and_updates_the_comment": 0}
    first = next(c for c in result.checks if c.name == "check_first_push_comments_once")
    assert "Resource not accessible by integration" in first.message
