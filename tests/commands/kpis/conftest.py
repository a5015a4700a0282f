"""The KPI functions' tests (one file per module of commands/kpis): events fed through the real ingestion
core, asked about in minutes after T0 (2026-11-20 09:00 UTC), from the cache and from the tables."""

import pytest

from commands.query import Query
from tests.commands.kpis.events import DAY, NOW, t


@pytest.fixture
def ask(engine, settings, source):
    """Computes one KPI function over [start, end) minutes, as asked at `now` minutes, from `source`
    (settings overridden by keyword: `support_cost_per_day=100.0`)."""

    def ask(fn, start=0, end=DAY, now=NOW, channels=(), agent=None, clock=None, **overrides):
        asked_with = settings.model_copy(update=overrides) if overrides else settings
        query = Query(
            t(start), t(end), tuple(channels), t(now), asked_with, clock=clock, agent=agent, source=source
        )
        with engine.connect() as conn:
            return fn(conn, query)

    return ask
