"""`mlcicd schema infer / validate / train / evaluate / compare`: contracts and exit codes.

Exit 0 ok, 1 check failed (invalid data, a gate failed), 2 bad input with one line on
stderr and no output file touched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import cli, modelstore, reporting, validation
from tests.conftest import ROOT

CONFIG = str(ROOT / "config" / "model.yaml")
SCHEMA = str(ROOT / "config" / "schema.yaml")
SENTINEL = "previous content\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Generated months, a baseline model, a shuffled-label model, broken inputs."""
    folder = tmp_path_factory.mktemp("cli")
    assert cli.main(["data", "generate", "--out", str(folder / "data"), "--months", "4"]) == 0
    assert cli.main(["train", "--data", str(folder / "data" / "2026-01.csv"), "--config", CONFIG,
                     "--out", str(folder / "base.joblib")]) == 0
    train = pd.read_csv(folder / "data" / "2026-01.csv")
    rng = np.random.default_rng(0)
    train.assign(churned=rng.permutation(train["churned"].to_numpy())).to_csv(
        folder / "shuffled.csv", index=False)
    assert cli.main(["train", "--data", str(folder / "shuffled.csv"), "--config", CONFIG,
                     "--out", str(folder / "shuffled.joblib")]) == 0
    test = pd.read_csv(folder / "data" / "2026-04.csv")
    broken = folder / "broken"
    broken.mkdir()
    (broken / "empty.csv").write_text("")
    (broken / "header_only.csv").write_text(",".join(test.columns) + "\n")
    (broken / "malformed.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    test.drop(columns=["usage_hours"]).to_csv(broken / "missing_column.csv", index=False)
    test.assign(leak=test["churned"]).to_csv(broken / "extra_column.csv", index=False)
    test.assign(tenure_months=test["tenure_months"].astype(str) + " months").to_csv(
        broken / "wrong_dtype.csv", index=False)
    test.assign(churned=test["churned"].where(test.index % 7 != 0)).to_csv(
        broken / "nan_labels.csv", index=False)
    (broken / "bad.yaml").write_text("columns: [unclosed\n")
    shutil.copy(folder / "base.joblib", broken / "corrupt.joblib")
    shutil.copy(modelstore.metadata_path(folder / "base.joblib"),
                modelstore.metadata_path(broken / "corrupt.joblib"))
    with open(broken / "corrupt.joblib", "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01\x02")
    shutil.copy(folder / "base.joblib", broken / "no_meta.joblib")
    return folder


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_commands_are_registered():
    parser = cli.build_parser()
    names = set(next(a for a in parser._actions if a.dest == "command").choices)
    assert {"schema", "validate", "train", "evaluate", "compare"} <= names


# --------------------------------------------------------------------------- happy paths


def test_schema_infer_writes_a_draft_that_loads(work, capsys, tmp_path):
    out = tmp_path / "schema.yaml"
    code, stdout, _ = run(capsys, "schema", "infer", work / "data" / "2026-01.csv", "--out", out)
    assert code == 0 and "review it before use" in stdout
    assert out.read_text().startswith("# Draft schema inferred by `mlcicd schema infer` from "
                                      "2026-01.csv (1000 rows).")
    schema = validation.load_schema(out)
    assert [c.name for c in schema.columns][:2] == ["customer_id", "month"]


def test_validate_clean_batch_exits_0_and_writes_reports(work, capsys, tmp_path):
    code, stdout, _ = run(capsys, "validate", work / "data" / "2026-04.csv", "--schema", SCHEMA,
                          "--json", tmp_path / "v.json", "--markdown", tmp_path / "v.md")
    assert code == 0 and "valid: 1000 rows passed 44 checks" in stdout
    assert json.loads((tmp_path / "v.json").read_text())["valid"] is True
    assert (tmp_path / "v.md").read_text().startswith(reporting.VALIDATION_MARKER)


@pytest.mark.parametrize("name, check", [
    ("missing_column.csv", "usage_hours: present"),
    ("extra_column.csv", "(table): no_extra_columns"),
    ("wrong_dtype.csv", "tenure_months: dtype"),
    ("nan_labels.csv", "churned: max_missing_rate"),
    ("header_only.csv", "(table): row_count"),
])
def test_validate_invalid_data_exits_1_and_lists_failures(work, capsys, tmp_path, name, check):
    report = tmp_path / "report.json"
    code, stdout, _ = run(capsys, "validate", work / "broken" / name, "--schema", SCHEMA,
                          "--json", report)
    assert code == 1 and check in stdout
    assert json.loads(report.read_text())["valid"] is False


def test_validate_faulty_month_lists_every_failure(work, capsys, tmp_path):
    run(capsys, "data", "generate", "--out", tmp_path / "f", "--months", "2",
        "--faults", "out_of_range,unseen_category")
    code, stdout, _ = run(capsys, "validate", tmp_path / "f" / "2026-02.csv", "--schema", SCHEMA)
    assert code == 1
    lines = stdout.splitlines()
    assert lines[0].endswith("invalid: 4 of 44 checks failed (contract, monthly_charges, "
                             "region, tenure_months)")
    assert [ln.split(":")[0].strip() for ln in lines[1:]] == [
        "tenure_months", "monthly_charges", "contract", "region"]


def test_train_writes_model_sidecar_and_metrics(work, capsys, tmp_path):
    model = tmp_path / "models" / "m.joblib"
    code, stdout, _ = run(capsys, "train", "--data", work / "data" / "2026-02.csv", "--config",
                          CONFIG, "--out", model, "--metrics", tmp_path / "train.json")
    assert code == 0 and "cross-validated accuracy" in stdout
    meta = json.loads(modelstore.metadata_path(model).read_text())
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert metrics["model"]["sha256"] == meta["sha256"] == modelstore.sha256_file(model)
    assert metrics["metrics"] == meta["metrics"]
    assert metrics["training_data"]["rows"] == 1000


def test_evaluate_writes_metrics_and_markdown(work, capsys, tmp_path):
    code, stdout, _ = run(capsys, "evaluate", "--model", work / "base.joblib", "--data",
                          work / "data" / "2026-04.csv", "--out", tmp_path / "m.json",
                          "--markdown", tmp_path / "m.md")
    assert code == 0 and "accuracy 0." in stdout
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["kind"] == "mlcicd-evaluation" and data["rows"] == 1000
    assert 0.85 <= data["metrics"]["accuracy"] <= 0.95
    assert (tmp_path / "m.md").read_text().startswith("## Model evaluation")


def test_compare_a_model_with_itself_passes(work, capsys, tmp_path):
    code, stdout, _ = run(capsys, "compare", "--baseline", work / "base.joblib", "--candidate",
                          work / "base.joblib", "--data", work / "data" / "2026-04.csv",
                          "--out", tmp_path / "c.json", "--min-accuracy", "0.85")
    assert code == 0 and stdout.startswith("PASS")
    result = json.loads((tmp_path / "c.json").read_text())
    assert result["verdict"] == "pass" and result["paired_test"]["p_value"] == 1.0


def test_compare_fails_a_shuffled_label_candidate(work, capsys, tmp_path):
    md, summary = tmp_path / "comment.md", tmp_path / "summary.md"
    code, stdout, _ = run(capsys, "compare", "--baseline", work / "base.joblib", "--candidate",
                          work / "shuffled.joblib", "--data", work / "data" / "2026-04.csv",
                          "--out", tmp_path / "c.json", "--markdown", md, "--summary", summary)
    assert code == 1 and stdout.startswith("FAIL")
    assert "more than the allowed 0.020" in stdout
    result = json.loads((tmp_path / "c.json").read_text())
    assert result["verdict"] == "fail" and result["paired_test"]["significant"] is True
    assert md.read_text().startswith(reporting.COMPARISON_MARKER + "\n## Model comparison: ❌")
    assert "### Accuracy per slice" in summary.read_text()


def test_compare_accepts_a_metrics_file_of_the_same_data(work, capsys, tmp_path):
    test = work / "data" / "2026-04.csv"
    run(capsys, "evaluate", "--model", work / "base.joblib", "--data", test,
        "--out", tmp_path / "base.json")
    code, stdout, _ = run(capsys, "compare", "--baseline", tmp_path / "base.json",
                          "--candidate", work / "shuffled.joblib", "--data", test,
                          "--out", tmp_path / "c.json")
    assert code == 1 and "paired test skipped" in stdout


def test_the_console_script_runs_end_to_end(work, run_cli, tmp_path):
    """One real subprocess: the installed entry point, exit codes and no traceback."""
    result = run_cli("compare", "--baseline", work / "base.joblib", "--candidate",
                     work / "shuffled.joblib", "--data", work / "data" / "2026-04.csv",
                     "--out", tmp_path / "c.json", "--min-accuracy", "0.85")
    assert result.returncode == 1 and "candidate accuracy" in result.stdout
    result = run_cli("evaluate", "--model", work / "broken" / "corrupt.joblib", "--data",
                     work / "data" / "2026-04.csv", "--out", tmp_path / "m.json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ bad input


def B(name: str) -> str:
    return f"{{work}}/broken/{name}"


TEST = "{work}/data/2026-04.csv"
TRAIN = "{work}/data/2026-01.csv"
BASE = "{work}/base.joblib"

BAD_INPUT = {
    "infer missing file": (["schema", "infer", B("nope.csv"), "--out", "{out}"],
                           "reference data file not found"),
    "infer empty file": (["schema", "infer", B("empty.csv"), "--out", "{out}"], "is empty"),
    "infer no rows": (["schema", "infer", B("header_only.csv"), "--out", "{out}"],
                      "without rows"),
    "validate missing file": (["validate", B("nope.csv"), "--schema", SCHEMA, "--json", "{out}"],
                              "data file not found"),
    "validate malformed csv": (["validate", B("malformed.csv"), "--schema", SCHEMA, "--json",
                                "{out}"], "not a readable CSV"),
    "validate empty file": (["validate", B("empty.csv"), "--schema", SCHEMA, "--json", "{out}"],
                            "is empty"),
    "validate missing schema": (["validate", TEST, "--schema", B("nope.yaml"), "--json",
                                 "{out}"], "schema file not found"),
    "validate malformed schema": (["validate", TEST, "--schema", B("bad.yaml"), "--json",
                                   "{out}"], "not valid YAML"),
    "train missing file": (["train", "--data", B("nope.csv"), "--config", CONFIG, "--out",
                            "{out}"], "training data file not found"),
    "train malformed csv": (["train", "--data", B("malformed.csv"), "--config", CONFIG,
                             "--out", "{out}"], "not a readable CSV"),
    "train empty file": (["train", "--data", B("empty.csv"), "--config", CONFIG, "--out",
                          "{out}"], "is empty"),
    "train no rows": (["train", "--data", B("header_only.csv"), "--config", CONFIG, "--out",
                       "{out}"], "has no rows"),
    "train missing column": (["train", "--data", B("missing_column.csv"), "--config", CONFIG,
                              "--out", "{out}"], "missing column(s): usage_hours"),
    "train extra column": (["train", "--data", B("extra_column.csv"), "--config", CONFIG,
                            "--out", "{out}"], "unexpected column(s) leak"),
    "train wrong dtype": (["train", "--data", B("wrong_dtype.csv"), "--config", CONFIG,
                           "--out", "{out}"], "tenure_months should be numeric"),
    "train nan labels": (["train", "--data", B("nan_labels.csv"), "--config", CONFIG, "--out",
                          "{out}"], "missing label(s)"),
    "train bad config": (["train", "--data", TRAIN, "--config", B("bad.yaml"), "--out",
                          "{out}"], "not valid YAML"),
    "train missing config": (["train", "--data", TRAIN, "--config", B("nope.yaml"), "--out",
                              "{out}"], "config file not found"),
    "train metrics path is a folder": (["train", "--data", TRAIN, "--config", CONFIG, "--out",
                                        "{out}", "--metrics", "{work}"], "is a folder"),
    "evaluate corrupt model": (["evaluate", "--model", B("corrupt.joblib"), "--data", TEST,
                                "--out", "{out}"], "refusing to unpickle"),
    "evaluate model without metadata": (["evaluate", "--model", B("no_meta.joblib"), "--data",
                                         TEST, "--out", "{out}"], "no metadata file"),
    "evaluate missing model": (["evaluate", "--model", B("nope.joblib"), "--data", TEST,
                                "--out", "{out}"], "model file not found"),
    "evaluate missing column": (["evaluate", "--model", BASE, "--data",
                                 B("missing_column.csv"), "--out", "{out}"],
                                "missing column(s): usage_hours"),
    "evaluate extra column": (["evaluate", "--model", BASE, "--data", B("extra_column.csv"),
                               "--out", "{out}"], "unexpected column(s) leak"),
    "evaluate wrong dtype": (["evaluate", "--model", BASE, "--data", B("wrong_dtype.csv"),
                              "--out", "{out}"], "should be numeric"),
    "evaluate nan labels": (["evaluate", "--model", BASE, "--data", B("nan_labels.csv"),
                             "--out", "{out}"], "missing label(s)"),
    "evaluate empty file": (["evaluate", "--model", BASE, "--data", B("empty.csv"), "--out",
                             "{out}"], "is empty"),
    "evaluate malformed csv": (["evaluate", "--model", BASE, "--data", B("malformed.csv"),
                                "--out", "{out}"], "not a readable CSV"),
    "compare corrupt candidate": (["compare", "--baseline", BASE, "--candidate",
                                   B("corrupt.joblib"), "--data", TEST, "--out", "{out}"],
                                  "refusing to unpickle"),
    "compare nan labels": (["compare", "--baseline", BASE, "--candidate", BASE, "--data",
                            B("nan_labels.csv"), "--out", "{out}"], "missing label(s)"),
    "compare metadata instead of model": (["compare", "--baseline", BASE + ".meta.json",
                                           "--candidate", BASE, "--data", TEST, "--out",
                                           "{out}"], "model's metadata file"),
    "compare bad threshold": (["compare", "--baseline", BASE, "--candidate", BASE, "--data",
                               TEST, "--out", "{out}", "--min-accuracy", "85"],
                              "minimum accuracy must be between 0 and 1"),
    "compare non-numeric threshold": (["compare", "--baseline", BASE, "--candidate", BASE,
                                       "--data", TEST, "--out", "{out}", "--max-regression",
                                       "two"], "invalid float value"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_exits_2_with_one_line_and_overwrites_nothing(work, capsys, tmp_path, case):
    args, message = BAD_INPUT[case]
    out = tmp_path / "output.file"
    out.write_text(SENTINEL)
    argv = [a.format(work=work, out=out) for a in args]
    try:
        code = cli.main(argv)
    except SystemExit as exit_info:  # argparse usage errors
        code = exit_info.code
    stdout, stderr = capsys.readouterr()
    assert code == 2, stdout + stderr
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert out.read_text() == SENTINEL
    assert not modelstore.metadata_path(out).exists()


# ------------------------------------------- one line, exit 2, nothing lost: every command


@pytest.fixture
def inputs(work, tmp_path) -> Path:
    """Copies of every input, so that a command writing over an input harms nothing shared."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("2026-01.csv", "2026-04.csv", "base.joblib", "base.joblib.meta.json"):
        shutil.copy(work / ("data" if name.endswith(".csv") else "") / name, folder / name)
    shutil.copy(SCHEMA, folder / "schema.yaml")
    shutil.copy(CONFIG, folder / "model.yaml")
    (folder / "base.json").write_text("{}\n")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def run_bad(capsys, args: list[str], **paths: Path) -> tuple[int, str, str]:
    argv = [a.format(**paths) for a in args]
    code = cli.main(argv)
    stdout, stderr = capsys.readouterr()
    assert code == 2, stdout + stderr
    assert stdout == "", "an exit-2 error must be the only thing printed"
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    return code, stdout, stderr


# command: (argv with {in}, {out} and {bad}; outputs it writes besides {bad}; an input)
OUTPUT_CASES = {
    "drift": (["drift", "{in}/2026-01.csv", "{in}/2026-04.csv", "--ignore",
               "customer_id,month", "--json", "{out}/a.json", "--markdown", "{bad}"],
              ["a.json"], "2026-04.csv"),
    "validate": (["validate", "{in}/2026-04.csv", "--schema", "{in}/schema.yaml", "--json",
                  "{out}/a.json", "--markdown", "{bad}"], ["a.json"], "schema.yaml"),
    "evaluate": (["evaluate", "--model", "{in}/base.joblib", "--data", "{in}/2026-04.csv",
                  "--out", "{out}/a.json", "--markdown", "{bad}"], ["a.json"],
                 "base.joblib.meta.json"),
    "compare": (["compare", "--baseline", "{in}/base.joblib", "--candidate", "{in}/base.joblib",
                 "--data", "{in}/2026-04.csv", "--out", "{out}/a.json", "--markdown",
                 "{out}/a.md", "--summary", "{bad}"], ["a.json", "a.md"], "2026-04.csv"),
    "train": (["train", "--data", "{in}/2026-01.csv", "--config", "{in}/model.yaml", "--out",
               "{out}/m.joblib", "--metrics", "{bad}"], ["m.joblib", "m.joblib.meta.json"],
              "model.yaml"),
    "train --out": (["train", "--data", "{in}/2026-01.csv", "--config", "{in}/model.yaml",
                     "--out", "{bad}"], [], "2026-01.csv"),
    "schema infer": (["schema", "infer", "{in}/2026-01.csv", "--out", "{bad}"], [],
                     "2026-01.csv"),
}
# how the path is bad: (the path given, the message)
BAD_PATHS = {
    "parent is a file": ("{in}/2026-01.csv/x/out.file", "Not a directory ("),
    "a folder": ("{out}", "is a folder, give a file path"),
    "an input": ("{in}/{input}", "same file as the input"),
    "another output": ("{out}/{other}", "are the same file"),
}


@pytest.mark.parametrize("bad", sorted(BAD_PATHS))
@pytest.mark.parametrize("command", sorted(OUTPUT_CASES))
def test_bad_output_paths_are_refused_before_any_work(inputs, capsys, tmp_path, command, bad):
    args, outputs, an_input = OUTPUT_CASES[command]
    path, message = BAD_PATHS[bad]
    if bad == "another output" and not outputs:
        pytest.skip("the command has one output")
    out = tmp_path / "out"
    out.mkdir()
    for name in outputs:
        (out / name).write_text(SENTINEL)
    bad_path = path.format(**{"in": inputs, "out": out, "input": an_input,
                              "other": (outputs or ["-"])[0]})
    before = snapshot(inputs)
    _, _, stderr = run_bad(capsys, args, **{"in": inputs, "out": out, "bad": bad_path})
    assert message in stderr
    assert snapshot(inputs) == before
    assert snapshot(out) == {name: SENTINEL.encode() for name in outputs}


@pytest.mark.parametrize("command", sorted(OUTPUT_CASES))
def test_an_output_folder_without_write_access_is_refused_first(inputs, capsys, tmp_path,
                                                               unwritable_folder, command):
    args, outputs, _ = OUTPUT_CASES[command]
    out = tmp_path / "out"
    out.mkdir()
    for name in outputs:
        (out / name).write_text(SENTINEL)
    _, _, stderr = run_bad(capsys, args, **{"in": inputs, "out": out,
                                            "bad": unwritable_folder / "x.out"})
    assert stderr.endswith(": Permission denied\n")
    assert snapshot(out) == {name: SENTINEL.encode() for name in outputs}


def test_an_output_is_refused_as_an_input_however_it_is_spelled(inputs, capsys, monkeypatch):
    monkeypatch.chdir(inputs)
    before = snapshot(inputs)
    for out in ("2026-01.csv", f"../{inputs.name}/2026-01.csv", str(inputs / "2026-01.csv")):
        _, _, stderr = run_bad(capsys, ["schema", "infer", str(inputs / "2026-01.csv"),
                                        "--out", out])
        assert "is the same file as the input DATA.csv" in stderr
    assert snapshot(inputs) == before


# what: (argv, the file made unreadable, the message)
UNREADABLE_CASES = {
    "schema": (["validate", "{in}/2026-04.csv", "--schema", "{in}/schema.yaml", "--json",
                "{out}/a.json"], "schema.yaml", "cannot read schema file"),
    "data": (["validate", "{in}/2026-04.csv", "--schema", "{in}/schema.yaml", "--json",
              "{out}/a.json"], "2026-04.csv", "cannot read data file"),
    "config": (["train", "--data", "{in}/2026-01.csv", "--config", "{in}/model.yaml", "--out",
                "{out}/a.json"], "model.yaml", "cannot read config file"),
    "training data": (["train", "--data", "{in}/2026-01.csv", "--config", "{in}/model.yaml",
                       "--out", "{out}/a.json"], "2026-01.csv", "cannot read training data"),
    "model": (["evaluate", "--model", "{in}/base.joblib", "--data", "{in}/2026-04.csv",
               "--out", "{out}/a.json"], "base.joblib", "cannot read model file"),
    "model metadata": (["evaluate", "--model", "{in}/base.joblib", "--data",
                        "{in}/2026-04.csv", "--out", "{out}/a.json"], "base.joblib.meta.json",
                       "cannot read model metadata file"),
    "metrics JSON": (["compare", "--baseline", "{in}/base.json", "--candidate",
                      "{in}/base.joblib", "--data", "{in}/2026-04.csv", "--out",
                      "{out}/a.json"], "base.json", "cannot read baseline metrics file"),
    "drift reference": (["drift", "{in}/2026-01.csv", "{in}/2026-04.csv", "--json",
                         "{out}/a.json"], "2026-01.csv", "cannot read reference file"),
    "schema infer data": (["schema", "infer", "{in}/2026-01.csv", "--out", "{out}/a.json"],
                          "2026-01.csv", "cannot read reference data file"),
}


@pytest.mark.parametrize("what", sorted(UNREADABLE_CASES))
def test_an_unreadable_input_is_one_line_and_exit_2(inputs, capsys, tmp_path, make_unreadable,
                                                    what):
    args, name, message = UNREADABLE_CASES[what]
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text(SENTINEL)
    make_unreadable(inputs / name)
    _, _, stderr = run_bad(capsys, args, **{"in": inputs, "out": out})
    assert message in stderr and stderr.endswith(": Permission denied\n")
    assert (out / "a.json").read_text() == SENTINEL


def test_data_generate_into_a_path_under_a_file_is_refused(inputs, capsys):
    _, _, stderr = run_bad(capsys, ["data", "generate", "--out", "{in}/2026-01.csv/new",
                                    "--months", "2"], **{"in": inputs})
    assert "Not a directory (" in stderr


def test_validate_counts_checks_and_failures_alike(tmp_path, capsys):
    data = tmp_path / "other.csv"
    data.write_text("zzz\n1\n")
    code, stdout, _ = run(capsys, "validate", data, "--schema", SCHEMA)
    # failures: too few rows, 9 schema columns absent, 1 extra column; checks: those 11
    # and duplicate rows
    assert code == 1
    assert " invalid: 11 of 12 checks failed (" in stdout.splitlines()[0]


def test_schema_infer_never_writes_a_schema_validate_refuses(tmp_path, capsys):
    blank = tmp_path / "blank.csv"
    blank.write_text("a,b\n,\n,\n,\n")  # three identical (empty) rows
    out = tmp_path / "schema.yaml"
    code, _, err = run(capsys, "schema", "infer", blank, "--out", out)
    assert code == 0, err
    assert validation.load_schema(out).max_duplicate_rate == 1.0
    assert run(capsys, "validate", blank, "--schema", out)[0] == 0


@pytest.mark.parametrize("text, warning", [
    ("a;b;c\n1;2;3\n4;5;6\n", "column name 'a;b;c' contains semicolons: the file looks "
                              "semicolon-separated"),
    ("age,x,age,age\n1,2,3,4\n", "column 'age' appears 3 times in the header: the copies were "
                                 "renamed to age.1, age.2"),
    ("price\n" + "".join(f'"{i},5"\n' for i in range(9)) + "?\n",
     "column 'price' holds numbers stored as text (90% of its values, but also '0,5', '1,5', "
     "'2,5')"),
])
def test_schema_infer_warns_in_one_line_about_what_the_draft_cannot_see(tmp_path, capsys, text,
                                                                         warning):
    data = tmp_path / "odd.csv"
    data.write_text(text)
    code, stdout, _ = run(capsys, "schema", "infer", data, "--out", tmp_path / "s.yaml")
    warnings = [line for line in stdout.splitlines() if line.startswith("warning: ")]
    assert code == 0 and len(warnings) == 1
    assert warnings[0].startswith(f"warning: {warning}")


def test_schema_infer_is_silent_on_a_clean_file(work, capsys, tmp_path):
    code, stdout, _ = run(capsys, "schema", "infer", work / "data" / "2026-01.csv", "--out",
                          tmp_path / "s.yaml")
    assert code == 0 and "warning" not in stdout
