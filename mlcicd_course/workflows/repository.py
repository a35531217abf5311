"""The files a checkout of a repository holds, and copying them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: Folders never copied into a job's workspace when the repository is not a git checkout.
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build",
             ".ipynb_checkpoints", "node_modules", ".mypy_cache"}


def git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def repository_files(repo: Path) -> list[str]:
    """Relative paths that a checkout of `repo` holds (git's view, else a folder walk)."""
    listing = None
    if (repo / ".git").exists():
        try:
            done = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached",
                                   "--others", "--exclude-standard"], capture_output=True,
                                  timeout=120)
            if done.returncode == 0:
                listing = [p for p in done.stdout.decode("utf-8", "replace").split("\0") if p]
        except (OSError, subprocess.SubprocessError):
            listing = None
    if listing is None:
        listing = []
        for root, dirs, files in os.walk(repo):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(files):
                listing.append(str((Path(root) / name).relative_to(repo)))
    return sorted({p for p in listing if (repo / p).is_file()})


def copy_files(source: Path, files: Sequence[str], target: Path) -> None:
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(source / relative, destination)
        except FileNotFoundError:  # deleted since it was listed (someone is editing)
            continue
