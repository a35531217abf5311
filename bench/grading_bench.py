"""Grading speed: the learner's check() latency, and a class-sized batch on 2 cores.

Usage: python bench/grading_bench.py [--learners 30] [--jobs 2] [--spawn-sample 5]

1. check(): the time of `self_check` (what `check("qN")` runs) on the saved solution
   notebooks, per question: the first call of a session (it starts the warm process
   that later checks fork from) and the median of the following calls. Goal: < 3 s.
2. batch: `mlcicd grade --source solutions` (a new process, as an instructor runs it,
   hidden checks included) on LEARNERS x every exercise in solutions/: a third of the
   notebooks are the solutions, a third untouched exercises, a third solutions with one
   question broken. Goal: 30 learners in < 3 min on 2 cores. For comparison, a sample
   graded with --spawn (a new interpreter per question instead of a fork of the warm
   one).

Prints sizes, times and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_latency(repeats: int = 3) -> None:
    # what the exercise's first cell has already imported in the learner's kernel
    import sklearn.metrics  # noqa: F401

    from mlcicd_course import datasets, drift, training, validation  # noqa: F401
    from mlcicd_course.grading import selfcheck
    from mlcicd_course.grading.bank import load_exercise

    print("== check() latency (self_check on the saved solution notebooks, after the "
          "imports of the notebook's first cell)")
    first_done = False
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        spec = load_exercise(path.stem)
        for question in spec.question_ids:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                report = selfcheck.self_check([question], path)
                times.append(time.perf_counter() - start)
            result = report.results[0]
            label = ""
            if not first_done:
                label = f"   first call of the session: {times[0]:.2f} s"
                times = times[1:]
                first_done = True
            print(f"{path.stem:28} {question}: {result.points:g}/{result.max_points:g} points, "
                  f"median {statistics.median(times):.2f} s, max {max(times):.2f} s{label}")
    for launcher in selfcheck._LAUNCHER:
        launcher.close()


def make_class(folder: Path, learners: int) -> int:
    """LEARNERS folders, each with one notebook per exercise; return the notebook count."""
    import nbformat

    from mlcicd_course.grading.bank import load_exercise
    from mlcicd_course.grading.markers import locate_question
    from mlcicd_course.grading.notebooks import read_cells

    count = 0
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        spec = load_exercise(path.stem)
        text = path.read_text(encoding="utf-8")
        cells = read_cells(path)
        second = locate_question(cells, spec.question_ids[min(1, len(spec.question_ids) - 1)])
        code_cell = next(c for c in cells[second.start: second.end + 1] if c.cell_type == "code")
        notebook = nbformat.reads(text, as_version=4)
        notebook.cells[code_cell.index].source = "this is not python\n" + code_cell.source
        broken = nbformat.writes(notebook)
        exercise = (ROOT / "exercises" / path.name).read_text(encoding="utf-8")
        for learner in range(learners):
            target = folder / f"learner{learner:02d}" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((text, exercise, broken)[learner % 3], encoding="utf-8")
            count += 1
    return count


def grade(folder: Path, jobs: int, out: Path, spawn: bool) -> float:
    command = [sys.executable, "-m", "mlcicd_course", "grade", str(folder), "--out", str(out),
               "--source", str(ROOT / "solutions"), "--jobs", str(jobs), "--timeout", "60"]
    command += ["--spawn"] if spawn else []
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"mlcicd grade failed: {done.stderr.strip()[-500:]}")
    return elapsed


def batch(learners: int, jobs: int, spawn_sample: int) -> None:
    print(f"\n== batch: {learners} learners x every exercise, --jobs {jobs}, "
          f"{os.cpu_count()} CPUs visible")
    with tempfile.TemporaryDirectory(prefix="mlcicd-bench-") as tmp:
        folder = Path(tmp) / "class"
        notebooks = make_class(folder, learners)
        fork_time = grade(folder, jobs, Path(tmp) / "grades.csv", spawn=False)
        rows = (Path(tmp) / "grades.csv").read_text(encoding="utf-8").splitlines()
        statuses = sorted({row.rsplit(",", 2)[-2] for row in rows[2:]})
        print(f"notebooks: {notebooks}, CSV rows: {len(rows) - 2}, statuses: {statuses}")
        print(f"fork (default): {fork_time:.1f} s for {notebooks} notebooks "
              f"({fork_time / notebooks:.2f} s per notebook); goal < 180 s")
        if spawn_sample:
            sample = Path(tmp) / "sample"
            for learner in range(spawn_sample):
                shutil.copytree(folder / f"learner{learner:02d}", sample / f"learner{learner:02d}")
            n = sum(1 for _ in sample.rglob("*.ipynb"))
            spawn_time = grade(sample, jobs, Path(tmp) / "spawn.csv", spawn=True)
            fork_sample = grade(sample, jobs, Path(tmp) / "fork.csv", spawn=False)
            same = (Path(tmp) / "spawn.csv").read_bytes() == (Path(tmp) / "fork.csv").read_bytes()
            print(f"sample of {n} notebooks: --spawn {spawn_time:.1f} s, fork {fork_sample:.1f} s, "
                  f"ratio {spawn_time / fork_sample:.1f}x; identical grades: {same}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--spawn-sample", type=int, default=3,
                        help="learners graded again with --spawn for comparison (0: skip)")
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > args.jobs:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.jobs]))
        print(f"pinned to {args.jobs} CPUs")
    if not args.skip_check:
        check_latency()
    batch(args.learners, args.jobs, args.spawn_sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
