"""Helpers for the registry tests: small model files, and racing processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from mlcicd_course import modelstore

RACER = Path(__file__).with_name("registry_race.py")
#: The caller's AWS settings that could send a test's boto3 client anywhere but moto.
AWS_SETTINGS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_SESSION_TOKEN")
EXIT_TIMEOUT = 60  # seconds; reached only if a racer hangs, never on the happy path


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


class Racers:
    """Processes running `registry_race.py`, driven in step through their stdin/stdout.

    Used as a context manager: on the way out every racer is waited for, or killed.
    """

    def __init__(self, argument_lists: list[tuple[str, ...]]):
        self.argument_lists = argument_lists
        self.processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Racers:
        for arguments in self.argument_lists:
            self.processes.append(subprocess.Popen(
                [sys.executable, str(RACER), *arguments], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True))
        return self

    def lines(self) -> list[str]:
        """The next line of every racer (an empty string if it ended)."""
        return [process.stdout.readline().strip() for process in self.processes]

    def send(self, word: str) -> None:
        """Send one line to every racer."""
        for process in self.processes:
            process.stdin.write(word + "\n")
            process.stdin.flush()

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.stdin.close()
            try:
                process.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
