"""Shared fixtures for the package tests."""

from __future__ import annotations

import builtins
import errno
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlcicd_course import ONE_THREAD_ENV

ROOT = Path(__file__).resolve().parent.parent

# One thread per numeric library in every test process and what it starts (notebook
# kernels included): pytest-xdist already runs one worker per core (HistGradientBoosting
# on 300 rows took 11 s instead of 0.9 s with the threads). Set before numpy loads.
os.environ.update(ONE_THREAD_ENV)

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


@pytest.fixture
def make_unreadable(monkeypatch):
    """`make_unreadable(path)`: reading the file then fails with "Permission denied".

    POSIX permissions (chmod 000) where they hold; where the test process can read
    the file anyway (root, Windows) opening it raises the PermissionError the
    operating system would. Modes are restored after the test.
    """
    blocked: set[str] = set()
    restore: list[tuple[Path, int]] = []
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, str | os.PathLike) and os.path.realpath(file) in blocked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, *args, **kwargs)

    def block(path: Path) -> None:
        restore.append((path, path.stat().st_mode))
        path.chmod(0)
        try:
            with real_open(path, "rb"):
                pass
        except PermissionError:
            return
        blocked.add(os.path.realpath(path))
        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(io, "open", guarded_open)

    yield block
    for path, mode in restore:
        path.chmod(mode)


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder this process cannot create files in (POSIX only: skipped where
    permissions do not stop the process, e.g. as root)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").write_text("")
    except PermissionError:
        yield folder
    else:
        pytest.skip("this process can write into a read-only folder (root or Windows)")
    finally:
        folder.chmod(0o755)
