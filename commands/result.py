"""The result object every rendering (Block Kit, terminal text, JSON) is made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commands.periods import Period


@dataclass
class KpiResult:
    """One KPI for a period, beside the previous period of equal length and the benchmark.

    `values`/`previous` follow the JSON contract of the KPI issue (durations in seconds, rates as
    fractions, None when there is no data). `breakdown` is a list of {"key", "values"} when `by` was
    asked. `notes` are sentences to show as they are ("no conversations in this period").
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

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: the contract integrations and tests rely on."""
        doc: dict[str, Any] = {
            "metric": self.metric,
            "channels": list(self.channels),
            "business_hours": self.business_hours,
            "period": _period_json(self.period),
            "previous_period": _period_json(self.previous_period),
            "values": self.values,
            "previous": self.previous,
            "benchmark": self.benchmark,
        }
        if self.by is not None:
            doc["by"] = self.by
            doc["breakdown"] = self.breakdown or []
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

    def to_json(self) -> dict[str, Any]:
        """The scorecard as JSON: scope, periods, and every KPI's document under `kpis`."""
        return {
            "metric": "scorecard",
            "channels": list(self.channels),
            "period": _period_json(self.period),
            "previous_period": _period_json(self.previous_period),
            "kpis": {r.metric: r.to_json() for r in self.results},
        }


def _period_json(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}
