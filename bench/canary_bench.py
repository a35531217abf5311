"""Benchmark: the canary simulation's speed, and what the error-rate guardrail costs and buys.

1. Speed: `simulate_canary` runs the course's canary (config/canary.yaml: 5 %, 10 %,
   25 %, 50 % for 5 h each, background comparisons against stable, the guardrail) over
   24 simulated hours at --rps requests per second, a tick a minute; median of
   --repeats runs. Goal: at least 100,000 requests in under 2 s.
2. A/A false rollbacks: --canaries seeded canaries whose error rate equals stable's,
   each looked at every 10 minutes for 24 h (144 looks, 10 % of the traffic on the
   canary), judged by the guardrail (confidence sequence, alpha 0.05) and by the naive
   repeated one-sided z-test at 0.05. Goal: the guardrail at or below its alpha.
3. A bad canary (error rate --bad-error-rate against stable's --error-rate): over the
   same looks, the share rolled back and the median canary requests until then; and
   from --sims full simulations of the course's canary, the median canary requests
   and distinct users exposed to the bad version before the rollback.

Usage: python bench/canary_bench.py [--rps 2] [--repeats 3] [--canaries 2000] [--sims 30]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from mlcicd_course.rollout.canary import CanaryRollout
from mlcicd_course.rollout.canary_config import load_canary
from mlcicd_course.rollout.canary_sim import ReleaseModel, guardrail_trials, simulate_canary

CONFIG = Path(__file__).resolve().parents[1] / "config" / "canary.yaml"
DAY_S = 86_400.0
LOOK_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", type=float, default=2.0, help="requests per second (2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (3)")
    parser.add_argument("--canaries", type=int, default=2000, help="seeded A/A canaries (2000)")
    parser.add_argument("--sims", type=int, default=30, help="full bad-canary simulations (30)")
    parser.add_argument("--error-rate", type=float, default=0.005, help="stable (0.005)")
    parser.add_argument("--bad-error-rate", type=float, default=0.02, help="bad canary (0.02)")
    args = parser.parse_args()
    config = load_canary(CONFIG)
    rollout = CanaryRollout(config.spec)
    guard = config.spec.guardrail
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")

    traffic = replace(config.traffic, requests_per_s=args.rps)
    simulate_canary(rollout, traffic, until_s=3600.0)   # warm up imports and caches
    times, sims = [], []
    for seed in range(args.repeats):
        start = time.perf_counter()
        sims.append(simulate_canary(rollout, traffic, until_s=DAY_S, seed=seed))
        times.append(time.perf_counter() - start)
    requests = statistics.median(s.requests for s in sims)
    print(f"\n1. simulation: 24 h canary, {requests:,.0f} requests, {len(sims[0].timeline)} "
          f"ticks, outcome {sims[0].final_phase}: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f} s) -> {requests / statistics.median(times):,.0f} "
          f"requests/s simulated (goal: >= 100,000 requests in < 2 s)")

    per_look = round(args.rps * LOOK_S)
    looks = round(DAY_S / LOOK_S)
    start = time.perf_counter()
    aa = guardrail_trials(canaries=args.canaries, looks=looks, requests_per_look=per_look,
                          canary_share=0.1, stable_error_rate=args.error_rate,
                          canary_error_rate=args.error_rate, guardrail=guard, seed=1)
    took = time.perf_counter() - start
    print(f"\n2. A/A: {args.canaries} canaries x {looks} looks x {per_look} requests "
          f"(10 % canary, error rate {args.error_rate:.1%} both), {took:.2f} s")
    print(f"   false rollbacks  guardrail (confidence sequence, alpha {guard.alpha}): "
          f"{aa.rollback_rate_sequential:.1%}   naive z-test at every look: "
          f"{aa.rollback_rate_naive:.1%}")

    bad = guardrail_trials(canaries=args.canaries, looks=looks, requests_per_look=per_look,
                           canary_share=0.1, stable_error_rate=args.error_rate,
                           canary_error_rate=args.bad_error_rate, guardrail=guard, seed=2)
    print(f"\n3. bad canary ({args.error_rate:.1%} -> {args.bad_error_rate:.1%} errors), same "
          "looks:")
    print(f"   rolled back      guardrail {bad.rollback_rate_sequential:.1%}, median "
          f"{bad.median_canary_requests_sequential:,.0f} canary requests   naive "
          f"{bad.rollback_rate_naive:.1%}, median {bad.median_canary_requests_naive:,.0f}")
    bad_traffic = replace(traffic, canary=ReleaseModel(error_rate=args.bad_error_rate))
    runs = [simulate_canary(rollout, bad_traffic, until_s=DAY_S, seed=100 + s)
            for s in range(args.sims)]
    aborted = [r for r in runs if r.final_phase == "Aborted"]
    reasons = statistics.mode(str(r.history[-1].event) for r in aborted) if aborted else "-"
    if not aborted:
        print(f"   full simulations of config/canary.yaml ({args.sims} seeds): no rollback")
        return
    hours = statistics.median(r.ended_at for r in aborted) / 3600
    print(f"   full simulations of config/canary.yaml ({args.sims} seeds): "
          f"{len(aborted)}/{args.sims} rolled back (mostly by {reasons}); median "
          f"{statistics.median(r.canary_requests for r in aborted):,.0f} canary requests, "
          f"{statistics.median(r.users_exposed for r in aborted):,.0f} users exposed "
          f"(of {traffic.users:,}), after {hours:.1f} h")


if __name__ == "__main__":
    main()
