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
"manual" or "none"); `CREDITS` says which of this course's artifacts cover which
test, and `course_assessment` turns the credits whose artifacts exist and were executed
into a self-assessment of the course's running-example pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
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

@dataclass(frozen=True)
class Credit:
    """One course artifact that covers one test: "automated" when the artifact runs the
    test on every change or schedule, "manual" when it shows how to do it by hand."""

    test: str
    level: str
    artifact: str
    how: str


#: The course's credit, one entry per (test, artifact). An entry counts only once its
#: artifact exists in the course folder and, for a notebook, has been executed (see
#: `executed`). A new chapter adds its own credit here: one line naming its notebook, test
#: file or workflow, e.g. Credit("infra-6", "manual", "notebooks/05_canary.ipynb", "...").
CREDITS: tuple[Credit, ...] = (
    Credit("data-1", "automated", ".github/workflows/data-validation.yml",
           "config/schema.yaml checked by `mlcicd validate` on every batch (chapter 02)"),
    Credit("data-6", "manual", "notebooks/02_testing_ml_systems.ipynb",
           "features are lists in config/model.yaml: adding one is a one-line reviewed "
           "change (chapter 02)"),
    Credit("data-7", "automated", "examples/churn_model_tests/test_preprocessing.py",
           "preprocessing unit tests in examples/churn_model_tests (chapter 02)"),
    Credit("model-1", "manual", ".github/workflows/pr-model-comparison.yml",
           "config/model.yaml is versioned and changed by pull request (chapters 02-03)"),
    Credit("model-4", "manual", "notebooks/01_why_ml_cicd_and_drift.ipynb",
           "accuracy over monthly batches in the monitoring loop (chapter 01)"),
    Credit("model-5", "automated", "examples/churn_model_tests/test_model.py",
           "the example suite requires beating a majority-class baseline (chapter 02)"),
    Credit("model-6", "automated", "examples/churn_model_tests/test_model.py",
           "per-slice accuracy tests and per-slice metrics in `mlcicd evaluate` "
           "(chapter 02)"),
    Credit("infra-1", "automated", "examples/churn_model_tests/test_integration.py",
           "retraining gives the same model sha256 (chapter 02 tests)"),
    Credit("infra-2", "automated", "examples/churn_model_tests/test_preprocessing.py",
           "pipeline and config unit tests (chapter 02)"),
    Credit("infra-3", "automated", "examples/churn_model_tests/test_integration.py",
           "end-to-end pipeline tests: impute, scale, model (chapter 02)"),
    Credit("infra-4", "automated", ".github/workflows/pr-model-comparison.yml",
           "`mlcicd compare` gates before a model is accepted (chapters 02-03)"),
    Credit("infra-5", "manual", "notebooks/02_testing_ml_systems.ipynb",
           "one row traced through the pipeline's steps (chapter 02)"),
    Credit("infra-7", "manual", "notebooks/04_blue_green_deployment.ipynb",
           "blue-green switch back to the previous version (chapter 04)"),
    Credit("infra-6", "manual", "notebooks/05_canary_releases.ipynb",
           "canary steps judged against stable, rolled back automatically (chapter 05)"),
    Credit("infra-7", "manual", "notebooks/05_canary_releases.ipynb",
           "a failing canary's weight set back to 0 by the controller (chapter 05)"),
    Credit("model-2", "manual", "notebooks/07_ab_testing.ipynb",
           "offline accuracy beside an online experiment's business outcome (chapter 07)"),
    Credit("monitor-1", "manual", "notebooks/02_testing_ml_systems.ipynb",
           "library versions recorded beside each model and differences reported on load "
           "(chapter 02)"),
    Credit("monitor-2", "automated", ".github/workflows/data-validation.yml",
           "the same schema validates training data and new batches; drift report "
           "(chapters 01-02)"),
    Credit("monitor-4", "automated", ".github/workflows/scheduled-training.yml",
           "scheduled retraining workflow (chapter 03)"),
    Credit("monitor-6", "manual", "notebooks/05_canary_releases.ipynb",
           "the canary's p99 latency and error rate judged against stable's (chapter 05)"),
    Credit("monitor-7", "manual", "notebooks/06_shadow_deployment.ipynb",
           "a shadow's accuracy against the served model's once labels arrive (chapter 06)"),
    Credit("monitor-7", "manual", "notebooks/01_why_ml_cicd_and_drift.ipynb",
           "accuracy on labelled monthly batches in the monitoring loop (chapter 01)"),
)


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


def executed(root: Path, artifact: str) -> bool:
    """Whether `artifact` (a path relative to the course folder `root`) exists and, for a
    notebook, is stored executed: a code cell has an execution count. (That it ran top to
    bottom is the notebook hygiene tests' job; asking only this much lets a chapter that
    scores the course count itself while it is being re-executed.)"""
    path = root / artifact
    if not path.is_file():
        return False
    if path.suffix != ".ipynb":
        return True
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    code = [c for c in cells if c.get("cell_type") == "code" and "".join(c.get("source", ""))]
    return any(c.get("execution_count") for c in code)


def course_credits(root: Path, credits: Iterable[Credit] = CREDITS) -> list[Credit]:
    """The credits whose artifact exists (and was executed) under the course folder."""
    return [c for c in credits if executed(root, c.artifact)]


def course_assessment(root: Path, credits: Iterable[Credit] = CREDITS) -> dict[str, str]:
    """The course's running-example pipeline as a self-assessment: the best level each
    test earns from the credited artifacts."""
    assessment: dict[str, str] = {}
    for credit in course_credits(root, credits):
        if POINTS[credit.level] > POINTS[assessment.get(credit.test, "none")]:
            assessment[credit.test] = credit.level
    return assessment


def coverage_rows(root: Path, credits: Iterable[Credit] = CREDITS) -> list[dict[str, str]]:
    """One row per test: id, section, title, level and the credited course artifacts."""
    credited = course_credits(root, credits)
    assessment = course_assessment(root, credited)
    rows = []
    for test in TESTS:
        how = "; ".join(c.how for c in credited if c.test == test.id) or "not covered"
        rows.append({"id": test.id, "section": test.section, "title": test.title,
                     "level": assessment.get(test.id, "none"), "covered_by": how})
    return rows
