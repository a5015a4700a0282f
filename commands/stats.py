"""The few statistics KPIs need, computed the way PostgreSQL's percentile_cont and numpy do.

Empty input gives None, never 0: "no data" must not look like "instant replies".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def mean(values: Iterable[float]) -> float | None:
    """The arithmetic mean of the values, or None when there are none."""
    items = list(values)
    # fsum: adding tens of thousands of durations one by one would drift in the last digits.
    return math.fsum(items) / len(items) if items else None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile (q from 0 to 1) of already sorted values, or None when there are none.

    Linear interpolation between the closest ranks, at rank q x (n - 1): the default of
    numpy.percentile and PostgreSQL's percentile_cont.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile q must be between 0 and 1, got {q}")
    if not sorted_values:
        return None
    rank = q * (len(sorted_values) - 1)
    below = math.floor(rank)
    above = min(below + 1, len(sorted_values) - 1)
    fraction = rank - below
    low, high = float(sorted_values[below]), float(sorted_values[above])
    return low + (high - low) * fraction


def median(values: Iterable[float]) -> float | None:
    """The middle value (mean of the two middle ones for an even count), or None when there are none."""
    return percentile(sorted(values), 0.5)


def summary(values: Iterable[float]) -> dict[str, float | int | None]:
    """Mean, median, 90th percentile and count of the values; the statistics are None when there are none."""
    ordered = sorted(values)
    return {
        "mean": mean(ordered),
        "median": percentile(ordered, 0.5),
        "p90": percentile(ordered, 0.9),
        "count": len(ordered),
    }
