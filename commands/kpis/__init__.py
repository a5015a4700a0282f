"""Every KPI (docs/metrics.md), by key. Each module lists its KPIs in `SPECS`."""

from __future__ import annotations

from commands.kpis import backlog, business, nlp, outcome, recontact, service, speed, team, volume
from commands.kpis.spec import KpiSpec

# The order users see them in (help, the JSON of every KPI): speed, volume and flow, the team, outcomes,
# what customers say.
_ORDER = (
    "frt", "bands", "wait", "sla", "art", "aht", "volume", "reply-rate", "resolution-rate", "reopens",
    "repeat", "backlog", "transfers", "escalations", "mix", "agents", "quick-replies", "cost", "leads",
    "csat", "nps", "ces", "retention", "churn", "social-impact", "sentiment", "topics", "voice",
)  # fmt: skip
_SPECS = {
    spec.key: spec
    for module in (speed, service, volume, recontact, backlog, team, business, outcome, nlp)
    for spec in module.SPECS
}
KPIS: dict[str, KpiSpec] = {key: _SPECS[key] for key in _ORDER}
# The headline KPIs of `/kpi` alone, in the order shown.
SCORECARD = (
    "volume",
    "frt",
    "sla",
    "wait",
    "art",
    "reply-rate",
    "resolution-rate",
    "backlog",
    "csat",
    "nps",
    "sentiment",
)
# The extended scorecard (`/kpi more`): the headline KPIs, then how answers hold (reopens, repeat
# contacts), how fast in bands, how long handling takes, and what was passed on.
EXTENDED = (*SCORECARD, "reopens", "repeat", "bands", "aht", "transfers", "escalations")
# What each KPI (and the scorecard) is called in help, headers and titles; words that ask for one.
NAMES = {"scorecard": "Scorecard", **{key: spec.name for key, spec in KPIS.items()}}
SYNONYMS = {word: key for key, spec in KPIS.items() for word in spec.synonyms}

__all__ = ["EXTENDED", "KPIS", "NAMES", "SCORECARD", "SYNONYMS", "KpiSpec"]
