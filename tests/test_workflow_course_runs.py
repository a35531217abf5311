"""Every `run:` step of the taught workflows in .github/workflows, run with the local
runner (slow): they pass on the course's data, a regression fails the gate, and a hostile
pull-request title passed through `env:` is never executed.

Kept apart from test_workflow_runner.py so that pytest-xdist can give these long runs a
worker of their own.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlcicd_course import workflows
from mlcicd_course.workflows import (
    RunOptions,
    condition_holds,
    default_context,
    format_run,
    repository_files,
    run_workflow,
)
from tests.conftest import ROOT
from tests.test_workflow_runner import HOSTILE, NODE, RUNS_BASH, WORKFLOW_DIR

#: The test steps of ml-ci and ml-pipeline run a small part of this very suite (so that
#: they do not run themselves), without the plugins they do not need. The ignore patterns
#: keep pytest from even importing the other test modules (collecting all of them costs
#: more than running the part).
INNER_PYTEST = {"PYTEST_ADDOPTS": "--ignore-glob=tests/test_[!w]*.py "
                                  "--ignore-glob=tests/test_workflow_[!p]*.py "
                                  "-k 'test_workflow_policy and not cli' -p no:cacheprovider",
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def assert_every_run_step_ran(result, path: Path, allowed_skips: tuple[str, ...] = ()) -> None:
    """Each `run:` step of each job that ran was executed (or stood in) and succeeded."""
    workflow = workflows.load_workflow(path)
    for job in result.jobs:
        if job.result == "skipped":
            continue
        for step, record in zip(workflow.jobs[job.job_id].steps, job.steps, strict=True):
            if step.run is None:
                continue
            if record.name in allowed_skips:
                assert record.outcome == "skipped", record.name
                continue
            assert record.outcome == "success", f"{job.job_id}/{record.name}:\n{record.output}"


@RUNS_BASH
@pytest.mark.slow
def test_data_validation_passes_clean_data_and_fails_injected_faults(tmp_path):
    path = WORKFLOW_DIR / "data-validation.yml"
    result = run_workflow(path, RunOptions(event="workflow_dispatch", workdir=tmp_path / "a"))
    assert result.ok, format_run(result)
    assert_every_run_step_ran(result, path)
    report = json.loads((tmp_path / "a/artifacts/data-validation-report-attempt1/validation.json")
                        .read_text())
    assert report["valid"] is True
    assert "valid" in result.jobs[0].summary
    bad = run_workflow(path, RunOptions(event="workflow_dispatch", workdir=tmp_path / "b",
                                        inputs={"faults": "out_of_range,duplicates"}))
    validate = bad.jobs[0].step("validate")
    assert not bad.ok and validate.exit_code == 1
    assert "tenure_months: min" in validate.output
    assert bad.jobs[0].steps[-1].outcome == "success"  # the report is still uploaded
    report = json.loads((tmp_path / "b/artifacts/data-validation-report-attempt1/validation.json")
                        .read_text())
    assert report["valid"] is False


@RUNS_BASH
@pytest.mark.slow
def test_scheduled_training_trains_evaluates_gates_and_uploads(tmp_path):
    path = WORKFLOW_DIR / "scheduled-training.yml"
    result = run_workflow(path, RunOptions(event="workflow_dispatch", workdir=tmp_path))
    assert result.ok, format_run(result)
    assert_every_run_step_ran(result, path)
    assert result.artifacts == {"churn-model-run1-attempt1": [
        "models/model.joblib", "models/model.joblib.meta.json", "reports/evaluation.json",
        "reports/training.json", "reports/validation.json"]}
    evaluation = json.loads((tmp_path / "artifacts/churn-model-run1-attempt1/reports/"
                             "evaluation.json").read_text())
    assert evaluation["verdict"] == "pass"
    assert {g["name"]: g["threshold"] for g in evaluation["gates"]} == {
        "min_accuracy": 0.85, "max_regression": 0.0}
    assert evaluation["candidate"]["metrics"]["accuracy"] > 0.85
    assert "Model comparison" in result.jobs[0].summary


@RUNS_BASH
@pytest.mark.slow
@pytest.mark.skipif(NODE is None, reason="the comment job's actions/github-script needs Node.js")
def test_pr_comparison_comments_once_updates_on_a_regression_and_never_runs_the_title(
        tmp_path):
    path = WORKFLOW_DIR / "pr-model-comparison.yml"
    api = tmp_path / "github-api.json"
    marker = tmp_path / "pwned"
    title = HOSTILE.format(marker=marker)
    first = run_workflow(path, RunOptions(
        event="pull_request", workdir=tmp_path / "one", github_api=api,
        context={"github.event.pull_request.title": title}))
    assert first.ok, format_run(first)
    assert_every_run_step_ran(first, path, allowed_skips=("Say why a fork gets no comment",))
    assert not marker.exists()
    compare = first.job("compare")
    assert compare.summary.startswith(f"## Pull request: {' '.join(title.split())}\n")
    comments = json.loads(api.read_text())["comments"]
    assert len(comments) == 1
    assert comments[0]["body"].startswith("<!-- mlcicd-model-comparison -->\n## Model "
                                          "comparison: ✅ PASS")

    # The same pull request, pushed again with a model that learned nothing: the
    # comparison fails, and the one comment is updated rather than a second one added.
    candidate = tmp_path / "candidate"
    for relative in repository_files(ROOT):
        (candidate / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, candidate / relative)
    config = candidate / "config" / "model.yaml"
    config.write_text((candidate / "config" / "baseline.yaml").read_text())
    base = "b" * 40
    second = run_workflow(path, RunOptions(
        event="pull_request", workdir=tmp_path / "two", github_api=api, repo=candidate,
        trees={base: ROOT}, context={"github.event.pull_request.base.sha": base}))
    assert not second.ok
    assert second.job("compare").step("compare").exit_code == 1
    assert second.job("comment").result == "success"
    comments = json.loads(api.read_text())["comments"]
    assert len(comments) == 1 and "❌ FAIL" in comments[0]["body"]
    assert "updateComment #1" in second.job("comment").steps[-1].note


def test_a_fork_skips_the_comment_and_says_why():
    path = WORKFLOW_DIR / "pr-model-comparison.yml"
    workflow = workflows.load_workflow(path)
    needs = {"compare": {"result": "failure", "outputs": {}}}
    context = {**default_context(workflow, "pull_request"), "needs": needs}
    context["github"]["event"]["pull_request"]["head"]["repo"]["full_name"] = "someone/fork"
    note = next(s for s in workflow.jobs["compare"].steps if s.name.startswith("Say why"))
    assert condition_holds(note.if_, context)
    assert not condition_holds(workflow.jobs["comment"].if_, context, status="failure")
    same_repo = {**default_context(workflow, "pull_request"), "needs": needs}
    assert not condition_holds(note.if_, same_repo)
    assert condition_holds(workflow.jobs["comment"].if_, same_repo, status="failure")


@RUNS_BASH
@pytest.mark.slow
def test_ml_ci_lints_and_tests(tmp_path):
    path = WORKFLOW_DIR / "ml-ci.yml"
    result = run_workflow(path, RunOptions(
        event="pull_request", workdir=tmp_path, matrix={"python": "3.12"},
        env=INNER_PYTEST))
    assert result.ok, format_run(result)
    assert_every_run_step_ran(result, path)
    assert [j.job_id for j in result.jobs] == ["lint", "test"]
    junit = ET.parse(tmp_path / "artifacts/test-report-python-3.12-attempt1/junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert int(suite.get("tests")) > 20 and int(suite.get("failures")) == 0


@RUNS_BASH
@pytest.mark.slow
def test_the_complete_pipeline_runs_every_stage(tmp_path):
    path = WORKFLOW_DIR / "ml-pipeline.yml"
    result = run_workflow(path, RunOptions(
        event="push", workdir=tmp_path,
        env=INNER_PYTEST))
    assert result.ok, format_run(result)
    assert_every_run_step_ran(result, path)
    assert [j.job_id for j in result.jobs] == ["quality", "tests", "data-validation", "train",
                                               "evaluate", "gate", "deploy-staging",
                                               "deploy-production"]
    assert sorted(result.artifacts) == ["deploy-production-attempt1", "deploy-staging-attempt1",
                                        "pipeline-data", "pipeline-metrics", "pipeline-models"]
    assert "Model comparison" in result.job("gate").summary
    # No cloud target (no AWS_DEPLOY_ROLE_ARN): the OIDC step is skipped, the local one runs.
    for job in ("deploy-staging", "deploy-production"):
        oidc = next(s for s in result.job(job).steps if s.name.startswith("AWS credentials"))
        assert oidc.outcome == "skipped"
    assert "canary v2 promoted in staging" in result.job("deploy-staging").summary
    assert "pipeline deployed v2" in result.job("deploy-production").summary
    report = json.loads((tmp_path / "artifacts/deploy-production-attempt1/report/pipeline.json")
                        .read_text())
    assert report["outcome"] == "deployed" and report["production"] == "v2"
