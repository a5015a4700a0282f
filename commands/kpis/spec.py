"""How a KPI is described: the one registry entry every part of the product reads (docs/metrics.md).

Parsing (the key, its name and synonyms), the help, labels and the three renderings (terminal text,
Block Kit, JSON) all come from a KPI's `KpiSpec`: what it is called, what it computes, the unit of every
value it returns, its headline, which way is better, the sentence shown without data, and the breakdowns
it allows. Nothing guesses a unit from a key's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from commands.format import COUNT
from commands.query import Query

# What a value is measured in: a unit (commands.format.UNITS), or for a table — a list of rows, or rows by
# name ({"twitter": 0.6} is a row {"key": "twitter", "share": 0.6}) — the unit of each column.
ValueUnit = str | dict[str, "ValueUnit"]


@dataclass(frozen=True)
class KpiSpec:
    """One KPI.

    `compute(conn, query)` returns the `values` dict of the JSON contract (None where no data); `values`
    gives the unit of each of its keys. `headline` is the key shown as the main figure; `better` is
    "lower", "higher" or None (neither is good or bad); `empty` is the sentence shown when there is no
    data; `breakdowns` lists the `by` dimensions it supports; `synonyms` other words that ask for it;
    `labels` what a values key is called for this KPI where the key says little (a table's "rows").
    """

    key: str
    name: str
    compute: Callable[[Connection, Query], dict[str, Any]]
    values: dict[str, ValueUnit]
    headline: str | None
    better: str | None
    empty: str
    breakdowns: tuple[str, ...] = ("channel", "day")
    synonyms: tuple[str, ...] = field(default=())
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """The headline's unit (a count for a KPI without one)."""
        unit = self.values.get(self.headline) if self.headline else None
        return unit if isinstance(unit, str) else COUNT

    def unit_of(self, key: str) -> ValueUnit:
        """The unit of the value `key` (a KeyError names a value the registry does not declare)."""
        return self.values[key]

    def label_of(self, key: str) -> str:
        """The name shown for the value `key` of this KPI: its own label, else the common one (`label`)."""
        return self.labels.get(key) or label(key)

    def has_data(self, values: dict[str, Any]) -> bool:
        """Whether a period had data for this KPI (`has_data`)."""
        return has_data(values, self.headline)


def has_data(values: dict[str, Any], headline: str | None) -> bool:
    """Whether a period had data: its headline has a value, or for a KPI without one, some value is there
    (an empty table is nothing; a count, even 0, is something). The one rule every rendering uses to say
    "no data", and to show no previous figures or change against a previous period without any."""
    if headline is not None:
        return values.get(headline) is not None
    return any(value not in (None, [], {}) for value in values.values())


# How a value is labelled where its key would read poorly ("p90"); others read as their key ("Still waiting").
LABELS = {
    "p90": "90th percentile",
    "first_mean": "First resolution, mean",
    "first_median": "First resolution, median",
    "full_mean": "Full resolution, mean",
    "full_median": "Full resolution, median",
    "per_day": "Per day",
    "oldest_age": "Oldest waiting",
    "over_threshold": "Over threshold",
    "frt_mean": "FRT mean",
    "frt_max": "Slowest FRT",
    "conversation_id": "Conversation",
    "non_social": "Non-social",
}


def label(key: str) -> str:
    """The name shown for a values key: "p90" -> "90th percentile", "still_waiting" -> "Still waiting"."""
    return LABELS.get(key, key.replace("_", " ").capitalize())


def rows(**columns: ValueUnit) -> dict[str, ValueUnit]:
    """The units of a table's columns."""
    return dict(columns)
