"""The shadow log: written one flushed line per record, read back with line-level errors."""

from __future__ import annotations

import json

import pytest

from mlcicd_course.errors import UserInputError
from mlcicd_course.serving.shadow import MirroredRequest, PrimaryAnswer, shadow_record
from mlcicd_course.serving.upstream import UpstreamResponse
from mlcicd_course.shadow.log import (
    Answer,
    ShadowLog,
    ShadowRecord,
    parse_line,
    read_log,
    wait_for_records,
)

ROWS = [{"contract": "monthly", "tenure_months": 3}, {"contract": "two_year",
                                                      "tenure_months": 40}]


def good_line(**changes) -> dict:
    line = {"id": "r1", "time": 1.5, "path": "/predict", "inputs": ROWS,
            "primary": {"version": "blue", "status": 200, "latency_ms": 2.0,
                        "predictions": [0, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8]]},
            "shadow": {"version": "green", "status": 200, "latency_ms": 3.0,
                       "predictions": [1, 1], "probabilities": [[0.4, 0.6], [0.1, 0.9]]},
            "error": None}
    line.update(changes)
    return line


def copy_of(body: bytes, primary_body: bytes) -> MirroredRequest:
    return MirroredRequest("green", "http://green/predict", "POST", [], body, "req-7",
                           "/predict", PrimaryAnswer("blue", 200, primary_body, 1.25))


def test_a_record_written_is_read_back_equal(tmp_path):
    body = json.dumps(ROWS).encode()
    primary = json.dumps({"predictions": [0, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8]]})
    answer = UpstreamResponse(200, [], json.dumps({"predictions": [1, 1]}).encode())
    record = shadow_record(copy_of(body, primary.encode()), 100.0, answer, 4.5, None)
    log = ShadowLog(tmp_path / "shadow.jsonl")
    log.write(record)
    log.write(record)  # appends, one line each
    log.close()
    assert read_log(tmp_path / "shadow.jsonl") == [record, record]
    assert record.inputs == ROWS and record.shadow.predictions == [1, 1]
    assert record.primary == Answer("blue", 200, 1.25, [0, 1], [[0.9, 0.1], [0.2, 0.8]])


def test_the_log_is_appended_to_never_overwritten(tmp_path):
    path = tmp_path / "shadow.jsonl"
    path.write_text(json.dumps(good_line(id="old")) + "\n", encoding="utf-8")
    log = ShadowLog(path)
    log.open()
    log.write(parse_line(json.dumps(good_line(id="new"))))
    log.close()
    assert [r.id for r in read_log(path)] == ["old", "new"]


@pytest.mark.parametrize(("response", "error", "expected"), [
    (None, "timeout: read timed out", "timeout: read timed out"),
    (UpstreamResponse(500, [], b'{"detail": "boom"}'), None, "HTTP 500"),
    (UpstreamResponse(200, [], b"<html>"), None, "answer is not a /predict body"),
])
def test_a_shadow_without_a_usable_answer_is_logged_with_the_reason(response, error,
                                                                      expected):
    record = shadow_record(copy_of(b"not json", b'{"predictions": [0]}'), 1.0, response,
                           2000.0, error)
    assert record.error == expected
    assert record.shadow.predictions is None and record.inputs is None
    assert record.primary.predictions == [0]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    (json.dumps({k: v for k, v in good_line().items() if k != "shadow"}), "missing key 'shadow'"),
    (json.dumps(good_line(id="")), "'id' must be a non-empty string"),
    (json.dumps(good_line(time="noon")), "'time' must be a number"),
    (json.dumps(good_line(inputs=[1, 2])), "'inputs' must be a list of row objects"),
    (json.dumps(good_line(error=5)), "'error' must be a string or null"),
    (json.dumps(good_line(primary={**good_line()["primary"], "status": "200"})),
     "'primary.status' must be an integer"),
    (json.dumps(good_line(shadow={**good_line()["shadow"], "latency_ms": -1})),
     "'shadow.latency_ms' must be a number >= 0"),
    (json.dumps(good_line(shadow={**good_line()["shadow"], "predictions": [1]})),
     "'shadow.predictions' has 1 entries for 2 input rows"),
    (json.dumps(good_line(shadow={**good_line()["shadow"], "probabilities": [[2], [0]]})),
     "'shadow.probabilities' must hold one list of numbers in 0..1"),
])
def test_a_malformed_line_says_what_is_wrong(line, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_line(line)


def test_read_log_names_the_line_number_of_the_first_bad_line(tmp_path):
    path = tmp_path / "shadow.jsonl"
    path.write_text(json.dumps(good_line()) + "\n\n" + json.dumps(good_line(id="b")) + "\n"
                    + '{"id": "c"}\n', encoding="utf-8")
    with pytest.raises(UserInputError, match=r"line 4: missing key 'time'"):
        read_log(path)


def test_wait_for_records_returns_when_the_count_is_reached_or_time_is_up(tmp_path):
    path = tmp_path / "shadow.jsonl"
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] > 0.1 and not path.exists():
            path.write_text("{}\n{}\n", encoding="utf-8")

    assert wait_for_records(path, 2, timeout_s=5, clock=lambda: now[0], sleep=sleep) == 2
    assert 0.1 < now[0] < 1
    started = now[0]
    assert wait_for_records(path, 9, timeout_s=1, clock=lambda: now[0], sleep=sleep) == 2
    assert now[0] >= started + 1


def test_records_are_plain_data():
    record = parse_line(json.dumps(good_line()))
    assert isinstance(record, ShadowRecord)
    assert record.to_dict() == good_line()
