"""Helpers for the registry tests: small model files, and workers for concurrent processes.

The workers run in processes started with the "spawn" method (the one Windows and macOS
use), so they live in an importable module and take only picklable arguments.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from mlcicd_course import modelstore
from mlcicd_course.registry import ConflictError, LocalBackend, ModelRegistry
from mlcicd_course.registry.store import Blob

BARRIER_TIMEOUT = 60  # seconds; only reached if a process died, never on the happy path


class Constant:
    """A model that answers `value` for every row (cheap to pickle, no library needed)."""

    def __init__(self, value: int):
        self.value = value

    def predict(self, rows: list[Any]) -> list[int]:
        return [self.value] * len(rows)


def save_model(folder: Path, name: str, constant: int) -> Path:
    """A model that always answers `constant`, saved with its sidecar by the model store."""
    path = folder / f"{name}.joblib"
    modelstore.save_model(Constant(constant), path, {
        "training_data": {"sha256": f"data-{name}"},
        "metrics": {"accuracy": 0.5 + constant / 10}})
    return path


class Racing:
    """A backend whose next write waits until every racer is ready to write too.

    Every process has then read the same index before any of them writes, which is the
    worst case for a lost update: all of them decide on the same state.
    """

    def __init__(self, backend: Any, barrier: Any):
        self.backend = backend
        self.barrier = barrier
        self.location = backend.location
        self.armed = True

    def read(self, key: str) -> Blob | None:
        return self.backend.read(key)

    def list(self, prefix: str = "") -> list[str]:
        return self.backend.list(prefix)

    def create(self, key: str, data: bytes) -> bool:
        self._wait(key)
        return self.backend.create(key, data)

    def replace(self, key: str, data: bytes, token: str) -> bool:
        self._wait(key)
        return self.backend.replace(key, data, token)

    def _wait(self, key: str) -> None:
        if self.armed and key == "index.json":
            self.armed = False
            self.barrier.wait(BARRIER_TIMEOUT)


def promote_in_rounds(root: str, versions: list[str], barrier: Any) -> list[str]:
    """Promote one version to production per round, racing the other processes; return
    "won" or "conflict" per round."""
    outcomes = []
    for version in versions:
        racing = Racing(LocalBackend(root), barrier)
        try:
            ModelRegistry(racing).promote(version, "production", by=f"worker-{version}",
                                          reason="race")
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")
        barrier.wait(BARRIER_TIMEOUT)  # the round is over for everyone before the next read
    return outcomes


def register_racing(root: str, model_path: str, barrier: Any) -> str:
    """Register a model while the other processes register theirs; return its version."""
    racing = Racing(LocalBackend(root), barrier)
    return ModelRegistry(racing).register(model_path, metrics={}, data_fingerprint="race",
                                          by="worker", reason="race").version


def _report(target: Any, arguments: tuple[Any, ...], barrier: Any, results: Any,
            index: int) -> None:
    try:
        results.put((index, target(*arguments, barrier)))
    except BaseException as err:  # noqa: BLE001 - reported to the test, which fails on it
        barrier.abort()
        results.put((index, f"error: {type(err).__name__}: {err}"))


def run_in_processes(target: Any, argument_lists: list[tuple[Any, ...]]) -> list[Any]:
    """Run `target(*arguments, barrier)` in one spawned process per argument list, all
    sharing one barrier; return their results (or "error: ..." lines) in order."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(argument_lists))
    results = context.SimpleQueue()
    processes = [context.Process(target=_report, args=(target, arguments, barrier, results, i))
                 for i, arguments in enumerate(argument_lists)]
    for process in processes:
        process.start()
    try:
        collected = dict(results.get() for _ in processes)
    finally:
        for process in processes:
            process.join(BARRIER_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
    return [collected[i] for i in range(len(processes))]
