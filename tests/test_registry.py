"""The model registry: the same behaviour on a local folder and on S3 (moto's `mock_aws`)."""

from __future__ import annotations

import hashlib
import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from mlcicd_course import modelstore
from mlcicd_course.errors import UserInputError
from mlcicd_course.registry import (
    MLFLOW_MAPPING,
    STAGES,
    ConflictError,
    LocalBackend,
    ModelRegistry,
    RegistryError,
    S3Backend,
    StageChange,
    open_registry,
)
from tests.registry_support import AWS_SETTINGS, Racers, save_model

BUCKET = "models"


class Clock:
    """A clock that moves one minute per reading."""

    def __init__(self):
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> list[Path]:
    """Four model files with different bytes (constant answers 0..3)."""
    folder = tmp_path_factory.mktemp("models")
    return [save_model(folder, f"m{i}", i) for i in range(4)]


@pytest.fixture(scope="module")
def s3_session():
    """Fake credentials and none of the caller's AWS settings, and one boto3 S3 client
    (making a client takes a quarter of a second); used only inside `mock_aws`."""
    with pytest.MonkeyPatch.context() as env:
        for name in AWS_SETTINGS:
            env.delenv(name, raising=False)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.setenv(name, "testing")
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def s3_client(s3_session):
    """The S3 client inside a fresh `mock_aws` for this test, with the bucket created."""
    with mock_aws():
        s3_session.create_bucket(Bucket=BUCKET)
        yield s3_session


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    if request.param == "local":
        return LocalBackend(tmp_path / "registry")
    return S3Backend(request.getfixturevalue("s3_client"), BUCKET, "team/churn")


@pytest.fixture
def registry(backend) -> ModelRegistry:
    return ModelRegistry(backend, clock=Clock())


def register(registry, path, **overrides):
    arguments = {"metrics": {"accuracy": 0.9}, "data_fingerprint": "fp", "by": "ana",
                 "reason": "monthly retrain", **overrides}
    return registry.register(path, **arguments)


def stages(registry) -> dict[str, str]:
    return {v.version: v.stage for v in registry.versions()}


def tamper(backend, key: str, data: bytes) -> None:
    """Overwrite a stored object, as a damaged disk or a careless hand would."""
    current = backend.read(key)
    assert current is not None and backend.replace(key, data, current.token)


# ------------------------------------------------------------------ registering


def test_register_allocates_versions_and_records_the_metadata(registry, models):
    first = register(registry, models[0], metrics={"accuracy": 0.91, "f1": 1})
    second = register(registry, models[1], parent="v1", by="bo", reason="new features")
    assert (first.version, second.version) == ("v1", "v2")
    assert first.sha256 == modelstore.sha256_file(models[0])
    assert first.metrics == {"accuracy": 0.91, "f1": 1.0} and first.stage == "candidate"
    assert (second.parent, second.created_by, second.reason) == ("v1", "bo", "new features")
    assert first.created_at == "2026-03-01T09:01:00Z"
    assert second.created_at == "2026-03-01T09:02:00Z"
    assert registry.get("v2") == second and registry.versions() == [first, second]
    assert [(c.version, c.from_stage, c.to_stage, c.action) for c in registry.history()] == [
        ("v1", "none", "candidate", "register"), ("v2", "none", "candidate", "register")]
    assert registry.find(second.sha256) == second


def test_the_index_is_indented_json_with_sorted_keys(registry, models):
    register(registry, models[0])
    registry.promote("v1", "production", by="ana", reason="first release")
    text = registry.backend.read("index.json").data.decode()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["versions"][0]["stage"] == "production"
    assert data["history"][-1]["reason"] == "first release"


def test_register_refuses_bad_input_and_writes_nothing(registry, models, tmp_path):
    register(registry, models[0])
    with pytest.raises(RegistryError, match="already registered as v1"):
        register(registry, models[0])
    cases = [({"parent": "v9"}, "no version 'v9'"), ({"by": " "}, "by must be"),
             ({"reason": ""}, "reason must be"),
             ({"metrics": {"accuracy": float("nan")}}, "metric 'accuracy' must be a finite"),
             ({"metrics": {"accuracy": True}}, "must be a finite number")]
    for overrides, message in cases:
        with pytest.raises(RegistryError, match=message):
            register(registry, models[1], **overrides)
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(models[1].read_bytes()[:-1])
    modelstore.metadata_path(broken).write_bytes(modelstore.metadata_path(models[1]).read_bytes())
    with pytest.raises(UserInputError, match="does not match the sha256"):
        register(registry, broken)
    assert [v.version for v in registry.versions()] == ["v1"]


# ------------------------------------------------------------------ stages


def test_promotions_move_the_holder_out_and_delete_nothing(registry, models):
    for path in models[:3]:
        register(registry, path)
    keys = registry.backend.list("artifacts/")
    registry.promote("v1", "staging", by="ana", reason="tests passed")
    registry.promote("v2", "staging", by="ana", reason="better")
    assert stages(registry) == {"v1": "candidate", "v2": "staging", "v3": "candidate"}
    registry.promote("v2", "production", by="bo", reason="canary passed")
    change = registry.promote("v3", "production", by="bo", reason="hotfix")
    assert change == StageChange("v3", "candidate", "production", change.at, "bo", "hotfix")
    assert stages(registry) == {"v1": "candidate", "v2": "archived", "v3": "production"}
    assert registry.current("production").version == "v3" and registry.current("staging") is None
    assert registry.backend.list("artifacts/") == keys and len(keys) == 6
    replaced = registry.history()[-2]
    assert (replaced.version, replaced.from_stage, replaced.to_stage, replaced.action) == (
        "v2", "production", "archived", "replaced")
    assert replaced.reason == "v3 promoted to production: hotfix" and replaced.by == "bo"


def test_rollback_walks_back_through_earlier_holders(registry, models):
    for path in models[:3]:
        register(registry, path)
    for version in ("v1", "v2", "v3"):
        registry.promote(version, "production", by="ci", reason=f"release {version}")
    change = registry.rollback("production", by="oncall", reason="error rate 5%")
    assert (change.version, change.from_stage, change.to_stage, change.action) == (
        "v2", "archived", "production", "rollback")
    assert stages(registry) == {"v1": "archived", "v2": "production", "v3": "archived"}
    registry.rollback("production", by="oncall", reason="still bad")
    assert registry.current("production").version == "v1"
    with pytest.raises(RegistryError, match="held no version before v1 was promoted into it"):
        registry.rollback("production", by="oncall", reason="again")
    assert registry.current("production").version == "v1"
    assert [c.by for c in registry.history()[-4:]] == ["oncall"] * 4


def test_rollback_refuses_a_version_that_moved_on(registry, models):
    for path in models[:2]:
        register(registry, path)
    registry.promote("v1", "staging", by="ci", reason="r1")
    registry.promote("v2", "staging", by="ci", reason="r2")
    registry.promote("v1", "production", by="ci", reason="v1 to production")
    with pytest.raises(RegistryError, match="cannot roll back staging to v1: it has moved on"):
        registry.rollback("staging", by="ci", reason="undo")
    assert stages(registry) == {"v1": "production", "v2": "staging"}


BAD_CALLS = [
    (lambda r: r.promote("v7", "production", by="a", reason="b"), "no version 'v7'.*v1"),
    (lambda r: r.promote("v1", "prod", by="a", reason="b"), "unknown stage 'prod'"),
    (lambda r: r.promote("v1", "candidate", by="a", reason="b"), "already in candidate"),
    (lambda r: r.rollback("archived", by="a", reason="b"), "only staging and production"),
    (lambda r: r.current("candidate"), "unknown deployed stage"),
    (lambda r: r.get("1"), "no version '1'"),
]


def test_bad_versions_and_stages_are_one_line_errors(registry, models):
    register(registry, models[0])
    before = registry.backend.read("index.json").data
    for call, message in BAD_CALLS:
        with pytest.raises(RegistryError, match=message) as caught:
            call(registry)
        assert "\n" not in str(caught.value)
    assert registry.backend.read("index.json").data == before


def test_an_empty_registry_has_no_versions_and_nothing_in_production(registry):
    assert not registry.exists()
    assert registry.versions() == [] and registry.history() == []
    assert registry.current("production") is None


# ------------------------------------------------------------------ artifacts


def test_fetch_and_load_give_back_the_registered_model(registry, models, tmp_path):
    register(registry, models[0])
    register(registry, models[3])
    path = registry.fetch("v2", tmp_path / "out")
    assert path.read_bytes() == models[3].read_bytes()
    assert modelstore.metadata_path(path).read_bytes() == \
        modelstore.metadata_path(models[3]).read_bytes()
    loaded = registry.load("v2")
    assert loaded.sha256 == registry.get("v2").sha256
    assert list(loaded.model.predict([[5], [6]])) == [3, 3]


def test_a_flipped_byte_is_refused(registry, models, tmp_path):
    version = register(registry, models[0])
    key = f"artifacts/{version.sha256}.joblib"
    data = bytearray(registry.backend.read(key).data)
    data[len(data) // 2] ^= 0x01
    tamper(registry.backend, key, bytes(data))
    for call in (lambda: registry.load("v1"), lambda: registry.fetch("v1", tmp_path / "f")):
        with pytest.raises(RegistryError, match="v1: model file .* does not match the sha256"):
            call()
    assert not (tmp_path / "f").exists()


def test_a_truncated_sidecar_is_one_line(registry, models):
    version = register(registry, models[0])
    key = f"artifacts/{version.sha256}.joblib.meta.json"
    tamper(registry.backend, key, registry.backend.read(key).data[:30])
    with pytest.raises(RegistryError, match="v1: sidecar .*meta.json is not valid JSON") as caught:
        registry.load("v1")
    assert "\n" not in str(caught.value)


def test_swapped_artifacts_are_refused_even_with_matching_sidecars(registry, models):
    a, b = register(registry, models[0]), register(registry, models[1])
    keys = {}
    for version in (a, b):
        model = f"artifacts/{version.sha256}.joblib"
        keys[version.version] = (model, model + ".meta.json")
    stored = {v: [registry.backend.read(k).data for k in keys[v]] for v in keys}
    for (mine, other) in (("v1", "v2"), ("v2", "v1")):
        for key, data in zip(keys[mine], stored[other], strict=True):
            tamper(registry.backend, key, data)
    for version in ("v1", "v2"):
        with pytest.raises(RegistryError, match=f"{version}: sidecar .* does not record the "
                                                "registered sha256"):
            registry.load(version)


def test_a_replaced_pickle_never_runs(registry, models, tmp_path):
    """A pickle that would create a file when loaded, with a sidecar that matches it: only
    the sha256 recorded in the registry stops it, before unpickling."""
    version = register(registry, models[0])
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(Trace(marker))
    meta = json.loads(modelstore.metadata_path(models[0]).read_text())
    meta["sha256"] = hashlib.sha256(evil).hexdigest()
    key = f"artifacts/{version.sha256}.joblib"
    tamper(registry.backend, key, evil)
    tamper(registry.backend, key + ".meta.json", json.dumps(meta).encode())
    with pytest.raises(RegistryError, match="does not record the registered sha256"):
        registry.load("v1")
    assert not marker.exists()


class Trace:
    """Unpickling this object creates a file: proof that loading a pickle runs code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


DAMAGES = {
    "truncated": lambda text: text[: len(text) // 2],
    "not an object": lambda text: "[]",
    "unknown stage": lambda text: text.replace('"stage": "candidate"', '"stage": "beta"'),
    "other format": lambda text: text.replace("mlcicd-registry/1", "mlcicd-registry/9"),
    "two in production": lambda text: text.replace('"stage": "candidate"',
                                                   '"stage": "production"'),
    "unknown earlier holder": lambda text: text.replace('"staging": []', '"staging": ["v7"]'),
}


def test_a_damaged_index_is_one_line_and_left_alone(registry, models):
    register(registry, models[0])
    register(registry, models[1])
    text = registry.backend.read("index.json").data.decode()
    for name, damage in DAMAGES.items():
        damaged = damage(text)
        assert damaged != text, name
        tamper(registry.backend, "index.json", damaged.encode())
        for call in (registry.versions, lambda: registry.promote("v1", "staging", by="a",
                                                                 reason="b")):
            with pytest.raises(RegistryError, match="registry index .*index.json is") as caught:
                call()
            assert "\n" not in str(caught.value), name
        assert registry.backend.read("index.json").data.decode() == damaged, name
        tamper(registry.backend, "index.json", text.encode())
    assert [v.version for v in registry.versions()] == ["v1", "v2"]


def test_a_damaged_leftover_of_an_unfinished_registration_is_replaced(registry, models):
    sha256 = modelstore.sha256_file(models[2])
    key = f"artifacts/{sha256}.joblib"
    assert registry.backend.create(key, b"half a pickle")
    register(registry, models[2])
    assert registry.backend.read(key).data == models[2].read_bytes()
    assert registry.load("v1").model.predict([[0]]) == [2]


# ------------------------------------------------------------------ concurrency


class WritesFirst:
    """A backend on which `intruder(registry)` runs just before this registry's next
    write of the index: the worst moment for it."""

    def __init__(self, backend, intruder):
        self.backend, self.intruder, self.location = backend, intruder, backend.location

    def read(self, key):
        return self.backend.read(key)

    def list(self, prefix=""):
        return self.backend.list(prefix)

    def create(self, key, data):
        self._intrude(key)
        return self.backend.create(key, data)

    def replace(self, key, data, token):
        self._intrude(key)
        return self.backend.replace(key, data, token)

    def _intrude(self, key):
        if key == "index.json" and self.intruder is not None:
            intruder, self.intruder = self.intruder, None
            intruder(ModelRegistry(self.backend, clock=Clock()))


def test_a_promotion_that_lost_the_race_writes_nothing(registry, models):
    for path in models[:3]:
        register(registry, path)
    registry.promote("v1", "production", by="ci", reason="first")
    rival = ModelRegistry(WritesFirst(registry.backend, lambda other: other.promote(
        "v2", "production", by="bo", reason="bo was first")))
    with pytest.raises(ConflictError, match="changed while this change was being made"):
        rival.promote("v3", "production", by="ana", reason="ana was second")
    assert stages(registry) == {"v1": "archived", "v2": "production", "v3": "candidate"}
    assert [c.by for c in registry.history()[-2:]] == ["bo", "bo"]
    registry.rollback("production", by="ci", reason="rollback sees bo's promotion")
    assert registry.current("production").version == "v1"


def test_a_registration_that_lost_the_race_takes_the_next_number(registry, models):
    rival = ModelRegistry(WritesFirst(registry.backend, lambda other: register(
        other, models[1])), clock=Clock())
    mine = register(rival, models[0])
    assert mine.version == "v2" and registry.get("v1").sha256 == modelstore.sha256_file(models[1])
    assert [c.version for c in registry.history()] == ["v1", "v2"]


def test_concurrent_processes_one_promotion_wins_per_round(tmp_path):
    root = tmp_path / "registry"
    registry = ModelRegistry(LocalBackend(root), clock=Clock())
    racers, rounds = 3, 2
    for index in range(racers * rounds):
        register(registry, save_model(tmp_path, f"r{index}", index))
    plans = [[f"v{r * racers + p + 1}" for r in range(rounds)] for p in range(racers)]
    outcomes = []
    with Racers([("promote", str(root), *plan) for plan in plans]) as processes:
        for round_ in range(rounds):
            if round_:
                processes.send("next")
            assert processes.lines() == ["ready"] * racers
            processes.send("go")
            outcomes.append(processes.lines())
    for results in outcomes:
        assert sorted(results) == ["conflict"] * (racers - 1) + ["won"], outcomes
    winners = [plans[results.index("won")][r] for r, results in enumerate(outcomes)]
    assert registry.current("production").version == winners[-1]
    assert stages(registry)[winners[0]] == "archived"
    promotions = [c for c in registry.history() if c.action == "promote"]
    assert [(c.version, c.by) for c in promotions] == [(v, f"racer-{v}") for v in winners]
    assert registry.backend.list() == sorted(["index.json", *registry.backend.list("art")])
    assert not list(root.glob("*.lock")) and not list(root.glob(".*.tmp"))


def test_concurrent_processes_register_distinct_versions(tmp_path, models):
    root, racing = tmp_path / "registry", models[:3]
    with Racers([("register", str(root), str(m)) for m in racing]) as processes:
        assert processes.lines() == ["ready"] * len(racing)
        processes.send("go")
        versions = processes.lines()
    assert sorted(versions) == ["v1", "v2", "v3"], versions
    registry = ModelRegistry(LocalBackend(root))
    assert {v.version: v.sha256 for v in registry.versions()} == {
        version: modelstore.sha256_file(m) for version, m in zip(versions, racing, strict=True)}
    assert sorted(c.version for c in registry.history()) == ["v1", "v2", "v3"]


# ------------------------------------------------------------------ opening


def test_open_registry_picks_the_backend_from_the_location(tmp_path, s3_client):
    local = open_registry(str(tmp_path / "reg"))
    assert isinstance(local.backend, LocalBackend) and local.location == str(tmp_path / "reg")
    remote = open_registry("s3://models/team/churn/", s3_client=s3_client)
    assert isinstance(remote.backend, S3Backend) and remote.location == "s3://models/team/churn"
    for location, message in [("s3://", "no bucket"), ("gs://b/p", "unsupported"),
                              ("", "is empty")]:
        with pytest.raises(RegistryError, match=message):
            open_registry(location, s3_client=s3_client)
    with pytest.raises(RegistryError, match="needs a boto3 S3 client"):
        open_registry("s3://models/x")


def test_a_missing_bucket_is_one_line(s3_client):
    registry = open_registry("s3://no-such-bucket/x", s3_client=s3_client)
    with pytest.raises(RegistryError, match="NoSuchBucket: the bucket does not exist"):
        registry.versions()


def test_the_mlflow_mapping_names_aliases_not_stages():
    ours = [row[0] for row in MLFLOW_MAPPING]
    assert all(len(row) == 3 and all(row) for row in MLFLOW_MAPPING)
    assert all(any(stage in concept for concept in ours) for stage in STAGES)
    production = next(row for row in MLFLOW_MAPPING if row[0].startswith("stage production"))
    assert "@champion" in production[1] and "deprecated" in production[2]
