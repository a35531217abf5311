"""Confining a process and everything it starts to a few folders (Linux Landlock).

`confine(readable, writable)` uses the kernel's Landlock LSM (Linux 5.13+, unprivileged):
from then on this process and every process it starts can read (and execute) only below
`readable`, write only below `writable`, open no TCP connection (Landlock ABI 4+), and
signal no process outside the confined tree (ABI 6+). It cannot be undone. Grading uses it
for the shell commands a learner's workflow runs, which no Python audit hook sees. Where
Landlock is missing (macOS, Windows, older or differently configured kernels) `confine`
returns False and changes nothing.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from collections.abc import Iterable

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_VERSION_FLAG = 1
_PATH_BENEATH = 1
_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_WRITE_DIR = sum(1 << bit for bit in range(4, 13))  # remove, make dir/file/socket/fifo/...
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_NET_BIND, _NET_CONNECT = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc
    except (OSError, AttributeError):
        return None


def abi_version() -> int:
    """The kernel's Landlock ABI version (0 when Landlock is not available)."""
    libc = _libc()
    if libc is None:
        return 0
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_VERSION_FLAG))
    return max(int(version), 0)


def _handled(abi: int) -> tuple[int, int, int]:
    """(fs, net, scope) rights this ABI can restrict."""
    fs = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | _WRITE_DIR
    if abi >= 2:
        fs |= REFER
    if abi >= 3:
        fs |= TRUNCATE
    if abi >= 5:
        fs |= IOCTL_DEV
    net = _NET_BIND | _NET_CONNECT if abi >= 4 else 0
    scope = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scope


def confine(readable: Iterable[str], writable: Iterable[str]) -> bool:
    """Restrict this process and its future children (see the module docstring).

    Paths that do not exist are skipped. Returns False, changing nothing, where Landlock
    is not available.
    """
    abi = abi_version()
    libc = _libc()
    if abi < 1 or libc is None:
        return False
    fs, net, scope = _handled(abi)
    attr = struct.pack("<QQQ", fs, net, scope)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(_CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        read = EXECUTE | READ_FILE | READ_DIR
        write = read | WRITE_FILE | _WRITE_DIR | (fs & (REFER | TRUNCATE | IOCTL_DEV))
        rules = [(p, read) for p in readable] + [(p, write) for p in writable]
        for path, access in rules:
            _add_rule(libc, int(ruleset), path, access & fs)
        if libc.prctl(_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0
    finally:
        os.close(int(ruleset))


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        rule = ctypes.create_string_buffer(struct.pack("<Qi", access, fd), 12)
        libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_PATH_BENEATH), rule,
                     ctypes.c_uint32(0))
    finally:
        os.close(fd)
