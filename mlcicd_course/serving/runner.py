"""Running an ASGI app under uvicorn on 127.0.0.1 (what `mlcicd serve` and `route` do).

`listen(port)` opens the socket first (port 0: the system picks a free one), so the
address is known, and a port in use is a one-line error, before anything starts.
`serve(app, sock)` then runs uvicorn on that socket until SIGINT/SIGTERM, or, with
`exit_with_parent`, until standard input closes: the context managers in `lifecycle`
hold the other end of that pipe, so the server ends when its parent process ends,
however that happens (on every operating system, unlike signals).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Any

import uvicorn

from mlcicd_course.errors import UserInputError

HOST = "127.0.0.1"
KEEP_ALIVE_S = 15  # longer than the router's pooled-connection keep-alive (4 s)


def listen(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:`port` and listening (0 = a free port)."""
    if not 0 <= port <= 65535:
        raise UserInputError(f"--port must be in 0..65535, got {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sys.platform != "win32":  # on Windows this flag lets two servers share a port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(2048)
    except OSError as err:
        sock.close()
        raise UserInputError(f"cannot listen on {HOST}:{port}: {err.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """`http://127.0.0.1:PORT` of a listening socket."""
    return f"http://{HOST}:{sock.getsockname()[1]}"


def serve(app: Any, sock: socket.socket, *, exit_with_parent: bool = False) -> None:
    """Run `app` with uvicorn on `sock` until stopped (see the module docstring)."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if exit_with_parent:
        threading.Thread(target=_stop_at_eof, args=(server,), daemon=True).start()
    # uvicorn stops gracefully on SIGTERM, then raises the signal again with the handler
    # it found; with Python's default one the process would die before any `finally`.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _stop_at_eof(server: uvicorn.Server) -> None:
    """Read standard input until it closes, then ask the server to stop."""
    try:  # os.read on the descriptor: no lock that could block the interpreter's exit
        while os.read(sys.stdin.fileno(), 1024):
            pass
    except (OSError, ValueError):
        pass
    server.should_exit = True
