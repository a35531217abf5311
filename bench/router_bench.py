"""Router overhead: the same model server called directly, through our router, through nginx.

Usage: python bench/router_bench.py [--requests 3000] [--concurrency 32] [--rounds 3]
                                    [--model constant|pipeline] [--no-httpx]

One model server (`mlcicd serve`) is the backend of every path; each path gets the
same payload (one row of the running example per POST /predict) and the same bounded
load from `serving.loadgen` (REQUESTS requests at CONCURRENCY, or 60 s). The paths,
alternated in each round so that the machine's load falls on all of them alike:

- direct: straight to the model server;
- router: through `mlcicd route` (aiohttp's client to the backend, the default);
- router-httpx: the same router with httpx's async client to the backend;
- nginx: nginx (1 worker, keep-alive to the backend), when `nginx` is on the PATH
  (Debian/Ubuntu: `sudo apt-get install nginx`; skipped with a message otherwise).

Prints requests/s and p50/p99 latency under load (medians over the rounds), the p50 of
one request at a time, and the ratios. Goals: router >= 0.7x nginx's throughput, and
<= 1 ms added p50 over direct at concurrency 1. `--model constant` (the default) serves
a model that answers in microseconds, so the proxies' own cost shows; `--model
pipeline` serves the course's real scikit-learn pipeline, whose ~5-20 ms per prediction
dominates every path. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcicd_course import datasets, training  # noqa: E402
from mlcicd_course.serving.lifecycle import model_server, router  # noqa: E402
from mlcicd_course.serving.loadgen import run_load  # noqa: E402
from tests.serving_support import save_fast_model  # noqa: E402

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream backend {{ server {backend}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def save_model(kind: str, folder: Path) -> Path:
    """The backend's model: a constant answer, or the course's trained pipeline."""
    path = folder / f"{kind}.joblib"
    if kind == "constant":
        return save_fast_model(path)
    config = replace(training.default_config(), cv_folds=2)
    training.train(datasets.sample(1000, seed=1), config).save(path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def nginx(backend_url: str) -> Iterator[str]:
    """nginx in the foreground with a config in a temporary folder; its URL."""
    folder = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(folder=folder, port=port,
                                      backend=backend_url.removeprefix("http://")))
    process = subprocess.Popen([shutil.which("nginx") or "nginx", "-p", str(folder), "-c",
                                str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with opener.open(url + "/health/ready", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read()!r}") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def measure(url: str, payload: list, requests: int, concurrency: int) -> dict[str, float]:
    result = run_load(url + "/predict", [payload], requests=requests, duration_s=60,
                      concurrency=concurrency)
    frame = result.requests
    ok = frame[frame["status"] == 200]
    failed = frame[frame["status"] != 200]
    if len(failed):
        reasons = failed.groupby(["status", "error"]).size().to_dict()
        print(f"  {url}: {len(failed)} failed requests: {reasons}")
    return {"rps": len(ok) / result.duration_s, "failed": result.failed,
            "p50": float(np.percentile(ok["latency_ms"], 50)),
            "p99": float(np.percentile(ok["latency_ms"], 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", choices=("constant", "pipeline"), default="constant")
    parser.add_argument("--no-httpx", action="store_true", help="skip the httpx router")
    args = parser.parse_args()
    payload = datasets.sample(1, seed=2).drop(columns=[datasets.TARGET]).to_dict("records")
    print(f"== router_bench: {args.requests} POST /predict per path and round at concurrency "
          f"{args.concurrency}, {args.rounds} rounds, model {args.model!r}, 1 row per request; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        backend = stack.enter_context(model_server(save_model(args.model, Path(tmp)),
                                                   version="blue"))
        paths = {"direct": backend.url}
        table = {"blue": 100}
        paths["router"] = stack.enter_context(router({"blue": backend.url}, table)).url
        if not args.no_httpx:
            paths["router-httpx"] = stack.enter_context(router(
                {"blue": backend.url}, table, settings={"upstream_client": "httpx"})).url
        if shutil.which("nginx"):
            paths["nginx"] = stack.enter_context(nginx(backend.url))
        else:
            print("nginx: not installed, skipped (Debian/Ubuntu: sudo apt-get install nginx; "
                  "macOS: brew install nginx)")
        for url in paths.values():  # warm up connections, caches and the model
            measure(url, payload, 200, args.concurrency)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        single: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, url in paths.items():
                runs[name].append(measure(url, payload, args.requests, args.concurrency))
                single[name].append(measure(url, payload, 300, 1)["p50"])
    print(f"{'path':14} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'p50 at c=1':>11} "
          f"{'failed':>7}   (medians of {args.rounds} rounds; requests/s of each round)")
    summary = {}
    for name in paths:
        rps = [r["rps"] for r in runs[name]]
        summary[name] = {key: statistics.median(r[key] for r in runs[name])
                         for key in ("rps", "p50", "p99")}
        summary[name]["c1"] = statistics.median(single[name])
        failed = sum(r["failed"] for r in runs[name])
        print(f"{name:14} {summary[name]['rps']:11.0f} {summary[name]['p50']:8.2f} "
              f"{summary[name]['p99']:8.2f} {summary[name]['c1']:11.2f} {failed:7d}   "
              f"({', '.join(f'{x:.0f}' for x in rps)})")
    direct, ours = summary["direct"], summary["router"]
    print(f"router vs direct: {ours['rps'] / direct['rps']:.2f}x throughput, "
          f"+{ours['c1'] - direct['c1']:.2f} ms p50 at concurrency 1 (goal <= 1 ms)")
    if "nginx" in summary:
        print(f"router vs nginx: {ours['rps'] / summary['nginx']['rps']:.2f}x throughput "
              f"(goal >= 0.7)")
    if "router-httpx" in summary:
        print(f"router with httpx vs with aiohttp: "
              f"{summary['router-httpx']['rps'] / ours['rps']:.2f}x throughput")


if __name__ == "__main__":
    main()
