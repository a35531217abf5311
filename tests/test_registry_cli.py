"""`mlcicd registry`: exit 0 ok, 1 a lost race (nothing written), 2 bad input in one line."""

from __future__ import annotations

import json

import pytest

from mlcicd_course import cli, modelstore
from mlcicd_course.cloud.local import local_aws
from tests.registry_support import AWS_SETTINGS, save_model

CHANGE = ("--by", "ana", "--reason", "monthly retrain")


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        code = cli.main(["registry", *map(str, args)])
    except SystemExit as stop:  # argparse's own usage errors and --help
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-models")
    return [save_model(folder, f"m{i}", i) for i in range(3)]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """Work in an empty folder, so that the default registry/ lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_register_promote_rollback_list_history_fetch(folder, models, capsys):
    (folder / "eval.json").write_text(json.dumps(
        {"kind": "mlcicd-evaluation", "metrics": {"accuracy": 0.93, "roc_auc": None},
         "rows": 400}))
    code, out, err = run(capsys, "register", models[0], *CHANGE)
    assert code == 0, err
    assert out.startswith("registered v1 in registry (sha256 ") and out.endswith("candidate)\n")
    code, out, err = run(capsys, "register", models[1], *CHANGE, "--metrics", "eval.json",
                         "--parent", "v1", "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["metrics"] == {"accuracy": 0.93} and second["parent"] == "v1"
    assert second["data_fingerprint"] == "data-m1"
    assert second["sha256"] == modelstore.sha256_file(models[1])
    for version in ("v1", "v2"):
        code, out, err = run(capsys, "promote", version, "production", "--by", "bo",
                             "--reason", f"ship {version}")
        assert code == 0, err
        assert f"{version}    candidate -> production  [promote] bo: ship {version}" in out
    code, out, err = run(capsys, "rollback", "production", "--by", "oncall", "--reason",
                         "errors", "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == "v1" and json.loads(out)["action"] == "rollback"
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["version", "stage", "created", "by", "sha256", "metrics"]
    assert lines[1].split()[:2] == ["v1", "production"] and lines[1].endswith("accuracy=0.5")
    assert lines[2].split()[:2] == ["v2", "archived"] and lines[2].endswith("accuracy=0.93")
    code, out, _ = run(capsys, "history", "--json")
    actions = [(c["version"], c["action"], c["by"]) for c in json.loads(out)]
    assert actions == [("v1", "register", "ana"), ("v2", "register", "ana"),
                       ("v1", "promote", "bo"), ("v1", "replaced", "bo"),
                       ("v2", "promote", "bo"), ("v2", "rollback", "oncall"),
                       ("v1", "rollback", "oncall")]
    code, out, err = run(capsys, "fetch", "--stage", "production", "--dest", "deployed")
    assert code == 0, err
    assert (folder / "deployed" / "model-v1.joblib").read_bytes() == models[0].read_bytes()


def test_every_subcommand_has_help(capsys):
    for command in ("register", "promote", "rollback", "list", "history", "fetch"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "--registry" in out, command


@pytest.mark.parametrize(("args", "message"), [
    (("list",), "no registry at registry (`mlcicd registry register` creates one"),
    (("promote", "v9", "production", *CHANGE), "no version 'v9' in registry"),
    (("promote", "v1", "prod", *CHANGE), "unknown stage 'prod'"),
    (("rollback", "production", *CHANGE), "held no version before"),
    (("register", "missing.joblib", *CHANGE), "model file not found: missing.joblib"),
    (("register", "{model}", *CHANGE, "--metrics", "bad.json"), "not valid JSON"),
    (("register", "{model}", *CHANGE, "--metrics", "empty.json"), "no numeric metrics"),
    (("register", "{model}", "--reason", "x", "--by", " "), "by must be a non-empty"),
    (("list", "--registry", "gs://bucket/x"), "unsupported registry location"),
    (("fetch", "v1", "--stage", "production", "--dest", "d"), "either VERSION or --stage"),
])
def test_bad_input_is_one_line_and_exit_2(folder, models, capsys, args, message):
    (folder / "bad.json").write_text("{")
    (folder / "empty.json").write_text('{"note": "no numbers"}')
    if args[0] != "list" or "--registry" in args:
        assert run(capsys, "register", models[0], *CHANGE)[0] == 0
        assert run(capsys, "promote", "v1", "production", *CHANGE)[0] == 0
    before = sorted(p.name for p in (folder / "registry").rglob("*")) \
        if (folder / "registry").exists() else []
    code, out, err = run(capsys, *(str(a).format(model=models[2]) for a in args))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err
    after = sorted(p.name for p in (folder / "registry").rglob("*")) \
        if (folder / "registry").exists() else []
    assert after == before


def test_a_damaged_index_is_exit_2_and_left_alone(folder, models, capsys):
    assert run(capsys, "register", models[0], *CHANGE)[0] == 0
    index = folder / "registry" / "index.json"
    index.write_text(index.read_text()[:40])
    for args in (("list",), ("promote", "v1", "staging", *CHANGE)):
        code, _, err = run(capsys, *args)
        assert code == 2 and "registry index registry/index.json is not valid JSON" in err
        assert len(err.strip().splitlines()) == 1
    assert len(index.read_text()) == 40


def test_a_lost_race_is_exit_1_and_writes_nothing(folder, models, capsys):
    """Another writer holds the index's lock: the promotion loses, says so, changes nothing."""
    assert run(capsys, "register", models[0], *CHANGE)[0] == 0
    index = folder / "registry" / "index.json"
    before = index.read_bytes()
    (folder / "registry" / "index.json.lock").write_text("pid 1\n")
    code, out, err = run(capsys, "promote", "v1", "production", *CHANGE)
    assert code == 1 and out == ""
    assert err.startswith("mlcicd registry: conflict: registry changed while")
    assert "delete it" in err and len(err.strip().splitlines()) == 1
    assert index.read_bytes() == before


def test_an_s3_registry_through_a_local_endpoint(folder, models, capsys, monkeypatch):
    """The CLI makes its boto3 client from the AWS environment: AWS_ENDPOINT_URL sends it
    to moto's server on 127.0.0.1."""
    for name in AWS_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with local_aws() as target:
        monkeypatch.setenv("AWS_ENDPOINT_URL", target.endpoint_url)
        s3 = target.client("s3")
        s3.create_bucket(Bucket="models")
        location = ("--registry", "s3://models/churn")
        assert run(capsys, "register", models[0], *CHANGE, *location)[0] == 0
        code, out, err = run(capsys, "promote", "v1", "staging", *CHANGE, *location)
        assert code == 0 and "v1    candidate -> staging" in out, err
        code, out, _ = run(capsys, "list", "--json", *location)
        assert [(v["version"], v["stage"]) for v in json.loads(out)] == [("v1", "staging")]
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="models")["Contents"])
        sha256 = modelstore.sha256_file(models[0])
        assert keys == [f"churn/artifacts/{sha256}.joblib",
                        f"churn/artifacts/{sha256}.joblib.meta.json", "churn/index.json"]
