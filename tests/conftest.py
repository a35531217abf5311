"""Shared fixtures for the package tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Deliberately broken workflows and tampered notebooks are test data: with --nbval,
# pytest would otherwise try to run the fixture notebooks themselves.
collect_ignore_glob = ["fixtures/*"]

#: Variables that CI services set (GitHub Actions: GITHUB_*, RUNNER_*, ACTIONS_*, CI).
#: The package reads some of them (GITHUB_STEP_SUMMARY, ...), so no test may inherit them
#: from whoever runs the suite; a test that needs one sets it itself.
CI_VARIABLE = re.compile(r"^(GITHUB_|RUNNER_|ACTIONS_|CI$)", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _no_ci_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test (and the processes it starts) without the caller's CI variables."""
    for name in list(os.environ):
        if CI_VARIABLE.match(name):
            monkeypatch.delenv(name)


@pytest.fixture
def run_cli(tmp_path):
    """Run `mlcicd ARGS...` in a subprocess (in tmp_path); return the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlcicd_course", *map(str, args)],
            cwd=cwd or tmp_path, capture_output=True, text=True, timeout=300,
        )

    return run
