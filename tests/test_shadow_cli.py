"""`mlcicd shadow report`: exit 0 proceed / 1 hold / 2 bad input, one-line errors."""

from __future__ import annotations

import json

import pytest

from mlcicd_course import cli
from tests.test_shadow_analysis import log, record


def write_log(path, records) -> str:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    return str(path)


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["shadow", "report", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_good_shadow_exits_0_and_says_proceed_to_canary(tmp_path, capsys):
    path = write_log(tmp_path / "shadow.jsonl", log(600, 10))
    code, out, err = run(capsys, path, "--json", tmp_path / "report.json")
    assert (code, err) == (0, "")
    assert "agreement      0.984" in out and "verdict: proceed to canary" in out
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["verdict"]["outcome"] == "proceed to canary"
    assert data["report"]["agreement"]["agreed"] == 600


def test_labels_that_show_a_worse_shadow_exit_1_with_the_reason(tmp_path, capsys):
    records = log(600, 10)
    path = write_log(tmp_path / "shadow.jsonl", records)
    (tmp_path / "labels.csv").write_text(
        "request_id,label\n" + "".join(f"{r.id},0\n" for r in records), encoding="utf-8")
    code, out, _ = run(capsys, path, "--labels", tmp_path / "labels.csv",
                       "--segment", "contract")
    assert code == 1
    assert "verdict: hold" in out and "FAIL accuracy: on 610 labelled rows" in out
    assert "contract=monthly" in out and "region=" not in out


def test_policy_options_change_the_verdict(tmp_path, capsys):
    path = write_log(tmp_path / "shadow.jsonl", log(600, 10))
    code, out, _ = run(capsys, path, "--min-rows", "1000")
    assert code == 1 and "FAIL enough data: 610 rows compared (need >= 1000)" in out


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "a"}\n', "shadow.jsonl, line 1: missing key 'time'"),
    ("", "the shadow log has no records"),
    ("\n{oops\n", "line 2: not valid JSON"),
])
def test_a_bad_log_exits_2_with_one_line_naming_the_line(tmp_path, capsys, content, message):
    (tmp_path / "shadow.jsonl").write_text(content, encoding="utf-8")
    code, out, err = run(capsys, tmp_path / "shadow.jsonl")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["missing.jsonl"], "shadow log file not found"),
    (["LOG", "--labels", "nolabels.csv"], "labels file not found"),
    (["LOG", "--segment", "plan"], "'plan' is not in the logged inputs"),
    (["LOG", "--min-agreement", "2"], "--min-agreement in 0..1"),
    (["LOG", "--json", "LOG"], "same file as the input LOG.jsonl"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_log(tmp_path / "LOG", [record(0, [0], [0])])
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_shadow_without_a_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["shadow"])
    assert stopped.value.code == 2 and "required: SUBCOMMAND" in capsys.readouterr().err
