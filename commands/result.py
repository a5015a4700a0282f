"""The result object every rendering (Block Kit, terminal text, JSON) is made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commands.kpis import KPIS
from commands.kpis.spec import has_data
from commands.periods import Period


@dataclass
class KpiResult:
    """One KPI for a period, beside the previous period of equal length and the benchmark.

    `values`/`previous` follow the JSON contract of the KPI issue (durations in seconds, rates as
    fractions, None when there is no data). When the previous period had no data (`had_data`), every
    value of `previous` is None: its zero counts are no real zeros to compare with, so no rendering
    shows a change against them. `breakdown` is a list of {"key", "values"} when `by` was asked, with
    the agent's "name" too by agent (`row_name`). `notes` are sentences to show as they are ("no
    conversations in this period").
    """

    metric: str
    channels: tuple[str, ...]
    business_hours: bool
    period: Period
    previous_period: Period
    values: dict[str, Any]
    previous: dict[str, Any]
    benchmark: dict[str, Any] = field(default_factory=dict)
    by: str | None = None
    breakdown: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.had_data(self.previous):
            self.previous = dict.fromkeys(self.previous)

    def had_data(self, values: dict[str, Any]) -> bool:
        """Whether a period with these values had data, by this KPI's rule (commands.kpis.spec.has_data)."""
        spec = KPIS.get(self.metric)
        return has_data(values, spec.headline if spec is not None else None)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: the contract integrations and tests rely on."""
        doc: dict[str, Any] = {
            "metric": self.metric,
            "channels": list(self.channels),
            "business_hours": self.business_hours,
            "period": period_json(self.period),
            "previous_period": period_json(self.previous_period),
            "values": self.values,
            "previous": self.previous,
            "benchmark": self.benchmark,
        }
        if self.by is not None:
            doc["by"] = self.by
            doc["breakdown"] = [_row_json(row, self.by) for row in self.breakdown or []]
        if self.notes:
            doc["notes"] = self.notes
        return doc


@dataclass
class Scorecard:
    """The headline KPIs for one period and scope, each a KpiResult."""

    channels: tuple[str, ...]
    period: Period
    previous_period: Period
    results: list[KpiResult]
    extended: bool = False  # the extended view (`/kpi more`): more KPIs than the headline ones

    @property
    def title(self) -> str:
        return "Extended scorecard" if self.extended else "Scorecard"

    def to_json(self) -> dict[str, Any]:
        """The scorecard as JSON: scope, periods, and every KPI's document under `kpis`."""
        return {
            "metric": "scorecard",
            "extended": self.extended,
            "channels": list(self.channels),
            "period": period_json(self.period),
            "previous_period": period_json(self.previous_period),
            "kpis": {r.metric: r.to_json() for r in self.results},
        }


def row_name(row: dict[str, Any]) -> str:
    """What a breakdown row is called: the agent's name when known, else its key (the agent id, the
    channel, the day)."""
    return str(row.get("name") or row["key"])


def _row_json(row: dict[str, Any], by: str) -> dict[str, Any]:
    """A breakdown row in JSON: by agent, the id as `key` and the name shown as `name`."""
    if by != "agent":
        return row
    return {"key": row["key"], "name": row_name(row), "values": row["values"]}


def period_json(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}
