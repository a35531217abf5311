"""A model registry: versioned, verified model artifacts and the stages they move through.

Everything the registry knows is in one JSON index (`index.json`, indented, sorted keys):
the versions with their metadata, the stage each one is in, the versions each deployed
stage held before (for `rollback`), and the history of every change: who, when, why.
Artifacts are stored once under their sha256 (`artifacts/<sha256>.joblib` and its
`.meta.json` sidecar) and never deleted.

Every change reads the index, computes the new one and writes it back only if nobody
wrote it in between (the backend's conditional replace). Two promotions at once thus
cannot both win: the loser gets `ConflictError` and nothing of its change is written.
A registration that loses the race simply tries again with the next version number.

The sha256 recorded at registration is checked before any artifact is unpickled, so a
corrupt or swapped file is refused (`modelstore.check_model_bytes`, `load_model`).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcicd_course import modelstore
from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_output_folder, json_text, read_bytes, write_outputs
from mlcicd_course.registry.errors import ConflictError, RegistryError
from mlcicd_course.registry.store import Backend, Blob, LocalBackend

STAGES = ("candidate", "staging", "production", "archived")
#: The stages that hold one version at a time, and where their holder goes when replaced.
DEPLOYED_STAGES = {"staging": "candidate", "production": "archived"}
NEW = "none"
"""The `from_stage` of a registration (the version did not exist before)."""

INDEX_KEY = "index.json"
FORMAT = "mlcicd-registry/1"
REGISTER_ATTEMPTS = 50
VERSION_ID = re.compile(r"v[1-9][0-9]*")


@dataclass(frozen=True)
class ModelVersion:
    """One registered model: its artifact's sha256, stage and provenance."""

    version: str
    sha256: str
    stage: str
    metrics: dict[str, float]
    data_fingerprint: str
    parent: str | None
    created_at: str
    created_by: str
    reason: str

    @property
    def number(self) -> int:
        """The version's number (v12 -> 12), for ordering."""
        return int(self.version[1:])

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {**asdict(self), "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class StageChange:
    """One entry of the history: `version` moved from one stage to another."""

    version: str
    from_stage: str
    to_stage: str
    at: str
    by: str
    reason: str
    action: str = "promote"
    """register, promote, rollback, or replaced (moved out by another version's move)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)

    def line(self) -> str:
        """One line for a terminal."""
        return (f"{self.at}  {self.version:<5} {self.from_stage} -> {self.to_stage}  "
                f"[{self.action}] {self.by}: {self.reason}")


@dataclass(frozen=True)
class _State:
    """The parsed index: versions by id, earlier holders per deployed stage, history."""

    versions: dict[str, ModelVersion]
    earlier: dict[str, list[str | None]]
    history: list[StageChange]

    def holder(self, stage: str) -> ModelVersion | None:
        return next((v for v in self.versions.values() if v.stage == stage), None)

    def to_json(self) -> bytes:
        ordered = sorted(self.versions.values(), key=lambda v: v.number)
        return json_text({
            "format": FORMAT,
            "versions": [v.to_dict() for v in ordered],
            "earlier_holders": {stage: list(self.earlier.get(stage, []))
                                for stage in DEPLOYED_STAGES},
            "history": [change.to_dict() for change in self.history],
        }).encode("utf-8")


EMPTY = _State(versions={}, earlier={}, history=[])


class ModelRegistry:
    """Register, promote, roll back and fetch model versions kept by a `Backend`."""

    def __init__(self, backend: Backend, *, clock: Callable[[], datetime] | None = None):
        self.backend = backend
        self.clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ reading

    @property
    def location(self) -> str:
        """Where the registry lives (a folder or s3://bucket/prefix)."""
        return self.backend.location

    def exists(self) -> bool:
        """True once something has been registered here."""
        return self.backend.read(INDEX_KEY) is not None

    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first (an empty registry has none)."""
        return sorted(self._read()[0].versions.values(), key=lambda v: v.number)

    def history(self) -> list[StageChange]:
        """Every change, oldest first."""
        return list(self._read()[0].history)

    def get(self, version: str) -> ModelVersion:
        """The version `version` ("v3"); RegistryError if there is none."""
        return self._version(self._read()[0], version)

    def current(self, stage: str) -> ModelVersion | None:
        """The version in a deployed stage (staging, production), None if it is empty."""
        if stage not in DEPLOYED_STAGES:
            raise RegistryError(f"unknown deployed stage {stage!r}: expected one of "
                                f"{', '.join(DEPLOYED_STAGES)}")
        return self._read()[0].holder(stage)

    def find(self, sha256: str) -> ModelVersion | None:
        """The version whose artifact has this sha256, if any."""
        return next((v for v in self.versions() if v.sha256 == sha256.lower()), None)

    # ------------------------------------------------------------------ changing

    def register(self, model_path: str | Path, *, metrics: Mapping[str, float],
                 data_fingerprint: str, parent: str | None = None, by: str,
                 reason: str) -> ModelVersion:
        """Store a model saved by `modelstore.save_model` as the next version, a candidate.

        The model file must match its sidecar's sha256; the same bytes registered twice
        are refused (naming the version that has them). Losing the race for a version
        number to another registration retries with the next one.
        """
        by, reason = _required("by", by), _required("reason", reason)
        metrics = _metrics(metrics)
        if not isinstance(data_fingerprint, str):
            raise RegistryError("data_fingerprint must be a string")
        model_path = Path(model_path)
        meta = modelstore.read_metadata(model_path)
        data = read_bytes(model_path, what="model")
        modelstore.check_model_bytes(model_path, data, meta)
        sidecar = read_bytes(modelstore.metadata_path(model_path), what="model metadata")
        sha256 = meta["sha256"]
        self._check_new(self._read()[0], model_path, sha256, parent)
        self._store_artifact(sha256, data, sidecar)
        for _ in range(REGISTER_ATTEMPTS):
            state, blob = self._read()
            self._check_new(state, model_path, sha256, parent)
            number = max((v.number for v in state.versions.values()), default=0) + 1
            now = self._now()
            version = ModelVersion(
                version=f"v{number}", sha256=sha256, stage="candidate", metrics=metrics,
                data_fingerprint=data_fingerprint, parent=parent, created_at=now,
                created_by=by, reason=reason)
            change = StageChange(version.version, NEW, "candidate", now, by, reason,
                                 action="register")
            new = replace(state, versions={**state.versions, version.version: version},
                          history=[*state.history, change])
            if self._write(new, blob):
                return version
        raise ConflictError(f"{self.location}: {REGISTER_ATTEMPTS} registrations in a row "
                            "lost the race for a version number; nothing was registered, "
                            "retry")

    def promote(self, version: str, stage: str, *, by: str, reason: str) -> StageChange:
        """Move `version` to `stage`.

        Staging and production hold one version each: the version that held the stage
        moves back to candidate (staging) or to archived (production), and is
        remembered for `rollback`. Nothing is deleted.
        """
        by, reason = _required("by", by), _required("reason", reason)
        _check_stage(stage)
        state, blob = self._read()
        target = self._version(state, version)
        if target.stage == stage:
            raise RegistryError(f"{version} is already in {stage}")
        now = self._now()
        changes = [StageChange(version, target.stage, stage, now, by, reason)]
        versions = {**state.versions, version: replace(target, stage=stage)}
        earlier = dict(state.earlier)
        if stage in DEPLOYED_STAGES:
            held = state.holder(stage)
            earlier[stage] = [*state.earlier.get(stage, []), held.version if held else None]
            if held is not None:
                versions[held.version] = replace(held, stage=DEPLOYED_STAGES[stage])
                changes.insert(0, StageChange(held.version, stage, DEPLOYED_STAGES[stage], now,
                                              by, f"{version} promoted to {stage}: {reason}",
                                              action="replaced"))
        self._commit(state, blob, versions, earlier, changes)
        return changes[-1]

    def rollback(self, stage: str, *, by: str, reason: str) -> StageChange:
        """Undo the last promotion into `stage`: the version that held it before comes back.

        The version in the stage moves out as a replaced one would (staging -> candidate,
        production -> archived). Repeated rollbacks walk further back. Refused when the
        stage never held another version, or when that version has since moved on.
        """
        by, reason = _required("by", by), _required("reason", reason)
        if stage not in DEPLOYED_STAGES:
            raise RegistryError(f"cannot roll back {stage!r}: only "
                                f"{' and '.join(DEPLOYED_STAGES)} can be rolled back")
        state, blob = self._read()
        earlier = list(state.earlier.get(stage, []))
        previous = earlier.pop() if earlier else None
        held = state.holder(stage)
        if previous is None:
            now_in = f"{held.version} was promoted into it" if held else "its last promotion"
            raise RegistryError(f"{stage} held no version before {now_in}: nothing to roll "
                                "back to")
        back = self._version(state, previous)
        parked = DEPLOYED_STAGES[stage]
        if back.stage != parked:
            raise RegistryError(f"cannot roll back {stage} to {previous}: it has moved on to "
                                f"{back.stage} since")
        now = self._now()
        versions = {**state.versions, previous: replace(back, stage=stage)}
        changes = [StageChange(previous, parked, stage, now, by, reason, action="rollback")]
        if held is not None:
            versions[held.version] = replace(held, stage=parked)
            changes.insert(0, StageChange(held.version, stage, parked, now, by,
                                          f"rolled back to {previous}: {reason}",
                                          action="rollback"))
        self._commit(state, blob, versions, {**state.earlier, stage: earlier}, changes)
        return changes[-1]

    # ------------------------------------------------------------------ artifacts

    def fetch(self, version: str, dest_dir: str | Path) -> Path:
        """Write `version`'s model and sidecar into `dest_dir` as `model-<version>.joblib`
        (+ `.meta.json`), both checked against the registry's sha256 first."""
        record = self.get(version)
        dest = Path(dest_dir) / f"model-{record.version}.joblib"
        check_output_folder("destination folder", dest_dir)
        data, sidecar = self._artifact(record)
        write_outputs({dest: data, modelstore.metadata_path(dest): sidecar})
        return dest

    def load(self, version: str) -> modelstore.LoadedModel:
        """`version`'s model, loaded by `modelstore.load_model` with the registry's sha256
        as `expected_sha256` (the `path` of the result is a removed temporary folder)."""
        record = self.get(version)
        with tempfile.TemporaryDirectory(prefix="mlcicd-registry-") as folder:
            path = self.fetch(version, folder)
            try:
                return modelstore.load_model(path, expected_sha256=record.sha256)
            except UserInputError as err:
                raise RegistryError(f"{self.location}: {version}: {err}") from None

    # ------------------------------------------------------------------ internals

    def _now(self) -> str:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the registry's clock must return timezone-aware datetimes")
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def _version(self, state: _State, version: str) -> ModelVersion:
        if version not in state.versions:
            known = ", ".join(v.version for v in sorted(state.versions.values(),
                                                        key=lambda v: v.number))
            raise RegistryError(f"no version {version!r} in {self.location} "
                                f"(versions: {known or 'none yet'})")
        return state.versions[version]

    def _read(self) -> tuple[_State, Blob | None]:
        blob = self.backend.read(INDEX_KEY)
        if blob is None:
            return EMPTY, None
        return _parse_index(blob.data, f"{self.location}/{INDEX_KEY}"), blob

    def _write(self, state: _State, blob: Blob | None) -> bool:
        data = state.to_json()
        if blob is None:
            return self.backend.create(INDEX_KEY, data)
        return self.backend.replace(INDEX_KEY, data, blob.token)

    def _commit(self, state: _State, blob: Blob | None, versions: dict[str, ModelVersion],
                earlier: dict[str, list[str | None]], changes: list[StageChange]) -> None:
        new = _State(versions=versions, earlier=earlier, history=[*state.history, *changes])
        if not self._write(new, blob):
            raise ConflictError(f"{self.location} changed while this change was being made "
                                "(another promotion or registration won); nothing was "
                                f"written: look at the registry again and retry{self._hint()}")

    def _hint(self) -> str:
        """For a folder: the lock file a killed writer may have left behind."""
        if isinstance(self.backend, LocalBackend):
            lock = self.backend.lock_path(INDEX_KEY)
            if lock.exists():
                return (f" (if this repeats while no other writer runs, a killed one left "
                        f"the lock file {lock}: delete it)")
        return ""

    def _artifact_keys(self, sha256: str) -> tuple[str, str]:
        model = f"artifacts/{sha256}.joblib"
        return model, model + modelstore.META_SUFFIX

    def _check_new(self, state: _State, model_path: Path, sha256: str,
                   parent: str | None) -> None:
        """Refuse a model already registered, or an unknown parent."""
        if parent is not None:
            self._version(state, parent)
        duplicate = next((v for v in state.versions.values() if v.sha256 == sha256), None)
        if duplicate is not None:
            raise RegistryError(f"{model_path} is already registered as "
                                f"{duplicate.version} (sha256 {sha256[:12]}...)")

    def _store_artifact(self, sha256: str, data: bytes, sidecar: bytes) -> None:
        """Store the model and its sidecar under the sha256 of a model no version has yet.

        Files already there were left by a registration that did not finish: the same
        bytes are kept, other bytes (a damaged copy) are replaced.
        """
        model_key, meta_key = self._artifact_keys(sha256)
        for key, content in ((meta_key, sidecar), (model_key, data)):
            if self.backend.create(key, content):
                continue
            stored = self.backend.read(key)
            if stored is not None and stored.data != content \
                    and not self.backend.replace(key, content, stored.token):
                raise ConflictError(f"{self.location}/{key} is being written by another "
                                    "registration of the same model; retry")

    def _artifact(self, record: ModelVersion) -> tuple[bytes, bytes]:
        """The version's model and sidecar bytes, refused unless both match its sha256."""
        model_key, meta_key = self._artifact_keys(record.sha256)
        where = f"{self.location}/{model_key}"
        model, sidecar = self.backend.read(model_key), self.backend.read(meta_key)
        if model is None or sidecar is None:
            raise RegistryError(f"{record.version}: artifact {where} or its sidecar is missing")
        try:
            meta = json.loads(sidecar.data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RegistryError(f"{record.version}: sidecar {where}{modelstore.META_SUFFIX} "
                                "is not valid JSON") from None
        if not isinstance(meta, dict) or meta.get("sha256") != record.sha256:
            raise RegistryError(f"{record.version}: sidecar {where}{modelstore.META_SUFFIX} "
                                f"does not record the registered sha256 {record.sha256[:12]}...")
        try:
            modelstore.check_model_bytes(where, model.data, meta,
                                         expected_sha256=record.sha256)
        except UserInputError as err:
            raise RegistryError(f"{record.version}: {err}") from None
        return model.data, sidecar.data


# ---------------------------------------------------------------------- index and inputs


def _required(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{name} must be a non-empty string (who made the change, and why)")
    return value.strip()


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise RegistryError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")


def _metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise RegistryError("metrics must be a mapping of name -> number")
    clean = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or isinstance(value, bool) \
                or not isinstance(value, int | float) or not math.isfinite(value):
            raise RegistryError(f"metric {name!r} must be a finite number, got {value!r}")
        clean[name] = float(value)
    return dict(sorted(clean.items()))


def _parse_index(data: bytes, where: str) -> _State:
    """The index's state; RegistryError (one line) for anything malformed."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RegistryError(f"registry index {where} is not valid JSON "
                            f"({str(err).splitlines()[0]}); it is damaged: restore it "
                            "from a backup") from None
    try:
        if raw.get("format") != FORMAT:
            raise ValueError(f"format is {raw.get('format')!r}, expected {FORMAT!r}")
        versions = {}
        for item in raw["versions"]:
            version = ModelVersion(**item)
            if not VERSION_ID.fullmatch(version.version) or version.stage not in STAGES:
                raise ValueError(f"bad version entry {version.version!r}")
            versions[version.version] = version
        history = [StageChange(**item) for item in raw["history"]]
        earlier = {stage: list(raw["earlier_holders"][stage]) for stage in DEPLOYED_STAGES}
        for stage in DEPLOYED_STAGES:
            holders = [v.version for v in versions.values() if v.stage == stage]
            if len(holders) > 1:
                raise ValueError(f"{stage} is held by {', '.join(holders)}, not one version")
            unknown = [v for v in earlier[stage] if v is not None and v not in versions]
            if unknown:
                raise ValueError(f"earlier_holders.{stage} names unknown {unknown[0]!r}")
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise RegistryError(f"registry index {where} is malformed: "
                            f"{type(err).__name__}: {str(err).splitlines()[0]}") from None
    return _State(versions=versions, earlier=earlier, history=history)
