"""The one way a KPI divides counts: None when the whole is nothing, so "no data" never reads as 0 %."""

from __future__ import annotations


def ratio(part: float | None, whole: float | None) -> float | None:
    """`part` / `whole`, or None when either is missing or the whole is 0."""
    return part / whole if part is not None and whole else None
