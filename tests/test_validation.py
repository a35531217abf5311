"""Data validation: schema inference, YAML round trip, every check, the reviewed schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import datasets, validation
from mlcicd_course.errors import UserInputError
from mlcicd_course.validation import ColumnSchema, Schema
from tests.conftest import ROOT

SCHEMA_PATH = ROOT / "config" / "schema.yaml"


def checks_of(report: validation.ValidationReport) -> set[tuple[str, str]]:
    return {(f.column, f.check) for f in report.failures}


@pytest.fixture(scope="module")
def reviewed() -> Schema:
    return validation.load_schema(SCHEMA_PATH)


@pytest.fixture(scope="module")
def month() -> pd.DataFrame:
    """One clean default month, written to CSV and read back (as the CLI sees it)."""
    return datasets.generate_month(datasets.Scenario(), 4)


def small() -> pd.DataFrame:
    return pd.DataFrame({
        "id": range(1, 21),
        "score": [0.5, 1.5, 2.5, np.nan] * 5,
        "count": [1, 2, 3, 4] * 5,
        "colour": ["red", "blue", "red", "green"] * 5,
    })


# ----------------------------------------------------------------------------- inference


def test_inference_reads_dtypes_ranges_categories_and_keys():
    schema = validation.infer_schema(small())
    ident, score, count, colour = schema.columns
    assert (ident.dtype, ident.unique, ident.min, ident.max) == ("int", True, 1, 20)
    assert (score.dtype, score.min, score.max) == ("float", 0.5, 2.5)
    # 5 of 20 missing = 25%, doubled = 50%
    assert score.max_missing_rate == 0.5
    assert (count.dtype, count.unique, count.allowed) == ("int", False, None)
    assert colour.dtype == "str" and colour.allowed == ("blue", "green", "red")
    assert (schema.min_rows, schema.max_rows, schema.max_duplicate_rate) == (2, 200, 0.0)


def test_an_int_column_with_blanks_is_still_inferred_as_int():
    column = validation.infer_column(pd.Series([1.0, np.nan, 3.0, 4.0], name="n"))
    assert column.dtype == "int"
    # 1 of 4 missing: 2 * 0.25 = 0.5
    assert column.max_missing_rate == 0.5


def test_missing_rate_is_rounded_up_to_two_decimals():
    series = pd.Series([np.nan] + [1.0] * 299, name="x")
    # 1/300 = 0.00333, doubled 0.00667, rounded up to 0.01
    assert validation.infer_column(series).max_missing_rate == 0.01


def test_many_distinct_texts_get_no_allowed_set():
    series = pd.Series([f"v{i % 25}" for i in range(100)], name="code")
    assert validation.infer_column(series, max_categories=20).allowed is None
    assert len(validation.infer_column(series, max_categories=30).allowed) == 25


def test_duplicate_share_is_doubled_and_rounded_up():
    frame = pd.concat([small(), small().iloc[:1]], ignore_index=True)
    # 1 duplicated row of 21 = 0.0476, doubled 0.0952 -> 0.096
    assert validation.infer_schema(frame).max_duplicate_rate == 0.096


def test_duplicate_share_is_capped_at_one():
    frame = pd.DataFrame({"a": [np.nan] * 3, "b": [np.nan] * 3})
    assert validation.infer_schema(frame).max_duplicate_rate == 1.0


def test_a_schema_its_loader_would_refuse_is_never_saved(tmp_path):
    bad = Schema(columns=(ColumnSchema("a", "int"),), max_duplicate_rate=1.334)
    with pytest.raises(UserInputError, match=r"max_duplicate_rate must be a number between 0 "
                                             r"and 1, got 1\.334"):
        validation.save_schema(bad, tmp_path / "s.yaml")
    assert not (tmp_path / "s.yaml").exists()


def test_inference_refuses_empty_tables():
    with pytest.raises(UserInputError, match="without rows"):
        validation.infer_schema(small().iloc[:0])


def test_the_inferred_draft_is_valid_on_its_own_reference():
    frame = small()
    assert validation.validate(frame, validation.infer_schema(frame)).valid


# ------------------------------------------------------------------------- YAML round trip


def test_yaml_round_trip_keeps_every_field(tmp_path):
    schema = Schema(
        columns=(
            ColumnSchema("a", "int", 0.1, min=0, max=5, unique=True, description="an id"),
            ColumnSchema("b", "float", min=-1.5, max=None, mostly=0.99),
            ColumnSchema("c", "str", allowed=("x", "yes", "0"), required=False),
            ColumnSchema("d", "str", pattern=r"\d{4}-\d{2}"),
            ColumnSchema("e", "bool"),
        ),
        min_rows=1, max_rows=None, max_duplicate_rate=0.01, allow_extra_columns=True,
        description="test")
    path = validation.save_schema(schema, tmp_path / "s.yaml", header="line one\nline two")
    text = path.read_text()
    assert text.startswith("# line one\n# line two\nschema_version: 1\n")
    assert validation.load_schema(path) == schema


def test_the_shipped_schema_round_trips(reviewed, tmp_path):
    assert validation.load_schema(validation.save_schema(reviewed, tmp_path / "s.yaml")) == reviewed


@pytest.mark.parametrize("data, message", [
    ({"columns": {}}, "'columns' is empty"),
    ([1, 2], "expected a mapping"),
    ({"columns": {"a": {"dtype": "int"}}, "colour": 1}, "unknown key 'colour'"),
    ({"schema_version": 2, "columns": {"a": {"dtype": "int"}}}, "schema_version 2"),
    ({"columns": {"a": {"dtype": "integer"}}}, "dtype must be one of"),
    ({"columns": {"a": {"dtype": "int", "min": 5, "max": 1}}}, "min 5 is larger than max 1"),
    ({"columns": {"a": {"dtype": "str", "min": 1}}}, "only to int and float"),
    ({"columns": {"a": {"dtype": "int", "min": "low"}}}, "min must be a number"),
    ({"columns": {"a": {"dtype": "int", "max_missing_rate": 1.5}}}, "between 0 and 1"),
    ({"columns": {"a": {"dtype": "str", "pattern": "(["}}}, "not a valid regular expression"),
    ({"columns": {"a": {"dtype": "str", "allowed": []}}}, "non-empty list"),
    ({"columns": {"a": {"dtype": "int", "mostly": 0}}}, "mostly must be above 0"),
    ({"columns": {"a": {"dtype": "int", "unique": "yes"}}}, "unique must be true or false"),
    ({"columns": {"a": {"dtype": "int", "colour": 1}}}, "column a: unknown key 'colour'"),
    ({"rows": {"min": 10, "max": 5}, "columns": {"a": {"dtype": "int"}}}, "rows.min 10"),
    ({"rows": {"min": -1}, "columns": {"a": {"dtype": "int"}}}, "rows.min must be"),
    ({"allow_extra_columns": "no", "columns": {"a": {"dtype": "int"}}}, "true or false"),
])
def test_malformed_schemas_are_refused_with_a_clear_message(data, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        validation.schema_from_dict(data, source="s.yaml")


def test_unreadable_schema_files(tmp_path):
    with pytest.raises(UserInputError, match="schema file not found"):
        validation.load_schema(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [unclosed\n")
    with pytest.raises(UserInputError, match="not valid YAML"):
        validation.load_schema(bad)


# ----------------------------------------------------------------------------- the checks


def test_every_failure_is_reported_at_once_with_examples_and_rows():
    schema = Schema(columns=(
        ColumnSchema("x", "int", min=0, max=10),
        ColumnSchema("c", "str", allowed=("a", "b")),
    ))
    frame = pd.DataFrame({"x": [1, -3, 20, 4, 30], "c": ["a", "b", "z", "a", "y"]})
    report = validation.validate(frame, schema)
    assert not report.valid
    assert [(f.column, f.check, f.count) for f in report.failures] == [
        ("x", "min", 1), ("x", "max", 2), ("c", "allowed", 2)]
    high = report.failures[1]
    assert high.examples == (20, 30) and high.rows == (2, 4)
    assert high.found == "2 of 5 values above (highest 30)"
    assert report.failures[2].found == "2 of 5 values not allowed (y, z)"
    # row count, 5 on x (present, dtype, missing, min, max), 4 on c, no extra columns,
    # duplicate rows
    assert report.summary() == "invalid: 3 of 12 checks failed (c, x)"


def test_mostly_tolerates_a_share_of_odd_values():
    schema = Schema(columns=(ColumnSchema("x", "float", max=1.0, mostly=0.99),))
    values = np.linspace(0, 1, 200)
    one_bad = pd.DataFrame({"x": np.r_[values[:-1], 5.0]})      # 1 of 200 = 0.5%
    three_bad = pd.DataFrame({"x": np.r_[values[:-3], 5, 6, 7]})  # 3 of 200 = 1.5%
    assert validation.validate(one_bad, schema).valid
    failures = validation.validate(three_bad, schema).failures
    assert [(f.check, f.count) for f in failures] == [("max", 3)]
    assert failures[0].expected == "<= 1 for at least 99% of values"


def test_missing_rate_is_checked_against_the_maximum():
    schema = Schema(columns=(ColumnSchema("x", "float", max_missing_rate=0.25),))
    ok = pd.DataFrame({"x": [1.0, np.nan, 2.0, 3.0]})            # 25%
    too_many = pd.DataFrame({"x": [1.0, np.nan, np.nan, 3.0]})   # 50%
    assert validation.validate(ok, schema).valid
    report = validation.validate(too_many, schema)
    # the two blank rows are also identical rows
    assert checks_of(report) == {("x", "max_missing_rate"), ("(table)", "duplicate_rows")}
    failure = report.failures[0]
    assert (failure.check, failure.count, failure.rows) == ("max_missing_rate", 2, (1, 2))
    assert failure.found == "50.0% missing (2 of 4 rows)"


def test_dtype_failures_name_the_offending_values():
    schema = Schema(columns=(ColumnSchema("n", "int"), ColumnSchema("f", "float"),
                             ColumnSchema("s", "str"), ColumnSchema("b", "bool")))
    frame = pd.DataFrame({"n": ["1", "2 months", "3"], "f": [1.5, 2.0, 2.5],
                          "s": [1, 2, 3], "b": ["true", "maybe", "0"]})
    report = validation.validate(frame, schema)
    by_column = {f.column: f for f in report.failures}
    assert set(by_column) == {"n", "s", "b"}
    assert by_column["n"].examples == ("2 months",) and by_column["n"].rows == (1,)
    assert by_column["s"].found.startswith("only numbers")
    assert by_column["b"].examples == ("maybe",)


def test_int_means_whole_numbers_even_when_stored_as_float():
    schema = Schema(columns=(ColumnSchema("n", "int", max_missing_rate=0.5),))
    assert validation.validate(pd.DataFrame({"n": [1.0, np.nan, 3.0]}), schema).valid
    (failure,) = validation.validate(pd.DataFrame({"n": [1.0, 2.5, 3.0]}), schema).failures
    assert failure.check == "dtype" and failure.examples == (2.5,)


def test_range_checks_still_run_on_the_numbers_of_a_column_with_text():
    schema = Schema(columns=(ColumnSchema("n", "int", min=0),))
    report = validation.validate(pd.DataFrame({"n": ["5", "-2", "x"]}), schema)
    assert [(f.check, f.count) for f in report.failures] == [("dtype", 1), ("min", 1)]


def test_columns_missing_extra_and_optional():
    schema = Schema(columns=(ColumnSchema("a", "int"), ColumnSchema("label", "int",
                                                                     required=False)))
    report = validation.validate(pd.DataFrame({"b": [1], "c": [2]}), schema)
    assert checks_of(report) == {("a", "present"), ("(table)", "no_extra_columns")}
    extra = next(f for f in report.failures if f.check == "no_extra_columns")
    assert extra.examples == ("b", "c")
    relaxed = Schema(columns=schema.columns, allow_extra_columns=True)
    assert validation.validate(pd.DataFrame({"a": [1], "z": [0]}), relaxed).valid


def test_pattern_unique_duplicates_and_row_count():
    schema = Schema(columns=(ColumnSchema("id", "int", unique=True),
                             ColumnSchema("month", "str", pattern=r"\d{4}-\d{2}")),
                    min_rows=5, max_rows=10)
    frame = pd.DataFrame({"id": [1, 2, 2, 3], "month": ["2026-01", "2026-1", "2026-1", "x"]})
    report = validation.validate(frame, schema)
    assert checks_of(report) == {("(table)", "row_count"), ("id", "unique"),
                                 ("month", "pattern"), ("(table)", "duplicate_rows")}
    unique = next(f for f in report.failures if f.check == "unique")
    assert (unique.count, unique.rows) == (2, (1, 2))
    dup = next(f for f in report.failures if f.check == "duplicate_rows")
    assert (dup.count, dup.rows) == (1, (2,))


def test_report_as_dict_and_frame():
    schema = Schema(columns=(ColumnSchema("x", "int", max=1),))
    report = validation.validate(pd.DataFrame({"x": [0, 5]}), schema)
    data = report.to_dict()
    assert data["valid"] is False and data["rows"] == 2 and data["columns"] == ["x"]
    assert data["failures"][0] == {"column": "x", "check": "max", "expected": "<= 1",
                                   "found": "1 of 2 values above (highest 5)", "count": 1,
                                   "examples": [5], "rows": [1]}
    assert list(report.to_frame()["check"]) == ["max"]


def test_with_column_changes_one_column_only():
    schema = validation.infer_schema(small())
    changed = schema.with_column("count", max=99)
    assert changed.column("count").max == 99 and schema.column("count").max == 4
    assert changed.column("score") == schema.column("score")
    with pytest.raises(KeyError):
        schema.with_column("nope", max=1)


# ------------------------------------------------------------ the reviewed running-example schema


@pytest.mark.parametrize("seed", [42, 7, 2024])
def test_shipped_schema_accepts_every_clean_month(reviewed, seed):
    batches = datasets.generate(datasets.Scenario(seed=seed, months=12))
    for month, frame in batches.items():
        report = validation.validate(frame, reviewed)
        assert report.valid, f"{month}: {[f.line() for f in report.failures]}"


def test_shipped_schema_accepts_drift_and_a_few_blank_usage_values(reviewed):
    scenario = datasets.Scenario(months=4, covariate_drift=1.0, concept_drift=1.0,
                                 missing_rate=0.02, rows_per_month=3000)
    for frame in datasets.generate(scenario).values():
        assert validation.validate(frame, reviewed).valid


EXPECTED_FAILURES = {
    "out_of_range": {("tenure_months", "min"), ("monthly_charges", "max")},
    "duplicates": {("customer_id", "unique"), ("(table)", "duplicate_rows")},
    "unseen_category": {("contract", "allowed"), ("region", "allowed")},
    "wrong_dtype": {("tenure_months", "dtype")},
    "missing_burst": {("monthly_charges", "max_missing_rate")},
}


@pytest.mark.parametrize("fault", datasets.FAULTS)
def test_shipped_schema_rejects_each_data_quality_fault(reviewed, month, tmp_path, fault):
    faulty = datasets.inject_faults(month, (fault,), seed=[42, 4, 1])
    path = tmp_path / "batch.csv"
    path.write_text(faulty.to_csv(index=False))
    report = validation.validate_file(path, reviewed)
    assert checks_of(report) == EXPECTED_FAILURES[fault]


def test_all_faults_together_are_all_reported(reviewed, month):
    faulty = datasets.inject_faults(month, datasets.FAULTS, seed=[42, 4, 1])
    found = checks_of(validation.validate(faulty, reviewed))
    # Later faults may rewrite a duplicated row; the unique customer_id still catches it.
    expected = set().union(*EXPECTED_FAILURES.values())
    assert expected - {("(table)", "duplicate_rows")} <= found


def test_draft_schema_needs_review(month):
    """The unreviewed draft flags a clean later month: why config/schema.yaml was reviewed."""
    reference = pd.concat(list(datasets.generate(datasets.Scenario(months=3)).values()))
    draft = validation.infer_schema(reference)
    found = checks_of(validation.validate(month, draft))
    assert ("month", "allowed") in found and ("customer_id", "max") in found


def test_validate_file_reports_unreadable_files(tmp_path, reviewed):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserInputError, match="empty"):
        validation.validate_file(empty, reviewed)


def test_pandera_translation_agrees_on_clean_and_faulty_batches(reviewed, month):
    import pandera.pandas as pa

    schema = validation.to_pandera(reviewed)
    assert schema.validate(month, lazy=True).shape == month.shape
    faulty = datasets.inject_faults(month, ("unseen_category", "missing_burst"), seed=1)
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema.validate(faulty, lazy=True)
    columns = set(info.value.failure_cases["column"].dropna())
    assert columns == {"contract", "region", "monthly_charges"}
