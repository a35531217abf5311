"""Shadow cost: the primary's latency with a slow or failing shadow, against no shadow.

Usage: python bench/shadow_bench.py [--requests 2000] [--concurrency 16] [--rounds 3]

Three model servers of the same constant model (answers in microseconds): `blue`
serves the users; `slow` adds 500 ms to every prediction; `broken` answers every
prediction with 500. Three routers (`mlcicd route`, each with its shadow log, default shadow
settings: 2 workers, a queue of 256, 2 s timeout) send all traffic to blue; each has
its own queue, so copies left waiting by one set-up never meet another's load. The
set-ups take turns, each round starting with the next one, so that the machine's load
and any warm-up fall on all alike:

- none:   single mode, no copies;
- slow:   mirror mode, every /predict copied to `slow`;
- broken: mirror mode, every /predict copied to `broken`.

Each set-up gets the same bounded load (`serving.loadgen`: REQUESTS requests of one
row at CONCURRENCY). Prints, per set-up, the clients' p50 and p99 latency (median
over the rounds), the requests that failed for the client, and what the shadow log
and the router's counters say happened to the copies; then the p99 ratios against
no shadow. Goal: at most 1.1x, and 0 shadow errors seen by clients. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcicd_course import datasets  # noqa: E402
from mlcicd_course.serving.lifecycle import model_servers, router  # noqa: E402
from mlcicd_course.serving.loadgen import run_load  # noqa: E402
from mlcicd_course.shadow.log import read_log  # noqa: E402
from tests.serving_support import save_fast_model  # noqa: E402

SETUPS = {
    "none": {"weights": {"blue": 100}, "mode": "single"},
    "slow": {"weights": {"blue": 100}, "mode": "mirror", "shadow": "slow"},
    "broken": {"weights": {"blue": 100}, "mode": "mirror", "shadow": "broken"},
}


def shadow_counts(url: str) -> dict[str, float]:
    """The router's router_shadow_requests_total counters, by "version/outcome"."""
    with urllib.request.urlopen(url + "/router/metrics", timeout=5) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("router_shadow_requests_total{"):
            labels, value = line[len("router_shadow_requests_total{"):].split("} ")
            parts = dict(item.split("=") for item in labels.split(","))
            key = f"{parts['version'].strip(chr(34))}/{parts['outcome'].strip(chr(34))}"
            counts[key] = float(value)
    return counts


def run_rounds(urls: dict[str, str], payload: list, args: argparse.Namespace,
               ) -> dict[str, list[dict[str, float]]]:
    """Each round: the same load through each router in turn, starting with the next set-up
    each round (so none always goes first); p50, p99 and failures."""
    results: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    names = list(urls)
    for round_number in range(args.rounds):
        start = round_number % len(names)
        for name in names[start:] + names[:start]:
            url = urls[name]
            load = run_load(url + "/predict", [payload], requests=args.requests,
                            concurrency=args.concurrency, duration_s=60)
            latency = load.requests["latency_ms"]
            results[name].append({"p50": float(latency.quantile(0.5)),
                                  "p99": float(latency.quantile(0.99)), "failed": load.failed})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    payload = datasets.sample(1, seed=1).drop(columns=[datasets.TARGET]).to_dict("records")
    with tempfile.TemporaryDirectory() as folder:
        model = save_fast_model(Path(folder) / "model.joblib", 0)
        options = {"slow": {"added_latency_ms": 500}, "broken": {"error_rate": 1.0}}
        models = {"blue": model, "slow": model, "broken": model}
        with model_servers(models, options=options) as servers, ExitStack() as stack:
            backends = {name: server.url for name, server in servers.items()}
            urls = {name: stack.enter_context(router(
                        backends, table,
                        settings={"shadow_log": str(Path(folder) / f"{name}.jsonl")})).url
                    for name, table in SETUPS.items()}
            results = run_rounds(urls, payload, args)
            counts = {}
            for url in urls.values():
                counts.update(shadow_counts(url))
        records = [r for name in SETUPS for r in read_log(Path(folder) / f"{name}.jsonl")]
    print(f"{args.rounds} rounds x {args.requests} requests at concurrency "
          f"{args.concurrency}, one row each; shadow 'slow' +500 ms, 'broken' 100% HTTP 500")
    print(f"{'setup':<8} {'p50 ms':>8} {'p99 ms':>8} {'client failures':>16}  p99 per round")
    summary = {}
    for name, runs in results.items():
        summary[name] = {key: statistics.median(r[key] for r in runs) for key in ("p50", "p99")}
        failures = sum(r["failed"] for r in runs)
        rounds = ", ".join(f"{r['p99']:.1f}" for r in runs)
        print(f"{name:<8} {summary[name]['p50']:8.2f} {summary[name]['p99']:8.2f} "
              f"{failures:>16}  {rounds}")
    print("copies by shadow/outcome (router counters): "
          + ", ".join(f"{k} {v:.0f}" for k, v in sorted(counts.items())))
    errors = {}
    for record in records:
        errors[(record.shadow.version, record.error)] = errors.get(
            (record.shadow.version, record.error), 0) + 1
    print("shadow log lines by shadow and error: "
          + ", ".join(f"{v}/{e} {n}" for (v, e), n in sorted(errors.items(), key=str)))
    base = summary["none"]["p99"]
    for name in ("slow", "broken"):
        print(f"p99 {name} / none: {summary[name]['p99'] / base:.2f}x (goal <= 1.10x)")


if __name__ == "__main__":
    main()
