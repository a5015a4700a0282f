"""Every KPI of METRICS.md, by key. Each module lists its KPIs in `SPECS`."""

from __future__ import annotations

from commands.kpis import nlp, outcome, speed, volume
from commands.kpis.spec import KpiSpec

KPIS: dict[str, KpiSpec] = {
    spec.key: spec for module in (speed, volume, outcome, nlp) for spec in module.SPECS
}

__all__ = ["KPIS", "KpiSpec"]
