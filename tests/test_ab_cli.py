"""`mlcicd ab size` and `mlcicd ab analyze`: exit 0 valid / 1 mismatch or too few / 2 bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import cli


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        code = cli.main(["ab", *map(str, args)])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """An experiment's events (two per user), one with a broken 55/45 split, a tiny one."""
    rng = np.random.default_rng(12)
    folder = tmp_path_factory.mktemp("ab")

    def write(name: str, n_a: int, n_b: int) -> str:
        users = [f"u{i}" for i in range(n_a + n_b)]
        arms = ["control"] * n_a + ["treatment"] * n_b
        stayed = rng.random(n_a + n_b) < np.where(np.arange(n_a + n_b) < n_a, 0.90, 0.93)
        frame = pd.DataFrame({"user": users, "arm": arms, "stayed": stayed.astype(int),
                              "errors": (rng.random(n_a + n_b) < 0.01).astype(int)})
        path = folder / name
        pd.concat([frame, frame]).to_csv(path, index=False)
        return str(path)

    return {"good": write("good.csv", 3_000, 3_000), "srm": write("srm.csv", 3_300, 2_700),
            "small": write("small.csv", 40, 40)}


def test_size_prints_the_units_per_arm_and_the_duration(capsys):
    code, out, err = run(capsys, "size", "--baseline", "0.90", "--target", "0.92",
                         "--per-day", "500", "--share", "0.5")
    assert code == 0, err
    assert "3,213 units per arm, 6,426 in all" in out
    assert out.splitlines()[1].endswith(": 26 days")


def test_analyze_a_valid_experiment_exits_0_with_the_decision(results, tmp_path, capsys):
    report = tmp_path / "report.json"
    code, out, err = run(capsys, "analyze", results["good"], "--unit", "user", "--variant",
                         "arm", "--outcome", "stayed", "--guardrails", "errors",
                         "--json", report)
    assert code == 0, err
    assert "units: control=3000, treatment=3000" in out
    data = json.loads(report.read_text())
    assert data["valid"] and out.splitlines()[-2] == f"decision: {data['decision']}"
    assert data["guardrails"][0]["metric"] == "errors"


@pytest.mark.parametrize(("name", "reason"), [("srm", "sample-ratio mismatch"),
                                              ("small", "too few units")])
def test_mismatch_or_too_few_units_exit_1(results, capsys, name, reason):
    code, out, _ = run(capsys, "analyze", results[name], "--unit", "user", "--variant", "arm",
                       "--outcome", "stayed")
    assert code == 1
    assert "result: INVALID" in out and reason in out


@pytest.mark.parametrize(("args", "message"), [
    (["size", "--baseline", "0.9", "--target", "0.9"], "equal"),
    (["size", "--baseline", "90", "--target", "92"], "baseline must be a proportion"),
    (["size", "--baseline", "0.9"], "--target"),
    (["size", "--baseline", "0.9", "--target", "0.92", "--per-day", "0"], "traffic"),
    (["analyze", "{good}", "--unit", "nope", "--variant", "arm", "--outcome", "stayed"],
     "no column 'nope'"),
    (["analyze", "{good}", "--unit", "user", "--variant", "arm", "--outcome", "arm"],
     "three different columns"),
    (["analyze", "{good}", "--unit", "user", "--variant", "errors", "--outcome", "arm"],
     "only 0/1"),
    (["analyze", "{good}", "--unit", "user", "--variant", "stayed", "--outcome", "errors",
      "--control", "x"], "control 'x'"),
    (["analyze", "{missing}", "--unit", "u", "--variant", "v", "--outcome", "o"], "missing"),
    (["analyze", "{good}", "--unit", "user", "--variant", "arm", "--outcome", "stayed",
      "--json", "{good}"], "--json"),
    (["analyze"], "required"),
])
def test_bad_input_exits_2_with_one_line(results, tmp_path, capsys, args, message):
    paths = {**results, "missing": str(tmp_path / "missing.csv")}
    before = open(results["good"], "rb").read()
    code, out, err = run(capsys, *[a.format(**paths) for a in args])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err and out == ""
    assert open(results["good"], "rb").read() == before, "nothing overwritten"
