"""How a KPI is described to the engine and the renderers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from commands.query import Query


@dataclass(frozen=True)
class KpiSpec:
    """One KPI key of METRICS.md.

    `compute(conn, query)` returns the `values` dict of the JSON contract (None where no data).
    `headline` is the values key shown as the main figure; `unit` says how to show it
    ("seconds", "fraction", "count", "nps", "score", "money", "per_day"); `better` is "lower",
    "higher" or None (neither is good or bad); `empty` is the sentence shown when there is no data.
    `breakdowns` lists the `by` dimensions this KPI supports.
    """

    key: str
    compute: Callable[[Connection, Query], dict[str, Any]]
    headline: str | None
    unit: str
    better: str | None
    empty: str
    breakdowns: tuple[str, ...] = ("channel", "day")
