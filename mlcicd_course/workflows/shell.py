"""Processes and GitHub's file commands: running a step's shell, reading GITHUB_OUTPUT."""


from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

MINUTE = 60.0


def shell_command(shell: str | None, bash: str) -> tuple[list[str], str]:
    if shell is None:
        return [bash, "-e", "{0}"], ".sh"
    if shell == "bash":
        return [bash, "--noprofile", "--norc", "-eo", "pipefail", "{0}"], ".sh"
    if shell == "sh":
        return ["sh", "-e", "{0}"], ".sh"
    if shell == "python":
        return [sys.executable, "{0}"], ".py"
    parts = shlex.split(shell)
    if parts and parts[0] == "bash":
        parts[0] = bash
    return parts, ".sh"


def execute(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
            ) -> tuple[int, str, bool]:
    """Run a command; return (exit code, stdout+stderr, timed out)."""
    try:
        process = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=os.name == "posix")
    except OSError as err:
        return 127, f"cannot start {argv[0]}: {err.strerror}\n", False
    try:
        out, _ = process.communicate(timeout=timeout)
        return process.returncode, out.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
        else:
            process.kill()
        out, _ = process.communicate()
        return -9, out.decode("utf-8", "replace"), True


def hash_files_in(workspace: Path) -> Callable[[Sequence[str]], str]:
    def hash_files(patterns: Sequence[str]) -> str:
        files: set[Path] = set()
        for pattern in patterns:
            files.update(p for p in workspace.glob(pattern) if p.is_file())
        if not files:
            return ""
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()
    return hash_files


def parse_file_command(text: str, what: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file (`name=value` and `name<<DELIM` blocks)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while index < len(lines) and lines[index].rstrip("\r") != delimiter:
                body.append(lines[index].rstrip("\r"))
                index += 1
            if index >= len(lines):
                raise ValueError(f"{what}: matching delimiter not found {delimiter!r}")
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"{what}: invalid line {line!r} (expected name=value or "
                             "name<<DELIMITER)")
    return values
