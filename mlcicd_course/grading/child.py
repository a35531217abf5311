"""The learner's side of a graded question: run the code, then answer the checker.

This module runs inside the fresh process that executes a learner's code for one
question (forked from `zygote`, or started with `python -m mlcicd_course.grading.child`).
It receives one job from the grader (pickled: the grader is trusted), applies the
resource limits, points stdin/stdout/stderr away from the channel, installs an audit
hook that refuses writes outside the working folder, starting processes, network
connections and signals to other processes, runs the cells, and then serves requests:
`get` a variable, `call` a function, `getattr` on an object, `bye`. Every reply is
plain data from `codec`, never pickle, so nothing this process sends can run code in
the checker. Learner code can still tamper with this process: that only changes what
it answers, and the checks decide what a right answer is.
"""

from __future__ import annotations

import builtins
import io
import linecache
import os
import pickle
import re
import struct
import sys
import traceback
import types
from typing import Any

from mlcicd_course.grading import codec, reaper

HEADER = struct.Struct(">Q")
GRADING_ENV = "MLCICD_GRADING"


# --------------------------------------------------------------------------- framing


def write_frame(fd: int, payload: bytes) -> None:
    """Write one length-prefixed frame to a file descriptor."""
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes | None:
    """Read exactly `size` bytes, or None at end of file."""
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, limit: int) -> bytes | None:
    """Read one frame (None at end of file); ValueError when it is larger than `limit`."""
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > limit:
        raise ValueError(f"frame of {size} bytes is larger than the {limit} byte limit")
    return read_exact(fd, size) if size else b""


# --------------------------------------------------------------------------- sandbox


class GradingGuard(PermissionError):
    """An operation that grading does not allow (the message says which)."""


def _real(path: Any) -> str | None:
    """The real path of a path an audit event names (None when it is not one)."""
    try:
        return os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None


def _inside(path: Any, root: str) -> bool:
    if isinstance(path, int) or path is None:
        return True
    resolved = _real(path)
    return resolved is not None and (resolved == root or resolved.startswith(root + os.sep)
                                     or resolved == os.devnull)


_PATH_EVENTS = {
    "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
    "os.chflags", "os.lchflags", "os.lchmod", "shutil.rmtree", "os.setxattr", "os.removexattr",
}
_PROGRAM_EVENTS = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile",
                   "subprocess.Popen", "os.fork", "os.forkpty"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


_OTHER_PROCESS = re.compile(r"^/proc/(\d+)(?:/|$)")


def _private(path: Any, root: str, me: int) -> bool:
    """Notebooks outside the working folder (the solutions may be among them) and the
    /proc files of other processes (the grader's command line names the solutions)."""
    if isinstance(path, int) or path is None:
        return False
    resolved = _real(path)
    if resolved is None:
        return True
    if resolved.endswith(".ipynb") and not _inside(resolved, root):
        return True
    match = _OTHER_PROCESS.match(resolved)
    return bool(match) and int(match.group(1)) != me


def install_guard(workdir: str, *, allow_programs: bool = False) -> None:
    """Refuse, from now on, what a graded question has no business doing.

    Writes, deletes and renames outside `workdir`; reading notebooks outside it or other
    processes' /proc files; starting any process (programs, a new Python, fork); network
    connections; signals to other processes. Audit hooks cannot
    be removed, so learner code cannot switch this off from Python (see PEP 578), but
    ctypes can reach the C library without passing them: processes started that way are
    killed with the question (`reaper`), which is the guarantee on Linux.
    `allow_programs` lets the grader's own code (never a learner's cells) start programs
    and stop them, e.g. the workflow runner's shell steps.
    """
    root = os.path.realpath(workdir)
    me = os.getpid()

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and not _inside(path, root):
                raise GradingGuard(f"grading does not allow writing {path!r}: write inside the "
                                   "working folder")
            if _private(path, root, me):
                raise GradingGuard(f"grading does not allow reading {path!r}: other "
                                   "notebooks and other processes are off limits")
        elif event in _PATH_EVENTS:
            if args and not _inside(args[0], root):
                raise GradingGuard(f"grading does not allow {event}({args[0]!r}) outside the "
                                   "working folder")
        elif event in ("os.rename", "os.link", "os.symlink"):
            if not all(_inside(a, root) for a in args[:2]):
                raise GradingGuard(f"grading does not allow {event} outside the working folder")
        elif event in _PROGRAM_EVENTS and not allow_programs:
            raise GradingGuard("grading does not allow starting other programs or processes")
        elif event in ("os.kill", "os.killpg") and not allow_programs:
            target = args[0] if args else None
            group = getattr(os, "getpgrp", os.getpid)()
            if target not in (me, 0, -me, group, -group):
                raise GradingGuard("grading does not allow signalling other processes")
        elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
            sock = args[0] if args else None
            family = getattr(sock, "family", None)
            if family is not None and int(family) != int(getattr(__import__("socket"),
                                                                 "AF_UNIX", -1)):
                raise GradingGuard("grading does not allow network connections")

    sys.addaudithook(hook)


def apply_limits(limits: dict) -> None:
    """POSIX resource limits: address space, CPU seconds, file size, no core files."""
    try:
        import resource
    except ImportError:  # Windows: only the wall-clock timeout applies
        return

    def cap(kind: int, value: int) -> None:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(kind, (value, hard))
        except (ValueError, OSError):
            pass

    if limits.get("memory_mb"):
        cap(resource.RLIMIT_AS, int(limits["memory_mb"]) * 1024 * 1024)
    if limits.get("cpu_seconds"):
        cap(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
    if limits.get("file_mb"):
        cap(resource.RLIMIT_FSIZE, int(limits["file_mb"]) * 1024 * 1024)
    cap(resource.RLIMIT_CORE, 0)
    try:
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises instead
    except (AttributeError, ValueError):
        pass


# --------------------------------------------------------------------------- IPython shim


class _IPythonShim:
    """Enough of `get_ipython()` for the magics that exercise notebooks contain."""

    def __init__(self, namespace: dict):
        self.user_ns = namespace
        self.notes: list[str] = []

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name not in ("matplotlib", "config", "load_ext", "autoreload", "precision"):
            self.notes.append(f"%{name} does not run while grading")
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name == "writefile":
            parts = line.split()
            append = "-a" in parts or "--append" in parts
            target = [p for p in parts if not p.startswith("-")]
            if target:
                with open(target[0], "a" if append else "w", encoding="utf-8") as handle:
                    handle.write(cell)
            return None
        if name in ("capture", "time"):
            exec(compile(cell, "<cell magic>", "exec"), self.user_ns)  # noqa: S102
            return None
        self.notes.append(f"%%{name} does not run while grading")
        return None

    def system(self, command: str) -> None:
        self.notes.append("shell commands (!...) do not run while grading")

    getoutput = system

    def magic(self, line: str) -> None:
        self.run_line_magic(line.split(" ")[0], line)


# --------------------------------------------------------------------------- running


def describe_exception(error: BaseException, limit_lines: int = 40) -> dict:
    """Type, message and the learner-code part of the traceback of an exception."""
    summary = traceback.TracebackException.from_exception(error)
    frames = [f for f in summary.stack if f.filename.startswith("<cell")]
    summary.stack = traceback.StackSummary.from_list(frames)
    text = "".join(summary.format())
    lines = text.splitlines()[-limit_lines:]
    message = str(error)
    return {"type": type(error).__name__, "message": message[:2000],
            "traceback": "\n".join(lines)[:8000]}


class Session:
    """The learner's namespace and the objects handed to the checker by reference."""

    def __init__(self) -> None:
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        self.namespace = module.__dict__
        self.shell = _IPythonShim(self.namespace)
        self.namespace["get_ipython"] = lambda: self.shell
        self.refs: list[Any] = []

    def register(self, value: Any) -> int:
        self.refs.append(value)
        return len(self.refs) - 1

    def run_cells(self, cells: list[tuple[str, str]]) -> dict:
        for label, code in cells:
            filename = f"<{label}>"
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            try:
                compiled = compile(code, filename, "exec")
            except SyntaxError as err:
                return {"event": "error", "cell": label, "type": "SyntaxError",
                        "message": f"{err.msg} (line {err.lineno})", "traceback": ""}
            try:
                exec(compiled, self.namespace)  # noqa: S102 - running the learner's code is the job
            except SystemExit as err:
                return {"event": "exit", "cell": label, "type": "SystemExit",
                        "message": f"the code called exit() / sys.exit({err.code!r})",
                        "traceback": ""}
            except BaseException as err:  # noqa: BLE001 - anything the learner raises
                return {"event": "error", "cell": label, **describe_exception(err)}
        return {"event": "ready", "notes": sorted(set(self.shell.notes))}

    def answer(self, request: dict) -> dict:
        op = request.get("op")
        if op == "get":
            name = request["name"]
            if name not in self.namespace or name.startswith("__"):
                return {"missing": True}
            return {"value": self.namespace[name]}
        target = self.refs[request["ref"]] if "ref" in request else None
        try:
            if op == "call":
                return {"value": target(*request["args"], **request["kwargs"])}
            if op == "getattr":
                return {"value": getattr(target, request["name"])}
        except SystemExit as err:
            return {"raised": {"type": "SystemExit",
                               "message": f"the code called exit() / sys.exit({err.code!r})",
                               "traceback": ""}}
        except BaseException as err:  # noqa: BLE001
            return {"raised": describe_exception(err)}
        return {"raised": {"type": "ProtocolError", "message": f"unknown request {op!r}",
                           "traceback": ""}}


class _RefUnpickler(pickle.Unpickler):
    """Unpickles the grader's requests; persistent ids stand for objects held here."""

    def __init__(self, data: bytes, session: Session):
        super().__init__(io.BytesIO(data))
        self.session = session

    def persistent_load(self, pid: Any) -> Any:
        kind, ref = pid
        if kind != "ref":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return self.session.refs[ref]


def _encode_reply(reply: dict, session: Session) -> bytes:
    """The reply as an encoded dict; the value part is encoded on its own so that a value
    that cannot be sent becomes a `raised` reply instead of a broken channel."""
    if "value" in reply:
        try:
            text = codec.encode(reply["value"], session.register)
        except BaseException as err:  # noqa: BLE001 - learner objects can fail while encoded
            info = describe_exception(err)
            info["message"] = f"cannot send the value to the checker: {info['message']}"
            return codec.encode({"raised": info}, session.register).encode()
        return ('{"$dict":[["value",' + text + "]]}").encode()
    return codec.encode(reply, session.register).encode()


def serve(read_fd: int, write_fd: int) -> int:
    """Receive the job, run it and answer requests until `bye` or end of input."""
    job_data = read_frame(read_fd, 1 << 30)
    if job_data is None:
        return 3
    job = pickle.loads(job_data)  # from the grader, which is trusted
    _prepare(job)
    session = Session()
    started = session.run_cells(job["cells"])
    write_frame(write_fd, codec.encode(started, session.register).encode())
    if started["event"] != "ready":
        _flush()
        return 0
    while True:
        data = read_frame(read_fd, 1 << 30)
        if data is None:
            break
        request = _RefUnpickler(data, session).load()
        if request.get("op") == "bye":
            break
        reply = session.answer(request)
        _flush()
        write_frame(write_fd, _encode_reply(reply, session))
    _flush()
    return 0


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _prepare(job: dict) -> None:
    """Limits, working folder, environment, output capture, seeds and the guard."""
    reaper.become_subreaper()  # what the learner's code starts stays in this process's tree
    apply_limits(job.get("limits", {}))
    workdir = job["workdir"]
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    output = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), encoding="utf-8",
                                  errors="replace", line_buffering=True)
    sys.stderr = sys.stdout
    sys.stdin = io.StringIO("")
    os.environ.clear()
    os.environ.update(job.get("env", {}))
    os.environ.update({"HOME": workdir, "TMPDIR": workdir, "TEMP": workdir, "TMP": workdir,
                       "MPLCONFIGDIR": workdir, GRADING_ENV: "1"})
    import tempfile

    tempfile.tempdir = workdir
    sys.argv = ["notebook"]
    import random

    random.seed(job.get("seed", 0))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(job.get("seed", 0))
    install_guard(workdir, allow_programs=bool(job.get("programs")))


def main() -> int:
    """Entry point of `python -m mlcicd_course.grading.child` (stdin/stdout are the channel)."""
    read_fd, write_fd = os.dup(0), os.dup(1)
    return serve(read_fd, write_fd)


if __name__ == "__main__":
    sys.exit(main())
