"""The pipeline file: the course's file reads, and each mistake is one line naming the key."""

from __future__ import annotations

import pytest
import yaml

from mlcicd_course import cli
from mlcicd_course.errors import UserInputError
from mlcicd_course.pipeline.config import load_pipeline, parse_pipeline
from mlcicd_course.rollout.bluegreen_config import parse_bluegreen
from tests.pipeline_support import COURSE_CONFIG, course_config, fast_config


def test_the_course_file_reads_into_settings(monkeypatch):
    monkeypatch.chdir(COURSE_CONFIG.parents[1])
    config = load_pipeline(COURSE_CONFIG)
    raw = course_config()
    assert config.production.strategy == raw["production"]["strategy"]
    assert config.gate.max_regression == raw["gate"]["maxRegression"]
    spec = config.production.bluegreen.spec
    assert [m.name for m in spec.pre_promotion.metrics] == \
        raw["production"]["bluegreen"]["prePromotionAnalysis"]
    assert config.staging.live.window_requests == raw["staging"]["live"]["windowRequests"]
    assert config.to_dict()["production"]["bluegreen"]["spec"]["active"] == "blue"


@pytest.mark.parametrize(("change", "key"), [
    ({"colour": "blue"}, "colour: unknown key"),
    ({"gate": {"maxRegresion": 0.1}}, "gate.maxRegresion: unknown key"),
    ({"gate": {"minAccuracy": 1.5}}, "gate.minAccuracy: expected a number in 0..1"),
    ({"data": {"months": 1}}, "data.months: expected an integer in 2..36"),
    ({"production": {"strategy": "big-bang"}}, "production.strategy: expected one of"),
    ({"production": {"bluegreen": {"scaleDownDelay": "soon"}}},
     "production.bluegreen.scaleDownDelay: expected seconds"),
    ({"production": {"bluegreen": {"prePromotionAnalysis": ["nope"]}}},
     "production.bluegreen.prePromotionAnalysis: no metric named 'nope'"),
    ({"staging": {"canary": {"steps": [{"setWeight": 0}]}}}, "staging.canary.steps[0]"),
    ({"staging": {"canary": {"stable": "v1"}}}, "staging.canary.stable: not allowed here"),
    ({"candidate": {"production": {"error_rat": 0.1}}}, "candidate.production.error_rat"),
    ({"candidate": {"qa": {}}}, "candidate.qa: unknown key"),
    ({"shadow": {"enabled": "yes"}}, "shadow.enabled: expected true or false"),
])
def test_a_bad_key_is_named(tmp_path, change, key):
    data = fast_config(tmp_path)
    for section, value in change.items():
        if isinstance(value, dict) and isinstance(data.get(section), dict):
            merged = dict(data[section])
            for k, v in value.items():
                merged[k] = {**merged[k], **v} if isinstance(v, dict) and \
                    isinstance(merged.get(k), dict) else v
            data[section] = merged
        else:
            data[section] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(UserInputError, match=rf"^pipeline config {path}: ") as err:
        load_pipeline(path)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_staging_is_required_and_named_files_must_exist(tmp_path):
    with pytest.raises(Exception, match="staging: missing"):
        parse_pipeline({})
    data = fast_config(tmp_path, schema=str(tmp_path / "nowhere.yaml"))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(UserInputError, match="schema: no such file"):
        load_pipeline(path)


def test_the_command_exits_2_on_a_bad_file_and_starts_nothing(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("staging: [1, 2]\n", encoding="utf-8")
    code = cli.main(["pipeline", "run", "--config", str(path), "--workdir",
                     str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "staging: expected a mapping" in err
    assert not (tmp_path / "work").exists()
    assert cli.main(["pipeline", "run", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_bluegreen_sections_read_like_canary_files():
    config = parse_bluegreen({"metrics": [{"name": "e", "query": "error_rate",
                                           "successCondition": "result <= 0.01",
                                           "interval": 1, "count": 2}],
                              "postPromotionAnalysis": ["e"], "autoPromotionSeconds": None,
                              "scaleDownDelay": "2m", "live": {"previewRequests": 0}})
    assert config.spec.auto_promotion_seconds is None
    assert config.spec.scale_down_delay_s == 120
    assert [m.name for m in config.spec.post_promotion.metrics] == ["e"]
    assert config.live.preview_requests == 0
