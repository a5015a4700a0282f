"""Fixtures of the KPI tests: events fed through the real ingestion core into the test's database."""

import json

import pytest

from storage.ingest import Ingestor


@pytest.fixture
def feed(engine, settings):
    """Ingests dict events (positions from 1) and fails the test if any is rejected."""
    ingestor = Ingestor(engine, settings)

    def feed(*events: dict) -> None:
        result = ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)])
        assert not result.rejected, result.rejected

    return feed


@pytest.fixture(params=["auto", "tables"], ids=["cache", "tables"])
def source(request) -> str:
    """Where a KPI test reads its measures: through the KPI cache where it can ("auto"), or from the tables
    alone. Every KPI test asks both ways, so what it checks never depends on the date the suite runs."""
    return request.param
