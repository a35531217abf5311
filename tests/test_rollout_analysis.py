"""Analysis: measurement phases, metric limits, run precedence, scheduling. Pure, no clock."""

from __future__ import annotations

import pytest

from mlcicd_course.rollout.analysis import (
    PHASE_ORDER,
    AnalysisPhase,
    AnalysisRun,
    AnalysisSpec,
    Condition,
    Measurement,
    MetricCounts,
    MetricSpec,
    assess_metric,
    assess_run,
    evaluate,
    next_due,
    worst,
)
from mlcicd_course.rollout.observations import Observations, SmokeReport, VersionMetrics

S, F, INC, E = (AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE,
              AnalysisPhase.ERROR)
LE_1PC = Condition("<=", 0.01)
GT_5PC = Condition(">", 0.05)


def ms(*phases: AnalysisPhase) -> tuple[Measurement, ...]:
    return tuple(Measurement(at=float(i), phase=p, value=0.0, sample=100, message="")
                 for i, p in enumerate(phases))


def metric(**kw) -> MetricSpec:
    return MetricSpec(**{"name": "errors", "query": "error_rate", "success_condition": LE_1PC,
                         **kw})


def test_phase_order_is_argo_precedence_and_worst_uses_it():
    assert [str(p) for p in PHASE_ORDER] == [
        "Successful", "Running", "Pending", "Inconclusive", "Error", "Failed"]
    assert worst([S, AnalysisPhase.RUNNING]) is AnalysisPhase.RUNNING
    assert worst([INC, E, S]) is E
    assert worst([E, F]) is F
    assert worst([]) is S


@pytest.mark.parametrize(("success", "failure", "value", "expected"), [
    (LE_1PC, None, 0.005, S),       # only success: holds -> Successful
    (LE_1PC, None, 0.02, F),        # only success: does not hold -> Failed
    (None, GT_5PC, 0.02, S),        # only failure: does not hold -> Successful
    (None, GT_5PC, 0.10, F),        # only failure: holds -> Failed
    (LE_1PC, GT_5PC, 0.005, S),     # both: success holds
    (LE_1PC, GT_5PC, 0.10, F),      # both: failure holds
    (LE_1PC, GT_5PC, 0.02, INC),      # both: neither holds -> Inconclusive
    (None, None, 0.5, S),           # no conditions
])
def test_evaluate_conditions_row_by_row(success, failure, value, expected):
    spec = MetricSpec("m", "error_rate", success_condition=success, failure_condition=failure)
    phase, message = evaluate(spec, value, sample=1000)
    assert phase is expected
    assert f"{value:g}" in message


def test_no_data_is_an_error_and_a_small_sample_is_inconclusive_never_a_pass():
    spec = metric(min_sample=100)
    assert evaluate(spec, None, 0) == (E, "no data")
    phase, message = evaluate(spec, 0.0, 99)     # a perfect value on too little traffic
    assert phase is INC and "99 < min_sample 100" in message
    assert evaluate(spec, 0.0, 100)[0] is S


@pytest.mark.parametrize(("limits", "phases", "expected", "reason"), [
    ({}, (), AnalysisPhase.PENDING, "no measurement yet"),
    ({"count": 3, "interval_s": 10}, (S,), AnalysisPhase.RUNNING, "1 of 3"),
    ({"count": 3, "interval_s": 10}, (S, S, S), S, "count (3) reached"),
    ({}, (S,), S, "count (1) reached"),                        # no interval: count 1
    ({"interval_s": 10}, (S, S, S, S), AnalysisPhase.RUNNING, "unlimited"),
    ({"count": 3, "interval_s": 10}, (F,), F, "failed (1) > failure_limit (0)"),
    ({"count": 3, "interval_s": 10, "failure_limit": 1}, (F, S), AnalysisPhase.RUNNING, "2 of 3"),
    ({"count": 3, "interval_s": 10, "failure_limit": 1}, (F, S, S), S, "count (3) reached"),
    ({"count": 3, "interval_s": 10, "failure_limit": 1}, (F, F), F, "failed (2) > failure_limit"),
    ({"count": 3, "interval_s": 10, "failure_limit": -1}, (F, F, F), S, "count (3) reached"),
    ({"count": 3, "interval_s": 10}, (INC,), INC, "inconclusive (1) > inconclusive_limit (0)"),
    ({"count": 3, "interval_s": 10, "inconclusive_limit": -1}, (INC, INC, INC), S, "count (3)"),
    ({"count": 3, "interval_s": 10}, (E, E, E, E), AnalysisPhase.RUNNING, "0 of 3"),
    ({"count": 3, "interval_s": 10}, (E, E, E, E, E), E, "consecutive errors (5) > "
                                                        "consecutive_error_limit (4)"),
    ({"count": 3, "interval_s": 10}, (E, E, S, E, E, E), AnalysisPhase.RUNNING, "1 of 3"),
    ({"count": 3, "interval_s": 10, "consecutive_error_limit": 0}, (E,), E, "(1) > "),
    ({"count": 3, "interval_s": 10, "consecutive_error_limit": -1}, (E,) * 9,
     AnalysisPhase.RUNNING, "0 of 3"),
    # several limits at once: the worst phase wins, whatever the order of the checks
    ({"count": 3, "interval_s": 10}, (F, INC), F, "failed (1)"),
    ({"count": 3, "interval_s": 10, "consecutive_error_limit": 0}, (F, E), F, "failed (1)"),
    ({"count": 3, "interval_s": 10, "consecutive_error_limit": 0}, (INC, E), E, "consecutive"),
])
def test_assess_metric_decision_table(limits, phases, expected, reason):
    phase, why = assess_metric(metric(**limits), ms(*phases))
    assert phase is expected
    assert reason in why


def test_errors_do_not_count_towards_count_and_consecutive_errors_reset():
    counts = MetricCounts.of(ms(E, S, E, E))
    assert (counts.count, counts.error, counts.consecutive_error) == (1, 3, 2)


def test_assess_run_takes_the_worst_metric_and_names_it():
    spec = AnalysisSpec((metric(name="a"), metric(name="b"), metric(name="c")))
    assert assess_run(spec, {"a": ms(S), "b": ms(S), "c": ms(S)})[0] is S
    phase, reason = assess_run(spec, {"a": ms(S), "b": ms(F), "c": ms(INC)})
    assert phase is F and reason.startswith("b: failed")
    # one metric without a measurement keeps the run from succeeding
    assert assess_run(spec, {"a": ms(S), "b": ms(S)})[0] is AnalysisPhase.PENDING
    assert assess_run(AnalysisSpec(), {}) == (S, "no metrics to check")


def test_next_due_follows_initial_delay_interval_and_error_retry():
    spec = metric(count=3, interval_s=30, initial_delay_s=5)
    assert next_due(spec, (), started_at=100) == 105
    assert next_due(spec, ms(S), started_at=100) == 0 + 30   # last measurement at t=0
    assert next_due(metric(), (Measurement(7, E, None, 0, "no data"),), 0) == 17
    assert next_due(spec, ms(S, S, S), 100) is None           # completed


def test_run_take_measures_only_what_is_due_and_never_mutates():
    spec = AnalysisSpec((metric(count=2, interval_s=10),
                         MetricSpec("smoke", "smoke_failed", success_condition=Condition("<=", 0))))
    run = AnalysisRun(spec, "green", started_at=0.0)
    obs = Observations(metrics={"green": VersionMetrics(200, 1, 3.0, 9.0)},
                       smoke={"green": SmokeReport(total=4)})
    assert run.take(0.0, obs) is run       # observations at the start predate the run
    after = run.take(1.0, obs)
    assert run.results == {}               # the old run is unchanged
    assert [m.value for m in after.results["errors"]] == [0.005]
    assert after.results["smoke"][0].phase is S
    assert after.take(5.0, obs) is after   # nothing due before t=11
    assert after.next_wakeup() == 11.0
    done = after.take(11.0, obs)
    assert done.assess() == (
        S, "all passed: errors: count (2) reached; smoke: count (1) reached")
    assert done.next_wakeup() is None


def test_run_without_traffic_never_succeeds():
    run = AnalysisRun(AnalysisSpec((metric(count=2, interval_s=10),)), "green", 0.0)
    idle = Observations(metrics={"green": VersionMetrics(0, 0, 0.0, 0.0)})
    for t in range(1, 100):
        run = run.take(float(t), idle)
        assert run.assess()[0] is not S
    assert run.assess()[0] is E
    assert [m.at for m in run.results["errors"]] == [1, 11, 21, 31, 41]   # 5 errors


@pytest.mark.parametrize("kwargs", [
    {"query": "nope"}, {"failure_limit": -2}, {"count": 0}, {"interval_s": -1},
])
def test_metric_spec_rejects_bad_configuration(kwargs):
    with pytest.raises(ValueError):
        metric(**kwargs)


def test_condition_and_spec_round_trip_to_plain_data():
    with pytest.raises(ValueError, match="unknown operator"):
        Condition("=>", 1)
    assert str(LE_1PC) == "result <= 0.01"
    assert metric().to_dict()["success_condition"] == "result <= 0.01"
    with pytest.raises(ValueError, match="unique"):
        AnalysisSpec((metric(), metric()))


def test_min_duration_is_the_bake_time_of_the_slowest_metric():
    spec = AnalysisSpec((metric(name="a", count=5, interval_s=60, initial_delay_s=30),
                         metric(name="b")))
    assert spec.min_duration_s() == 30 + 4 * 60
    assert AnalysisSpec().min_duration_s() == 0.0
    assert AnalysisSpec((metric(interval_s=60),)).min_duration_s() is None   # runs until stopped
