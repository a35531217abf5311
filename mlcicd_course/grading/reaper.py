"""Finding and killing every process a graded question started (Linux; less elsewhere).

A learner's code can start processes that leave the question's process group: a new
session (`setsid`, `start_new_session=True`), a double fork, or `fork()` through ctypes,
which no audit hook sees. On Linux the grading zygote declares itself a *child
subreaper* (`prctl(PR_SET_CHILD_SUBREAPER)`), so such an orphan is re-parented to the
zygote instead of to init and stays in a tree the grader can see. `kill_tree` stops a
question's whole tree (SIGSTOP until no new process appears, so nothing can fork away
while it is being killed) and then kills it; `strays` lists the zygote's children that
it did not fork itself. Elsewhere these fall back to what the OS offers (see
`mlcicd_course.grading` for the guarantee per platform).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux); True if it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def tracks_trees() -> bool:
    """Whether this platform lets `kill_tree` find descendants (it has Linux's /proc)."""
    return sys.platform.startswith("linux") and (_PROC / "self" / "stat").exists()


def parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc (empty where there is none)."""
    found: dict[int, int] = {}
    if not tracks_trees():
        return found
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # ended while we looked
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z":
            found[int(entry.name)] = int(fields[1])
    return found


def descendants(root: int, table: dict[int, int] | None = None) -> set[int]:
    """Every live process below `root` (not `root` itself)."""
    table = parents() if table is None else table
    below: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        below.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in below.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(root: int, *, include_root: bool = True, rounds: int = 100) -> set[int]:
    """Stop, then kill, `root` and every process below it; return the pids signalled."""
    stopped: set[int] = set()
    for _ in range(rounds):
        table = parents()
        tree = descendants(root, table)
        if include_root and root in table:
            tree.add(root)
        fresh = tree - stopped
        if not fresh:
            break
        for pid in fresh:
            _signal(pid, signal.SIGSTOP)
        stopped |= fresh
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    return stopped


def strays(parent: int, known: set[int]) -> list[int]:
    """Children of `parent` that are not in `known` (orphans re-parented to a subreaper)."""
    return sorted(pid for pid, ppid in parents().items() if ppid == parent and pid not in known)
