"""Shared fixtures for the package tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Deliberately broken workflows and tampered notebooks are test data: with --nbval,
# pytest would otherwise try to run the fixture notebooks themselves.
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture
def run_cli(tmp_path):
    """Run `mlcicd ARGS...` in a subprocess (in tmp_path); return the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlcicd_course", *map(str, args)],
            cwd=cwd or tmp_path, capture_output=True, text=True, timeout=300,
        )

    return run
