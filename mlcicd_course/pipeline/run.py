"""Wire the stages in order, stop at the first that fails, and say what happened.

    config = load_pipeline("config/pipeline.yaml")
    run = run_pipeline(config, workdir="build/pipeline", registry="build/pipeline/registry")
    run.outcome        # "deployed", "stopped", "rolled back" or "already deployed"
    run.exit_code      # 0 deployed (or nothing to deploy), 1 stopped or rolled back
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcicd_course.pipeline import deploy, stages
from mlcicd_course.pipeline.config import PipelineConfig
from mlcicd_course.pipeline.stages import (
    Decision,
    PipelineContext,
    StageFunction,
    StageResult,
)
from mlcicd_course.registry import ModelRegistry
from mlcicd_course.rollout.clock import Clock, MonotonicClock

STAGES: tuple[StageFunction, ...] = (
    stages.load_data, stages.validate_data, stages.train_candidate, stages.evaluate_candidate,
    stages.production_baseline, stages.gate, stages.register_candidate, deploy.shadow,
    deploy.staging, deploy.smoke, deploy.production, deploy.watch)
"""Every stage, in order."""
PARTS: dict[str, tuple[str, ...]] = {
    "all": tuple(s.stage_name for s in STAGES),  # type: ignore[attr-defined]
    "staging": ("data", "validate", "train", "evaluate", "baseline", "gate", "register",
                "shadow", "staging", "smoke"),
    "production": ("data", "validate", "train", "evaluate", "baseline", "gate", "register",
                   "production", "watch"),
}
"""The stages of each `--part`: the whole run, or one environment (as a workflow job)."""


@dataclass
class PipelineRun:
    """What a run did: every stage's result, in order (stages not reached: skipped)."""

    results: list[StageResult] = field(default_factory=list)
    candidate: str | None = None
    production: str | None = None

    @property
    def stopped_at(self) -> StageResult | None:
        """The stage that failed, if any."""
        return next((r for r in self.results if r.failed), None)

    @property
    def outcome(self) -> str:
        """"deployed", "already deployed", "stopped" or "rolled back"."""
        failed = self.stopped_at
        if failed is not None:
            return "rolled back" if failed.rolled_back else "stopped"
        if any(r.name == "register" and r.decision is Decision.SKIPPED for r in self.results):
            return "already deployed"
        return "deployed"

    @property
    def exit_code(self) -> int:
        """0 deployed (or nothing to deploy), 1 stopped by a gate or rolled back."""
        return 1 if self.stopped_at is not None else 0

    def summary(self) -> str:
        """One line: the outcome, and for a failure the stage and its reason."""
        failed = self.stopped_at
        if failed is not None:
            return f"pipeline {self.outcome} at {failed.name}: {failed.reason}"
        if self.outcome == "already deployed":
            return f"pipeline: nothing to deploy ({self.production} is already in production)"
        return f"pipeline deployed {self.candidate}: it serves production"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        failed = self.stopped_at
        return {"kind": "mlcicd-pipeline-run", "outcome": self.outcome,
                "exit_code": self.exit_code, "summary": self.summary(),
                "stopped_at": None if failed is None else failed.name,
                "candidate": self.candidate, "production": self.production,
                "seconds": round(sum(r.seconds for r in self.results), 3),
                "stages": [r.to_dict() for r in self.results]}


def run_pipeline(config: PipelineConfig, *, workdir: str | os.PathLike[str],
                 registry: ModelRegistry, part: str = "all",
                 clock: Clock | None = None) -> PipelineRun:
    """Run the stages of `part` in order; stop at the first that fails.

    Every server a stage starts is stopped before this returns, also after an error.
    """
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; expected one of {', '.join(PARTS)}")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    chosen = [s for s in STAGES if s.stage_name in PARTS[part]]  # type: ignore[attr-defined]
    return run_stages(PipelineContext(config, registry, Path(workdir),
                                      clock=clock or MonotonicClock()), chosen)


def run_stages(ctx: PipelineContext, chosen: Sequence[StageFunction]) -> PipelineRun:
    """Run `chosen` stages with `ctx` (closed at the end); the ones after a failure are
    reported as skipped."""
    run = PipelineRun()
    with ctx:
        for position, function in enumerate(chosen):
            outcome = function(ctx)
            run.results.append(outcome)
            if outcome.failed:
                run.results += [StageResult(
                    later.stage_name, Decision.SKIPPED,  # type: ignore[attr-defined]
                    f"not reached: stopped at {outcome.name}")
                    for later in chosen[position + 1:]]
                break
    run.candidate = ctx.candidate.version if ctx.candidate else None
    held = registry_production(ctx.registry)
    run.production = held
    return run


def registry_production(registry: ModelRegistry) -> str | None:
    """The version in production now (None for an empty registry)."""
    if not registry.exists():
        return None
    held = registry.current("production")
    return None if held is None else held.version
