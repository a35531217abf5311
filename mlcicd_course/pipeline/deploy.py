"""The deployment stages: shadow, staging canary, smoke tests, production, watch.

Each environment (staging, production) is a router on 127.0.0.1 in front of two model
servers: the version in production and the candidate, both fetched from the registry
(sha256 checked) and the candidate's server started with that environment's teaching
knobs. An environment starts the first time a stage needs it and stops when the
context closes (`serving.lifecycle` context managers on the context's exit stack).
Every run is bounded by request counts; nothing sleeps. A stopped candidate is
archived; a production release that fails is put back: traffic to the old version
and `registry.rollback("production")`, recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from mlcicd_course import datasets
from mlcicd_course.pipeline.config import CanaryStage
from mlcicd_course.pipeline.stages import (
    Decision,
    PipelineContext,
    StageResult,
    archive,
    result,
    skipped_when_deployed,
    stage,
)
from mlcicd_course.rollout.actions import Action, SetWeights
from mlcicd_course.rollout.bluegreen import BlueGreenPhase, BlueGreenRollout
from mlcicd_course.rollout.bluegreen_config import versions
from mlcicd_course.rollout.canary import CanaryPhase, CanaryRollout
from mlcicd_course.rollout.canary_live import run_canary_live
from mlcicd_course.rollout.live import LiveRun, run_bluegreen_live, smoke_test, version_metrics
from mlcicd_course.serving.lifecycle import RunningServer, model_servers, router
from mlcicd_course.serving.loadgen import run_load, summarize

USERS = 200


@dataclass
class Environment:
    """A running environment: its router and the two versions behind it."""

    name: str
    stable: str
    candidate: str
    router: RunningServer
    shadow_log: Path | None = None

    @property
    def url(self) -> str:
        return self.router.url

    def admin(self) -> Any:
        """The router's admin client (`RouterAdmin`)."""
        return self.router.admin()


def environment(ctx: PipelineContext, name: str) -> Environment:
    """The environment `name` (staging or production), started on first use."""
    if name in ctx.environments:
        return ctx.environments[name]
    stable, candidate = ctx.need("baseline").version, ctx.need("candidate").version
    folder = ctx.workdir / name
    models = {v: ctx.registry.fetch(v, folder) for v in (stable, candidate)}
    knobs = {candidate: dict(ctx.config.knobs.get(name, {}))}
    settings: dict[str, Any] = {}
    log = None
    if name == "staging" and ctx.config.shadow.enabled:
        log = folder / "shadow.jsonl"
        log.unlink(missing_ok=True)
        settings["shadow_log"] = str(log)
    servers = ctx.stack.enter_context(model_servers(models, options=knobs))
    started = ctx.stack.enter_context(router(
        {v: s.url for v, s in servers.items()}, {stable: 100, candidate: 0},
        settings=settings))
    ctx.environments[name] = Environment(name, stable, candidate, started, log)
    return ctx.environments[name]


def request_rows(ctx: PipelineContext, n: int | None = None) -> list[dict[str, Any]]:
    """Feature rows of the test month, as /predict takes them (no target)."""
    frame = ctx.need("test").drop(columns=[datasets.TARGET])
    return frame.head(n).to_dict("records") if n else frame.to_dict("records")


def _users() -> list[str]:
    return [f"user-{i}" for i in range(USERS)]


def last_reason(run: LiveRun) -> str:
    """Why a live rollout ended where it did (its last accepted decision)."""
    accepted = [r for r in run.controller.history if r.accepted]
    return accepted[-1].reason if accepted else str(run.phase)


@stage("shadow")
def shadow(ctx: PipelineContext) -> StageResult:
    """Mirror production requests to the candidate in staging; proceed or hold."""
    from mlcicd_course.shadow.analysis import analyze
    from mlcicd_course.shadow.log import read_log, wait_for_records
    from mlcicd_course.shadow.promotion import PromotionPolicy, decide

    skip = skipped_when_deployed(ctx)
    if skip is not None:
        return skip
    settings = ctx.config.shadow
    if not settings.enabled:
        return result(Decision.SKIPPED, "shadow test switched off (shadow.enabled: false)")
    env = environment(ctx, "staging")
    admin = env.admin()
    admin.set_table({"weights": {env.stable: 100}, "mode": "mirror", "shadow": env.candidate})
    try:
        rows = request_rows(ctx)
        run_load(env.url + "/predict", [[row] for row in rows], requests=settings.requests,
                 concurrency=4)
        wait_for_records(env.shadow_log, settings.requests)
    finally:
        admin.set_table({"weights": {env.stable: 100, env.candidate: 0}, "mode": "single"})
    report = analyze(read_log(env.shadow_log))
    verdict = decide(report, PromotionPolicy(min_rows=min(200, settings.requests),
                                             min_agreement=settings.min_agreement,
                                             max_p99_ms=settings.max_p99_ms))
    details = {"report": report.to_dict(), "verdict": verdict.to_dict()}
    if verdict.proceed:
        return result(Decision.PASSED, f"{verdict.outcome}: {report.agreement.text()} "
                      "agreement", **details)
    note = archive(ctx, "held by the shadow test")
    return result(Decision.FAILED, f"{verdict.outcome}: {'; '.join(verdict.reasons)}; "
                  f"{note}", **details)


def run_canary(ctx: PipelineContext, env: Environment, settings: CanaryStage) -> LiveRun:
    """The canary release of `settings` from env's stable to its candidate, under load."""
    spec = replace(settings.config.spec, stable=env.stable, canary=env.candidate)
    live = settings.live
    admin = env.admin()
    admin.set_weights({env.stable: 100, env.candidate: 0})
    return run_canary_live(CanaryRollout(spec), admin, env.url,
                           [[row] for row in request_rows(ctx)],
                           unit_ids=_users()[: live.users] or _users(),
                           window_requests=live.window_requests, concurrency=4,
                           max_windows=live.max_windows, time_scale=live.time_scale,
                           clock=ctx.clock)


@stage("staging")
def staging(ctx: PipelineContext) -> StageResult:
    """Promote the candidate to staging and run the canary there; archive it on failure."""
    skip = skipped_when_deployed(ctx)
    if skip is not None:
        return skip
    candidate = ctx.need("candidate").version
    if ctx.registry.get(candidate).stage != "staging":
        ctx.registry.promote(candidate, "staging", by=ctx.config.by,
                             reason="passed the gate: canary in staging")
    env = environment(ctx, "staging")
    run = run_canary(ctx, env, ctx.config.staging)
    details = _run_details(run)
    if run.phase is CanaryPhase.COMPLETED:
        return result(Decision.PASSED, f"canary {candidate} promoted in staging "
                      f"({len(run.requests)} requests)", **details)
    note = archive(ctx, f"stopped by the staging canary: {last_reason(run)}")
    return result(Decision.FAILED, f"canary {run.phase}: {last_reason(run)}; {note}",
                  **details)


def _run_details(run: LiveRun) -> dict[str, Any]:
    production = run.production()
    return {"phase": str(run.phase), "requests": len(run.requests), "failed": run.failed,
            "by_version": summarize(production) if len(production) else {},
            "history": [r.to_dict() for r in run.controller.history if r.accepted]}


@stage("smoke")
def smoke(ctx: PipelineContext) -> StageResult:
    """Smoke tests of the candidate through the staging router's preview route."""
    skip = skipped_when_deployed(ctx)
    if skip is not None:
        return skip
    env = environment(ctx, "staging")
    report = smoke_test(env.url, env.candidate, request_rows(ctx, ctx.config.smoke_rows))
    details = report.to_dict()
    if report.failed:
        note = archive(ctx, "failed the smoke tests")
        return result(Decision.FAILED, f"{report.failed} of {report.total} smoke tests "
                      f"failed: {'; '.join(report.failures)}; {note}", **details)
    return result(Decision.PASSED, f"{report.total} smoke tests passed", **details)


@stage("production")
def production(ctx: PipelineContext) -> StageResult:
    """Release to production (blue-green or canary); roll back when it fails."""
    skip = skipped_when_deployed(ctx)
    if skip is not None:
        return skip
    candidate = ctx.registry.get(ctx.need("candidate").version)
    if candidate.stage != "staging":
        return result(Decision.FAILED, f"{candidate.version} is {candidate.stage}, not in "
                      "staging: only a version that passed staging goes to production "
                      "(run the staging part first)", stage=candidate.stage)
    env = environment(ctx, "production")
    settings = ctx.config.production
    promoted: list[bool] = []

    def on_action(action: Action) -> None:
        if isinstance(action, SetWeights) and action.weights.get(env.candidate) == 100 \
                and not promoted:
            ctx.registry.promote(env.candidate, "production", by=ctx.config.by,
                                 reason=f"{settings.strategy}: all traffic switched")
            promoted.append(True)

    if settings.strategy == "bluegreen":
        config = versions(settings.bluegreen, env.stable, env.candidate)
        run = run_bluegreen_live(
            BlueGreenRollout(config.spec), env.admin(), env.url,
            [[row] for row in request_rows(ctx)],
            smoke_rows=request_rows(ctx, ctx.config.smoke_rows),
            window_requests=config.live.window_requests,
            preview_requests=config.live.preview_requests, concurrency=config.live.concurrency,
            max_windows=config.live.max_windows, unit_ids=_users(), clock=ctx.clock,
            on_action=on_action)
        done = run.phase is BlueGreenPhase.COMPLETED
    else:
        canary = settings.canary
        assert canary is not None  # the config requires it for strategy: canary
        run = run_canary(ctx, env, canary)
        done = run.phase is CanaryPhase.COMPLETED
        if done and not promoted:
            on_action(SetWeights({env.stable: 0, env.candidate: 100}))
    details = {"strategy": settings.strategy, **_run_details(run)}
    if done:
        return result(Decision.PASSED, f"{settings.strategy}: {env.candidate} serves all "
                      f"production traffic ({last_reason(run)})", **details)
    why = f"{settings.strategy} {run.phase}: {last_reason(run)}"
    if promoted:
        return rollback(ctx, env, why, details)
    env.admin().set_weights({env.stable: 100, env.candidate: 0})
    note = archive(ctx, f"stopped in production: {why}")
    return result(Decision.FAILED, f"{why}; {env.stable} kept production; {note}", **details)


def rollback(ctx: PipelineContext, env: Environment, why: str,
             details: dict[str, Any]) -> StageResult:
    """Put production back: all traffic to the old version, and the registry's rollback."""
    env.admin().set_weights({env.stable: 100, env.candidate: 0})
    change = ctx.registry.rollback("production", by=ctx.config.by, reason=why)
    return replace(result(Decision.FAILED, f"{why}; rolled back to {change.version}",
                          **details, registry=change.to_dict()), rolled_back=True)


@stage("watch")
def watch(ctx: PipelineContext) -> StageResult:
    """Watch the new version under production traffic for a bounded number of requests;
    roll back at the first window over the limits."""
    skip = skipped_when_deployed(ctx)
    if skip is not None:
        return skip
    settings = ctx.config.watch
    if settings.requests == 0:
        return result(Decision.SKIPPED, "watch switched off (watch.requests: 0)")
    env = environment(ctx, "production")
    payloads = [[row] for row in request_rows(ctx)]
    windows: list[dict[str, Any]] = []
    sent = 0
    while sent < settings.requests:
        size = min(settings.window_requests, settings.requests - sent)
        frame: pd.DataFrame = run_load(env.url + "/predict", payloads, requests=size,
                                       concurrency=4, unit_ids=_users()).requests
        sent += size
        metrics = version_metrics(summarize(frame)).get(env.candidate)
        window = {"window": len(windows), "requests": size,
                  **({} if metrics is None else metrics.to_dict())}
        windows.append(window)
        breach = _breach(metrics, settings.max_error_rate, settings.max_p99_ms)
        if breach:
            return rollback(ctx, env, f"watch window {window['window']}: {breach}",
                            {"windows": windows})
    return result(Decision.PASSED, f"{sent} requests in {len(windows)} windows within the "
                  f"limits (error rate <= {settings.max_error_rate:g}, p99 <= "
                  f"{settings.max_p99_ms:g} ms)", windows=windows)


def _breach(metrics: Any, max_error_rate: float, max_p99_ms: float) -> str:
    if metrics is None:
        return "the new version answered no request"
    if metrics.error_rate > max_error_rate:
        return f"error rate {metrics.error_rate:.3f} > {max_error_rate:g}"
    if metrics.latency_p99_ms > max_p99_ms:
        return f"p99 latency {metrics.latency_p99_ms:.1f} ms > {max_p99_ms:g} ms"
    return ""
