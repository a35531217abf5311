"""Small tools for writing checks (used inside `# BEGIN CHECKS` regions).

    from mlcicd_course.grading.helpers import fixture, run_test, LearnerError
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mlcicd_course.grading.runner import LearnerError

__all__ = ["LearnerError", "TestOutcome", "fixture", "run_test"]

T = TypeVar("T")


def fixture(function: Callable[[], T]) -> Callable[[], T]:
    """Compute a check's trusted data once per process (thread-safe), then reuse it.

    Grading runs checks of many submissions in parallel threads; a fixture such as a
    trained reference model is built by the first caller and shared by the others.
    """
    lock = threading.Lock()
    cache: list[T] = []

    @functools.wraps(function)
    def wrapper() -> T:
        with lock:
            if not cache:
                cache.append(function())
            return cache[0]

    return wrapper


@dataclass(frozen=True)
class TestOutcome:
    """What happened when a learner's pytest-style test ran: passed, failed or error."""

    __test__ = False  # not a pytest test class

    result: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.result == "passed"

    @property
    def failed(self) -> bool:
        return self.result == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "message": self.message}


def run_test(test: Any, *args: Any, **kwargs: Any) -> TestOutcome:
    """Call a learner's test function: `passed` if it returns, `failed` on an assert.

    Any other exception is an `error`: a test must fail by asserting, not by crashing,
    so that a test that raises NotImplementedError does not count as catching a bad model.
    """
    if not callable(test):
        return TestOutcome("error", f"{test!r} is not a function")
    try:
        test(*args, **kwargs)
    except LearnerError as err:
        result = "failed" if err.type_name == "AssertionError" else "error"
        return TestOutcome(result, f"{err.type_name}: {err.message}")
    return TestOutcome("passed")
