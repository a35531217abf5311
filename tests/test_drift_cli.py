"""`mlcicd drift`: exit codes 0 / 1 / 2, reports written, one-line errors, nothing clobbered."""

from __future__ import annotations

import json

import pytest

from mlcicd_course import cli, datasets
from mlcicd_course.drift import detect_drift
from mlcicd_course.fileio import read_csv

IDS = "customer_id,month"


@pytest.fixture
def batches(tmp_path):
    """A reference month, a month like it, a drifted month and a faulty one, as CSV files."""
    scenario = datasets.Scenario(months=4, rows_per_month=600, covariate_drift=1.0,
                                 drift_start=4, faults=("missing_burst",), fault_months=(3,))
    datasets.write_dataset(scenario, tmp_path / "data")
    names = ["reference", "same", "faulty", "drifted"]
    return {name: tmp_path / "data" / f"{scenario.label(i)}.csv"
            for i, name in enumerate(names, start=1)}


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["drift", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_no_drift_exits_0_and_prints_the_table(batches, capsys):
    code, out, err = run(capsys, batches["reference"], batches["same"], "--ignore", IDS)
    assert code == 0, err
    assert out.startswith("no drift: 0 of 7 tested columns drifted")
    assert "monthly_charges" in out and "rule: Dataset drift when any tested column" in out
    assert err == ""


def test_drift_exits_1_and_writes_json_and_markdown(batches, tmp_path, capsys):
    json_path, md_path = tmp_path / "out" / "drift.json", tmp_path / "drift.md"
    code, out, _ = run(capsys, batches["reference"], batches["drifted"], "--ignore", IDS,
                       "--json", json_path, "--markdown", md_path)
    assert code == 1
    assert out.startswith("drift: ") and "monthly_charges" in out.splitlines()[0]
    data = json.loads(json_path.read_text())
    expected = detect_drift(read_csv(batches["reference"]), read_csv(batches["drifted"]),
                            ignore=tuple(IDS.split(",")))
    assert data == json.loads(expected.to_json())
    assert md_path.read_text() == expected.to_markdown()


def test_missing_burst_is_reported_as_drift(batches, capsys):
    code, out, _ = run(capsys, batches["reference"], batches["faulty"], "--columns",
                       "monthly_charges,contract")
    assert code == 1
    assert "1 of 2 tested columns drifted (monthly_charges)" in out


def test_columns_alpha_correction_and_share_options(batches, tmp_path, capsys):
    json_path = tmp_path / "r.json"
    code, _, _ = run(capsys, batches["reference"], batches["drifted"], "--columns",
                     "tenure_months,region", "--alpha", "0.01", "--json", json_path)
    data = json.loads(json_path.read_text())
    assert code == 0 and [f["feature"] for f in data["features"]] == ["tenure_months", "region"]
    assert data["options"]["alpha"] == 0.01
    # Uncorrected p < 0.05: 4 of 7 columns (57%) drift, contract (p = 0.039) by chance.
    args = (batches["reference"], batches["drifted"], "--ignore", IDS, "--correction", "none")
    assert run(capsys, *args, "--drift-share", "0.3")[0] == 1
    code, out, _ = run(capsys, *args, "--drift-share", "0.6")
    assert code == 0 and out.startswith("no drift: 4 of 7 tested columns drifted")


@pytest.mark.parametrize("make_args, message", [
    (lambda b, t: [t / "nope.csv", b["same"]], "reference file not found"),
    (lambda b, t: [b["reference"], t], "current path is a folder"),
    (lambda b, t: [b["reference"], b["same"], "--columns", "nope"],
     "column 'nope' is not in the reference data"),
    (lambda b, t: [b["reference"], b["same"], "--alpha", "2"], "alpha must be between 0 and 1"),
    (lambda b, t: [b["reference"], b["same"], "--ignore", "zz"], "'zz'"),
    (lambda b, t: [b["reference"], b["same"], "--json", t], "--json is a folder"),
    (lambda b, t: [b["reference"], b["same"], "--markdown", t], "--markdown is a folder"),
])
def test_bad_input_exits_2_with_one_line(batches, tmp_path, capsys, make_args, message):
    code, out, err = run(capsys, *make_args(batches, tmp_path))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert err.startswith("mlcicd drift: error: ")
    assert out == ""


def test_unreadable_csv_files_exit_2(tmp_path, batches, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"a,b\n1,2\n\xff\xfe,\x00\n")
    for path, message in ((empty, "current file is empty"), (broken, "not a readable CSV")):
        code, _, err = run(capsys, batches["reference"], path)
        assert code == 2 and message in err


def test_header_only_batch_is_inconclusive_and_clobbers_nothing(batches, tmp_path, capsys):
    header_only = tmp_path / "header.csv"
    header_only.write_text(batches["reference"].read_text().splitlines()[0] + "\n")
    old_report = tmp_path / "report.json"
    old_report.write_text("{}\n")
    code, _, err = run(capsys, batches["reference"], header_only, "--json", old_report)
    assert code == 2
    assert "no column could be tested" in err and "0 in the current data" in err
    assert old_report.read_text() == "{}\n"


def test_subprocess_exit_codes_without_traceback(batches, run_cli):
    result = run_cli("drift", batches["reference"], batches["drifted"], "--ignore", IDS)
    assert result.returncode == 1 and result.stderr == ""
    result = run_cli("drift", batches["reference"])
    assert result.returncode == 2 and "required: CURRENT.csv" in result.stderr
    result = run_cli("drift", batches["reference"], "missing.csv")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "mlcicd drift: error: current file not found: missing.csv"


def test_no_column_in_common_names_the_files_and_their_columns(tmp_path, capsys):
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text("a,b\n1,2\n")
    right.write_text("c\n3\n")
    code, out, err = run(capsys, left, right)
    assert code == 2 and out == ""
    assert err == (f"mlcicd drift: error: {left} vs {right}: the reference and current data "
                   "have no column in common (reference: a, b; current: c)\n")


def test_a_schema_change_exits_1_and_says_so(batches, tmp_path, capsys):
    current = read_csv(batches["same"])
    changed = tmp_path / "changed.csv"
    current.drop(columns="region").assign(tenure_months="unknown").to_csv(changed, index=False)
    code, out, _ = run(capsys, batches["reference"], changed, "--ignore", IDS)
    assert code == 1
    assert out.startswith("schema change: 0 of 5 tested columns drifted; 2 skipped ")
    assert out.splitlines()[0].endswith("; schema changed: tenure_months, region")
