"""The offline stages: data, validate, train, evaluate, baseline, gate, register.

Each stage is a function `stage(ctx) -> StageResult` that reads what earlier stages left
in the `PipelineContext` and adds its own results to it; a test can call one alone
after the few (fast) stages it depends on. The deployment stages are in `deploy`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from mlcicd_course import datasets, modelstore, training
from mlcicd_course.comparison import Comparison, compare
from mlcicd_course.evaluation import Evaluation, evaluate
from mlcicd_course.pipeline.config import PipelineConfig
from mlcicd_course.registry import ModelRegistry, ModelVersion
from mlcicd_course.rollout.clock import Clock, MonotonicClock
from mlcicd_course.validation import load_schema, validate


class Decision(StrEnum):
    """What a stage decided."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StageResult:
    """One stage's outcome: its decision and why, when it ran and for how long, details.

    `started_s` is seconds since the pipeline began (the context's clock); `rolled_back`
    says that production was put back to the version before (traffic and registry).
    """

    name: str
    decision: Decision
    reason: str
    started_s: float = 0.0
    seconds: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)
    rolled_back: bool = False

    @property
    def failed(self) -> bool:
        return self.decision is Decision.FAILED

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"name": self.name, "decision": str(self.decision), "reason": self.reason,
                "started_s": round(self.started_s, 3), "seconds": round(self.seconds, 3),
                "rolled_back": self.rolled_back, "details": _json_ready(self.details)}


def _json_ready(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class PipelineContext:
    """What the stages share: settings, registry, work folder, clock, and their results.

    A context manager: leaving it stops every server a stage started (`stack`).
    """

    config: PipelineConfig
    registry: ModelRegistry
    workdir: Path
    clock: Clock = field(default_factory=MonotonicClock)
    started: float = 0.0
    train: pd.DataFrame | None = None
    test: pd.DataFrame | None = None
    candidate_path: Path | None = None
    evaluation: Evaluation | None = None
    baseline: ModelVersion | None = None
    baseline_evaluation: Evaluation | None = None
    comparison: Comparison | None = None
    candidate: ModelVersion | None = None
    already_deployed: bool = False
    environments: dict[str, Any] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.started = self.clock.now()

    def __enter__(self) -> PipelineContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server the stages started."""
        self.environments.clear()
        self.stack.close()

    def need(self, name: str) -> Any:
        """An earlier stage's result; a clear error when that stage did not run."""
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"the pipeline context has no {name}: run the stage that "
                               "makes it first")
        return value


StageFunction = Callable[[PipelineContext], StageResult]


def stage(name: str) -> Callable[[Callable[[PipelineContext], StageResult]], StageFunction]:
    """Name a stage function and time it with the context's clock."""
    def wrap(run: Callable[[PipelineContext], StageResult]) -> StageFunction:
        @functools.wraps(run)
        def timed(ctx: PipelineContext) -> StageResult:
            begin = ctx.clock.now()
            result = run(ctx)
            return replace(result, name=name, started_s=begin - ctx.started,
                           seconds=ctx.clock.now() - begin)
        timed.stage_name = name  # type: ignore[attr-defined]
        return timed
    return wrap


def result(decision: Decision, reason: str, **details: Any) -> StageResult:
    """A stage's result (name and timings are filled in by `stage`)."""
    return StageResult("", decision, reason, details=details)


def skipped_when_deployed(ctx: PipelineContext) -> StageResult | None:
    """The result of a deployment stage once the candidate turned out to be in production."""
    if ctx.already_deployed:
        return result(Decision.SKIPPED, f"{ctx.need('candidate').version} is already in "
                      "production: nothing to deploy")
    return None


# ---------------------------------------------------------------------- the stages


@stage("data")
def load_data(ctx: PipelineContext) -> StageResult:
    """Generate the monthly batches: every month but the last to train, the last to test."""
    settings = ctx.config.data
    scenario = datasets.Scenario(seed=settings.seed, months=settings.months,
                                 rows_per_month=settings.rows_per_month,
                                 concept_drift=settings.concept_drift,
                                 covariate_drift=settings.covariate_drift)
    batches = datasets.generate(scenario)
    months = list(batches)
    ctx.train = pd.concat([batches[m] for m in months[:-1]], ignore_index=True)
    ctx.test = batches[months[-1]]
    span = months[0] if len(months) == 2 else f"{months[0]}..{months[-2]}"
    return result(Decision.PASSED, f"train on {span} "
                  f"({len(ctx.train)} rows), test on {months[-1]} ({len(ctx.test)} rows)",
                  train_months=months[:-1], test_month=months[-1],
                  train_rows=len(ctx.train), test_rows=len(ctx.test))


@stage("validate")
def validate_data(ctx: PipelineContext) -> StageResult:
    """Check the training and test data against the schema (the data contract)."""
    schema = load_schema(ctx.config.schema)
    reports = {"train": validate(ctx.need("train"), schema),
               "test": validate(ctx.need("test"), schema)}
    bad = [f"{name}: {r.summary()}" for name, r in reports.items() if not r.valid]
    details = {name: r.summary() for name, r in reports.items()}
    if bad:
        return result(Decision.FAILED, "; ".join(bad), **details)
    return result(Decision.PASSED, f"both batches match {ctx.config.schema}", **details)


@stage("train")
def train_candidate(ctx: PipelineContext) -> StageResult:
    """Train the candidate on the training months (labels flipped when the knob says so)."""
    settings = ctx.config.training
    frame = ctx.need("train")
    if settings.corrupt_labels:
        frame = datasets.flip_labels(frame, settings.corrupt_labels,
                                     [ctx.config.data.seed, 7])
    trained = training.train(frame, training.load_config(settings.config))
    ctx.candidate_path = ctx.workdir / "candidate.joblib"
    trained.save(ctx.candidate_path)
    metrics = trained.metrics()
    note = (f" (teaching knob: {settings.corrupt_labels:.0%} of the labels flipped)"
            if settings.corrupt_labels else "")
    return result(Decision.PASSED, f"cross-validated accuracy "
                  f"{metrics['cv_accuracy_mean']:.3f}{note}", model=ctx.candidate_path,
                  cv_accuracy_mean=metrics["cv_accuracy_mean"],
                  corrupt_labels=settings.corrupt_labels)


@stage("evaluate")
def evaluate_candidate(ctx: PipelineContext) -> StageResult:
    """Evaluate the candidate on the test month."""
    loaded = modelstore.load_model(ctx.need("candidate_path"))
    ctx.evaluation = evaluate(loaded, ctx.need("test"))
    metrics = ctx.evaluation.to_dict()["metrics"]
    return result(Decision.PASSED, f"accuracy {metrics['accuracy']:.3f} on "
                  f"{ctx.evaluation.rows} rows of the test month", metrics=metrics,
                  sha256=loaded.sha256)


@stage("baseline")
def production_baseline(ctx: PipelineContext) -> StageResult:
    """Evaluate the model in production on the same rows; bootstrap one if there is none.

    A registry without a production model gets one first: trained on the first half of
    the first month, registered and promoted with the reason "bootstrap".
    """
    held = ctx.registry.current("production") if ctx.registry.exists() else None
    bootstrapped = held is None
    if held is None:
        held = _bootstrap(ctx)
    ctx.baseline = held
    ctx.baseline_evaluation = evaluate(ctx.registry.load(held.version), ctx.need("test"))
    accuracy = ctx.baseline_evaluation.metrics["accuracy"]
    how = "bootstrapped into production" if bootstrapped else "in production"
    return result(Decision.PASSED, f"{held.version} {how}: accuracy {accuracy:.3f} on the "
                  "same rows", version=held.version, bootstrapped=bootstrapped,
                  accuracy=accuracy)


def _bootstrap(ctx: PipelineContext) -> ModelVersion:
    first = ctx.need("train")
    first = first[first["month"] == first["month"].iloc[0]]
    trained = training.train(first.iloc[: len(first) // 2],
                             training.load_config(ctx.config.training.config))
    path = ctx.workdir / "bootstrap.joblib"
    meta = trained.save(path)
    found = ctx.registry.find(meta["sha256"]) if ctx.registry.exists() else None
    version = found or ctx.registry.register(
        path, metrics={"cv_accuracy_mean": trained.metrics()["cv_accuracy_mean"]},
        data_fingerprint=trained.training_data["sha256"], by=ctx.config.by,
        reason="bootstrap: the registry had no production model")
    ctx.registry.promote(version.version, "production", by=ctx.config.by,
                         reason="bootstrap: the first production model")
    return ctx.registry.get(version.version)


@stage("gate")
def gate(ctx: PipelineContext) -> StageResult:
    """Chapter 02's comparison against the production model on the same rows."""
    settings = ctx.config.gate
    ctx.comparison = compare(ctx.need("baseline_evaluation"), ctx.need("evaluation"),
                             min_accuracy=settings.min_accuracy,
                             max_regression=settings.max_regression, alpha=settings.alpha)
    comparison = ctx.comparison
    paired = comparison.paired_test
    details = {"gates": [g.to_dict() for g in comparison.gates],
               "deltas": comparison.to_dict()["deltas"],
               "paired_test": None if paired is None else paired.to_dict(),
               "paired_test_note": comparison.paired_test_note,
               "baseline": ctx.need("baseline").version}
    reason = "; ".join(comparison.reasons())
    return result(Decision.PASSED if comparison.passed else Decision.FAILED,
                  f"against {ctx.need('baseline').version}: {reason}", **details)


@stage("register")
def register_candidate(ctx: PipelineContext) -> StageResult:
    """Register the candidate (or find it: the same bytes registered before are reused)."""
    path = ctx.need("candidate_path")
    meta = modelstore.read_metadata(path)
    found = ctx.registry.find(meta["sha256"])
    if found is not None:
        ctx.candidate = found
        ctx.already_deployed = found.stage == "production"
        if ctx.already_deployed:
            return result(Decision.SKIPPED, f"the candidate is {found.version}, already in "
                          "production: nothing to deploy", version=found.version,
                          stage=found.stage)
        return result(Decision.PASSED, f"the candidate is {found.version} (registered "
                      f"before, now {found.stage}): tried again", version=found.version,
                      stage=found.stage)
    metrics = {k: v for k, v in ctx.need("evaluation").metrics.items()
               if isinstance(v, int | float) and math.isfinite(v)}
    ctx.candidate = ctx.registry.register(
        path, metrics=metrics, data_fingerprint=meta["training_data"]["sha256"],
        parent=ctx.need("baseline").version, by=ctx.config.by,
        reason=f"passed the gate against {ctx.need('baseline').version}")
    return result(Decision.PASSED, f"registered {ctx.candidate.version} as a candidate",
                  version=ctx.candidate.version, sha256=ctx.candidate.sha256)


def archive(ctx: PipelineContext, why: str) -> str:
    """Take a stopped candidate out of staging: it goes to archived (never left in
    staging or production); returns a note for the reason."""
    version = ctx.registry.get(ctx.need("candidate").version)
    if version.stage != "staging":
        return f"{version.version} stays {version.stage}"
    ctx.registry.promote(version.version, "archived", by=ctx.config.by, reason=why)
    return f"{version.version} archived"
