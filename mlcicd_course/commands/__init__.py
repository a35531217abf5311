"""Command groups of the `mlcicd` CLI, one module each (see `mlcicd_course.cli`)."""


def comma_separated(text: str) -> tuple[str, ...]:
    """The non-empty, stripped items of a comma-separated option value ("a, b," -> a, b)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
