"""The extended scorecard (`/kpi more`): the headline KPIs and then reopens, repeat contacts, bands,
handle time, transfers and escalations; and the digest lines of the new outcome KPIs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from commands.engine import compute
from commands.errors import UsageError
from commands.kpis import EXTENDED, SCORECARD
from commands.parse import parse_command
from commands.render_blocks import answer_message
from commands.render_text import to_text
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.storage.builders import inbound, reply, status

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.fixture
def answered(database_url):
    settings = Settings(database_url=database_url, pseudonym_key="k")
    engine = make_engine(settings.database_url)
    events = [
        inbound("a1", 0, conv="a"),
        reply("a2", 10, conv="a"),
        status("a3", 20, "resolved", conv="a"),
        inbound("a4", 60, conv="a"),  # reopened: 1 of 1 resolved
        inbound("b1", 0, conv="b", handle="@bob"),
    ]
    assert not Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events)]).rejected
    yield settings, engine
    engine.dispose()


def test_more_asks_for_the_extended_scorecard_with_the_outcome_kpis(answered):
    settings, engine = answered
    with engine.connect() as conn:
        card = compute(conn, parse_command("more 7d", settings, NOW), settings, NOW)
    assert [r.metric for r in card.results] == list(EXTENDED)
    assert EXTENDED[: len(SCORECARD)] == SCORECARD
    reopens = next(r for r in card.results if r.metric == "reopens")
    assert reopens.values == {"rate": 1.0, "resolved": 1, "reopened": 1, "stayed_resolved": 0.0}
    assert card.to_json()["extended"] is True
    assert to_text(card).startswith("Extended scorecard — all channels — last 7 days")
    blocks = answer_message(card)["blocks"]
    assert blocks[0]["text"]["text"].startswith("Extended scorecard: ")
    assert any("Reopen rate" in block.get("text", {}).get("text", "") for block in blocks)


def test_the_plain_scorecard_stays_the_headline_kpis(answered):
    settings, engine = answered
    with engine.connect() as conn:
        card = compute(conn, parse_command("7d", settings, NOW), settings, NOW)
    assert [r.metric for r in card.results] == list(SCORECARD) and card.to_json()["extended"] is False


def test_more_with_a_metric_is_a_usage_error():
    with pytest.raises(UsageError, match="extends the scorecard"):
        parse_command("frt more", Settings(pseudonym_key="k"), NOW)
