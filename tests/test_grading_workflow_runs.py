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
from mlcicd_course.grading.batch import grade_batch
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


COMMENT_STEP = """      - uses: actions/github-script@v8
        with:
          script: |
            await github.rest.issues.createComment({ ...context.repo,
              issue_number: context.issue.number, body: 'hello' });
"""


@RUNS_BASH
@pytest.mark.skipif(NODE is None, reason="actions/github-script runs under Node.js")
@pytest.mark.parametrize("scope", ["pull-requests: write", "contents: read"])
def test_only_a_token_with_pull_requests_write_can_comment(launcher, scope):
    text = one_step("echo ok").replace("  contents: read\n", f"  {scope}\n") + COMMENT_STEP
    with grading_as(launcher, Limits(timeout=20)):
        run = graded_pull_request(text, (PROBE,))["probe"]
    if scope == "pull-requests: write":
        assert run.ok and [c["body"] for c in run.comments] == ["hello"]
    else:
        assert not run.ok and run.comments == ()
        assert "Resource not accessible by integration" in run.failed_steps()[0]["output"]


@pytest.mark.slow
def test_in_a_batch_the_refused_workflow_scores_zero_and_the_rest_is_graded(tmp_path,
                                                                            launcher):
    folder = tmp_path / "submissions" / "mallory"
    shutil.copytree(ROOT / "solutions" / "03_workflows", folder / "03_workflows")
    shutil.copy(ROOT / "solutions" / f"{EXERCISE}.ipynb", folder)
    workflow = folder / "03_workflows" / "pr-model-comparison.yml"
    workflow.write_text(workflow.read_text().replace(
        "const fs = require('fs');", "const fs = require('fs'); fs.readFileSync('/etc/hosts');"))
    [result] = grade_batch([tmp_path / "submissions"], source=ROOT / "solutions",
                           limits=Limits(timeout=60), launcher=launcher)
    points = {q.question: q.points for q in result.questions}
    assert points == {"q1": 4, "q2": 5, "q3": 2, "q4": 0}
    q4 = result.questions[-1]
    assert q4.status == "error" and "with: script names a path outside" in q4.reason
