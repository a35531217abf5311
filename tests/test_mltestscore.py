"""The ML Test Score rubric: 28 tests, half/full points, final = minimum of sections."""

from __future__ import annotations

import json

import pytest

from mlcicd_course import mltestscore
from mlcicd_course.errors import UserInputError
from tests.conftest import ROOT


def test_28_tests_seven_per_section_with_unique_ids():
    tests = mltestscore.TESTS
    assert len(tests) == 28 and len({t.id for t in tests}) == 28
    for section in mltestscore.SECTIONS:
        numbers = [t.number for t in tests if t.section == section]
        assert numbers == list(range(1, 8)), section
    assert tests[0].title == "Feature expectations are captured in a schema"
    assert tests[-1].id == "monitor-7"


def test_nothing_done_scores_zero():
    result = mltestscore.score({})
    assert result.final == 0 and set(result.sections.values()) == {0}
    assert result.interpretation() == "more of a research project than a production system"


def test_everything_automated_scores_seven():
    result = mltestscore.score({t.id: "automated" for t in mltestscore.TESTS})
    assert result.sections == {"data": 7, "model": 7, "infra": 7, "monitor": 7}
    assert result.final == 7


def test_worked_example_final_is_the_weakest_section():
    assessment = {
        "data-1": "automated", "data-7": "automated", "data-2": "manual",        # 2.5
        "model-1": "manual", "model-5": "automated", "model-6": 1,              # 2.5
        "infra-1": "automated", "infra-2": "automated", "infra-3": "automated",
        "infra-4": "automated",                                                 # 4
        "monitor-2": "manual", "monitor-7": 0.5,                                # 1
    }
    result = mltestscore.score(assessment)
    assert result.sections == {"data": 2.5, "model": 2.5, "infra": 4.0, "monitor": 1.0}
    assert result.final == 1.0 and result.weakest == ["monitor"]
    assert result.points["data-2"] == 0.5 and result.points["data-3"] == 0
    assert result.to_dict()["final"] == 1.0


def test_a_tie_names_every_weakest_section():
    result = mltestscore.score({"data-1": "manual", "model-1": "manual", "infra-1": "manual",
                                "monitor-1": "automated"})
    assert result.final == 0.5 and result.weakest == ["data", "model", "infra"]


@pytest.mark.parametrize("final, words", [
    (0.5, "serious holes"), (1.0, "serious holes"), (1.5, "first pass"), (2.0, "first pass"),
    (3.0, "reasonably tested"), (5.0, "mission-critical"), (5.5, "exceptional"),
])
def test_interpretation_bands(final, words):
    score = mltestscore.Score(points={}, sections={s: final for s in mltestscore.SECTIONS})
    assert words in score.interpretation()


@pytest.mark.parametrize("assessment, message", [
    ({"data-8": "automated"}, "unknown ML Test Score test 'data-8'"),
    ({"data-1": "sometimes"}, "level must be one of none, manual, automated"),
    ({"data-1": 2}, "points must be 0, 0.5 or 1"),
    ({"data-1": True}, "points must be 0, 0.5 or 1"),
])
def test_bad_assessments_are_refused(assessment, message):
    with pytest.raises(UserInputError, match=message):
        mltestscore.score(assessment)


def test_course_credits_name_real_tests_levels_and_artifacts():
    ids = {t.id for t in mltestscore.TESTS}
    assert {c.test for c in mltestscore.CREDITS} <= ids
    assert {c.level for c in mltestscore.CREDITS} <= {"manual", "automated"}
    missing = [c.artifact for c in mltestscore.CREDITS
               if not mltestscore.executed(ROOT, c.artifact)]
    assert not missing, f"credited artifacts that do not exist or were not executed: {missing}"
    rows = mltestscore.coverage_rows(ROOT)
    assert len(rows) == 28
    covered = {c.test for c in mltestscore.CREDITS}
    assert sum(r["level"] == "none" for r in rows) == 28 - len(covered)


def test_the_course_pipeline_scores_its_weakest_section():
    result = mltestscore.score(mltestscore.course_assessment(ROOT))
    # data: 1 + 0.5 + 1; model: 0.5 + 0.5 + 0.5 + 1 + 1; infra: 4 automated + 3 manual;
    # monitor: 0.5 + 1 + 1 + 0.5 + 0.5
    assert result.sections == {"data": 2.5, "model": 3.5, "infra": 5.5, "monitor": 3.5}
    assert result.final == 2.5 and result.weakest == ["data"]


def _notebook(path, execution_counts):
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [{"cell_type": "markdown", "source": "# title"}]
    cells += [{"cell_type": "code", "source": "1", "execution_count": n} for n in execution_counts]
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")


def test_only_existing_and_executed_artifacts_earn_credit(tmp_path):
    credits = (
        mltestscore.Credit("infra-6", "manual", "notebooks/05_canary.ipynb", "canary"),
        mltestscore.Credit("infra-7", "manual", "notebooks/04_blue_green.ipynb", "switch"),
        mltestscore.Credit("data-1", "automated", "config/schema.yaml", "schema"),
        mltestscore.Credit("data-1", "manual", "notebooks/02.ipynb", "by hand"),
        mltestscore.Credit("model-5", "automated", "tests/test_absent.py", "absent"),
    )
    _notebook(tmp_path / "notebooks/04_blue_green.ipynb", [None, None])   # never run
    _notebook(tmp_path / "notebooks/02.ipynb", [1, 2])
    (tmp_path / "config").mkdir()
    (tmp_path / "config/schema.yaml").write_text("columns: {}\n", encoding="utf-8")
    assert mltestscore.course_assessment(tmp_path, credits) == {"data-1": "automated"}
    _notebook(tmp_path / "notebooks/04_blue_green.ipynb", [1, 2])
    assert mltestscore.course_assessment(tmp_path, credits) == {"data-1": "automated",
                                                                 "infra-7": "manual"}
    rows = {r["id"]: r for r in mltestscore.coverage_rows(tmp_path, credits)}
    assert rows["data-1"]["covered_by"] == "schema; by hand"
    assert rows["infra-6"] == {**rows["infra-6"], "level": "none", "covered_by": "not covered"}


def test_a_broken_notebook_earns_no_credit(tmp_path):
    (tmp_path / "chapter.ipynb").write_text("{not json", encoding="utf-8")
    assert not mltestscore.executed(tmp_path, "chapter.ipynb")
