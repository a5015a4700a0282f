"""A tally's whole days kept per UTC quarter hour, as a measure's are (storage.kpi_cache.quarters), so a
question about some hours of a period — `sentiment by hour` and `by weekday`, which read the `languages`
tally — takes the tally from the cache instead of reading every message of those hours.

The quartered twin of a tally (its key with QUARTERED appended, "languages@q"; `measures.quartered`) is a
tally like any other, its label the quarter of the UTC day followed by the tally's own ("37|en"):
computed, stored, kept current by the change notes and warmed as every tally is. A breakdown lays the
period's days end to end once per channel and label (`stacked`: running totals of the label's count and
sums over the cells d × 96 + q of `quarters.cells`), and each row takes the runs of quarters of its hours
(`taken`) with a few array operations, however many days.

For tallies whose label is never NULL and whose sums are counts (whole numbers): the totals are exact.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from storage.kpi_cache.measures import SEPARATOR
from storage.kpi_cache.quarters import QUARTERS, Runs
from storage.kpi_cache.tables import Part


class Stack(NamedTuple):
    """One channel's quartered tally rows of consecutive days laid end to end: per label, the running
    totals of its count and sums (row c holds cells before c: `totals[stop] - totals[start]` is a run's),
    and whether the tally has sums."""

    channel: str
    totals: dict[str, np.ndarray]
    sums: bool


def stacked(channel: str, days: list[dict[str, Part] | None], counted, width: int) -> Stack:
    """The channel's quartered rows of `days` (in order; None: a day not taken) as one `Stack`; `counted`
    parses a row's payload, `width` is 1 + the tally's sums."""
    cells = len(days) * QUARTERS
    grids: dict[str, np.ndarray] = {}
    for n, rows in enumerate(days):
        part = None if rows is None else rows.get(channel)
        if part is None or not part.count:
            continue
        for label, value in counted(part.values).items():
            quarter, _, name = label.partition(SEPARATOR)
            grid = grids.get(name)
            if grid is None:
                grid = grids[name] = np.zeros((cells + 1, width), dtype=np.int64)
            grid[n * QUARTERS + int(quarter) + 1] = value
    for grid in grids.values():
        np.cumsum(grid, axis=0, out=grid)
    return Stack(channel, grids, width > 1)


def taken(stack: Stack, runs: Runs) -> dict:
    """The tally of `stack` in the cells of `runs`: {label: count} or {label: [count, *sums]}, labels with
    no row there left out (as a read of the tables gives)."""
    starts, stops = runs
    found: dict = {}
    for label, totals in stack.totals.items():
        summed = (totals[stops] - totals[starts]).sum(axis=0)
        if summed[0]:
            found[label] = [int(value) for value in summed] if stack.sums else int(summed[0])
    return found
