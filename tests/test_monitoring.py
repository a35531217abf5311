"""The monitoring loop: policies, delayed labels, retraining windows, history, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlcicd_course import datasets
from mlcicd_course import monitoring as mon
from mlcicd_course.drift import detect_drift
from mlcicd_course.errors import UserInputError


class ConstantModel:
    """Predicts "no churn" for everyone; remembers which months it was trained on."""

    def __init__(self, months: tuple[str, ...]):
        self.months = months

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(features), dtype=int)


class RecordingTrainer:
    def __init__(self):
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, frame: pd.DataFrame) -> ConstantModel:
        months = tuple(sorted(frame["month"].unique())) if "month" in frame else ("initial",)
        self.calls.append(months)
        return ConstantModel(months)


class RecordingPolicy:
    """Retrains at the given month indexes; keeps every observation it saw."""

    def __init__(self, retrain_at: set[int] = frozenset()):
        self.retrain_at = retrain_at
        self.seen: list[mon.Observation] = []

    @property
    def name(self) -> str:
        return "recording"

    def decide(self, observation: mon.Observation) -> mon.Decision:
        self.seen.append(observation)
        return mon.Decision(len(self.seen) - 1 in self.retrain_at, "test")


def small_run(months: int = 6, **settings) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    scenario = datasets.Scenario(seed=3, months=months, rows_per_month=200, **settings)
    return datasets.sample(400, seed=[3, 0]), datasets.generate(scenario)


def logistic(frame: pd.DataFrame):
    numeric = make_pipeline(StandardScaler())
    pre = make_column_transformer((numeric, list(datasets.NUMERIC_FEATURES)),
                                  (OneHotEncoder(handle_unknown="ignore"),
                                   list(datasets.CATEGORICAL_FEATURES)))
    model = make_pipeline(pre, LogisticRegression(max_iter=1000))
    return model.fit(frame[list(datasets.FEATURES)], frame[datasets.TARGET])


def test_never_trains_once_and_measures_every_month():
    initial, batches = small_run()
    trainer = RecordingTrainer()
    history = mon.MonitoringLoop(trainer, mon.NeverRetrain()).run(initial, batches)
    assert trainer.calls == [("initial",)]
    assert [s.month for s in history.steps] == list(batches)
    assert {s.model_version for s in history.steps} == {1}
    assert history.retrain_months == []
    # The constant model's accuracy is the share of non-churners of each month.
    for step, frame in zip(history.steps, batches.values(), strict=True):
        assert step.accuracy == pytest.approx(1 - frame[datasets.TARGET].mean())
    assert history.mean_accuracy == pytest.approx(np.mean([s.accuracy for s in history.steps]))


def test_schedule_retrains_on_the_latest_labelled_months():
    initial, batches = small_run(months=7)
    months = list(batches)
    trainer = RecordingTrainer()
    loop = mon.MonitoringLoop(trainer, mon.ScheduledRetrain(every=2), label_delay=1,
                              train_window=2)
    history = loop.run(initial, batches)
    # Served 2 months at month index 1, 3, 5; labels lag one month.
    assert history.retrain_months == [months[1], months[3], months[5]]
    assert trainer.calls == [("initial",), (months[0],), (months[1], months[2]),
                             (months[3], months[4])]
    assert [s.model_version for s in history.steps] == [1, 1, 2, 2, 3, 3, 4]
    assert history.steps[2].trained_on == ()
    assert history.steps[3].trained_on == (months[1], months[2])


def test_policy_only_sees_labels_that_have_arrived():
    initial, batches = small_run(months=6)
    months = list(batches)
    policy = RecordingPolicy(retrain_at={2})
    mon.MonitoringLoop(RecordingTrainer(), policy, label_delay=2).run(initial, batches)
    seen = [(o.accuracy_month, o.months_since_training) for o in policy.seen]
    assert seen == [
        (None, 1), (None, 2), (months[0], 3),  # labels of month 1 arrive at month 3
        (None, 1), (None, 2),  # the new model (serving from month 4) has no labels yet
        (months[3], 3),
    ]
    assert all(o.accuracy is None for o in policy.seen if o.accuracy_month is None)


def test_retrain_requests_without_labelled_data_or_at_the_end_are_refused_with_reasons():
    initial, batches = small_run(months=3)
    policy = RecordingPolicy(retrain_at={0, 2})
    history = mon.MonitoringLoop(RecordingTrainer(), policy).run(initial, batches)
    assert history.retrain_months == []
    assert history.steps[0].reason == "test; no labelled month to retrain on yet"
    assert history.steps[2].reason == "test; last month, nothing left to serve"
    # With labels at once (delay 0) the current month can be used.
    history = mon.MonitoringLoop(RecordingTrainer(), RecordingPolicy({0}), label_delay=0) \
        .run(initial, batches)
    assert history.steps[0].trained_on == (list(batches)[0],)


def test_drift_policy_fires_on_covariate_shift_while_accuracy_holds():
    # Covariate drift only: the rule is the same, so the model's accuracy holds,
    # yet a drift trigger retrains: drift is not performance.
    initial, batches = small_run(months=6, covariate_drift=1.5, drift_start=3)
    never = mon.MonitoringLoop(logistic, mon.NeverRetrain()).run(initial, batches)
    on_drift = mon.MonitoringLoop(logistic, mon.DriftTriggeredRetrain()).run(initial, batches)
    assert never.steps[-1].drift_verdict == "drift"
    assert "monthly_charges" in never.steps[-1].drifted
    assert min(s.accuracy for s in never.steps) > 0.83
    assert len(on_drift.retrain_months) >= 2
    first = next(s for s in on_drift.steps if s.retrain)
    assert first.reason.startswith("drift in ") and first.drift_verdict == "drift"


def test_performance_policy_recovers_from_concept_drift():
    scenario = datasets.Scenario(seed=5, months=10, rows_per_month=500, concept_drift=1.0,
                                 drift_start=3)
    initial, batches = datasets.sample(1500, seed=[5, 0]), datasets.generate(scenario)
    never = mon.MonitoringLoop(logistic, mon.NeverRetrain()).run(initial, batches)
    perf = mon.MonitoringLoop(logistic, mon.PerformanceTriggeredRetrain(0.85)).run(
        initial, batches)
    assert never.steps[-1].accuracy < 0.80  # the old rule no longer holds
    assert perf.retrain_months, "accuracy fell below 0.85, so the policy must retrain"
    first = perf.retrain_months[0]
    step = next(s for s in perf.steps if s.month == first)
    assert step.seen_accuracy < 0.85 and "< 0.85" in step.reason
    assert perf.steps[-1].accuracy > never.steps[-1].accuracy + 0.05
    table = mon.compare_policies([never, perf])
    assert list(table.index) == ["never", "accuracy < 0.85"]
    assert table.loc["never", "retrains"] == 0
    assert table.loc["never", "months_below_0.85"] == never.months_below(0.85)


def test_any_of_combines_reasons():
    policy = mon.AnyOf((mon.ScheduledRetrain(every=5), mon.PerformanceTriggeredRetrain(0.9)))
    assert policy.name == "every 5 months or accuracy < 0.90"
    initial, batches = small_run(months=2)
    drift_report = detect_drift(initial, batches["2026-01"], columns=datasets.FEATURES)
    quiet = mon.Observation("m", 1, drift_report, 0.95, "m0")
    assert policy.decide(quiet) == mon.Decision(
        False, "1 of 5 months served; accuracy 0.950 (m0) >= 0.90")
    loud = mon.Observation("m", 5, drift_report, 0.80, "m0")
    assert policy.decide(loud) == mon.Decision(
        True, "5 of 5 months served; accuracy 0.800 (m0) < 0.90")


def test_history_exports_and_no_sleeping(monkeypatch):
    def no_sleep(seconds):
        raise AssertionError("the monitoring loop must not sleep")

    monkeypatch.setattr("time.sleep", no_sleep)
    initial, batches = small_run(months=4)
    history = mon.MonitoringLoop(RecordingTrainer(), mon.ScheduledRetrain(2)).run(initial, batches)
    frame = history.to_frame()
    assert list(frame["month"]) == list(batches) and frame["retrain"].sum() == 1
    assert {"model_version", "drift_verdict", "max_effect", "accuracy", "seen_accuracy",
            "reason", "trained_on"} <= set(frame.columns)
    text = json.dumps(history.to_dict(), allow_nan=False)
    assert json.loads(text)["policy"] == "every 2 months"
    summary = history.summary(0.5)
    assert summary["retrains"] == 1 and summary["months_below_0.50"] == history.months_below(0.5)


@pytest.mark.parametrize("settings, message", [
    ({"label_delay": -1}, "label_delay"),
    ({"train_window": 0}, "train_window"),
    ({"features": ("nope",)}, "missing column(s): nope"),
])
def test_bad_settings_are_user_errors(settings, message):
    initial, batches = small_run(months=2)
    loop = mon.MonitoringLoop(RecordingTrainer(), mon.NeverRetrain(), **settings)
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loop.run(initial, batches)


def test_bad_inputs_are_user_errors():
    initial, batches = small_run(months=2)
    loop = mon.MonitoringLoop(RecordingTrainer(), mon.NeverRetrain())
    with pytest.raises(UserInputError, match="no batches"):
        loop.run(initial, {})
    with pytest.raises(UserInputError, match="2026-01 has no rows"):
        loop.run(initial, {"2026-01": batches["2026-01"].iloc[:0]})
    with pytest.raises(UserInputError, match="schedule must be at least 1"):
        mon.ScheduledRetrain(0)
    with pytest.raises(UserInputError, match="min_accuracy"):
        mon.PerformanceTriggeredRetrain(1.5)
