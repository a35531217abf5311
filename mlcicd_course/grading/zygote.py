"""A clean, warm process that forks one fresh child per graded question (POSIX only).

Importing numpy, pandas and scikit-learn takes about two seconds; a batch grades
hundreds of questions. The zygote imports them once, never runs learner code itself,
and forks on request: each child starts from the same clean state, in its own session
(so the grader can kill its whole process group), and talks to the grader over a
socket whose other end the zygote hands to the grader with SCM_RIGHTS.

On Linux the zygote is a child subreaper (see `reaper`): a process that a question
starts and that escapes its process group (new session, double fork, ctypes) is
re-parented here, not to init. The zygote kills a question's whole tree when the
grader releases it, and every few tenths of a second kills any child it did not fork
itself (an orphan of a question), so no learner process outlives its question.

Protocol on the control socket: the grader sends one byte `F`; the zygote answers
with an 8-byte pid and the grader's end of the new child's socket. `K` and an 8-byte
pid: kill that question's process tree; the zygote answers `k` when it is gone.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import struct
import sys

from mlcicd_course.grading import reaper

PID = struct.Struct(">q")
SWEEP_SECONDS = 0.25


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


def _fork(control: socket.socket, questions: set[int]) -> bool:
    parent_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        _child(control, parent_end, child_end)
    child_end.close()
    questions.add(pid)
    try:
        socket.send_fds(control, [PID.pack(pid)], [parent_end.fileno()])
    except OSError:
        return False
    finally:
        parent_end.close()
    return True


def _release(control: socket.socket, questions: set[int]) -> bool:
    data = b""
    while len(data) < PID.size:
        chunk = control.recv(PID.size - len(data))
        if not chunk:
            return False
        data += chunk
    (pid,) = PID.unpack(data)
    if pid in questions:
        reaper.kill_tree(pid)
        questions.discard(pid)
    _sweep(questions)
    control.sendall(b"k")
    return True


def _sweep(questions: set[int]) -> None:
    """Kill every child this zygote did not fork: orphans of a question's processes."""
    for pid in reaper.strays(os.getpid(), questions):
        reaper.kill_tree(pid)


def run(control_fd: int, modules: list[str]) -> int:
    """Serve fork and release requests on `control_fd` until the grader closes it."""
    control = socket.socket(fileno=control_fd)
    guarding = reaper.become_subreaper()
    control.settimeout(SWEEP_SECONDS if guarding else None)
    _preload(modules)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the grader, which stops us
    questions: set[int] = set()
    try:
        while True:
            try:
                request = control.recv(1)
            except TimeoutError:
                _sweep(questions)
                continue
            except OSError:
                return 0
            try:
                served = (request == b"F" and _fork(control, questions)) or (
                    request == b"K" and _release(control, questions))
            except OSError:
                return 0
            if not served:
                return 0
    finally:
        for pid in sorted(questions):
            reaper.kill_tree(pid)
        _sweep(set())


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]), sys.argv[2:]))
