"""`mlcicd pipeline run` end to end: deployed (exit 0), stopped by the gate (exit 1, no
server started), and rolled back after the switch (exit 1, production unchanged)."""

from __future__ import annotations

import json

from mlcicd_course import cli
from mlcicd_course.registry import open_registry
from tests.pipeline_support import write_config


def run(capsys, tmp_path, config, *extra) -> tuple[int, str, str, dict]:
    code = cli.main(["pipeline", "run", "--config", str(config), "--workdir",
                     str(tmp_path / "work"), "--report-dir", str(tmp_path / "report"), *extra])
    out, err = capsys.readouterr()
    report = json.loads((tmp_path / "report" / "pipeline.json").read_text(encoding="utf-8"))
    return code, out, err, report


def decisions(report: dict) -> dict[str, str]:
    return {stage["name"]: stage["decision"] for stage in report["stages"]}


def test_a_good_candidate_is_deployed_and_a_rerun_has_nothing_to_do(tmp_path, capsys):
    config = write_config(tmp_path)
    code, out, err, report = run(capsys, tmp_path, config)
    assert code == 0, err
    assert report["outcome"] == "deployed" and report["production"] == "v2"
    assert decisions(report) == {"data": "passed", "validate": "passed", "train": "passed",
                                 "evaluate": "passed", "baseline": "passed", "gate": "passed",
                                 "register": "passed", "shadow": "skipped",
                                 "staging": "passed", "smoke": "passed",
                                 "production": "passed", "watch": "passed"}
    assert out.strip().splitlines()[-1] == "pipeline deployed v2: it serves production"
    registry = open_registry(str(tmp_path / "work" / "registry"))
    assert {v.version: v.stage for v in registry.versions()} == {"v1": "archived",
                                                                 "v2": "production"}
    summary = tmp_path / "summary.md"
    code, out, _, report = run(capsys, tmp_path, config, "--summary", str(summary))
    assert code == 0 and report["outcome"] == "already deployed"
    assert decisions(report)["staging"] == "skipped"
    assert "nothing to deploy" in summary.read_text(encoding="utf-8")


def test_a_candidate_trained_on_flipped_labels_is_stopped_by_the_gate(tmp_path, capsys):
    config = write_config(tmp_path, training={"corruptLabels": 0.6})
    code, _, err, report = run(capsys, tmp_path, config)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("pipeline stopped at gate: against v1:")
    assert report["stopped_at"] == "gate" and decisions(report)["staging"] == "skipped"
    registry = open_registry(str(tmp_path / "work" / "registry"))
    assert [(v.version, v.stage) for v in registry.versions()] == [("v1", "production")]


def test_a_release_failing_after_the_switch_is_rolled_back(tmp_path, capsys):
    # error_rate 0.3 with seed 0: the smoke tests' single request passes (the server's
    # first draw is above 0.3); production traffic after the switch does not.
    config = write_config(tmp_path, candidate={"production": {"error_rate": 0.3, "seed": 0}})
    code, _, err, report = run(capsys, tmp_path, config)
    assert code == 1
    assert report["outcome"] == "rolled back" and report["stopped_at"] == "production"
    assert err.strip().splitlines()[-1].startswith("pipeline rolled back at production:")
    production = next(s for s in report["stages"] if s["name"] == "production")
    assert production["rolled_back"] and production["details"]["phase"] == "RolledBack"
    assert production["details"]["by_version"]["v2"]["errors"] > 0
    registry = open_registry(str(tmp_path / "work" / "registry"))
    assert registry.current("production").version == "v1"
    assert registry.get("v2").stage == "archived"
    assert [c.action for c in registry.history()][-2:] == ["rollback", "rollback"]
