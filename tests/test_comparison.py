"""Baseline vs candidate: McNemar with worked numbers, gates, same-data checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from mlcicd_course import comparison, datasets, evaluation, modelstore, training
from mlcicd_course.errors import UserInputError


def correctness(b: int, c: int, both: int = 5, neither: int = 3) -> tuple[list, list]:
    """Arrays with b rows only the baseline gets right, c only the candidate."""
    base = [True] * b + [False] * c + [True] * both + [False] * neither
    cand = [False] * b + [True] * c + [True] * both + [False] * neither
    return base, cand


def test_mcnemar_exact_by_hand():
    # b = 10, c = 2: p = 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    test = comparison.mcnemar(*correctness(10, 2))
    assert (test.baseline_only, test.candidate_only) == (10, 2)
    assert (test.both_correct, test.both_wrong) == (5, 3)
    assert test.p_value == pytest.approx(158 / 4096, rel=1e-12)
    assert test.statistic == 2
    assert test.significant and "baseline is significantly better" in test.interpretation()


def test_mcnemar_exact_agrees_with_scipy_binomtest():
    for b, c in [(0, 7), (3, 9), (25, 40), (100, 130)]:
        expected = stats.binomtest(c, b + c, 0.5).pvalue
        assert comparison.mcnemar(*correctness(b, c)).p_value == pytest.approx(expected)


def test_mcnemar_chi_square_by_hand():
    # (|10 - 2| - 1)^2 / 12 = 49 / 12; for 1 degree of freedom P(chi2 >= x) = erfc(sqrt(x / 2))
    test = comparison.mcnemar(*correctness(10, 2), exact=False)
    assert test.statistic == pytest.approx(49 / 12)
    assert test.p_value == pytest.approx(math.erfc(math.sqrt(49 / 24)))
    assert test.method == "chi-square with continuity correction"


def test_mcnemar_edge_cases():
    same = comparison.mcnemar([True, False], [True, False])
    assert same.p_value == 1.0 and not same.significant
    balanced = comparison.mcnemar(*correctness(4, 4))
    assert balanced.p_value == 1.0  # 2 * P(X <= 4) > 1 is capped
    assert "no significant difference" in balanced.interpretation()
    with pytest.raises(ValueError, match="equally long"):
        comparison.mcnemar([True], [True, False])


def test_paired_difference_interval_by_hand():
    # b = 48, c = 12 on 1000 rows (chapter 02's forest): d = -0.036,
    # se = sqrt(60 - 36^2 / 1000) / 1000 = sqrt(58.704) / 1000, z = 1.959964
    interval = comparison.paired_difference_interval(*correctness(48, 12, both=800, neither=140))
    se = math.sqrt(58.704) / 1000
    assert interval.difference == pytest.approx(-0.036)
    assert (interval.low, interval.high) == pytest.approx((-0.036 - 1.959964 * se,
                                                           -0.036 + 1.959964 * se))
    assert interval.high == pytest.approx(-0.02098, abs=1e-5)
    assert not interval.non_inferior(0.02) and interval.non_inferior(0.06)
    assert interval.to_dict()["confidence"] == 0.95


def test_paired_difference_interval_narrows_with_confidence_and_rejects_bad_input():
    wide = comparison.paired_difference_interval(*correctness(9, 7), confidence=0.99)
    narrow = comparison.paired_difference_interval(*correctness(9, 7), confidence=0.5)
    assert wide.low < narrow.low < narrow.high < wide.high
    assert wide.low < 0 < wide.high
    with pytest.raises(ValueError, match="confidence"):
        comparison.paired_difference_interval([True], [True], confidence=1.0)
    with pytest.raises(ValueError, match="equally long"):
        comparison.paired_difference_interval([True], [True, False])
    with pytest.raises(ValueError, match="at least one row"):
        comparison.paired_difference_interval([], [])


def side(accuracy: float, sha: str = "d" * 64, **extra) -> dict:
    return {"kind": "mlcicd-evaluation", "data": {"sha256": sha, "rows": 1000},
            "metrics": {"accuracy": accuracy, "precision": 0.8, "recall": 0.7, "f1": 0.75,
                        "roc_auc": None},
            "model": {"sha256": "m" * 64}, **extra}


def test_gates_at_their_boundaries():
    # 0.90 - 0.88 is 0.020000000000000018 in floating point: still within 0.02
    result = comparison.compare(side(0.90), side(0.88), min_accuracy=0.88, max_regression=0.02)
    assert result.passed and [g.passed for g in result.gates] == [True, True]
    worse = comparison.compare(side(0.90), side(0.879), min_accuracy=0.88, max_regression=0.02)
    assert [g.passed for g in worse.gates] == [False, False]
    assert worse.reasons() == [
        "candidate accuracy 0.879 < minimum 0.880",
        "accuracy dropped by 0.021 vs the baseline (more than the allowed 0.020)"]
    assert worse.verdict == "fail"


def test_improvements_pass_and_no_gates_means_pass():
    better = comparison.compare(side(0.80), side(0.85))
    assert better.passed and better.reasons() == ["all gates passed"]
    assert better.gates[0].reason == ("accuracy changed by +0.050 vs the baseline "
                                      "(within the allowed 0.020)")
    none = comparison.compare(side(0.9), side(0.1), max_regression=None)
    assert none.passed and none.reasons() == ["no gates were set"]


def test_deltas_skip_missing_metrics():
    result = comparison.compare(side(0.9), side(0.8))
    assert result.deltas["accuracy"] == pytest.approx(-0.1)
    assert result.deltas["roc_auc"] is None


def test_different_test_data_is_refused():
    with pytest.raises(UserInputError, match="different data"):
        comparison.compare(side(0.9), side(0.9, sha="e" * 64))


@pytest.mark.parametrize("kwargs, message", [
    ({"min_accuracy": 1.5}, "minimum accuracy"),
    ({"max_regression": -0.1}, "maximum regression"),
    ({"alpha": 0}, "alpha"),
])
def test_bad_thresholds_are_refused(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        comparison.compare(side(0.9), side(0.9), **kwargs)


def test_metrics_files_skip_the_paired_test():
    result = comparison.compare(side(0.9), side(0.9))
    assert result.paired_test is None and result.paired_test_note.startswith("skipped: ")
    with pytest.raises(UserInputError, match="not an evaluation"):
        comparison.compare({"metrics": {}}, side(0.9))


# ------------------------------------------------------------------ with real models


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    scenario = datasets.Scenario()
    train = datasets.generate_month(scenario, 1)
    rng = np.random.default_rng(0)
    shuffled = train.assign(churned=rng.permutation(train["churned"].to_numpy()))
    config = training.default_config()
    paths = {}
    for name, frame, cfg in [
        ("baseline", train, config),
        ("candidate", datasets.generate_month(scenario, 2), config),
        ("shuffled", shuffled, config),
        ("forest", train, config.with_model("random_forest", n_estimators=50)),
    ]:
        paths[name] = folder / f"{name}.joblib"
        training.train(frame, cfg).save(paths[name])
    return paths, datasets.generate_month(scenario, 4), train


def evaluate(path, frame):
    return evaluation.evaluate(modelstore.load_model(path), frame)


def test_a_shuffled_label_candidate_fails(models):
    paths, test, _ = models
    base, cand = evaluate(paths["baseline"], test), evaluate(paths["shuffled"], test)
    result = comparison.compare(base, cand, min_accuracy=0.85)
    assert not result.passed and [g.passed for g in result.gates] == [False, False]
    paired = result.paired_test
    assert paired.baseline_only == int((base.correct() & ~cand.correct()).sum())
    assert paired.candidate_only == int((~base.correct() & cand.correct()).sum())
    assert paired.significant and paired.baseline_only > paired.candidate_only


def test_a_retrained_candidate_passes_and_is_not_significantly_different(models):
    paths, test, _ = models
    result = comparison.compare(evaluate(paths["baseline"], test),
                                evaluate(paths["candidate"], test), min_accuracy=0.85)
    assert result.passed
    assert not result.paired_test.significant
    json.dumps(result.to_dict())


def test_evaluation_from_model_or_metrics_file(models, tmp_path):
    paths, test, _ = models
    from_model = comparison.evaluation_from(paths["forest"], test)
    assert isinstance(from_model, evaluation.Evaluation)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(from_model.to_dict()))
    assert comparison.evaluation_from(metrics, test) == json.loads(metrics.read_text())
    with pytest.raises(UserInputError, match="computed on other data"):
        comparison.evaluation_from(metrics, test.iloc[:500])
    with pytest.raises(UserInputError, match="model's metadata file"):
        comparison.evaluation_from(modelstore.metadata_path(paths["forest"]), test)
    other = tmp_path / "other.json"
    other.write_text('{"accuracy": 0.9}')
    with pytest.raises(UserInputError, match="not a metrics file"):
        comparison.evaluation_from(other, test)


def test_warns_when_a_model_was_trained_on_the_test_data(models):
    paths, _, train = models
    result = comparison.compare(evaluate(paths["baseline"], train),
                                evaluate(paths["candidate"], train))
    assert result.warnings == ["the baseline was trained on this very test data: its "
                               "metrics are optimistic"]
