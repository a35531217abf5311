"""Start model servers and routers from Python, and be sure they stop.

    with model_servers({"blue": "blue.joblib", "green": "green.joblib"}) as servers:
        backends = {name: server.url for name, server in servers.items()}
        with router(backends, {"blue": 100, "green": 0}) as r:
            r.admin().set_weights({"blue": 0, "green": 100})   # the switch

Each server is a child process (`mlcicd serve` or `mlcicd route`) on 127.0.0.1 and a
free port. Entering waits, with a time limit, until it is ready (`/health/ready`,
`/router/health`); leaving stops it, also after an exception or an interrupted
notebook cell (KeyboardInterrupt): first by closing its standard input, which the
child watches (`--exit-with-parent`), then by terminating and finally killing it.
Because the child watches that pipe, it also ends if the parent process dies.
A process (unlike a thread) can always be stopped from outside, and a server's CPU
work does not compete with the notebook for Python's global interpreter lock.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcicd_course.serving.admin_client import RouterAdmin
from mlcicd_course.serving.routing import RoutingTable

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
URL_PATTERN = re.compile(r"http://127\.0\.0\.1:\d+")


class ServerError(RuntimeError):
    """A server did not start: it exited, or was not ready in time (with its last log)."""


@dataclass
class RunningServer:
    """A started server: its URL and process; for a router also its admin token."""

    name: str
    url: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    token: str | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def admin(self) -> RouterAdmin:
        """A `RouterAdmin` for this router (raises for a model server)."""
        if self.token is None:
            raise ServerError(f"{self.name} is not a router: it has no admin API")
        return RouterAdmin(self.url, self.token)

    def log(self) -> str:
        """What the server wrote to its standard error so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def model_server(model_path: str | os.PathLike[str], *, version: str = "",
                 startup_timeout_s: float = STARTUP_TIMEOUT_S, **options: Any,
                 ) -> Iterator[RunningServer]:
    """Run `mlcicd serve MODEL` in a child process for the duration of the with-block.

    `options` are the other `mlcicd serve` flags as keywords: port, sha256, seed,
    max_batch_rows and the knobs added_latency_ms, error_rate, flip_rate.
    """
    name = version or Path(model_path).name.split(".")[0]
    with model_servers({name: model_path}, options={name: options},
                       startup_timeout_s=startup_timeout_s) as servers:
        yield servers[name]


@contextmanager
def model_servers(models: Mapping[str, str | os.PathLike[str]], *,
                  options: Mapping[str, Mapping[str, Any]] | None = None,
                  startup_timeout_s: float = STARTUP_TIMEOUT_S,
                  ) -> Iterator[dict[str, RunningServer]]:
    """Several model servers (version -> model file), started at the same time.

    Starting them together takes about as long as starting one. `options` maps a
    version to its `model_server` keywords (e.g. `{"green": {"error_rate": 0.2}}`).
    """
    with ExitStack() as stack:
        spawned = {}
        for name, path in models.items():
            args = ["serve", str(path), "--version", name, "--port", "0"]
            for key, value in (options or {}).get(name, {}).items():
                args += [f"--{key.replace('_', '-')}", str(value)]
            spawned[name] = stack.enter_context(_spawned(args, name))
        stack.callback(_ask_to_stop, [child.process for child in spawned.values()])
        yield {name: _wait(child, "/health/ready", startup_timeout_s)
               for name, child in spawned.items()}


@contextmanager
def router(backends: Mapping[str, str], table: RoutingTable | Mapping[str, Any], *,
           port: int = 0, settings: Mapping[str, Any] | None = None,
           startup_timeout_s: float = STARTUP_TIMEOUT_S) -> Iterator[RunningServer]:
    """Run `mlcicd route` before `backends` (version -> URL), starting with `table`.

    `table` is a `RoutingTable`, its dict form, or just the weights
    (`{"blue": 100, "green": 0}`); `settings` holds `RouterSettings` options.
    """
    if isinstance(table, RoutingTable):
        table_data = table.to_dict()
    elif "weights" in table:
        table_data = dict(table)
    else:
        weights = dict(table)
        table_data = {"weights": weights,
                      "mode": "single" if 100 in weights.values() else "weighted"}
    folder = Path(tempfile.mkdtemp(prefix="mlcicd-router-"))
    try:
        config = folder / "routes.yaml"
        routes = {"backends": dict(backends), "table": table_data,
                  "settings": dict(settings or {})}
        # sort_keys=False: the order of the weights is the order of the bucket ranges.
        config.write_text(yaml.safe_dump(routes, sort_keys=False), encoding="utf-8")
        args = ["route", "--config", str(config), "--port", str(port),
                "--token-file", str(folder / "admin.token")]
        with _spawned(args, "router") as child:
            server = _wait(child, "/router/health", startup_timeout_s)
            server.token = (folder / "admin.token").read_text(encoding="utf-8").strip()
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    lines: queue.Queue[str | None]


@contextmanager
def _spawned(args: Sequence[str], name: str) -> Iterator[_Child]:
    """Start `python -m mlcicd_course ARGS --exit-with-parent`; always stop it at the end."""
    log_file = tempfile.NamedTemporaryFile(prefix=f"mlcicd-{name}-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcicd_course", *args, "--exit-with-parent"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **_own_process_group())
    finally:
        log_file.close()
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process, lines), daemon=True).start()
    try:
        yield _Child(name, process, log_path, lines)
    finally:
        stop(process)
        log_path.unlink(missing_ok=True)


def _read_lines(process: subprocess.Popen[bytes], lines: queue.Queue[str | None]) -> None:
    """Pass the child's standard output on, line by line; None at the end."""
    assert process.stdout is not None
    for raw in process.stdout:
        lines.put(raw.decode("utf-8", "replace").strip())
    lines.put(None)


def _wait(child: _Child, ready_path: str, timeout_s: float) -> RunningServer:
    """Wait for the child's URL line, then until `ready_path` answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = child.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ServerError(f"{child.name} printed no URL within {timeout_s:g} s") from None
        if line is None:
            child.process.wait(timeout=STOP_TIMEOUT_S)
            raise ServerError(f"{child.name} exited with code {child.process.returncode}: "
                              f"{_last_line(child.log_path)}")
        match = URL_PATTERN.search(line)
        if match:
            break
    server = RunningServer(child.name, match.group(0), child.process, child.log_path)
    _wait_until_ready(server, ready_path, deadline)
    return server


def _own_process_group() -> dict[str, Any]:
    """Keep Ctrl-C in a terminal from reaching the child directly: the parent stops it."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _wait_until_ready(server: RunningServer, path: str, deadline: float) -> None:
    """Poll `path` until it answers 200, the process exits, or the deadline passes."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"{server.name} exited with code {server.process.returncode}: "
                              f"{_last_line(server.log_path)}")
        try:
            with opener.open(server.url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise ServerError(f"{server.name} at {server.url} was not ready in time")


def _ask_to_stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Close every child's stdin at once, so they shut down side by side."""
    for process in processes:
        if process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                pass


def stop(process: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Stop a child: close its stdin, then terminate, then kill; return its exit code.

    Interrupted itself (a second Ctrl-C), it kills the child before giving up.
    """
    try:
        _ask_to_stop([process])
        for next_step in (process.terminate, process.kill):
            try:
                return process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                next_step()
        return process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()


def _last_line(log_path: Path) -> str:
    lines = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
             if ln.strip()]
    return lines[-1] if lines else "(no output)"
