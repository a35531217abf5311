"""Model performance: minimum metrics, a simpler baseline, slices, prediction distribution."""

from __future__ import annotations

import pytest


def test_minimum_accuracy(result, min_accuracy):
    accuracy = result.metrics["accuracy"]
    assert accuracy >= min_accuracy, f"accuracy {accuracy:.3f} < {min_accuracy:.3f}"


@pytest.mark.parametrize("metric, minimum", [
    ("precision", 0.80), ("recall", 0.80), ("f1", 0.80), ("roc_auc", 0.90),
])
def test_minimum_metrics(result, metric, minimum):
    value = result.metrics[metric]
    assert value is not None, f"{metric} could not be computed"
    assert value >= minimum, f"{metric} {value:.3f} < {minimum:.3f}"


def test_beats_predicting_the_majority_class(result):
    """ML Test Score model-5: a simpler model is not better."""
    majority = max(result.positive_rate_true, 1 - result.positive_rate_true)
    accuracy = result.metrics["accuracy"]
    assert accuracy >= majority + 0.15, (
        f"accuracy {accuracy:.3f} is within 0.15 of always predicting the majority "
        f"class ({majority:.3f})")


def test_accuracy_on_every_slice(result):
    """ML Test Score model-6: quality is sufficient on all important slices."""
    weak = [f"{s.column}={s.value}: {s.accuracy:.3f} on {s.rows} rows"
            for s in result.slices if not s.small and s.accuracy < 0.80]
    assert not weak, "slices below 0.80 accuracy: " + "; ".join(weak)


def test_prediction_distribution_is_close_to_the_truth(result):
    predicted, true = result.positive_rate_pred, result.positive_rate_true
    assert predicted == pytest.approx(true, abs=0.10), (
        f"predicts churn for {predicted:.1%} of customers, {true:.1%} churned")
