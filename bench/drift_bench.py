"""Benchmark: `drift.detect_drift`'s full report vs a bare scipy KS loop (vs Evidently).

Data: a reference of ROWS x NUMERIC standard-normal columns plus 3 categorical columns,
and a drifted current batch of the same size (columns x00-x04 shifted by +0.5 sd,
x05-x09 by +0.05 sd, the rest fresh draws; the 5-level categorical's shares move).
Timed, median of --repeats runs each:

- ours: `detect_drift(reference, current)` (KS + Wasserstein/std per numeric column,
  chi-square + JS per categorical one, missing rates, corrections, the report);
- bare KS loop: `scipy.stats.ks_2samp` on each numeric column, nothing else;
- Evidently: `Report([DataDriftPreset()]).run(...)`, only if `evidently` imports.
  Evidently needs pandas < 3, so run this script from a separate environment for that
  comparison (see bench/README.md); otherwise the script says how and skips it.

Goals: ours within 2x of the bare KS loop, and at least 10x faster than Evidently.

Usage: python bench/drift_bench.py [--rows 100000] [--numeric 20] [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy
from scipy import stats

from mlcicd_course.drift import detect_drift

EVIDENTLY_HOWTO = """\
Evidently is not importable here (it needs pandas < 3; this environment has pandas {pandas}).
To add the comparison, run this script from a separate environment:
    python -m venv /tmp/evidently-venv
    /tmp/evidently-venv/bin/pip install evidently "pandas<3"
    PYTHONPATH=. /tmp/evidently-venv/bin/python bench/drift_bench.py
(from the repository root; see bench/README.md)."""


def make_data(rows: int, numeric: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and drifted current frames (see the module docstring)."""
    rng = np.random.default_rng(seed)
    names = [f"x{i:02d}" for i in range(numeric)]
    reference = pd.DataFrame(rng.normal(size=(rows, numeric)), columns=names)
    current = pd.DataFrame(rng.normal(size=(rows, numeric)), columns=names)
    current.iloc[:, 0:5] += 0.5
    current.iloc[:, 5:10] += 0.05
    plans, regions, channels = list("abc"), list("nsewc"), [f"ch{i}" for i in range(8)]
    for frame, region_shares in ((reference, [0.2] * 5), (current, [0.3, 0.25, 0.2, 0.15, 0.1])):
        frame["plan"] = rng.choice(plans, rows, p=[0.5, 0.3, 0.2])
        frame["region"] = rng.choice(regions, rows, p=region_shares)
        frame["channel"] = rng.choice(channels, rows)
    return reference, current


def median_time(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of `repeats` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bare_ks_loop(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> list[float]:
    """p-values of scipy's two-sample KS test, one column at a time."""
    return [float(stats.ks_2samp(reference[c].to_numpy(), current[c].to_numpy()).pvalue)
            for c in columns]


def evidently_flags(method: str, value: float, threshold: float) -> bool:
    """Whether Evidently's ValueDrift `value` means drift under its resolved `method`.

    Evidently picks the test by size: up to 1,000 rows a p-value test ("K-S p_value",
    "chi-square p_value"), where a SMALL value means drift (p < threshold, 0.05); above,
    a distance ("Wasserstein distance (normed)", "Jensen-Shannon distance"), where a
    LARGE value means drift (distance >= threshold, 0.1). Reading every value as a
    distance flags exactly the columns that did not drift below 1,000 rows.
    """
    return value < threshold if "p_value" in method else value >= threshold


def evidently_runner() -> Callable[[pd.DataFrame, pd.DataFrame], list[str]] | None:
    """A function running Evidently's DataDriftPreset (new or legacy API), or None."""
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        try:
            from evidently.metric_preset import DataDriftPreset  # legacy (< 0.7)
            from evidently.report import Report
        except Exception:
            return None

        def run_legacy(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
            report = Report(metrics=[DataDriftPreset()])
            report.run(reference_data=reference, current_data=current)
            table = report.as_dict()["metrics"][1]["result"]["drift_by_columns"]
            return sorted(name for name, row in table.items() if row["drift_detected"])

        return run_legacy
    except Exception:  # evidently installed but broken (e.g. with pandas 3)
        return None

    def run(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
        snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
        drifted = []
        for metric in snapshot.dict()["metrics"]:
            config = metric.get("config", {})
            if "ValueDrift" in str(config.get("type", "")) and evidently_flags(
                    str(config.get("method", "")), float(metric["value"]),
                    float(config["threshold"])):
                drifted.append(config["column"])
        return sorted(drifted)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per frame (100000)")
    parser.add_argument("--numeric", type=int, default=20, help="numeric columns (20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = parser.parse_args(argv)
    if args.rows < 100 or args.numeric < 10 or args.repeats < 1:
        parser.error("need --rows >= 100, --numeric >= 10 and --repeats >= 1")

    reference, current = make_data(args.rows, args.numeric, args.seed)
    numeric = [c for c in reference.columns if c.startswith("x")]
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas "
          f"{pd.__version__}, scipy {scipy.__version__}, {platform.machine()}")
    print(f"data: {args.rows} rows x ({len(numeric)} numeric + 3 categorical) columns, "
          f"reference and current; median of {args.repeats} runs")

    ours_time, report = median_time(lambda: detect_drift(reference, current), args.repeats)
    ks_time, _ = median_time(lambda: bare_ks_loop(reference, current, numeric), args.repeats)
    rows = [("ours: detect_drift, full report", ours_time, report.drifted),
            (f"bare scipy ks_2samp loop ({len(numeric)} numeric columns)", ks_time, None)]

    evidently = evidently_runner()
    evidently_time = None
    if evidently is not None:
        evidently(reference.head(1000), current.head(1000))  # warm-up (imports, registries)
        evidently_time, flagged = median_time(lambda: evidently(reference, current), args.repeats)
        rows.append(("Evidently DataDriftPreset()", evidently_time, flagged))

    print()
    print(f"{'method':58} {'seconds':>8}  columns flagged")
    for name, seconds, flagged in rows:
        shown = "-" if flagged is None else f"{len(flagged)}: {', '.join(flagged)}"
        print(f"{name:58} {seconds:8.3f}  {shown}")
    print()
    ratio = ours_time / ks_time
    verdict = "met" if ratio <= 2 else "NOT met"
    print(f"ours / bare KS loop      = {ratio:6.2f}x  (goal <= 2: {verdict})")
    if evidently_time is not None:
        speedup = evidently_time / ours_time
        print(f"Evidently / ours         = {speedup:6.2f}x  "
              f"(goal >= 10: {'met' if speedup >= 10 else 'NOT met'})")
    else:
        print(EVIDENTLY_HOWTO.format(pandas=pd.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
