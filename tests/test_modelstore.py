"""Model files: the sha256 sidecar is checked before anything is unpickled."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import joblib
import pytest

from mlcicd_course import datasets, modelstore, training
from mlcicd_course.errors import UserInputError


class LeavesATrace:
    """Unpickling this object creates a file: proof that loading a pickle runs code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def trained() -> training.TrainedModel:
    frame = datasets.sample(400, seed=3)
    return training.train(frame, training.default_config())


@pytest.fixture
def saved(trained, tmp_path) -> Path:
    path = tmp_path / "model.joblib"
    trained.save(path)
    return path


def test_sidecar_sits_beside_the_model_and_records_its_sha256(saved):
    meta_path = modelstore.metadata_path(saved)
    assert meta_path.name == "model.joblib.meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert meta["size_bytes"] == saved.stat().st_size
    assert meta["file"] == "model.joblib" and meta["format"] == "mlcicd-model/1"
    assert set(meta["libraries"]) == set(modelstore.VERSIONED_LIBRARIES)
    assert sorted(p.name for p in saved.parent.iterdir()) == [
        "model.joblib", "model.joblib.meta.json"]


def test_round_trip_predicts_the_same(saved, trained):
    loaded = modelstore.load_model(saved)
    x, _ = training.prepare_features(datasets.sample(50, seed=9), trained.config.features)
    assert (loaded.model.predict(x) == trained.pipeline.predict(x)).all()
    assert loaded.version_differences == {}
    assert loaded.to_dict()["sha256"] == loaded.sha256


def test_a_tampered_model_is_refused_before_unpickling(saved, tmp_path, monkeypatch):
    marker = tmp_path / "code-ran"
    saved.write_bytes(pickle.dumps(LeavesATrace(marker)))
    with pytest.raises(UserInputError, match="does not match the sha256.*refusing to unpickle"):
        modelstore.load_model(saved)
    assert not marker.exists()
    joblib.load(saved)  # the danger is real: plain loading runs the payload
    assert marker.exists()


def test_a_truncated_model_is_refused(saved):
    saved.write_bytes(saved.read_bytes()[:100])
    with pytest.raises(UserInputError, match="corrupt or was replaced"):
        modelstore.load_model(saved)


def test_expected_sha256_pins_the_exact_file(saved):
    sha = modelstore.sha256_file(saved)
    assert modelstore.load_model(saved, expected_sha256=sha.upper()).sha256 == sha
    with pytest.raises(UserInputError, match="expected 000000000000"):
        modelstore.load_model(saved, expected_sha256="0" * 64)


def test_missing_or_broken_sidecars_are_refused(saved):
    meta = modelstore.metadata_path(saved)
    meta.write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        modelstore.load_model(saved)
    meta.write_text('{"file": "model.joblib"}')
    with pytest.raises(UserInputError, match="has no sha256"):
        modelstore.load_model(saved)
    meta.unlink()
    with pytest.raises(UserInputError, match="no metadata file model.joblib.meta.json"):
        modelstore.load_model(saved)


def test_missing_model_and_folder(tmp_path):
    with pytest.raises(UserInputError, match="model file not found"):
        modelstore.load_model(tmp_path / "nope.joblib")
    with pytest.raises(UserInputError, match="is a folder"):
        modelstore.load_model(tmp_path)


def test_matching_hash_but_unreadable_content_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.joblib"
    path.write_bytes(b"this is not a pickle")
    modelstore.metadata_path(path).write_text(json.dumps({"sha256": modelstore.sha256_file(path)}))
    with pytest.raises(UserInputError, match="cannot load model .*garbage.joblib"):
        modelstore.load_model(path)


def test_an_object_without_predict_is_refused(tmp_path):
    modelstore.save_model({"weights": [1, 2]}, tmp_path / "dict.joblib", {})
    with pytest.raises(UserInputError, match="holds a dict, not a model"):
        modelstore.load_model(tmp_path / "dict.joblib")


def test_version_differences_are_reported(saved):
    meta_path = modelstore.metadata_path(saved)
    meta = json.loads(meta_path.read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    loaded = modelstore.load_model(saved)
    assert loaded.version_differences == {
        "scikit-learn": ("0.24.2", modelstore.library_versions()["scikit-learn"])}


def test_a_failed_save_leaves_the_old_model_untouched(saved, trained, monkeypatch):
    before = saved.read_bytes(), modelstore.metadata_path(saved).read_bytes()

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(joblib, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        trained.save(saved)
    assert (saved.read_bytes(), modelstore.metadata_path(saved).read_bytes()) == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [
        "model.joblib", "model.joblib.meta.json"]


def test_saving_onto_a_folder_is_refused(trained, tmp_path):
    with pytest.raises(UserInputError, match="is a folder"):
        trained.save(tmp_path)
