"""The offline stages one by one, the wiring with stand-in stages, and the report."""

from __future__ import annotations

import json

import pytest

from mlcicd_course.pipeline import deploy, stages
from mlcicd_course.pipeline.config import parse_pipeline
from mlcicd_course.pipeline.report import MARKER, pipeline_markdown, write_report
from mlcicd_course.pipeline.run import PipelineRun, run_stages
from mlcicd_course.pipeline.stages import Decision, PipelineContext, StageResult
from mlcicd_course.registry import open_registry
from mlcicd_course.rollout.clock import FakeClock
from tests.pipeline_support import fast_config

OFFLINE = (stages.load_data, stages.validate_data, stages.train_candidate,
           stages.evaluate_candidate, stages.production_baseline, stages.gate)


def context(tmp_path, **changes) -> PipelineContext:
    config = parse_pipeline(fast_config(tmp_path, **changes))
    return PipelineContext(config, open_registry(str(tmp_path / "registry")), tmp_path,
                           clock=FakeClock())


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """A context after the offline stages up to the gate (a good candidate)."""
    ctx = context(tmp_path_factory.mktemp("pipeline-stages"))
    return ctx, [stage(ctx) for stage in OFFLINE]


def test_offline_stages_bootstrap_production_and_gate_on_the_same_rows(gated):
    ctx, results = gated
    assert [r.name for r in results] == ["data", "validate", "train", "evaluate",
                                         "baseline", "gate"]
    assert all(r.decision is Decision.PASSED for r in results), [r.reason for r in results]
    assert ctx.registry.current("production").version == "v1"
    assert results[4].details["bootstrapped"] is True
    assert ctx.baseline_evaluation.data == ctx.evaluation.data   # the same rows
    gate = results[5]
    assert gate.details["paired_test"] is not None       # McNemar: both are models
    assert [g["name"] for g in gate.details["gates"]] == ["min_accuracy", "max_regression"]


def test_register_then_find_the_same_bytes_again(gated):
    ctx, _ = gated
    first = stages.register_candidate(ctx)
    assert first.decision is Decision.PASSED and ctx.candidate.version == "v2"
    assert ctx.registry.get("v2").parent == "v1"
    again = stages.register_candidate(ctx)
    assert again.decision is Decision.PASSED and "registered before" in again.reason
    assert [v.version for v in ctx.registry.versions()] == ["v1", "v2"]


def test_a_stopped_candidate_leaves_staging_for_archived(gated):
    ctx, _ = gated
    stages.register_candidate(ctx)
    ctx.registry.promote(ctx.candidate.version, "staging", by="t", reason="test")
    assert "archived" in stages.archive(ctx, "stopped by a test")
    assert ctx.registry.get(ctx.candidate.version).stage == "archived"
    assert ctx.registry.current("staging") is None
    assert "stays archived" in stages.archive(ctx, "again")


def test_a_candidate_in_production_is_not_deployed_again(gated):
    ctx, _ = gated
    stages.register_candidate(ctx)
    ctx.already_deployed = True
    for stage in (deploy.shadow, deploy.staging, deploy.smoke, deploy.production, deploy.watch):
        outcome = stage(ctx)
        assert outcome.decision is Decision.SKIPPED and "nothing to deploy" in outcome.reason
    ctx.already_deployed = False
    assert deploy.shadow(ctx).reason.startswith("shadow test switched off")


def test_production_refuses_a_version_that_did_not_pass_staging(gated):
    ctx, _ = gated
    stages.register_candidate(ctx)
    outcome = deploy.production(ctx)
    assert outcome.failed and "not in staging" in outcome.reason
    assert not ctx.environments                    # no server was started


def test_flipped_labels_make_a_candidate_the_gate_stops(tmp_path):
    ctx = context(tmp_path, training={"corruptLabels": 0.6})
    results = [stage(ctx) for stage in OFFLINE]
    gate = results[-1]
    assert gate.failed and "more than the allowed" in gate.reason
    drop = next(g for g in gate.details["gates"] if g["name"] == "max_regression")["value"]
    assert drop > ctx.config.gate.max_regression
    assert [v.version for v in ctx.registry.versions()] == ["v1"]   # nothing registered


def fake(name: str, decision: Decision, **options):
    @stages.stage(name)
    def run(ctx):
        ctx.clock.advance(1.5)
        return StageResult("", decision, f"{name} {decision}", **options)
    return run


def test_the_wiring_stops_at_the_first_failure_and_reports_every_stage(tmp_path):
    ctx = context(tmp_path)
    chosen = [fake("a", Decision.PASSED), fake("b", Decision.FAILED, rolled_back=True),
              fake("c", Decision.PASSED)]
    run = run_stages(ctx, chosen)
    assert [(r.name, r.decision) for r in run.results] == [
        ("a", Decision.PASSED), ("b", Decision.FAILED), ("c", Decision.SKIPPED)]
    assert run.results[1].started_s == 1.5 and run.results[1].seconds == 1.5
    assert run.outcome == "rolled back" and run.exit_code == 1
    assert run.summary() == "pipeline rolled back at b: b failed"
    written = write_report(run, tmp_path / "report")
    markdown, data = (p.read_text(encoding="utf-8") for p in written)
    assert markdown.startswith(MARKER) and "| b | ❌ failed | b failed |" in markdown
    data = json.loads(data)
    assert data["stopped_at"] == "b" and [s["decision"] for s in data["stages"]] == [
        "passed", "failed", "skipped"]


def test_a_run_without_failures_is_deployed():
    run = PipelineRun([StageResult("x", Decision.PASSED, "ok")], candidate="v2",
                      production="v2")
    assert run.outcome == "deployed" and run.exit_code == 0
    assert "deployed v2" in pipeline_markdown(run)
