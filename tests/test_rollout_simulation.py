"""Simulated blue-green rollouts: seeded, instant, and consistent with the controller."""

from __future__ import annotations

import json

from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.bluegreen import BlueGreenRollout, BlueGreenSpec
from mlcicd_course.rollout.simulation import TrafficModel, VersionModel, history_table, simulate

SPEC = BlueGreenSpec(
    pre_promotion=AnalysisSpec((
        MetricSpec("smoke", "smoke_failed", success_condition=Condition("<=", 0)),
        MetricSpec("preview-errors", "error_rate", success_condition=Condition("<=", 0.02),
                   interval_s=30, count=3, min_sample=10))),
    post_promotion=AnalysisSpec((
        MetricSpec("errors", "error_rate", success_condition=Condition("<=", 0.02),
                   interval_s=60, count=5, min_sample=200),)),
    scale_down_delay_s=300)


def traffic(green: VersionModel, alarm: float | None = None) -> TrafficModel:
    return TrafficModel({"blue": VersionModel(error_rate=0.002), "green": green},
                        requests_per_s=20, preview_requests_per_s=2, alarm_error_rate=alarm)


def run(green: VersionModel, seed: int = 0, **kw):
    return simulate(BlueGreenRollout(SPEC), traffic(green, kw.pop("alarm", None)),
                    initial={"blue": 100, "green": 0}, step_s=10, seed=seed, **kw)


def test_a_good_green_completes_and_the_run_is_reproducible():
    result = run(VersionModel(error_rate=0.002, ready_after_s=20))
    assert result.final_phase == "Completed"
    tl = result.timeline
    assert tl["weight_green"].iloc[-1] == 100 and tl["weight_blue"].iloc[-1] == 0
    # production traffic reached green only after the switch, all of it afterwards
    switch = result.history_table().query("to == 'PostPromotion'")["at"].iloc[0]
    assert tl.loc[tl["t"] < switch, "weight_green"].eq(0).all()
    assert tl.loc[tl["t"] >= switch, "weight_green"].eq(100).all()
    assert run(VersionModel(error_rate=0.002, ready_after_s=20)).timeline.equals(tl)
    assert run(VersionModel(error_rate=0.002, ready_after_s=20), seed=1).timeline[
        "requests_blue"].tolist() != tl["requests_blue"].tolist()
    assert json.loads(json.dumps(result.to_dict()))["final_phase"] == "Completed"
    assert history_table(()).columns.tolist() == [
        "at", "from", "to", "event", "reason", "accepted"]


def test_a_broken_green_is_caught_on_preview_and_never_gets_production_traffic():
    result = run(VersionModel(error_rate=0.30))
    assert result.final_phase == "Aborted"
    tl = result.timeline
    assert tl["weight_green"].eq(0).all()
    assert tl["requests_green"].sum() > 0            # testers' preview traffic only
    assert tl["requests_green"].sum() < 0.2 * tl["requests_blue"].sum()


def test_a_green_that_fails_only_under_live_traffic_is_switched_back():
    # passes smoke tests and preview, but 5 % of real users' requests fail
    result = run(VersionModel(error_rate=0.0, live_error_rate=0.05))
    history = result.history_table()
    assert result.final_phase == "RolledBack"
    back = history.iloc[-1]
    assert (back["from"], back["event"]) == ("PostPromotion", "analysis_failed")
    assert result.timeline["weight_blue"].iloc[-1] == 100


def test_a_production_alarm_switches_back_before_the_analysis_ends():
    result = run(VersionModel(error_rate=0.0, live_error_rate=0.05), alarm=0.03)
    back = result.history_table().iloc[-1]
    assert (back["from"], back["event"]) == ("PostPromotion", "alarm")
    assert "green-5xx" in back["reason"]


def test_an_abort_during_the_scale_down_delay_is_instant():
    good = VersionModel(error_rate=0.002)
    done = run(good)
    stable_at = done.history_table().query("to == 'ScaleDownDelay'")["at"].iloc[0]
    result = run(good, abort_at=[stable_at + 100])
    assert result.final_phase == "RolledBack"
    back = result.history_table().iloc[-1]
    assert back["at"] == stable_at + 100 and back["from"] == "ScaleDownDelay"
    assert result.timeline["weight_blue"].iloc[-1] == 100
