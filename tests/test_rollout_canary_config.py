"""Canary files: reading them (one-line errors naming the key), `mlcicd deploy canary` and
`mlcicd deploy export`, with golden files for the Kubernetes manifests.

The golden files in tests/data were written by the export itself and read by a person;
after an intended change, write them again with
`mlcicd deploy export --format FORMAT --config tests/data/X.yaml > tests/data/X.FORMAT.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlcicd_course import cli
from mlcicd_course.errors import UserInputError
from mlcicd_course.rollout.analysis import Condition
from mlcicd_course.rollout.canary import Analyze, Pause, SetWeight
from mlcicd_course.rollout.canary_config import duration, load_canary, parse_canary
from mlcicd_course.rollout.canary_export import export_yaml, flagger

DATA = Path(__file__).parent / "data"
STEPS = DATA / "canary_steps.yaml"
STEP_WEIGHTS = DATA / "canary_step_weights.yaml"
COURSE = Path(__file__).parents[1] / "config" / "canary.yaml"

SHORT = {"stable": "v1", "canary": "v2", "stepWeights": [10, 50], "interval": "1h",
         "metrics": [{"name": "errors", "query": "error_rate_excess",
                      "failureCondition": "result > 0.03", "interval": "10m",
                      "failureLimit": 1}],
         "analysis": ["errors"],
         "simulation": {"hours": 3, "requestsPerS": 1, "users": 2000, "window": "30m",
                        "step": "5m", "canary": {"errorRate": 0.005},
                        "stable": {"errorRate": 0.005}}}


def test_argo_steps_are_read_with_their_metrics():
    config = load_canary(STEPS)
    steps = config.spec.steps
    assert steps[:3] == (SetWeight(10), Pause(600.0, 100),
                         Analyze(steps[2].analysis))
    assert steps[4] == Pause() and steps[4].manual
    inline = steps[2].analysis.metrics[0]
    assert (inline.name, inline.count, inline.failure_condition) == (
        "error-rate", 3, Condition(">", 0.01))
    assert [m.name for m in config.spec.analysis.metrics] == ["p99-latency"]
    assert config.spec.guardrail is None and config.spec.progress_deadline_s == 600


def test_flagger_step_weights_become_weight_and_pause_pairs():
    config = load_canary(STEP_WEIGHTS)
    assert config.spec.weights() == (5, 10, 25, 50)
    assert config.spec.steps[1] == Pause(5 * 3600.0, 200)
    assert config.spec.guardrail.min_sample == 200


@pytest.mark.parametrize(("text", "seconds"), [(90, 90.0), ("30s", 30.0), ("10m", 600.0),
                                               ("1.5h", 5400.0)])
def test_durations(text, seconds):
    assert duration(text, "x") == seconds


@pytest.mark.parametrize(("change", "key"), [
    ({"frobnicate": 1}, "frobnicate: unknown key"),
    ({"stepWeights": [10, 10]}, "stepWeights[1]: weights must increase"),
    ({"stepWeights": [50, 120]}, "stepWeights[1]: weight must be an integer in 1..100"),
    ({"analysis": ["errors", "latency"]}, "analysis: no metric named 'latency'"),
    ({"interval": "soon"}, "interval: expected seconds or a duration"),
    ({"metrics": [{"name": "errors", "query": "p95"}]}, "metrics[0]: metric 'errors': unknown"),
    ({"metrics": [{"name": "errors", "query": "error_rate", "failureCondition": "big"}]},
     "metrics[0].failureCondition: expected a condition"),
    ({"metrics": [{"name": "errors", "query": "error_rate", "colour": "red"}]},
     "metrics[0].colour: unknown key"),
    ({"guardrail": {"alpha": 2}}, "guardrail: guardrail alpha must be between 0 and 1"),
    ({"simulation": {"hours": 0}}, "simulation.hours: expected 0 < hours"),
    ({"steps": [{"setWeight": 10}]}, "stepWeights: give either steps or"),
])
def test_a_bad_config_names_the_key(change, key):
    data = {**SHORT, **change}
    with pytest.raises(Exception) as info:
        parse_canary(data)
    assert str(info.value).startswith(key)


def test_argo_step_errors_name_the_step(tmp_path):
    path = tmp_path / "canary.yaml"
    path.write_text("steps:\n  - setWeight: 50\n  - pause: {}\n  - setWeight: 20\n")
    with pytest.raises(UserInputError, match=r"canary\.yaml: steps\[2\]: weights must "
                                             r"increase, 20 follows 50$"):
        load_canary(path)
    path.write_text("steps:\n  - analysis: {metrics: [gone]}\n")
    with pytest.raises(UserInputError, match=r"steps\[0\]\.analysis\.metrics: no metric named"):
        load_canary(path)


@pytest.mark.parametrize("content", [
    "steps: [{setWeight: 10}]\nsurprise: 1\n",            # unknown key
    "steps: [{setWeight: 40}, {setWeight: 30}]\n",        # weights not increasing
    "steps: [{setWeight: 150}]\n",                        # weight over 100
    "steps: [{analysis: {metrics: [missing]}}]\n",        # missing analysis metric
    "steps: [unclosed\n",                                 # not YAML
])
@pytest.mark.parametrize("command", ["canary", "export"])
def test_the_cli_exits_2_with_one_line_for_a_bad_config(tmp_path, capsys, content, command):
    path = tmp_path / "canary.yaml"
    path.write_text(content)
    extra = ["--format", "argo-rollouts"] if command == "export" else []
    assert cli.main(["deploy", command, "--config", str(path), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "canary.yaml" in captured.err


@pytest.mark.parametrize(("error_rate", "code", "phase"), [(0.005, 0, "Completed"),
                                                            (0.05, 1, "Aborted")])
def test_deploy_canary_simulate_exit_code_says_promoted_or_rolled_back(tmp_path, capsys,
                                                                       error_rate, code, phase):
    path = tmp_path / "canary.yaml"
    data = {**SHORT, "simulation": {**SHORT["simulation"], "canary": {"errorRate": error_rate}}}
    path.write_text(yaml.safe_dump(data))
    assert cli.main(["deploy", "canary", "--config", str(path), "--simulate"]) == code
    assert capsys.readouterr().out.strip().endswith(f"canary v2: {phase}")


def test_the_course_config_promotes_a_good_release(capsys):
    assert cli.main(["deploy", "canary", "--config", str(COURSE), "--json"]) == 0
    assert '"final_phase": "Completed"' in capsys.readouterr().out


@pytest.mark.parametrize(("source", "fmt"), [(STEPS, "argo-rollouts"),
                                             (STEP_WEIGHTS, "argo-rollouts"),
                                             (STEP_WEIGHTS, "flagger")])
def test_export_matches_the_golden_file(capsys, source, fmt):
    golden = source.with_name(f"{source.stem}.{fmt}.yaml")
    assert cli.main(["deploy", "export", "--format", fmt, "--config", str(source)]) == 0
    out = capsys.readouterr().out
    assert out == golden.read_text(encoding="utf-8")
    docs = list(yaml.safe_load_all(out))
    assert docs[0]["kind"] == ("Rollout" if fmt == "argo-rollouts" else "Canary")


def test_the_export_is_the_same_release():
    spec = load_canary(STEPS).spec
    docs = list(yaml.safe_load_all(export_yaml(spec, "argo-rollouts")))
    steps = docs[0]["spec"]["strategy"]["canary"]["steps"]
    assert [s["setWeight"] for s in steps if "setWeight" in s] == list(spec.weights())
    templates = {d["metadata"]["name"]: d for d in docs[1:]}
    inline = templates["churn-model-step-2"]["spec"]["metrics"][0]
    assert (inline["count"], inline["failureCondition"]) == (3, "result > 0.01")
    weights = load_canary(STEP_WEIGHTS).spec
    canary = flagger(weights)[0]["spec"]["analysis"]
    assert canary["stepWeights"] == [5, 10, 25, 50] and canary["interval"] == "18000s"


def test_flagger_refuses_steps_it_cannot_express(capsys):
    assert cli.main(["deploy", "export", "--format", "flagger", "--config", str(STEPS)]) == 2
    assert "no inline analysis or manual pause" in capsys.readouterr().err


@pytest.mark.parametrize(("live", "message"), [
    (None, "live: missing or not a mapping"),
    ({"models": {"v1": "a.joblib"}}, "live.models: expected a model file for each of v1, v2"),
    ({"models": {"v1": "a.joblib", "v2": "b.joblib"}, "speed": 1}, "live.speed: unknown key"),
    ({"models": {"v1": "a.joblib", "v2": "b.joblib"}, "maxWindows": 0},
     "live.maxWindows: expected a positive integer"),
    ({"models": {"v1": "gone.joblib", "v2": "gone.joblib"}}, "live.models.v1: no such file"),
])
def test_deploy_canary_live_checks_its_section_before_starting_anything(tmp_path, capsys, live,
                                                                        message):
    path = tmp_path / "canary.yaml"
    path.write_text(yaml.safe_dump({**SHORT, **({"live": live} if live else {})}))
    assert cli.main(["deploy", "canary", "--config", str(path), "--live"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
