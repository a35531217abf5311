"""The ML Test Score rubric: 28 tests, half/full points, final = minimum of sections."""

from __future__ import annotations

import pytest

from mlcicd_course import mltestscore
from mlcicd_course.errors import UserInputError


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


def test_course_coverage_names_real_tests_and_levels():
    ids = {t.id for t in mltestscore.TESTS}
    assert set(mltestscore.COURSE_COVERAGE) <= ids
    assert {level for level, _ in mltestscore.COURSE_COVERAGE.values()} <= {"manual",
                                                                            "automated"}
    rows = mltestscore.coverage_rows()
    assert len(rows) == 28
    assert sum(r["level"] == "none" for r in rows) == 28 - len(mltestscore.COURSE_COVERAGE)


def test_the_course_pipeline_scores_its_weakest_section():
    result = mltestscore.score(mltestscore.course_assessment())
    # data: 1 + 0.5 + 1; model: 0.5 + 0.5 + 1 + 1; infra: 4 automated + 3 manual;
    # monitor: 0.5 + 1 + 1 + 0.5
    assert result.sections == {"data": 2.5, "model": 3.0, "infra": 5.5, "monitor": 3.0}
    assert result.final == 2.5 and result.weakest == ["data"]
