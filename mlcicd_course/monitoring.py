"""The monitoring loop: serve monthly batches, watch drift and accuracy, retrain by a policy.

`MonitoringLoop(train, policy, ...).run(initial, batches)` simulates production month
by month. For month t:

1. the current model serves batch t (its predictions are kept);
2. batch t's features are compared with the model's training data (`detect_drift`);
3. the labels of month t - label_delay arrive, so the accuracy of the predictions
   served that month is measured (labels come late in real systems);
4. the policy sees an `Observation` (month, months since training, the drift report,
   the latest measured accuracy of the current model) and returns a `Decision`;
5. on "retrain", a new model is fitted on the last `train_window` labelled months and
   serves from month t + 1; its training data becomes the drift reference.

Time is the month index: nothing sleeps and nothing reads a clock. Everything is kept
in a `MonitoringHistory` (one `MonitoringStep` per month).

What this fixes in the usual "detect drift, then retrain" script: retraining uses the
recent labelled data (retraining on the original training set cannot fix anything);
the policy only sees labels that have arrived; accuracy is measured on predictions
made before the labels were known; the policy is a parameter, so schedules, drift
triggers and performance triggers can be compared on the same months.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlcicd_course.datasets import FEATURES, TARGET
from mlcicd_course.drift import DriftOptions, DriftReport, detect_drift
from mlcicd_course.errors import UserInputError


class Predictor(Protocol):
    """Anything with `predict(features) -> labels` (a fitted scikit-learn estimator)."""

    def predict(self, features: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class Observation:
    """What a policy knows at the end of a month.

    `accuracy` is the latest measured accuracy of the model now serving (None until
    the labels of one of its months have arrived) and `accuracy_month` the month it
    was measured on.
    """

    month: str
    months_since_training: int
    drift: DriftReport
    accuracy: float | None
    accuracy_month: str | None


@dataclass(frozen=True)
class Decision:
    """A policy's answer: retrain or not, and why (one line)."""

    retrain: bool
    reason: str


class RetrainPolicy(Protocol):
    """Decides after each month whether to retrain."""

    @property
    def name(self) -> str: ...

    def decide(self, observation: Observation) -> Decision: ...


@dataclass(frozen=True)
class NeverRetrain:
    """Keep the first model for ever (the baseline every policy should beat)."""

    @property
    def name(self) -> str:
        return "never"

    def decide(self, observation: Observation) -> Decision:
        return Decision(False, "never retrains")


@dataclass(frozen=True)
class ScheduledRetrain:
    """Retrain after the model has served `every` months, whatever happens."""

    every: int = 3

    def __post_init__(self) -> None:
        if self.every < 1:
            raise UserInputError(f"retraining schedule must be at least 1 month, got {self.every}")

    @property
    def name(self) -> str:
        return f"every {self.every} months"

    def decide(self, observation: Observation) -> Decision:
        due = observation.months_since_training >= self.every
        return Decision(due, f"{observation.months_since_training} of {self.every} months served")


@dataclass(frozen=True)
class DriftTriggeredRetrain:
    """Retrain when the drift report of the month says dataset drift."""

    @property
    def name(self) -> str:
        return "on drift"

    def decide(self, observation: Observation) -> Decision:
        report = observation.drift
        if report.dataset_drift:
            return Decision(True, f"drift in {', '.join(report.drifted)}")
        return Decision(False, report.verdict)


@dataclass(frozen=True)
class PerformanceTriggeredRetrain:
    """Retrain when the latest measured accuracy falls below `min_accuracy`."""

    min_accuracy: float = 0.85

    def __post_init__(self) -> None:
        if not 0 < self.min_accuracy <= 1:
            raise UserInputError(f"min_accuracy must be in (0, 1], got {self.min_accuracy}")

    @property
    def name(self) -> str:
        return f"accuracy < {self.min_accuracy:.2f}"

    def decide(self, observation: Observation) -> Decision:
        accuracy = observation.accuracy
        if accuracy is None:
            return Decision(False, "no labelled month for this model yet")
        below = accuracy < self.min_accuracy
        sign = "<" if below else ">="
        return Decision(below, f"accuracy {accuracy:.3f} ({observation.accuracy_month}) "
                               f"{sign} {self.min_accuracy:.2f}")


@dataclass(frozen=True)
class AnyOf:
    """Retrain when any of the policies says so (e.g. drift OR low accuracy)."""

    policies: tuple[RetrainPolicy, ...]

    @property
    def name(self) -> str:
        return " or ".join(p.name for p in self.policies)

    def decide(self, observation: Observation) -> Decision:
        decisions = [p.decide(observation) for p in self.policies]
        fired = [d.reason for d in decisions if d.retrain]
        if fired:
            return Decision(True, "; ".join(fired))
        return Decision(False, "; ".join(d.reason for d in decisions))


@dataclass(frozen=True)
class MonitoringStep:
    """One month of the simulation.

    accuracy: accuracy of the predictions served this month, filled in from the labels
    (the policy only sees it `label_delay` months later). seen_accuracy: what the
    policy saw this month. max_effect: the largest effect size among tested columns.
    """

    month: str
    model_version: int
    rows: int
    drift_verdict: str
    drifted: tuple[str, ...]
    max_effect: float | None
    accuracy: float
    seen_accuracy: float | None
    seen_accuracy_month: str | None
    retrain: bool
    reason: str
    trained_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {**self.__dict__, "drifted": list(self.drifted),
                "trained_on": list(self.trained_on)}


@dataclass(frozen=True)
class MonitoringHistory:
    """Every month of a run, plus the policy's name; summaries for comparing policies."""

    policy: str
    steps: tuple[MonitoringStep, ...]

    @property
    def retrain_months(self) -> list[str]:
        """Months at the end of which a new model was trained."""
        return [s.month for s in self.steps if s.retrain]

    @property
    def mean_accuracy(self) -> float:
        """Mean served accuracy over all months."""
        return float(np.mean([s.accuracy for s in self.steps]))

    def months_below(self, threshold: float) -> int:
        """How many months were served with accuracy below `threshold`."""
        return sum(s.accuracy < threshold for s in self.steps)

    def summary(self, threshold: float = 0.85) -> dict[str, Any]:
        """Policy, number of retrains, mean and worst accuracy, months below threshold."""
        return {
            "policy": self.policy,
            "retrains": len(self.retrain_months),
            "mean_accuracy": round(self.mean_accuracy, 4),
            "worst_accuracy": round(min(s.accuracy for s in self.steps), 4),
            f"months_below_{threshold:.2f}": self.months_below(threshold),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per month."""
        frame = pd.DataFrame([s.to_dict() for s in self.steps])
        for column in ("drifted", "trained_on"):
            frame[column] = frame[column].map(", ".join)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {"policy": self.policy, "steps": [s.to_dict() for s in self.steps]}


def compare_policies(histories: Sequence[MonitoringHistory], threshold: float = 0.85
                     ) -> pd.DataFrame:
    """One row per run: retrains, mean and worst accuracy, months below `threshold`."""
    return pd.DataFrame([h.summary(threshold) for h in histories]).set_index("policy")


@dataclass
class MonitoringLoop:
    """Simulates serving, drift checks, delayed labels and retraining (see module doc).

    train: fits a model on a labelled frame (features + target) and returns something
    with `predict`. policy: a `RetrainPolicy`. label_delay: months until a month's
    labels arrive (0 = at once). train_window: how many of the latest labelled months
    a retrained model learns from. drift_options: passed to `detect_drift` (only the
    feature columns are compared).
    """

    train: Callable[[pd.DataFrame], Predictor]
    policy: RetrainPolicy
    features: tuple[str, ...] = FEATURES
    target: str = TARGET
    label_delay: int = 1
    train_window: int = 3
    drift_options: DriftOptions = field(default_factory=DriftOptions)

    def run(self, initial: pd.DataFrame, batches: Mapping[str, pd.DataFrame]) -> MonitoringHistory:
        """Train on `initial`, then go through `batches` (month -> labelled frame) in order."""
        self._check(initial, batches)
        features = list(self.features)
        options = replace(self.drift_options, columns=self.features)
        months = list(batches)
        correct: dict[str, np.ndarray] = {}
        served_by: dict[str, int] = {}
        model, version, reference = self.train(initial), 1, initial
        trained_after = -1  # index of the last month before the current model served
        steps = []
        for t, month in enumerate(months):
            batch = batches[month]
            predictions = np.asarray(model.predict(batch[features]))
            correct[month] = predictions == batch[self.target].to_numpy()
            served_by[month] = version
            report = detect_drift(reference[features], batch[features], options)

            seen, seen_month = None, None
            labelled = months[: t - self.label_delay + 1] if t >= self.label_delay else []
            own = [m for m in labelled if served_by[m] == version]
            if own:
                seen_month = own[-1]
                seen = float(np.mean(correct[seen_month]))
            observation = Observation(month, t - trained_after, report, seen, seen_month)
            decision = self.policy.decide(observation)
            retrain, reason, trained_on = decision.retrain, decision.reason, ()
            if retrain and t + 1 < len(months):
                window = labelled[-self.train_window:]
                if window:
                    trained_on = tuple(window)
                    reference = pd.concat([batches[m] for m in window], ignore_index=True)
                    model, version, trained_after = self.train(reference), version + 1, t
                else:
                    retrain, reason = False, f"{reason}; no labelled month to retrain on yet"
            elif retrain:
                retrain, reason = False, f"{reason}; last month, nothing left to serve"
            effects = [f.effect for f in report.features if f.effect is not None]
            steps.append(MonitoringStep(
                month=month,
                model_version=served_by[month],
                rows=int(len(batch)),
                drift_verdict=report.verdict,
                drifted=tuple(report.drifted),
                max_effect=max(effects) if effects else None,
                accuracy=float(np.mean(correct[month])),
                seen_accuracy=seen,
                seen_accuracy_month=seen_month,
                retrain=retrain,
                reason=reason,
                trained_on=trained_on,
            ))
        return MonitoringHistory(self.policy.name, tuple(steps))

    def _check(self, initial: pd.DataFrame, batches: Mapping[str, pd.DataFrame]) -> None:
        if self.label_delay < 0:
            raise UserInputError(f"label_delay must be >= 0, got {self.label_delay}")
        if self.train_window < 1:
            raise UserInputError(f"train_window must be >= 1, got {self.train_window}")
        if not batches:
            raise UserInputError("no batches to monitor")
        needed = [*self.features, self.target]
        for name, frame in [("initial training data", initial), *batches.items()]:
            missing = [c for c in needed if c not in frame.columns]
            if missing:
                raise UserInputError(f"{name} is missing column(s): {', '.join(missing)}")
            if len(frame) == 0:
                raise UserInputError(f"{name} has no rows")
