"""How much the local workflow runner adds to the commands a workflow runs.

Runs the data-validation workflow (workflow_dispatch) with `mlcicd workflow run`'s engine,
then the same two `mlcicd` commands directly in a folder, and prints both times, their
ratio, how many files a checkout copies, and what one `mlcicd` call costs before it does
any work (Python start-up plus importing every command's modules). It also times the
import of the data-validation commands against the model commands: a pipeline's data
steps should not pay for scikit-learn and scipy.

Usage: python bench/workflow_runner_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlcicd_course.workflows import RunOptions, repository_files, run_workflow

ROOT = Path(__file__).resolve().parent.parent
DATA_COMMANDS = "mlcicd_course.commands.validation"
MODEL_COMMANDS = "mlcicd_course.commands.testing"
WORKFLOW = ROOT / ".github" / "workflows" / "data-validation.yml"
COMMANDS = [
    ["data", "generate", "--out", "data", "--months", "3", "--rows", "2000", "--faults", ""],
    ["validate", "data/2026-03.csv", "--schema", str(ROOT / "config" / "schema.yaml"),
     "--json", "reports/validation.json"],
]


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_with_runner() -> None:
    result = run_workflow(WORKFLOW, RunOptions(event="workflow_dispatch"))
    assert result.ok, "the data-validation workflow failed"


def run_directly() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for words in COMMANDS:
            subprocess.run([sys.executable, "-m", "mlcicd_course", *words], cwd=folder,
                           check=True, capture_output=True)


def startup() -> None:
    subprocess.run([sys.executable, "-m", "mlcicd_course", "--version"], check=True,
                   capture_output=True)


def bare_python() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def importing(module: str):
    def run() -> None:
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (3)")
    args = parser.parse_args()
    files = len(repository_files(ROOT))
    rows = []
    for name, function in [("workflow via the runner", run_with_runner),
                           ("the 2 commands directly", run_directly),
                           ("one `mlcicd --version`", startup),
                           ("bare `python -c pass`", bare_python),
                           ("import schema/validate", importing(DATA_COMMANDS)),
                           ("import train/evaluate/compare", importing(MODEL_COMMANDS))]:
        times = [timed(function) for _ in range(args.repeat)]
        rows.append((name, statistics.median(times)))
        print(f"{name:<30} median {statistics.median(times):6.2f} s over {args.repeat} runs")
    runner, direct, cli_start, python_start, data_import, model_import = (t for _, t in rows)
    print(f"checkout copies {files} files of the repository")
    print(f"runner / direct = {runner / direct:.2f} "
          f"(overhead {runner - direct:.2f} s for 1 job of 6 steps)")
    print(f"start-up of one mlcicd call (imports, no work): {cli_start:.2f} s; of Python "
          f"alone: {python_start:.2f} s; the 2 direct calls took {direct:.2f} s in all")
    print(f"importing the data commands / the model commands = {data_import / model_import:.2f}"
          f" ({data_import:.2f} s vs {model_import:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
