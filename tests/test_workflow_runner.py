"""The local workflow runner, its expressions and the job graph (mlcicd_course.workflows).

Small workflows written here; the taught workflows themselves are run in
test_workflow_course_runs.py.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlcicd_course import workflows
from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows import (
    ExpressionError,
    RunOptions,
    condition_holds,
    default_context,
    evaluate,
    expand_matrix,
    format_run,
    interpolate,
    job_graph,
    parse_file_command,
    parse_workflow,
    repository_files,
    run_workflow,
    write_step_summary,
)
from mlcicd_course.workflows.expressions import UnsetReadsEmpty
from mlcicd_course.workflows.permissions import token_scopes
from tests.conftest import ROOT

WORKFLOW_DIR = ROOT / ".github" / "workflows"
FIXTURES = ROOT / "tests" / "fixtures" / "workflows"
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
UPLOAD = "actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a # v7.0.1"
DOWNLOAD = "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1"
HOSTILE = 'x"; touch {marker}; echo "$(touch {marker}) `touch {marker}`'
NODE = shutil.which("node")
# The runner runs steps with bash, as GitHub's Linux and macOS runners do.
RUNS_BASH = pytest.mark.skipif(os.name == "nt", reason="the local runner needs bash")


def write(tmp_path: Path, text: str, name: str = "wf.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(path: Path, tmp_path: Path, **options) -> object:
    options.setdefault("repo", tmp_path / "repo")
    (tmp_path / "repo").mkdir(exist_ok=True)
    return run_workflow(path, RunOptions(**options))


PUSH_CTX = default_context(parse_workflow("on: push\njobs:\n  a:\n    runs-on: x\n"), "push")


# ---- expressions ------------------------------------------------------------------------

@pytest.mark.parametrize("expression, expected", [
    ("1 == 1.0", True),
    ("'ABC' == 'abc'", True),
    ("'1' == 1", True),
    ("null == 0", True),
    ("'abc' == 0", False),
    ("true && 'x'", "x"),
    ("'' || 'fallback'", "fallback"),
    ("!0", True),
    ("!'text'", False),
    ("1 < 2 && 2 <= 2 && 3 > 2 && 'b' > 'a'", True),
    ("(1 == 2) || (2 == 2)", True),
    ("0x10 == 16", True),
    ("'it''s'", "it's"),
    ("contains('Hello', 'ELL')", True),
    ("contains(fromJSON('[\"a\", \"b\"]'), 'B')", True),
    ("startsWith('refs/heads/main', 'refs/heads/')", True),
    ("endsWith('file.YML', '.yml')", True),
    ("format('{0}-{1}-{{x}}', 'a', 2)", "a-2-{x}"),
    ("join(fromJSON('[1, 2]'), '+')", "1+2"),
    ("toJSON(fromJSON('{\"a\": 1}'))", '{\n  "a": 1\n}'),
    ("github.event_name == 'push'", True),
    ("github['event_name']", "push"),
    ("github.EVENT_NAME", "push"),
    ("github.event.pull_request.number || github.ref", "refs/heads/main"),
    ("github.event.pull_request.title", None),
])
def test_expressions(expression, expected):
    assert evaluate(expression, PUSH_CTX) == expected


@pytest.mark.parametrize("expression, message", [
    ("github.evnt_name", "unknown expression github.evnt_name"),
    ("steps.build.outputs.x", "the context has no 'steps'"),
    ("secrets.AWS_KEY", "unknown expression secrets.AWS_KEY"),
    ("fromJSON('{')", "not JSON"),
    ("frobnicate(1)", "unknown function frobnicate()"),
    ("github..ref", "bad property"),
    ("1 ==", "expected more"),
    ("hashFiles('*.txt')", "needs a workspace"),
])
def test_unknown_or_broken_expressions_are_errors(expression, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expression, PUSH_CTX)


def test_an_unset_repository_variable_reads_empty_in_a_run_as_on_github():
    context = {**PUSH_CTX, "vars": UnsetReadsEmpty()}
    assert evaluate("vars.MODEL_REGISTRY || 'deploy/registry'", context) == "deploy/registry"
    assert evaluate("vars.AWS_DEPLOY_ROLE_ARN != ''", context) is False
    with pytest.raises(ExpressionError, match="unknown expression vars.MODEL_REGISTRY"):
        evaluate("vars.MODEL_REGISTRY", PUSH_CTX)


def test_a_pull_request_payload_has_its_fields_and_typos_fail():
    workflow = parse_workflow("on: pull_request\njobs:\n  a:\n    runs-on: x\n")
    context = default_context(workflow, "pull_request")
    assert evaluate("github.event.pull_request.head.repo.full_name == github.repository",
                    context) is True
    with pytest.raises(ExpressionError, match="no 'titel'"):
        evaluate("github.event.pull_request.titel", context)


def test_interpolate_keeps_the_type_of_a_whole_expression():
    assert interpolate("${{ 1 == 1 }}", PUSH_CTX) is True
    assert interpolate("a-${{ 1 == 1 }}-${{ github.ref_name }}", PUSH_CTX) == "a-true-main"
    assert interpolate({"k": ["${{ github.event_name }}"]}, PUSH_CTX) == {"k": ["push"]}


@pytest.mark.parametrize("condition, status, expected", [
    (None, "success", True),
    (None, "failure", False),
    ("always()", "failure", True),
    ("failure()", "failure", True),
    ("failure()", "success", False),
    ("${{ !cancelled() }}", "failure", True),
    ("github.event_name == 'push'", "failure", False),
    ("github.event_name == 'push'", "success", True),
    ("success()", "skipped", False),
    ("failure()", "skipped", False),
])
def test_conditions_combine_with_the_status_functions(condition, status, expected):
    assert condition_holds(condition, PUSH_CTX, status=status) is expected


def test_dispatch_inputs_have_defaults_types_and_choices():
    workflow = parse_workflow("""
on:
  workflow_dispatch:
    inputs:
      level: {type: choice, options: [low, high], default: low}
      dry: {type: boolean, default: false}
jobs:
  a: {runs-on: x}
""")
    assert default_context(workflow, "workflow_dispatch")["inputs"] == {"level": "low",
                                                                       "dry": False}
    context = default_context(workflow, "workflow_dispatch", inputs={"dry": "true"})
    assert context["inputs"]["dry"] is True
    assert default_context(workflow, "push")["inputs"] == {"level": None, "dry": None}
    with pytest.raises(UserInputError, match="must be one of low, high"):
        default_context(workflow, "workflow_dispatch", inputs={"level": "max"})
    with pytest.raises(UserInputError, match="has no input 'speed'"):
        default_context(workflow, "workflow_dispatch", inputs={"speed": "1"})


def test_scheduled_training_falls_back_to_the_default_minimum_accuracy():
    workflow = workflows.load_workflow(WORKFLOW_DIR / "scheduled-training.yml")
    value = workflow.env["MIN_ACCURACY"]
    assert interpolate(value, default_context(workflow, "schedule")) == "0.85"
    dispatch = default_context(workflow, "workflow_dispatch", inputs={"min-accuracy": "0.9"})
    assert interpolate(value, dispatch) == "0.9"


# ---- file commands and the matrix ---------------------------------------------------------

def test_file_commands_with_values_and_heredocs():
    text = "a=1\nstory<<END\nline one\nline two\nEND\nb=x=y\n"
    assert parse_file_command(text, "GITHUB_OUTPUT") == {"a": "1", "story": "line one\nline two",
                                                         "b": "x=y"}
    with pytest.raises(ValueError, match="matching delimiter not found 'EOF'"):
        parse_file_command("comparison<<EOF\n{}\n", "GITHUB_OUTPUT")
    with pytest.raises(ValueError, match="invalid line"):
        parse_file_command("comparison<> x\n", "GITHUB_OUTPUT")


def test_matrix_include_and_exclude():
    workflow = parse_workflow("""
on: push
jobs:
  t:
    runs-on: x
    strategy:
      matrix:
        os: [linux, mac]
        py: ["3.11", "3.12"]
        exclude: [{os: mac, py: "3.11"}]
        include: [{os: linux, extra: yes}, {os: windows, py: "3.13"}]
""")
    combos = expand_matrix(workflow.jobs["t"], PUSH_CTX)
    assert combos == [{"os": "linux", "py": "3.11", "extra": True},
                      {"os": "linux", "py": "3.12", "extra": True},
                      {"os": "mac", "py": "3.12"},
                      {"os": "windows", "py": "3.13"}]


# ---- the job graph -------------------------------------------------------------------------

def test_graph_of_the_pr_comparison_for_a_pull_request_and_for_a_fork():
    path = WORKFLOW_DIR / "pr-model-comparison.yml"
    assert job_graph(path, "pull_request").order == ["compare", "comment"]
    fork = job_graph(path, "pull_request", context={
        "github.event.pull_request.head.repo.full_name": "someone/fork"})
    assert fork.order == ["compare"]
    assert "head.repo.full_name == github.repository" in fork.node("comment").reason
    with pytest.raises(UserInputError, match="does not run on push"):
        job_graph(path, "push")


def test_graph_text_mermaid_and_skipped_needs():
    graph = job_graph(FIXTURES / "seed" / "complete-ml-cicd.yml", "pull_request")
    assert graph.order == ["code-quality", "test", "data-validation", "train"]
    text = graph.to_text()
    assert "5. deploy-staging (needs train): skipped: if: github.ref == 'refs/heads/main'" in text
    mermaid = graph.to_mermaid()
    assert "train --> deploy_staging" in mermaid and "class deploy_staging,deploy_production" \
        " skipped" in mermaid
    push = job_graph(FIXTURES / "seed" / "complete-ml-cicd.yml", "push")
    assert push.order[-2:] == ["deploy-staging", "deploy-production"]


def test_graph_matrix_size_and_plot():
    graph = job_graph(WORKFLOW_DIR / "ml-ci.yml", "pull_request")
    assert graph.node("test").matrix_size == 4 and graph.node("lint").matrix_size == 1
    import matplotlib
    matplotlib.use("Agg")
    ax = graph.plot()
    labels = {t.get_text() for t in ax.texts}
    assert {"lint", "test\nx4"} <= labels and ax.get_xlabel()


# ---- running: mechanics on small workflows ----------------------------------------------

MECHANICS = """\
name: mechanics
on:
  push:
    branches: [main]
permissions:
  contents: read
env:
  GREETING: hello
jobs:
  first:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    outputs:
      answer: ${{ steps.produce.outputs.answer }}
    steps:
      - id: produce
        run: |
          echo "answer=42" >> "$GITHUB_OUTPUT"
          { echo "story<<END"; echo "line one"; echo "line two"; echo "END"; } >> "$GITHUB_OUTPUT"
          echo "FROM_ENV_FILE=set-by-step-1" >> "$GITHUB_ENV"
          mkdir -p tools && printf '#!/bin/sh\\necho tool-ran\\n' > tools/mytool
          chmod +x tools/mytool && echo "$GITHUB_WORKSPACE/tools" >> "$GITHUB_PATH"
          echo "### summary line" >> "$GITHUB_STEP_SUMMARY"
      - name: Use them
        env:
          STORY: ${{ steps.produce.outputs.story }}
        run: |
          echo "greeting=$GREETING env=$FROM_ENV_FILE story=$STORY"
          mytool
      - name: Allowed to fail
        continue-on-error: true
        run: exit 3
      - name: Still running
        run: echo still-running
      - name: Fails
        run: |
          false
          echo never
      - name: Skipped after the failure
        run: echo skipped
      - name: Cleanup on failure
        if: failure()
        run: echo cleanup
  second:
    needs: first
    if: always()
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - env:
          ANSWER: ${{ needs.first.outputs.answer }}
          RESULT: ${{ needs.first.result }}
        run: echo "answer=$ANSWER result=$RESULT"
  third:
    needs: first
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - run: echo never
"""


@RUNS_BASH
def test_outputs_env_path_summary_conditions_and_needs(tmp_path):
    result = run(write(tmp_path, MECHANICS), tmp_path)
    first, second, third = result.jobs
    assert [s.outcome for s in first.steps] == ["success", "success", "failure", "success",
                                                "failure", "skipped", "success"]
    assert [s.conclusion for s in first.steps][2] == "success"  # continue-on-error
    assert first.steps[0].outputs == {"answer": "42", "story": "line one\nline two"}
    assert ("greeting=hello env=set-by-step-1 story=line one line two" in
            " ".join(first.steps[1].output.split()))
    assert "tool-ran" in first.steps[1].output
    assert first.steps[4].exit_code == 1 and "never" not in first.steps[4].output
    assert first.steps[6].output.strip() == "cleanup"
    assert first.result == "failure" and first.outputs == {"answer": "42"}
    assert first.summary == "### summary line\n"
    assert second.result == "success"
    assert second.steps[0].output.strip() == "answer=42 result=failure"
    assert third.result == "skipped" and "needs first did not succeed" in third.note
    assert not result.ok
    report = format_run(result)
    assert "output answer = 42" in report and "result: failure" in report


@RUNS_BASH
def test_a_skipped_job_names_the_real_reason(tmp_path):
    text = ("name: t\non: push\npermissions:\n  contents: read\njobs:\n"
            "  broken:\n    runs-on: x\n    steps:\n      - run: exit 1\n"
            "  after:\n    needs: broken\n    if: github.event_name == 'push'\n"
            "    runs-on: x\n    steps:\n      - run: 'true'\n"
            "  never:\n    if: github.event_name == 'schedule'\n"
            "    runs-on: x\n    steps:\n      - run: 'true'\n")
    jobs = {job.job_id: job for job in run(write(tmp_path, text), tmp_path).jobs}
    assert jobs["after"].note == "needs broken did not succeed"
    assert jobs["never"].note == "if: github.event_name == 'schedule' is false"


@RUNS_BASH
def test_selected_jobs_bring_their_needs_and_nothing_else(tmp_path):
    result = run(write(tmp_path, MECHANICS), tmp_path, jobs=("second",))
    assert [j.job_id for j in result.jobs] == ["first", "second"]
    with pytest.raises(UserInputError, match="has no job 'fourth'"):
        run(write(tmp_path, MECHANICS), tmp_path, jobs=("fourth",))


def test_event_and_branch_filters(tmp_path):
    path = write(tmp_path, MECHANICS)
    with pytest.raises(UserInputError, match="does not run on pull_request"):
        run(path, tmp_path, event="pull_request")
    with pytest.raises(UserInputError, match="filtered out by branches"):
        run(path, tmp_path, context={"github.ref_name": "dev"})


def one_job(steps: str, extra: str = "") -> str:
    return ("name: t\non: push\npermissions:\n  contents: read\njobs:\n  j:\n"
            "    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n" + extra + "    steps:\n"
            + steps)


@RUNS_BASH
def test_shells_pipefail_working_directory_and_timeout(tmp_path):
    steps = """\
      - run: false | true
      - shell: bash
        run: false | true
      - shell: python
        if: always()
        run: print(6 * 7)
      - if: always()
        working-directory: nowhere
        run: pwd
      - if: always()
        run: mkdir -p sub && echo data > sub/f.txt
      - if: always()
        working-directory: sub
        run: cat f.txt
      - if: always()
        timeout-minutes: 0.02
        run: sleep 30
"""
    job = run(write(tmp_path, one_job(steps)), tmp_path).jobs[0]
    outcomes = [s.outcome for s in job.steps]
    assert outcomes == ["success", "failure", "success", "failure", "success", "success",
                        "failure"]
    assert job.steps[2].output.strip() == "42"
    assert "working-directory nowhere does not exist" in job.steps[3].note
    assert job.steps[5].output.strip() == "data"
    assert "timed out" in job.steps[6].note


@RUNS_BASH
def test_artifacts_are_immutable_and_travel_between_jobs(tmp_path):
    text = f"""\
name: artifacts
on: push
permissions:
  contents: read
jobs:
  make:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - run: |
          mkdir -p out/deep && echo a > out/a.txt && echo b > out/deep/b.txt
          echo h > out/.hidden
      - uses: {UPLOAD}
        with:
          name: results
          path: out/
      - uses: {UPLOAD}
        with:
          name: results
          path: out/a.txt
      - if: always()
        uses: {UPLOAD}
        with:
          name: results
          path: out/a.txt
          overwrite: true
      - if: always()
        uses: {UPLOAD}
        with:
          name: empty
          path: nothing-here/
          if-no-files-found: error
      - if: always()
        uses: {UPLOAD}
        with:
          name: more
          path: |
            out/**/*.txt
            !out/a.txt
  use:
    needs: make
    if: always()
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - uses: {DOWNLOAD}
        with:
          name: results
          path: got
      - run: cat got/a.txt
      - uses: {DOWNLOAD}
        with:
          pattern: "*"
          path: all
      - run: ls -R all
      - uses: {DOWNLOAD}
        with:
          name: missing
"""
    result = run(write(tmp_path, text), tmp_path)
    make, use = result.jobs
    assert [s.outcome for s in make.steps] == ["success", "success", "failure", "success",
                                               "failure", "success"]
    assert "already exists in this run" in make.steps[2].note
    assert "no files found" in make.steps[4].note
    assert result.artifacts == {"results": ["a.txt"], "more": ["deep/b.txt"]}
    assert use.steps[1].output.strip() == "a"
    assert "all/more" in use.steps[3].output and "all/results" in use.steps[3].output
    assert "Artifact not found for name: missing" in use.steps[4].note


@RUNS_BASH
def test_a_first_upload_keeps_the_folder_layout_and_skips_hidden_files(tmp_path):
    text = one_job(f"""\
      - run: mkdir -p out/deep && echo b > out/deep/b.txt && echo h > out/.hidden
      - uses: {UPLOAD}
        with:
          name: results
          path: out/
""")
    assert run(write(tmp_path, text), tmp_path).artifacts == {"results": ["deep/b.txt"]}


@RUNS_BASH
def test_a_kept_work_folder_starts_afresh_on_the_next_run(tmp_path):
    text = one_job(f"""\
      - run: echo ok > report.txt
      - uses: {UPLOAD}
        with:
          name: report
          path: report.txt
""")
    path = write(tmp_path, text)
    for _ in range(2):
        result = run(path, tmp_path, workdir=tmp_path / "kept")
        assert result.ok and result.artifacts == {"report": ["report.txt"]}


@RUNS_BASH
def test_a_reusable_workflow_job_is_reported_not_silently_passed(tmp_path):
    text = ("name: t\non: push\npermissions:\n  contents: read\njobs:\n  call:\n"
            "    uses: ./.github/workflows/other.yml\n")
    job = run(write(tmp_path, text), tmp_path).jobs[0]
    assert job.result == "failure" and "reusable workflow" in job.note


@RUNS_BASH
def test_secrets_must_be_given_explicitly(run_cli, tmp_path):
    text = one_job("      - env:\n          TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n"
                   "        run: test \"$TOKEN\" = s3cret\n")
    path = write(tmp_path, text)
    (tmp_path / "repo").mkdir()
    missing = run_cli("workflow", "run", path, "--repo", tmp_path / "repo")
    assert missing.returncode == 2 and "unknown expression secrets.DEPLOY_TOKEN" in missing.stderr
    given = run_cli("workflow", "run", path, "--repo", tmp_path / "repo",
                    "--secret", "DEPLOY_TOKEN=s3cret")
    assert given.returncode == 0, given.stdout


@RUNS_BASH
@pytest.mark.parametrize("script, outcome, note", [
    ("python -m pip install --upgrade pip", "success", "offline"),
    ("pip install -r requirements.txt", "failure", "Could not open requirements file"),
    ("pip install -c constraints.txt ruff", "failure", "Could not open requirements file"),
    ("pip install surely-not-an-installed-package-xyz", "failure", "is not installed"),
    ("pip install -e .", "failure", "does not appear to be a Python project"),
])
def test_pip_install_steps_are_stood_in_offline(tmp_path, script, outcome, note):
    step = run(write(tmp_path, one_job(f"      - run: {script}\n")), tmp_path).jobs[0].steps[0]
    assert (step.outcome, step.kind) == (outcome, "stand-in")
    assert note in step.note


@RUNS_BASH
def test_mixed_pip_and_commands_run_the_commands(tmp_path):
    text = one_job("      - run: |\n          pip install --upgrade pip\n          echo ran\n")
    step = run(write(tmp_path, text), tmp_path).jobs[0].steps[0]
    assert step.kind == "run" and step.output.strip() == "ran"


@RUNS_BASH
def test_unknown_actions_fail_and_unknown_expressions_stop_the_run(tmp_path):
    job = run(write(tmp_path, one_job("      - uses: someone/deploy@v1\n")), tmp_path).jobs[0]
    assert job.result == "failure" and "no local stand-in" in job.steps[0].note
    text = one_job("      - run: echo ${{ github.evnt_name }}\n")
    with pytest.raises(UserInputError, match="job j, step 1.*no 'evnt_name'"):
        run(write(tmp_path, text), tmp_path)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@RUNS_BASH
def test_checkout_copies_what_git_would_and_a_ref_comes_from_git_archive(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("ignored.txt\n")
    (repo / "version.txt").write_text("committed\n")
    (repo / "ignored.txt").write_text("secret\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    (repo / "version.txt").write_text("working tree\n")
    assert repository_files(repo) == [".gitignore", "version.txt"]
    text = one_job(f"""\
      - uses: {CHECKOUT}
      - uses: {CHECKOUT}
        with:
          ref: ${{{{ github.sha }}}}
          path: base
      - run: cat version.txt base/version.txt && test ! -e ignored.txt
""")
    job = run(write(tmp_path, text), tmp_path, repo=repo).jobs[0]
    assert job.result == "success"
    assert job.steps[2].output.split("\n")[:2] == ["working tree", "committed"]


@RUNS_BASH
def test_script_injection_through_run_and_not_through_env(tmp_path):
    marker = tmp_path / "pwned"
    title = HOSTILE.format(marker=marker)
    result = run(FIXTURES / "bad_expression_in_run.yml", tmp_path, event="pull_request",
                 context={"github.event.pull_request.title": title})
    assert result.ok and marker.exists()  # the pasted title ran `touch`
    marker.unlink()
    safe = """\
name: safe
on: pull_request
permissions:
  contents: read
jobs:
  greet:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - env:
          TITLE: ${{ github.event.pull_request.title }}
        run: |
          echo "Checking: $TITLE"
"""
    result = run(write(tmp_path, safe), tmp_path, event="pull_request",
                 context={"github.event.pull_request.title": title})
    assert result.ok and not marker.exists()
    assert result.jobs[0].steps[0].output == f"Checking: {title}\n"


@RUNS_BASH
def test_the_seed_heredoc_breaks_bash_and_its_scripts_do_not_exist(tmp_path):
    seed = yaml.safe_load((FIXTURES / "seed" / "pr-model-check.yml").read_text())
    steps = seed["jobs"]["compare-model-performance"]["steps"]
    heredoc = next(s for s in steps if s.get("id") == "results")["run"]
    text = one_job("      - run: |\n" + "".join(f"          {line}\n"
                                                for line in heredoc.splitlines()))
    step = run(write(tmp_path, text), tmp_path).jobs[0].steps[0]
    assert step.outcome == "failure" and "unexpected EOF" in step.output
    result = run(FIXTURES / "seed" / "ml-ci.yml", tmp_path, event="pull_request")
    install = result.jobs[0].steps[2]
    assert install.outcome == "failure" and "requirements.txt" in install.note


@RUNS_BASH
@pytest.mark.skipif(NODE is None, reason="actions/github-script needs Node.js")
def test_github_script_runs_against_the_fake_api_which_refuses_other_calls(tmp_path):
    script = "\n".join([
        "const { owner, repo } = context.repo;",
        "await github.rest.issues.createComment({ owner, repo, issue_number: 3, body: 'hi' });",
        "const all = await github.paginate(github.rest.issues.listComments,",
        "  { owner, repo, issue_number: 3 });",
        "core.setOutput('count', String(all.length));",
        "return all[0].body;",
    ])
    steps = ("      - id: s\n        uses: actions/github-script@ed597411d8f924073f98dfc5c65a2"
             "3a2325f34cd # v8.0.0\n        with:\n          script: |\n" +
             "".join(f"            {line}\n" for line in script.splitlines()) +
             "      - uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd"
             " # v8.0.0\n        with:\n          script: await github.rest.repos.get({})\n")
    api = tmp_path / "api.json"
    text = one_job(steps, extra="    permissions:\n      issues: write\n")
    job = run(write(tmp_path, text), tmp_path, github_api=api).jobs[0]
    assert job.steps[0].outputs == {"count": "1", "result": '"hi"'}
    assert "createComment #1" in job.steps[0].note
    assert job.steps[1].outcome == "failure"
    assert "github.rest.repos is not available in the local stand-in" in job.steps[1].output
    assert json.loads(api.read_text())["comments"][0]["body"] == "hi"


# ---- the command line -----------------------------------------------------------------

@RUNS_BASH
def test_cli_run_graph_and_json(run_cli, tmp_path):
    path = write(tmp_path, MECHANICS)
    (tmp_path / "repo").mkdir()
    report = tmp_path / "run.json"
    result = run_cli("workflow", "run", path, "--repo", tmp_path / "repo", "--job", "second",
                     "--json", report)
    assert result.returncode == 1
    assert "job first: failure" in result.stdout and "job second: success" in result.stdout
    data = json.loads(report.read_text())
    assert [j["result"] for j in data["jobs"]] == ["failure", "success"]
    graph = run_cli("workflow", "graph", path, "--format", "json")
    assert graph.returncode == 0
    assert json.loads(graph.stdout)["order"] == ["first", "second", "third"]


def test_cli_graph_draws_a_png(run_cli, tmp_path):
    png = tmp_path / "pictures" / "graph.png"
    result = run_cli("workflow", "graph", WORKFLOW_DIR / "ml-pipeline.yml", "--png", png)
    assert result.returncode == 0 and "8 of 8 jobs run" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--input", "novalue"], "--input expects NAME=VALUE"),
    (["--event", "release"], "event must be one of"),
    (["--tree", "abc=/no/such/folder"], "folder not found"),
])
def test_cli_run_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, args, message):
    path = write(tmp_path, MECHANICS)
    result = run_cli("workflow", "run", path, *args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_summary_command_appends_to_the_job_summary(run_cli, tmp_path):
    assert "GITHUB_STEP_SUMMARY is not set" in run_cli("workflow", "summary", "--note",
                                                       "x").stderr
    report = tmp_path / "report.md"
    report.write_text("| a |\n| - |\n")
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    write_step_summary([report], title="Pull request:  a\ntitle", note="a note",
                       env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == ("before\n## Pull request: a title\n\n| a |\n| - |\n\n"
                                   "> a note\n\n")
    with pytest.raises(UserInputError, match="markdown file not found"):
        write_step_summary([tmp_path / "nope.md"], env={"GITHUB_STEP_SUMMARY": str(summary)})


GITHUB_SCRIPT = "actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0"
COMMENT = ("      - uses: " + GITHUB_SCRIPT + "\n        with:\n          script: |\n"
           "            await github.rest.issues.createComment(\n"
           "              { ...context.repo, issue_number: 7, body: 'hi' });\n")


@pytest.mark.parametrize("workflow_permissions, job_permissions, fork, expected", [
    ({"contents": "read"}, None, False, ("none", "none")),
    (None, None, False, ("none", "none")),  # the restricted default: contents, packages read
    ({"contents": "read"}, {"pull-requests": "write"}, False, ("none", "write")),
    ({"pull-requests": "write"}, {"contents": "read"}, False, ("none", "none")),  # replaced
    ("write-all", None, False, ("write", "write")),
    ("read-all", {}, False, ("none", "none")),  # {} grants nothing
    ({"contents": "read"}, {"pull-requests": "write"}, True, ("none", "read")),  # a fork
])
def test_the_job_token_has_the_scopes_github_gives_it(workflow_permissions, job_permissions,
                                                       fork, expected):
    scopes = token_scopes(workflow_permissions, job_permissions, from_fork=fork)
    assert (scopes["issues"], scopes["pull-requests"]) == expected


@RUNS_BASH
@pytest.mark.skipif(NODE is None, reason="actions/github-script needs Node.js")
@pytest.mark.parametrize("job_permissions, allowed", [
    ("", False),  # the workflow's read-only token: GitHub answers 403
    ("    permissions:\n      pull-requests: write\n", True),
])
def test_the_fake_api_refuses_what_the_job_token_may_not_do(tmp_path, job_permissions,
                                                            allowed):
    text = ("name: t\non: pull_request\npermissions:\n  contents: read\njobs:\n  j:\n"
            "    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n" + job_permissions +
            "    steps:\n" + COMMENT)
    api = tmp_path / "api.json"
    step = run(write(tmp_path, text), tmp_path, event="pull_request",
               github_api=api).jobs[0].steps[0]
    assert (step.outcome == "success") is allowed, step.output
    comments = json.loads(api.read_text())["comments"] if api.exists() else []
    assert len(comments) == (1 if allowed else 0)
    if not allowed:
        assert "HttpError: Resource not accessible by integration" in step.output


@RUNS_BASH
def test_a_matrix_job_says_it_ran_on_the_one_local_interpreter(tmp_path):
    text = one_job("      - run: echo ok\n", extra="    strategy:\n      matrix:\n"
                   "        python: [\"3.11\", \"3.14\"]\n")
    result = run(write(tmp_path, text), tmp_path)
    report = format_run(result)
    local = platform.python_version()
    for version in ("3.11", "3.14"):
        line = next(line for line in report.splitlines() if f"[python={version}]" in line)
        assert f"ran on this machine's Python {local}" in line, line


def test_cli_graph_into_a_stopped_pipe_has_no_traceback(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlcicd_course", "workflow", "graph",
         str(WORKFLOW_DIR / "ml-pipeline.yml"), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is written, as after `head`
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert process.returncode == 0


def test_cli_graph_png_under_a_file_is_one_line_and_exit_2(run_cli, tmp_path):
    (tmp_path / "a-file").write_text("x")
    result = run_cli("workflow", "graph", WORKFLOW_DIR / "ml-pipeline.yml", "--png",
                     tmp_path / "a-file" / "graph.png")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Not a directory" in result.stderr and "a-file is a file" in result.stderr


def test_cli_graph_png_into_a_read_only_folder_is_one_line_and_exit_2(tmp_path, monkeypatch,
                                                                      capsys):
    from mlcicd_course import cli

    def refuse(self, data):  # a read-only folder, also when the tests run as root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", refuse)
    code = cli.main(["workflow", "graph", str(WORKFLOW_DIR / "ml-pipeline.yml"), "--png",
                     str(tmp_path / "graph.png")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip() == ("mlcicd workflow graph: error: cannot write --png "
                           f"{tmp_path / 'graph.png'}: Permission denied")
