"""Command groups of the `mlcicd` CLI, one module each (see `mlcicd_course.cli`)."""
