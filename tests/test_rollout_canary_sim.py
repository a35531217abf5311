"""The canary simulation: seeded, vectorised, hours of traffic per call (kept short here;
bench/canary_bench.py runs the day-long ones and times them)."""

from __future__ import annotations

import pytest

from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.canary import CanaryRollout, CanarySpec, step_weights
from mlcicd_course.rollout.canary_sim import CanaryTraffic, ReleaseModel, simulate_canary
from mlcicd_course.rollout.guardrail import Guardrail

HOUR = 3600.0
ACCURACY = MetricSpec("accuracy", "accuracy_drop", failure_condition=Condition(">", 0.06),
                      interval_s=1800, initial_delay_s=2700, min_sample=100,
                      consecutive_error_limit=-1)
LATENCY = MetricSpec("p99", "latency_p99_ratio", failure_condition=Condition(">", 1.5),
                     interval_s=600, initial_delay_s=1800, failure_limit=1, min_sample=50)
SPEC = CanarySpec("v1", "v2", steps=step_weights([10, 25, 50], HOUR),
                  analysis=AnalysisSpec((ACCURACY, LATENCY)), guardrail=Guardrail(min_sample=200))
TRAFFIC = CanaryTraffic(requests_per_s=3.0, users=3000, label_delay_s=1800, step_s=300,
                        window_s=1800)


def run(canary: ReleaseModel, seed: int = 0, **options):
    traffic = CanaryTraffic(**{**TRAFFIC.to_dict(), "stable": ReleaseModel(),
                               "canary": canary, **options})
    return simulate_canary(CanaryRollout(SPEC), traffic, until_s=6 * HOUR, seed=seed)


def test_a_good_release_completes_and_the_timeline_shows_the_ramp():
    sim = run(ReleaseModel())
    assert sim.final_phase == "Completed"
    weights = sim.timeline["weight"].tolist()
    assert weights == sorted(weights) and weights[-1] == 100
    assert {10, 25, 50} <= set(weights)
    assert sim.canary_requests < sim.requests and 0 < sim.users_exposed <= 3000


@pytest.mark.parametrize(("canary", "event"), [
    (ReleaseModel(error_rate=0.03), "guardrail"),                 # more errors
    (ReleaseModel(latency_median_ms=45.0), "analysis_failed"),    # slower
    (ReleaseModel(flip_rate=0.25), "analysis_failed"),            # quietly less accurate
])
def test_a_bad_release_is_rolled_back_before_25_percent(canary, event):
    sim = run(canary)
    assert sim.final_phase == "Aborted"
    assert sim.timeline["weight"].max() < 25 and sim.timeline["weight"].iloc[-1] == 0
    assert sim.timeline["decisions"].iloc[-1].startswith(event)


def test_the_quiet_regression_has_normal_errors_and_latency():
    timeline = run(ReleaseModel(flip_rate=0.25)).timeline.dropna()
    last = timeline.iloc[-1]
    assert last["p99_canary"] == pytest.approx(last["p99_stable"], rel=0.25)
    assert last["accuracy_canary"] < last["accuracy_stable"] - 0.04


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    one, two, other = run(ReleaseModel(), seed=5), run(ReleaseModel(), seed=5), \
        run(ReleaseModel(), seed=6)
    assert one.timeline.equals(two.timeline) and one.to_dict() == two.to_dict()
    assert one.requests != other.requests


def test_stickiness_more_weight_only_adds_users():
    # with the same seed, a release stopped at 10 % exposes a subset of the users a
    # release that went on exposed: users never flip back and forth between versions
    short = simulate_canary(CanaryRollout(CanarySpec("v1", "v2", guardrail=None,
                                                     steps=step_weights([10], 6 * HOUR))),
                            TRAFFIC, until_s=2 * HOUR, seed=1)
    assert short.users_exposed <= 0.2 * TRAFFIC.users
    assert short.canary_requests / short.requests == pytest.approx(0.1, abs=0.04)
