"""`mlcicd exercises build|verify` and `mlcicd grade`: outputs, exit codes, stable bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mlcicd_course import cli
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "grading"
SOLUTIONS = FIXTURES / "solutions"


@pytest.fixture
def batch(tmp_path):
    """Three submissions: a right one, a damaged one and one that exits."""
    folder = tmp_path / "submitted"
    folder.mkdir()
    for name in ("good", "truncated", "exit_sys"):
        shutil.copy(FIXTURES / "submissions" / f"{name}.ipynb", folder / f"{name}.ipynb")
    return folder


def killed_after_its_first_result(args: list[str], cwd) -> list[str]:
    """Start `mlcicd ARGS`, SIGKILL it once its journal holds a result; return the journal."""
    journal = cwd / (args[args.index("--out") + 1] + ".journal.jsonl")
    grader = subprocess.Popen([sys.executable, "-m", "mlcicd_course", *args], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while grader.poll() is None and time.monotonic() < deadline:
            if journal.is_file() and journal.read_text(encoding="utf-8").count("\n"):
                break
            time.sleep(0.01)
        grader.send_signal(signal.SIGKILL)
    finally:
        grader.kill()
        grader.wait()
    return journal.read_text(encoding="utf-8").splitlines()


def test_grade_writes_the_csv_and_feedback_and_a_killed_run_resumed_gives_the_same_bytes(
        run_cli, batch, tmp_path):
    """Run one grades straight through. Run two (POSIX) is killed with SIGKILL after its
    first notebook and resumed: it keeps what the journal holds, grades again the
    notebook whose file changed, and writes the same bytes as run one."""
    outputs = []
    for run in ("one", "two"):
        args = ["grade", "submitted", "--source", str(SOLUTIONS), "--out", f"{run}.csv",
                "--feedback", f"{run}-feedback", "--jobs", "2"]
        if run == "two" and os.name == "posix":
            entries = killed_after_its_first_result(args, tmp_path)
            assert 1 <= len(entries) < 3, "killed half way, with a result in the journal"
            assert not (tmp_path / "two.csv").exists(), "no half-written CSV"
            with open(batch / "good.ipynb", "a", encoding="utf-8") as handle:
                handle.write("\n")  # a changed file (same answers): graded again
            kept = [e for e in entries if "good.ipynb" not in json.loads(e)["result"]["submission"]]
            args.append("--resume")
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "graded 3 notebook(s): error 1, malformed 1, ok 1" in done.stdout
        if "--resume" in args:
            assert f"({len(kept)} from the journal of the interrupted run)" in done.stdout
            assert not (tmp_path / "two.csv.journal.jsonl").exists(), "gone once the CSV is"
        files = sorted((tmp_path / f"{run}-feedback").iterdir())
        outputs.append(((tmp_path / f"{run}.csv").read_bytes(),
                        [(f.name, f.read_bytes()) for f in files]))
    assert outputs[0] == outputs[1]
    csv_text = outputs[0][0].decode()
    assert csv_text.splitlines() == [
        "submission,exercise,q1,q2,q3,q4,total,max,status,problems",
        "(points possible),fixture_exercise,2,3,2,1,8,8,,",
        "submitted/exit_sys.ipynb,fixture_exercise,0,3,2,1,6,8,error,q1 error",
        "submitted/good.ipynb,fixture_exercise,2,3,2,1,8,8,ok,",
        "submitted/truncated.ipynb,fixture_exercise,0,0,0,0,0,8,malformed,"
        "q1 malformed; q2 malformed; q3 malformed; q4 malformed",
    ]
    names = [name for name, _ in outputs[0][1]]
    assert names == ["submitted__exit_sys.json", "submitted__exit_sys.md", "submitted__good.json",
                     "submitted__good.md", "submitted__truncated.json", "submitted__truncated.md",
                     "summary.md"]
    feedback = dict(outputs[0][1])
    exit_md = feedback["submitted__exit_sys.md"].decode()
    assert "**error**:\n\n```text\ncell 4: the code called exit() / sys.exit(0);" in exit_md
    assert "mean of floats (hidden check): 1/1" in exit_md, "hidden checks show their result"
    assert "abs(mean([0.1, 0.2])" not in exit_md, "but never their code"
    record = json.loads(feedback["submitted__good.json"])
    assert record["total"] == 8 and len(record["checks_sha256"]) == 64
    summary = feedback["summary.md"].decode()
    assert "| fixture_exercise | q1 | every statement has a label | 1/3 |" in summary


def test_grade_in_github_actions_reports_points(run_cli, batch, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    done = run_cli("grade", "submitted/good.ipynb", "--source", SOLUTIONS, "--out", "g.csv",
                   "--github", "--spawn", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "::notice title=Autograding complete::Points 8/8" in done.stdout.splitlines()
    assert summary.read_text().startswith("## Autograding: 8/8 points")


def test_fail_under_exits_1_when_a_notebook_scores_too_little(run_cli, batch, tmp_path):
    done = run_cli("grade", "submitted", "--source", SOLUTIONS, "--out", "g.csv",
                   "--fail-under", "90", "--spawn", cwd=tmp_path)
    assert done.returncode == 1
    assert "2 notebook(s) below 90% of the points" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["missing-folder", "--out", "g.csv"], "submission path not found: missing-folder"),
    (["submitted", "--out", "."], "--out is a folder"),
    (["submitted", "--out", "g.csv", "--timeout", "0"], "--timeout must be positive"),
    (["submitted", "--out", "g.csv", "--exercise", "nope", "--source", str(SOLUTIONS)],
     "no solution notebook"),
    (["submitted", "--out", "g.csv", "--source", "nowhere"], "--source folder not found"),
    (["empty-folder", "--out", "g.csv"], "no notebooks"),
    (["submitted", "--out", "g.csv", "--feedback", "g.csv"], "--feedback is a file"),
    (["submitted", "--out", "g.csv/grades.csv"], "cannot write --out"),
    (["submitted", "--out", "g.csv", "--feedback", "g.csv/feedback"], "cannot write --feedback"),
    (["submitted", "--out", "submitted/good.ipynb"], "is the same file as the input notebook"),
])
def test_grade_bad_input_is_one_line_and_exit_2(batch, tmp_path, args, message, monkeypatch,
                                                 capsys):
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "g.csv").write_text("old grades\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert cli.main(["grade", *args]) == 2
    out, err = capsys.readouterr()
    assert message in err and err.count("\n") == 1 and not out, err
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, "nothing is written or overwritten"


def test_grade_checks_the_job_summary_before_grading(batch, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "g.csv" / "summary.md"))
    (tmp_path / "g.csv").write_text("old grades\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["grade", "submitted", "--out", "new.csv", "--github"]) == 2
    assert "cannot write $GITHUB_STEP_SUMMARY" in capsys.readouterr().err
    assert not (tmp_path / "new.csv").exists()


def test_build_check_and_verify(run_cli, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["--solutions", str(SOLUTIONS), "--exercises", "ex", "--bank", "bank"]
    assert cli.main(["exercises", "build", *args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert not (tmp_path / "ex").exists()
    assert cli.main(["exercises", "build", *args]) == 0
    assert "built 1 exercises (fixture_exercise)" in capsys.readouterr().out
    assert cli.main(["exercises", "build", *args, "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    args = ("--solutions", SOLUTIONS, "--exercises", "ex")
    verified = run_cli("exercises", "verify", *args, "--spawn", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert "ok: every solution scores full marks and every exercise scores 0" in verified.stdout


def test_verify_fails_when_a_solution_loses_points(run_cli, tmp_path):
    (tmp_path / "sol").mkdir()
    text = (SOLUTIONS / "fixture_exercise.ipynb").read_text(encoding="utf-8")
    broken = text.replace("return sum(values) / len(values)", "return 0")
    assert broken != text
    (tmp_path / "sol" / "fixture_exercise.ipynb").write_text(broken, encoding="utf-8")
    from mlcicd_course.grading.build import build

    build(tmp_path / "sol", tmp_path / "ex", tmp_path / "bank")
    done = run_cli("exercises", "verify", "--solutions", "sol", "--exercises", "ex", "--spawn",
                   cwd=tmp_path)
    assert done.returncode == 1
    assert "FAIL sol/fixture_exercise.ipynb q2: the solution scores 1/3" in done.stdout


def test_build_with_malformed_markers_is_exit_2_naming_the_cell(tmp_path, monkeypatch,
                                                                 capsys):
    (tmp_path / "sol").mkdir()
    text = (SOLUTIONS / "fixture_exercise.ipynb").read_text(encoding="utf-8")
    (tmp_path / "sol" / "fixture_exercise.ipynb").write_text(
        text.replace("END QUESTION q2", "END QUESTION q3", 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["exercises", "build", "--solutions", "sol", "--exercises", "ex", "--bank",
                     "bank"]) == 2
    assert capsys.readouterr().err.strip() == (
        "mlcicd exercises build: error: sol/fixture_exercise.ipynb cell 13: END QUESTION q3 "
        "closes question q2")
    assert not (tmp_path / "ex").exists()

