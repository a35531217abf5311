"""Benchmark: how long `mlcicd pipeline run` takes, stage by stage.

Runs the course's pipeline (config/pipeline.yaml, or --config) --runs times, each in a
fresh temporary work folder and registry (so every run bootstraps v1 and deploys v2,
starting the staging and production servers), and prints each stage's median and
maximum seconds, the total wall time and the outcome of every run. The live stages
include starting and stopping their model servers and routers (child processes).
Goal: a full local run in about 10-20 s on 2 cores.

Usage: python bench/pipeline_bench.py [--runs 3] [--config config/pipeline.yaml]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from mlcicd_course.pipeline.config import load_pipeline
from mlcicd_course.pipeline.run import run_pipeline
from mlcicd_course.registry import open_registry

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs to time (3)")
    parser.add_argument("--config", default="config/pipeline.yaml",
                        help="pipeline file, relative to the repository root")
    args = parser.parse_args()
    os.chdir(ROOT)                      # the file's paths are relative to the root
    config = load_pipeline(args.config)
    print(f"pipeline bench: {args.config}, {args.runs} runs, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs")
    seconds: dict[str, list[float]] = {}
    walls, outcomes = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="mlcicd-pipeline-bench-") as folder:
            began = time.perf_counter()
            run = run_pipeline(config, workdir=folder,
                               registry=open_registry(str(Path(folder) / "registry")))
            walls.append(time.perf_counter() - began)
        outcomes.append(run.outcome)
        for result in run.results:
            seconds.setdefault(result.name, []).append(result.seconds)
    print(f"{'stage':<11} {'median s':>9} {'max s':>7}")
    for name, values in seconds.items():
        print(f"{name:<11} {statistics.median(values):9.2f} {max(values):7.2f}")
    print(f"{'total':<11} {statistics.median(walls):9.2f} {max(walls):7.2f}  (wall, "
          "including the servers' stop)")
    print(f"outcomes: {', '.join(outcomes)}")


if __name__ == "__main__":
    main()
