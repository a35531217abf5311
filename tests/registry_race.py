"""One racer of the registry's concurrency tests, run as its own process.

    python registry_race.py promote ROOT VERSION [VERSION ...]   one promotion per round
    python registry_race.py register ROOT MODEL.joblib

Just before its write of the index, the racer prints "ready" and waits for a line "go"
on stdin: the test sends it once every racer is ready, so all of them have read the
same index and decided on it, the worst case for a lost update. After each attempt it
prints the outcome ("won", "conflict" or the version registered), and between rounds it
waits for "next". Anything else is printed as "error: ..." (the test fails on it).
"""

from __future__ import annotations

import sys
from typing import Any

from mlcicd_course.registry import ConflictError, LocalBackend, ModelRegistry


class Racing:
    """A local backend whose first write of the index waits for the test's "go"."""

    def __init__(self, root: str):
        self.backend = LocalBackend(root)
        self.location = self.backend.location
        self.armed = True

    def read(self, key: str) -> Any:
        return self.backend.read(key)

    def list(self, prefix: str = "") -> list[str]:
        return self.backend.list(prefix)

    def create(self, key: str, data: bytes) -> bool:
        self._wait(key)
        return self.backend.create(key, data)

    def replace(self, key: str, data: bytes, token: str) -> bool:
        self._wait(key)
        return self.backend.replace(key, data, token)

    def _wait(self, key: str) -> None:
        if self.armed and key == "index.json":
            self.armed = False
            say("ready")
            expect("go")


def say(line: str) -> None:
    print(line, flush=True)


def expect(word: str) -> None:
    line = sys.stdin.readline().strip()
    if line != word:
        raise SystemExit(f"expected {word!r} from the test, got {line!r}")


def main(argv: list[str]) -> None:
    command, root, *rest = argv
    if command == "register":
        registry = ModelRegistry(Racing(root))
        version = registry.register(rest[0], metrics={}, data_fingerprint="race",
                                    by="racer", reason="race")
        say(version.version)
        return
    for number, version in enumerate(rest):
        if number:
            expect("next")
        try:
            ModelRegistry(Racing(root)).promote(version, "production", by=f"racer-{version}",
                                                reason="race")
            say("won")
        except ConflictError:
            say("conflict")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as err:  # noqa: BLE001 - reported to the test, which fails on it
        say(f"error: {type(err).__name__}: {err}")
        sys.exit(1)
