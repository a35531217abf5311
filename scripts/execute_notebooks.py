"""Re-execute notebooks top to bottom and save them with their outputs (`make notebooks`).

Usage: python scripts/execute_notebooks.py [NOTEBOOK ...]
(default: every notebook in notebooks/ and solutions/). Each notebook runs in its own
folder with the current environment's Python, PYTHONHASHSEED=0, one thread per numeric
library (as under `make test`) and the Agg backend for files, so two runs give the same
outputs; consecutive prints are stored as one stream output, so a re-run changes a file
only where an output really changed. Prints the wall time of each notebook.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mlcicd_course import ONE_THREAD_ENV

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "solutions")
KERNEL = "python3"


def default_notebooks() -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((ROOT / folder).glob("*.ipynb"))]


def execute(path: Path) -> float:
    """Execute one notebook in place; return its wall time in seconds."""
    notebook = nbformat.read(path, as_version=4)
    # As under `make test` (tests/conftest.py): one thread per numeric library.
    os.environ.update(PYTHONHASHSEED="0", **ONE_THREAD_ENV)
    client = NotebookClient(notebook, timeout=120, kernel_name=KERNEL,
                            coalesce_streams=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    notebook.metadata["kernelspec"] = {"name": "mlcicd-course", "display_name":
                                       "Python (mlcicd-course)", "language": "python"}
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or default_notebooks()
    failed = 0
    for path in paths:
        try:
            seconds = execute(path)
        except CellExecutionError as err:
            failed += 1
            print(f"FAILED {path.relative_to(ROOT)}: {str(err).splitlines()[0]}")
            continue
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
