"""Benchmark: assigning a million users to variants with `hashing.buckets`.

Data: ids "user-0" ... "user-(N-1)" (strings, as user ids are), one experiment seed.
Timed, median of --repeats runs each:

- vectorised: `hashing.buckets(seed, ids)` on all N ids (numpy, GrowthBook v2 hash);
- scalar: `hashing.bucket(seed, id)` in a Python loop over the first 100,000 ids,
  scaled to N (the reference implementation, one id at a time).

Both give the same buckets (checked on the scalar sample before timing). Goal: the
N = 1,000,000 ids in under 1 s with the vectorised function.

Usage: python bench/assignment_bench.py [--ids 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from mlcicd_course.experiments import hashing

SEED = "retention-offer-2026"
SCALAR_SAMPLE = 100_000
GOAL_S = 1.0


def timed(function, repeats: int) -> float:
    """Median wall time of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ids = [f"user-{i}" for i in range(args.ids)]
    sample = ids[:min(SCALAR_SAMPLE, args.ids)]
    vectorised = hashing.buckets(SEED, ids)
    scalar = np.array([hashing.bucket(SEED, u) for u in sample])
    if not np.array_equal(vectorised[:len(sample)], scalar):
        raise SystemExit("vectorised and scalar buckets differ: the benchmark is void")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{args.ids:,} string ids, median of {args.repeats}")
    t_vector = timed(lambda: hashing.buckets(SEED, ids), args.repeats)
    t_scalar = timed(lambda: [hashing.bucket(SEED, u) for u in sample], args.repeats)
    t_scalar *= args.ids / len(sample)
    share_b = float(np.mean(vectorised >= 0.5))
    print(f"vectorised buckets: {t_vector:.3f} s ({args.ids / t_vector:,.0f} ids/s)")
    print(f"scalar loop (scaled from {len(sample):,} ids): {t_scalar:.3f} s")
    print(f"speed-up: {t_scalar / t_vector:.1f}x; share in the upper half: {share_b:.4f}")
    verdict = "met" if t_vector < GOAL_S * args.ids / 1_000_000 else "NOT met"
    print(f"goal (1,000,000 ids in under {GOAL_S:g} s): {verdict}")


if __name__ == "__main__":
    main()
