"""What a measure gives over a period: its values and the statistics the KPIs read from them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Sample:
    """The values of a measure over a period (unsorted) and their exact sum."""

    values: np.ndarray
    total: float

    @property
    def count(self) -> int:
        return len(self.values)

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentiles(self, *qs: float) -> list[float | None]:
        """The q-quantiles, interpolated linearly between the closest ranks (PostgreSQL's percentile_cont):
        q = 0.9 over 1 h and 2 h is 1 h + 0.9 x 1 h = 1h 54m; None without values. Only the ranks needed
        are selected (`_ranked`): the values are never fully sorted. Written out rather than np.quantile,
        whose interpolation rounds differently in the last bit."""
        n = self.count
        if not n:
            return [None for _ in qs]
        ranks = [q * (n - 1) for q in qs]
        chosen = _ranked(self.values, {math.floor(rank) for rank in ranks})
        out = []
        for rank in ranks:
            below = math.floor(rank)
            low, high = float(chosen[below]), float(chosen[min(below + 1, n - 1)])
            out.append(low + (high - low) * (rank - below))
        return out

    def summary(self) -> dict[str, float | int | None]:
        """Mean, median, p90 and count."""
        median, p90 = self.percentiles(0.5, 0.9)
        return {"mean": self.mean(), "median": median, "p90": p90, "count": self.count}

    def at_most(self, limit: float) -> int:
        """How many values are <= `limit`."""
        return int(np.count_nonzero(self.values <= limit))

    def below(self, limit: float) -> int:
        """How many values are < `limit`."""
        return int(np.count_nonzero(self.values < limit))


def _ranked(values: np.ndarray, ranks: set[int]) -> dict[int, object]:
    """The values of rank r and r + 1 (0 the smallest; r + 1 when there is one) for each r of `ranks`,
    selected highest rank first, each in the part below the one before: one single-rank partition per
    rank and the smallest value above it for r + 1. np.partition given several ranks at once is ~10 times
    slower than that (1.5M values: 15 against 1.8 ms; numpy 2's fast selection takes one rank only)."""
    work = values.copy()
    chosen: dict[int, object] = {}
    top = len(work)  # work[top:] holds the values above every rank chosen so far
    for rank in sorted(ranks, reverse=True):
        part = work[:top]
        part.partition(rank)
        chosen[rank] = part[rank]
        if rank + 1 < top:
            chosen[rank + 1] = part[rank + 1 :].min()
        elif rank + 1 < len(work):
            chosen.setdefault(rank + 1, work[rank + 1])
        top = rank
    return chosen


def distinct_count(arrays: list[np.ndarray]) -> int:
    """How many different ids (non-negative) the arrays hold together. They are marked in one bitmap (no
    sort, whatever the number of days), or, when they are few beside the largest id (a bitmap of a
    million ids to zero for a breakdown row's thousands), sorted and counted where they change
    (np.unique hashes: ten times slower than that on numpy 2)."""
    arrays = [ids for ids in arrays if len(ids)]
    if not arrays:
        return 0
    largest = max(int(ids.max()) for ids in arrays)
    if sum(len(ids) for ids in arrays) * 128 < largest:
        ids = np.sort(np.concatenate(arrays))
        return int(np.count_nonzero(ids[1:] != ids[:-1])) + 1
    seen = np.zeros(largest + 1, dtype=bool)
    for ids in arrays:
        seen[ids.astype(np.int64)] = True
    return int(np.count_nonzero(seen))
