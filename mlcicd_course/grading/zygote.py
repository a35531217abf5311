"""A clean, warm process that forks one fresh child per graded question (POSIX only).

Importing numpy, pandas and scikit-learn takes about two seconds; a batch grades
hundreds of questions. The zygote imports them once, never runs learner code itself,
and forks on request: each child starts from the same clean state, in its own session
(so the grader can kill its whole process group), and talks to the grader over a
socket whose other end the zygote hands to the grader with SCM_RIGHTS.

Protocol on the control socket: the grader sends one byte `F`; the zygote answers
with an 8-byte pid and the grader's end of the new child's socket.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import struct
import sys

PID = struct.Struct(">q")


def _preload(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module only costs speed
            pass


def _child(control: socket.socket, parent_end: socket.socket, child_end: socket.socket) -> None:
    control.close()
    parent_end.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 1
    try:
        os.setsid()
        from mlcicd_course.grading.child import serve

        fd = child_end.detach()
        code = serve(fd, fd)
    finally:
        os._exit(code)


def run(control_fd: int, modules: list[str]) -> int:
    """Serve fork requests on `control_fd` until the grader closes it."""
    control = socket.socket(fileno=control_fd)
    _preload(modules)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the grader, which stops us
    while True:
        try:
            request = control.recv(1)
        except OSError:
            return 0
        if request != b"F":
            return 0
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            _child(control, parent_end, child_end)
        child_end.close()
        try:
            socket.send_fds(control, [PID.pack(pid)], [parent_end.fileno()])
        except OSError:
            return 0
        finally:
            parent_end.close()


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]), sys.argv[2:]))
