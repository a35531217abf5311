"""The grader's side of the learner's process: start it, feed it, time it, kill it.

`Launcher` starts a fresh process for one question: on POSIX a fork of a warm zygote
(`ForkLauncher`), elsewhere (or on request) a new interpreter (`SpawnLauncher`). The
process runs in its own process group with resource limits, in a private working
folder that is deleted afterwards; when the question ends, every process it started
is killed (`reaper`; on Linux including those that left the process group).
`LearnerProcess` talks to it over a framed channel:
requests go out pickled (the grader is trusted), replies come back as plain data
(`codec`). Every wait has the question's deadline; when it passes, the whole process
group is killed and `LearnerTimeout` is raised. A process that dies, closes the
channel or sends junk raises `LearnerGone`. Both derive from BaseException so that a
check's `except Exception` cannot swallow them.
"""

from __future__ import annotations

import io
import os
import pickle
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mlcicd_course import ONE_THREAD_ENV
from mlcicd_course.grading import codec, reaper
from mlcicd_course.grading.child import read_frame, write_frame

MAX_REPLY_BYTES = 64 * 1024 * 1024
OUTPUT_TAIL_BYTES = 4000
DEFAULT_PRELOAD = (
    "numpy", "pandas", "scipy.stats", "sklearn.base", "sklearn.linear_model",
    "sklearn.ensemble", "sklearn.tree", "sklearn.dummy", "sklearn.metrics",
    "sklearn.model_selection", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.compose",
    "sklearn.impute", "yaml", "mlcicd_course.datasets",
    "mlcicd_course.drift", "mlcicd_course.validation", "mlcicd_course.training",
    "mlcicd_course.evaluation", "mlcicd_course.grading", "mlcicd_course.grading.child",
)
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR",
             "COMSPEC", "PATHEXT", "TZ")
_FIXED_ENV = {"PYTHONHASHSEED": "0", **ONE_THREAD_ENV, "MPLBACKEND": "Agg",
              "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8",
              "JOBLIB_MULTIPROCESSING": "0"}  # n_jobs=-1 runs in-process: no new processes
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,16}")


class LearnerTimeout(BaseException):  # noqa: N818 - a stop signal, like KeyboardInterrupt
    """The question's time limit passed; the learner's process was killed."""


class LearnerGone(BaseException):  # noqa: N818
    """The learner's process ended, closed the channel or sent something unreadable."""


class LearnerError(Exception):
    """A learner's function, called by a check, raised an exception."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


@dataclass(frozen=True)
class Limits:
    """Per-question limits: wall-clock seconds, address space and largest file written."""

    timeout: float = 30.0
    memory_mb: int = 2048
    file_mb: int = 64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a learner's process gets: a few locale/path variables, nothing secret."""
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update(_FIXED_ENV)
    env.update(extra or {})
    return env


def sanitize(text: str, *paths: str) -> str:
    """Text without this run's temporary paths or memory addresses (stable across runs)."""
    for path in sorted({p for p in paths if p}, key=len, reverse=True):
        text = text.replace(path, "<workdir>")
    return _ADDRESS.sub("0x…", text)


# --------------------------------------------------------------------------- launchers


@dataclass
class Handle:
    """A started learner process: its pid, channel descriptors and how to stop it."""

    pid: int
    read_fd: int
    write_fd: int
    process: subprocess.Popen | None = None
    sock: socket.socket | None = None
    own_group: bool = True
    release: Callable[[int], None] | None = None

    def kill(self) -> None:
        """Kill the process, its group and (where the OS shows them) all its descendants."""
        if self.release is not None:
            release, self.release = self.release, None
            release(self.pid)  # the zygote kills the tree it keeps for this question
        elif self.process is not None:
            reaper.kill_tree(self.pid)
        if os.name == "posix" and self.own_group:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.process is not None:
            try:
                self.process.kill()
            except OSError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def shutdown(self) -> None:
        """End the channel so that a blocked reader wakes up (the descriptors stay open)."""
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Close the descriptors (only once nothing reads them: numbers get reused)."""
        if self.sock is not None:
            self.sock.close()
        for stream in (self.process.stdin, self.process.stdout) if self.process else ():
            try:
                stream.close()
            except OSError:
                pass


class SpawnLauncher:
    """A new interpreter per question: portable (Windows too) but ~2 s slower each."""

    name = "spawn"

    def launch(self) -> Handle:
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        else:
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        process = subprocess.Popen(
            [sys.executable, "-s", "-P", "-c",
             "import sys; from mlcicd_course.grading.child import main; sys.exit(main())"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=clean_env(), **kwargs)
        return Handle(process.pid, process.stdout.fileno(), process.stdin.fileno(),
                      process=process, own_group=os.name == "posix")

    def prestart(self) -> None:
        """Nothing to prepare: each question starts its own interpreter."""

    def close(self) -> None:
        """Nothing to stop: each process ends with its question."""


class ForkLauncher:
    """Forks each question's process from a zygote that imported the heavy libraries once."""

    name = "fork"

    def __init__(self, preload: tuple[str, ...] = DEFAULT_PRELOAD, start_timeout: float = 120):
        self.preload = preload
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._zygote: subprocess.Popen | None = None
        self._control: socket.socket | None = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        env = clean_env({"HOME": os.environ.get("HOME", tempfile.gettempdir())})
        self._zygote = subprocess.Popen(
            [sys.executable, "-s", "-P", "-m", "mlcicd_course.grading.zygote",
             str(theirs.fileno()), *self.preload],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        ours.settimeout(self.start_timeout)
        self._control = ours

    def _fork(self) -> Handle:
        assert self._control is not None
        self._control.sendall(b"F")
        message, fds, _flags, _addr = socket.recv_fds(self._control, 8, 1)
        if len(message) != 8 or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise OSError("the grading zygote did not answer")
        pid = int.from_bytes(message, "big", signed=True)
        sock = socket.socket(fileno=fds[0])
        sock.setblocking(True)
        return Handle(pid, sock.fileno(), sock.fileno(), sock=sock, release=self.release)

    def release(self, pid: int) -> None:
        """Have the zygote kill question `pid`'s process tree; wait until it is done."""
        with self._lock:
            if self._control is None or self._zygote is None or self._zygote.poll() is not None:
                return
            try:
                self._control.sendall(b"K" + pid.to_bytes(8, "big", signed=True))
                if self._control.recv(1) != b"k":
                    raise OSError("the grading zygote did not answer")
            except OSError:
                self._stop()

    def prestart(self) -> None:
        """Start the zygote now (it imports in the background) if it is not running."""
        with self._lock:
            if self._control is None or self._zygote is None or self._zygote.poll() is not None:
                self._stop()
                self._start()

    def launch(self) -> Handle:
        with self._lock:
            for attempt in (1, 2):
                if self._control is None or self._zygote is None or self._zygote.poll() is not None:
                    self._stop()
                    self._start()
                try:
                    return self._fork()
                except OSError:
                    self._stop()
                    if attempt == 2:
                        raise
        raise OSError("unreachable")

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._zygote is not None:
            try:
                self._zygote.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()
            self._zygote = None

    def close(self) -> None:
        """Stop the zygote (the children it forked are killed by their graders)."""
        with self._lock:
            self._stop()


def default_launcher() -> ForkLauncher | SpawnLauncher:
    """Fork from a zygote where the OS allows it, else spawn."""
    if os.name == "posix" and hasattr(socket, "send_fds") and hasattr(os, "fork"):
        return ForkLauncher()
    return SpawnLauncher()


# --------------------------------------------------------------------------- the process


class Remote:
    """A learner's object that stayed in its process; call it or read its attributes."""

    def __init__(self, process: LearnerProcess, ref: codec.RemoteRef):
        self._process = process
        self._ref = ref

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._process.request({"op": "call", "ref": self._ref.ref, "args": args,
                                      "kwargs": kwargs})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._process.request({"op": "getattr", "ref": self._ref.ref, "name": name})

    @property
    def remote_type(self) -> str:
        return self._ref.type_name

    @property
    def remote_name(self) -> str:
        return self._ref.name

    def __repr__(self) -> str:
        return f"<learner's {self._ref.type_name} {self._ref.text}>"


class _RefPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Remote):
            return ("ref", obj._ref.ref)
        return None


class LearnerProcess:
    """One learner process for one question, with a shared deadline for every wait."""

    def __init__(self, launcher: Any, limits: Limits):
        self.limits = limits
        self.job_dir = os.path.realpath(tempfile.mkdtemp(prefix="mlcicd-grade-"))
        self.workdir = os.path.join(self.job_dir, "work")
        os.mkdir(self.workdir)
        self.output_path = os.path.join(self.job_dir, "output.txt")
        self.state = "starting"
        try:
            self.handle = launcher.launch()
        except BaseException:
            _remove_tree(self.job_dir)
            raise
        self.deadline = time.monotonic() + limits.timeout
        self._replies: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- channel
    def _read(self) -> None:
        try:
            while True:
                frame = read_frame(self.handle.read_fd, MAX_REPLY_BYTES)
                self._replies.put(frame)
                if frame is None:
                    return
        except (OSError, ValueError) as err:
            self._replies.put(err)

    def _send(self, message: Any) -> None:
        buffer = io.BytesIO()
        _RefPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
        failure: list[BaseException] = []

        def write() -> None:
            try:
                write_frame(self.handle.write_fd, buffer.getvalue())
            except OSError as err:
                failure.append(err)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(max(0.0, self.deadline - time.monotonic()))
        if writer.is_alive():
            self._stop("timeout")
            raise LearnerTimeout(self.timeout_message())
        if failure:
            self._stop("gone")
            raise LearnerGone("the process running your code stopped before grading finished "
                              "(it exited, crashed or ran out of memory)")

    def _receive(self) -> Any:
        remaining = self.deadline - time.monotonic()
        try:
            frame = self._replies.get(timeout=max(0.0, remaining))
        except queue.Empty:
            self._stop("timeout")
            raise LearnerTimeout(self.timeout_message()) from None
        if frame is None or isinstance(frame, Exception):
            self._stop("gone")
            raise LearnerGone("the process running your code stopped before grading finished "
                              "(it exited, crashed or ran out of memory)")
        try:
            return codec.decode(codec.loads(frame))
        except codec.DecodeError as err:
            self._stop("gone")
            raise LearnerGone(f"the process running your code sent something that is not a "
                              f"value ({err})") from None

    def timeout_message(self) -> str:
        return f"time limit of {self.limits.timeout:g} s reached; the process was stopped"

    # -- protocol
    def start(self, cells: list[tuple[str, str]], seed: int = 0, *,
              programs: bool = False) -> dict:
        """Send the job and wait for the cells to run; returns the child's report.

        `programs=True` lets the cells start programs: only for the grader's own code.
        """
        job = {"cells": cells, "workdir": self.workdir, "output": self.output_path,
               "seed": seed, "env": clean_env(), "programs": programs,
               "limits": {"memory_mb": self.limits.memory_mb, "file_mb": self.limits.file_mb,
                          "cpu_seconds": int(self.limits.timeout) + 5}}
        self._send(job)
        report = self._receive()
        if not isinstance(report, dict) or report.get("event") not in ("ready", "error", "exit"):
            self._stop("gone")
            raise LearnerGone("the process running your code sent an unexpected report")
        self.state = "ready" if report["event"] == "ready" else "failed"
        return report

    def request(self, message: dict) -> Any:
        """Send a request (`get`, `call`, `getattr`); return the value or raise."""
        if self.state in ("timeout", "gone", "closed"):
            raise (LearnerTimeout if self.state == "timeout" else LearnerGone)(
                "the process running your code was already stopped")
        self._send(message)
        reply = self._receive()
        if not isinstance(reply, dict):
            self._stop("gone")
            raise LearnerGone("the process running your code sent an unexpected reply")
        if "raised" in reply:
            info = reply["raised"] if isinstance(reply["raised"], dict) else {}
            raise LearnerError(str(info.get("type", "Exception")),
                               self.clean(str(info.get("message", ""))),
                               self.clean(str(info.get("traceback", ""))))
        if reply.get("missing"):
            raise KeyError(message.get("name"))
        return self.bind(reply.get("value"))

    def get(self, name: str) -> Any:
        """The learner's variable `name` (KeyError when it is not defined)."""
        return self.request({"op": "get", "name": name})

    def bind(self, value: Any) -> Any:
        """Replace references in a decoded value by callable `Remote` proxies."""
        if isinstance(value, codec.RemoteRef):
            return Remote(self, value)
        if isinstance(value, list):
            return [self.bind(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.bind(v) for v in value)
        if isinstance(value, dict):
            return {k: self.bind(v) for k, v in value.items()}
        if isinstance(value, codec.Record):
            return codec.Record(value.type_name, {k: self.bind(v) for k, v in value.items()})
        return value

    def clean(self, text: str) -> str:
        return sanitize(text, self.workdir, self.job_dir)

    def output_tail(self) -> str:
        """The last few kB the learner's code printed."""
        try:
            with open(self.output_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - OUTPUT_TAIL_BYTES))
                data = handle.read()
        except OSError:
            return ""
        text = data.decode("utf-8", errors="replace")
        if size > OUTPUT_TAIL_BYTES:
            text = "…" + text[text.find("\n") + 1:] if "\n" in text else "…" + text
        return self.clean(text)

    # -- stopping
    def _stop(self, state: str) -> None:
        if self.state not in ("timeout", "gone", "closed"):
            self.state = state
        self.handle.kill()

    def close(self) -> str:
        """Say goodbye, kill the process group, delete the working folder; return the output."""
        if self.state in ("ready", "failed"):
            try:
                buffer = io.BytesIO()
                pickle.dump({"op": "bye"}, buffer)
                write_frame(self.handle.write_fd, buffer.getvalue())
            except OSError:
                pass
        self.handle.kill()
        self.handle.shutdown()
        self._reader.join(timeout=10)  # before close: a reused descriptor number must not
        self.handle.close()            # be read by this process's reader thread
        output = self.output_tail()
        if self.state not in ("timeout", "gone"):
            self.state = "closed"
        _remove_tree(self.job_dir)
        return output


def _remove_tree(path: str) -> None:
    def unlock(function: Any, target: str, _info: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            function(target)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=unlock)
    else:
        shutil.rmtree(path, onerror=unlock)
