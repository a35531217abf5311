"""Run `mlcicd` and pytest as a terminal or a workflow step would, and print what they say.

The testing chapter shows real command output; these helpers keep the plumbing (working
folder, captured streams, a report that reads the same on every machine) out of it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from mlcicd_course import cli

SHA256 = re.compile(r"\b[0-9a-f]{12}(?:[0-9a-f]{52})?\b")
#: Variables that change pytest's report: a CI variable makes it print whole failure
#: messages instead of trimming them to the terminal width.
REPORT_VARIABLES = ("CI", "BUILD_NUMBER")


def mask_hashes(text: str) -> str:
    """`text` with sha256 digests (full, or their 12-character prefix) shown as <sha256>.

    Model files are pickles whose bytes, and so digests, change with library versions."""
    return SHA256.sub("<sha256>", text)


def run_cli(command: str, cwd: str | Path) -> None:
    """Run `mlcicd COMMAND` in this process from the folder `cwd`, print what it printed
    (stdout and stderr, digests masked) and its exit code."""
    printed = io.StringIO()
    with (contextlib.chdir(cwd), contextlib.redirect_stdout(printed),
          contextlib.redirect_stderr(printed)):
        code = cli.main(shlex.split(command))
    print(mask_hashes(printed.getvalue().rstrip()))
    print(f"exit code {code}")


def pytest_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the variables that change pytest's report, with a fixed line width
    and without plugin autoloading (a plain suite needs none, and starts faster)."""
    environment = {name: value for name, value in environ.items()
                   if name not in REPORT_VARIABLES}
    environment.update(COLUMNS="250", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return environment


def tidy_report(stdout: str) -> str:
    """pytest's short report without the padding and rules that depend on the width."""
    tidy = re.sub(r" {2,}\[100%\]", "  [100%]", stdout.rstrip())
    return re.sub(r"={3,} (.+?) ={3,}", r"=== \1 ===", tidy)


def run_pytest(suite: str, arguments: str, cwd: str | Path) -> None:
    """Run pytest on `suite` in a fresh process from `cwd`, as CI does, and print its short
    report (failures one line each) and its exit code."""
    command = [sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider",
               "--tb=no", "-rfE", "--color=no", *shlex.split(arguments)]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env=pytest_environment(os.environ))
    print(tidy_report(done.stdout))
    print(f"exit code {done.returncode}")
