"""Small markdown helpers shared by every report (drift, validation, comparison).

Kept free of heavy imports so that any module can render markdown cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with fixed decimals, or an em dash for None."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_delta(value: float | None, digits: int = 3) -> str:
    """A signed number with fixed decimals (+0.012, -0.300; never -0.000), or an em dash."""
    if value is None:
        return "—"
    if abs(value) < 0.5 * 10 ** -digits:
        value = 0.0
    return f"{value:+.{digits}f}"


def fmt_p(p: float) -> str:
    """A p-value as text: "p < 0.001" or "p = 0.302"."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                   align: str | None = None) -> str:
    """A GitHub markdown table; `align` has one letter per column: l (default) or r."""
    align = align or "l" * len(headers)
    rule = ["---:" if a == "r" else "---" for a in align]

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "| " + " | ".join(rule) + " |", *map(line, rows)])
