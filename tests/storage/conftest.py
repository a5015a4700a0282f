"""Storage fixtures: a real SQLite file per test and an ingestor bound to it."""

from __future__ import annotations

import json

import pytest

from storage.ingest import Ingestor


@pytest.fixture
def ingestor(engine, settings) -> Ingestor:
    return Ingestor(engine, settings)


def feed(ingestor: Ingestor, events: list[dict], **kwargs):
    """Ingests dict events as one batch, positions counting from 1."""
    return ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)], **kwargs)
