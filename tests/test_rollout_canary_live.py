"""The canary controller on the live router: one set of real servers, short bounded runs."""

from __future__ import annotations

import pytest

from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.canary import CanaryPhase, CanaryRollout, CanarySpec, step_weights
from mlcicd_course.rollout.canary_live import run_canary_live
from mlcicd_course.rollout.guardrail import Guardrail
from mlcicd_course.rollout.providers import scrape
from mlcicd_course.serving.lifecycle import model_servers, router
from tests.serving_support import rows, save_fast_model

START = {"stable": 100, "good": 0, "bad": 0}
USERS = [f"user-{i}" for i in range(200)]
EXCESS = MetricSpec("errors", "error_rate_excess", failure_condition=Condition(">", 0.05),
                    interval_s=0.05, failure_limit=1, min_sample=15)


@pytest.fixture(scope="module")
def live_router(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canary-live")
    models = {name: save_fast_model(folder / f"{name}.joblib", 1)
              for name in ("stable", "good", "bad")}
    with model_servers(models, options={"bad": {"error_rate": 0.3, "seed": 2}}) as servers, \
            router({n: s.url for n, s in servers.items()}, START) as started:
        yield started


def release(canary: str, started, **options) -> tuple:
    started.admin().set_weights(START)
    spec = CanarySpec(stable="stable", canary=canary, steps=step_weights([20, 50], 0.05),
                      analysis=AnalysisSpec((EXCESS,)), guardrail=Guardrail(min_sample=30))
    run = run_canary_live(CanaryRollout(spec), started.admin(), started.url, [rows(1)],
                          unit_ids=USERS, window_requests=120, concurrency=4, max_windows=10,
                          **options)
    return run, started.admin().weights()


def test_a_good_canary_is_promoted_through_the_router(live_router):
    run, weights = release("good", live_router)
    assert run.phase is CanaryPhase.COMPLETED and weights["good"] == 100
    assert run.failed == 0
    seen = run.requests.groupby("window")["version"].apply(lambda v: (v == "good").mean())
    # from none (before the first tick, a quarter into window 0) to all of the traffic,
    assert seen.iloc[0] < 0.25 and seen.iloc[-1] > 0.8   # promoted a quarter into the last


def test_a_bad_canary_is_rolled_back_and_users_do_not_flip(live_router):
    # judged this time from the router's own metrics page, not the load generator's view
    routers_counters = scrape(live_router.url + "/router/metrics", "router")
    run, weights = release("bad", live_router, provider=routers_counters)
    assert run.phase is CanaryPhase.ABORTED
    assert (weights["stable"], weights["bad"]) == (100, 0)
    judged = run.controller.state.background.results["errors"][-1]
    assert judged.value > 0.05 and judged.sample >= 15     # bad's excess over stable
    served = run.requests[run.requests["version"] != ""]
    assert (served["version"] == "bad").any()
    # until the abort, the weight only grew: a user once on the canary stays on it
    aborted_in = run.ticks.loc[run.ticks["to"] == "Aborted", "window"].iloc[0]
    during = served[served["window"] < aborted_in].sort_values("t")
    for _, versions in during.groupby("unit_id")["version"]:
        seen = versions.tolist()
        if "bad" in seen:
            assert "stable" not in seen[seen.index("bad"):]
