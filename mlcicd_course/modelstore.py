"""Saving and loading models safely: a joblib file plus a metadata sidecar with its sha256.

A model is saved as two files side by side::

    model.joblib             the fitted scikit-learn object (joblib, i.e. a pickle)
    model.joblib.meta.json   metadata: sha256 and size of model.joblib, library
                             versions, parameters, features, training-data
                             fingerprint, metrics (see `training.TrainedModel`)

`load_model` recomputes the sha256 of the model file and compares it with the one
recorded in the sidecar BEFORE unpickling. Loading a pickle runs code chosen by
whoever wrote the file, so a file that is corrupt, truncated or was swapped for
another is refused with a clear message instead of being executed. The sidecar only
protects against accidents and careless swaps: someone who can rewrite both files can
rewrite both hashes. For files from elsewhere, pass `expected_sha256` from a source you
trust (a registry, a signed release note), which pins the exact bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_outputs, json_text, read_bytes, read_json, write_outputs

META_SUFFIX = ".meta.json"
FORMAT = "mlcicd-model/1"
VERSIONED_LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "joblib", "mlcicd-course")


def metadata_path(model_path: str | os.PathLike[str]) -> Path:
    """The sidecar path of a model file: `MODEL.joblib` -> `MODEL.joblib.meta.json`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + META_SUFFIX)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a saved model depends on."""
    versions = {}
    for name in VERSIONED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class LoadedModel:
    """A model loaded by `load_model`, with its verified metadata."""

    model: Any
    metadata: dict[str, Any]
    path: Path
    version_differences: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """The verified sha256 of the model file."""
        return str(self.metadata["sha256"])

    def to_dict(self) -> dict[str, Any]:
        """Path, sha256 and library-version differences (saved vs running)."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "version_differences": {k: list(v) for k, v in self.version_differences.items()},
        }


def model_files(
    model: Any, path: str | os.PathLike[str], metadata: dict[str, Any],
) -> tuple[dict[Path, bytes | str], dict[str, Any]]:
    """The two files of a saved model, as {path: content}, and the sidecar's record.

    The sidecar gets `format`, `file`, `sha256`, `size_bytes` and `libraries` on top of
    `metadata`. Nothing is written: pass the files to `fileio.write_outputs` (with any
    other outputs of the same command, so that they are written all or nothing).
    """
    import joblib  # here, not at the top: reading sidecars and checking hashes needs none

    path = Path(path)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    data = buffer.getvalue()
    record = {
        **metadata,
        "format": FORMAT,
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "libraries": library_versions(),
    }
    return {path: data, metadata_path(path): json_text(record)}, record


def save_model(
    model: Any, path: str | os.PathLike[str], metadata: dict[str, Any],
) -> dict[str, Any]:
    """Write `model` to `path` with joblib and its metadata sidecar; return the metadata.

    Both files are written all or nothing (`model_files`, `fileio.write_outputs`), so an
    error leaves any earlier model untouched.
    """
    check_outputs(("model output path", path), ("model metadata path", metadata_path(path)))
    files, record = model_files(model, path, metadata)
    write_outputs(files)
    return record


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata sidecar of a model file (no unpickling), with clear errors."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"model file not found: {path}")
    if path.is_dir():
        raise UserInputError(f"model path is a folder, expected a file: {path}")
    meta_path = metadata_path(path)
    if not meta_path.is_file():
        raise UserInputError(
            f"no metadata file {meta_path.name} beside the model {path}: refusing to unpickle "
            "a model whose sha256 cannot be checked (save models with `mlcicd train`)")
    meta = read_json(meta_path, what="model metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
        raise UserInputError(f"model metadata {meta_path} has no sha256 field")
    return meta


def check_model_bytes(path: str | os.PathLike[str], data: bytes, meta: dict[str, Any], *,
                      expected_sha256: str | None = None) -> None:
    """Refuse (UserInputError) model bytes whose sha256 differs from the sidecar's `meta`
    or from `expected_sha256`; `path` only names the file in the message."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta["sha256"]:
        raise UserInputError(
            f"model file {path} does not match the sha256 in {metadata_path(path).name} "
            f"(file {actual[:12]}..., recorded {meta['sha256'][:12]}...): the file is corrupt "
            "or was replaced; refusing to unpickle it")
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise UserInputError(
            f"model file {path} has sha256 {actual[:12]}..., expected {expected_sha256[:12]}...: "
            "refusing to unpickle it")


def load_model(path: str | os.PathLike[str], *, expected_sha256: str | None = None) -> LoadedModel:
    """Load a model saved by `save_model`, verifying its sha256 before unpickling.

    Refuses (UserInputError) a missing sidecar, a file whose sha256 differs from the
    sidecar's or from `expected_sha256`, a file joblib cannot read, and an object
    without `predict`. Library versions that differ from the saved ones are listed in
    `version_differences`.
    """
    path = Path(path)
    meta = read_metadata(path)
    data = read_bytes(path, what="model")
    check_model_bytes(path, data, meta, expected_sha256=expected_sha256)
    import joblib

    try:
        model = joblib.load(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad model file
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
        raise UserInputError(
            f"cannot load model {path}: {type(err).__name__}: {detail}") from None
    if not hasattr(model, "predict"):
        raise UserInputError(f"{path} holds a {type(model).__name__}, not a model with predict()")
    saved = meta.get("libraries", {})
    running = library_versions()
    differences = {name: (str(saved[name]), running[name])
                   for name in sorted(saved) if name in running and saved[name] != running[name]}
    return LoadedModel(model=model, metadata=meta, path=path, version_differences=differences)
