"""The registry's errors (the CLI prints them as one line)."""

from __future__ import annotations

from mlcicd_course.errors import UserInputError


class RegistryError(UserInputError):
    """A bad version or stage, a corrupt artifact or index, an unreadable store."""


class ConflictError(RegistryError):
    """Another process changed the registry first; nothing of this change was written."""
