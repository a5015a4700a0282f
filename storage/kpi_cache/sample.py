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
        are selected (np.partition): the values are never fully sorted. Written out rather than
        np.quantile, whose interpolation rounds differently in the last bit."""
        n = self.count
        if not n:
            return [None for _ in qs]
        ranks = [q * (n - 1) for q in qs]
        needed = sorted({r for rank in ranks for r in (math.floor(rank), min(math.floor(rank) + 1, n - 1))})
        chosen = np.partition(self.values, needed)
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
