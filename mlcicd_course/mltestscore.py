"""The ML Test Score (Breck, Cai, Nielsen, Salib, Sculley, IEEE Big Data 2017).

A rubric of 28 tests in four sections of seven: data, model development, ML
infrastructure, monitoring. Scoring (the 2017 paper; the 2016 workshop draft scored
differently)::

    each test: 0 not done, 0.5 done manually with the result documented and shared,
               1 automated and run repeatedly
    section total = sum of its seven tests (0 to 7)
    final score   = min(section totals)

The minimum, because every section matters: a system with perfect data tests and no
monitoring scores 0. `score` scores a self-assessment (test id -> "automated",
"manual" or "none"); `COURSE_COVERAGE` says which of this course's artifacts cover
which test, and `course_assessment` turns that into a self-assessment of the
course's running-example pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlcicd_course.errors import UserInputError

SECTIONS = {
    "data": "Tests for features and data",
    "model": "Tests for model development",
    "infra": "Tests for ML infrastructure",
    "monitor": "Monitoring tests for ML",
}
POINTS = {"none": 0.0, "manual": 0.5, "automated": 1.0}


@dataclass(frozen=True)
class MLTest:
    """One of the 28 tests."""

    id: str
    section: str
    number: int
    title: str


_TITLES = {
    "data": (
        "Feature expectations are captured in a schema",
        "All features are beneficial",
        "No feature's cost is too much",
        "Features adhere to meta-level requirements",
        "The data pipeline has appropriate privacy controls",
        "New features can be added quickly",
        "All input feature code is tested",
    ),
    "model": (
        "Model specs are reviewed and submitted",
        "Offline and online metrics correlate",
        "All hyperparameters have been tuned",
        "The impact of model staleness is known",
        "A simpler model is not better",
        "Model quality is sufficient on all important data slices",
        "The model has been tested for considerations of inclusion",
    ),
    "infra": (
        "Training is reproducible",
        "Model specs are unit tested",
        "The ML pipeline is integration tested",
        "Model quality is validated before attempting to serve it",
        "The model allows debugging by observing step-by-step computation on a single example",
        "Models are tested via a canary process before they enter production serving",
        "Models can be quickly and safely rolled back to a previous serving version",
    ),
    "monitor": (
        "Dependency changes result in notification",
        "Data invariants hold in training and serving inputs",
        "Training and serving features compute the same values",
        "Models are not too stale",
        "The model is numerically stable",
        "The model has not regressed in training speed, serving latency, throughput or RAM",
        "The model has not regressed in prediction quality on served data",
    ),
}

TESTS: tuple[MLTest, ...] = tuple(
    MLTest(f"{section}-{i}", section, i, title)
    for section, titles in _TITLES.items() for i, title in enumerate(titles, start=1)
)

# Which artifacts of this course cover a test, and how: "automated" when a command or
# test runs it on every change or schedule, "manual" when the course shows how to do it
# by hand. Tests the course does not cover are absent.
COURSE_COVERAGE: dict[str, tuple[str, str]] = {
    "data-1": ("automated", "config/schema.yaml checked by `mlcicd validate` (chapter 02)"),
    "data-6": ("manual", "features are lists in config/model.yaml: adding one is a "
                         "one-line reviewed change (chapter 02)"),
    "data-7": ("automated", "preprocessing unit tests in examples/churn_model_tests "
                            "(chapter 02)"),
    "model-1": ("manual", "config/model.yaml is versioned and changed by pull request "
                          "(chapters 02-03)"),
    "model-4": ("manual", "accuracy over monthly batches in the monitoring loop "
                          "(chapter 01)"),
    "model-5": ("automated", "the example suite requires beating a majority-class baseline "
                             "(chapter 02)"),
    "model-6": ("automated", "per-slice accuracy tests and per-slice metrics in "
                             "`mlcicd evaluate` (chapter 02)"),
    "infra-1": ("automated", "retraining gives the same model sha256 (chapter 02 tests)"),
    "infra-2": ("automated", "pipeline and config unit tests (chapter 02)"),
    "infra-3": ("automated", "end-to-end pipeline tests: impute, scale, model (chapter 02)"),
    "infra-4": ("automated", "`mlcicd compare` gates before a model is accepted "
                             "(chapters 02-03)"),
    "infra-5": ("manual", "one row traced through the pipeline's steps (chapter 02)"),
    "infra-6": ("manual", "canary release (chapter 05)"),
    "infra-7": ("manual", "blue-green switch back to the previous version (chapter 04)"),
    "monitor-1": ("manual", "library versions recorded beside each model and differences "
                            "reported on load (chapter 02)"),
    "monitor-2": ("automated", "the same schema validates training data and new batches; "
                               "drift report (chapters 01-02)"),
    "monitor-4": ("automated", "scheduled retraining workflow (chapter 03)"),
    "monitor-7": ("manual", "accuracy on labelled monthly batches in the monitoring loop "
                            "(chapter 01)"),
}


@dataclass(frozen=True)
class Score:
    """Points per test and section, and the final score (minimum of the sections)."""

    points: dict[str, float]
    sections: dict[str, float]

    @property
    def final(self) -> float:
        """The minimum of the four section totals."""
        return min(self.sections.values())

    @property
    def weakest(self) -> list[str]:
        """The section(s) that set the final score."""
        return [s for s, total in self.sections.items() if total == self.final]

    def interpretation(self) -> str:
        """What the final score means, paraphrasing the paper's bands."""
        final = self.final
        if final == 0:
            return "more of a research project than a production system"
        if final <= 1:
            return "not untested, but serious holes in reliability are possible"
        if final <= 2:
            return "a first pass at production readiness; more investment may be needed"
        if final <= 3:
            return "reasonably tested; more of the tests could be automated"
        if final <= 5:
            return "strong automated testing and monitoring, fit for mission-critical systems"
        return "exceptional automated testing and monitoring"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"points": dict(self.points), "sections": dict(self.sections),
                "final": self.final, "weakest": self.weakest,
                "interpretation": self.interpretation()}


def score(assessment: Mapping[str, str | float]) -> Score:
    """Score a self-assessment: test id -> "automated" / "manual" / "none" (or 1 / 0.5 / 0).

    Tests left out count as "none". Unknown ids or levels raise UserInputError.
    """
    known = {t.id for t in TESTS}
    unknown = sorted(set(assessment) - known)
    if unknown:
        raise UserInputError(f"unknown ML Test Score test {unknown[0]!r}; ids look like "
                             "data-1 ... monitor-7")
    points = {}
    for test in TESTS:
        level = assessment.get(test.id, "none")
        if isinstance(level, str):
            if level not in POINTS:
                raise UserInputError(f"{test.id}: level must be one of {', '.join(POINTS)}, "
                                     f"got {level!r}")
            points[test.id] = POINTS[level]
        elif not isinstance(level, bool) and level in POINTS.values():
            points[test.id] = float(level)
        else:
            raise UserInputError(f"{test.id}: points must be 0, 0.5 or 1, got {level!r}")
    sections = {s: sum(points[t.id] for t in TESTS if t.section == s) for s in SECTIONS}
    return Score(points=points, sections=sections)


def course_assessment() -> dict[str, str]:
    """The course's running-example pipeline as a self-assessment (from COURSE_COVERAGE)."""
    return {test_id: level for test_id, (level, _) in COURSE_COVERAGE.items()}


def coverage_rows() -> list[dict[str, str]]:
    """One row per test: id, section, title, level and the covering course artifact."""
    return [{"id": t.id, "section": t.section, "title": t.title,
             "level": COURSE_COVERAGE.get(t.id, ("none", ""))[0],
             "covered_by": COURSE_COVERAGE.get(t.id, ("none", "not covered"))[1]}
            for t in TESTS]
