"""Rejected events (storage/replay.py) and `kpibot rejected list|replay`: replay after a fix recovers them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_engine, session
from storage.ingest import Ingestor
from storage.models import Conversation, RawEvent, RejectedEvent
from storage.replay import list_rejected, replay_rejected, store_rejected
from storage.settings import DEFAULT_CHANNELS, Settings
from tests.storage.conftest import feed

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "chatwoot"


def toot(event_id: str = "t1", **changes) -> dict:
    """An inbound message on `mastodon`, a channel the default configuration does not know."""
    event = {
        "id": event_id,
        "type": "message",
        "at": "2026-11-20T09:00:00Z",
        "conversation_id": "md-1",
        "channel": "mastodon",
        "direction": "inbound",
        "author": {"kind": "customer", "id": "@ana@social.example"},
        "text": "Where is my parcel?",
    }
    return {**event, **changes}


def rejected_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        query = select(RejectedEvent.id, RejectedEvent.reason, RejectedEvent.replayed_at)
        return [tuple(row) for row in conn.execute(query.order_by(RejectedEvent.id))]


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def with_mastodon(settings: Settings) -> Settings:
    return settings.model_copy(update={"channels": [*DEFAULT_CHANNELS, "mastodon"]})


def test_unknown_channel_event_is_stored_by_replay_once_the_channel_is_configured(engine, ingestor, settings):
    assert len(feed(ingestor, [toot()]).rejected) == 1
    [(row_id, reason, _)] = rejected_rows(engine)
    assert reason.startswith("\"channel\" 'mastodon' is not a known channel")

    result = replay_rejected(engine, Ingestor(engine, with_mastodon(settings)), now=NOW)

    assert (result.stored, result.duplicates, result.replayed, result.still_rejected) == (1, 0, [row_id], [])
    assert rejected_rows(engine) == [(row_id, reason, NOW)]  # kept, marked replayed
    with engine.connect() as conn:
        assert conn.execute(select(Conversation.external_id, Conversation.channel)).one() == (
            "md-1",
            "mastodon",
        )


def test_still_bad_event_stays_waiting_without_a_second_row(engine, ingestor):
    feed(ingestor, [toot()])
    [(row_id, reason, _)] = rejected_rows(engine)
    result = replay_rejected(engine, ingestor, now=NOW)  # configuration not fixed
    assert (result.stored, result.replayed, result.still_rejected) == (0, [], [(row_id, reason)])
    assert rejected_rows(engine) == [(row_id, reason, None)]
    assert count(engine, RawEvent) == 0


def test_event_stored_meanwhile_counts_as_duplicate_and_the_row_as_replayed(engine, ingestor, settings):
    feed(ingestor, [toot()])
    fixed = Ingestor(engine, with_mastodon(settings))
    feed(fixed, [toot()])  # the sender retried after the fix
    result = replay_rejected(engine, fixed, now=NOW)
    assert (result.stored, result.duplicates, len(result.replayed)) == (0, 1, 1)


def test_replay_by_id_leaves_the_other_rows_waiting(engine, ingestor, settings):
    feed(ingestor, [toot("t1"), toot("t2")])
    first, second = (row[0] for row in rejected_rows(engine))
    result = replay_rejected(engine, Ingestor(engine, with_mastodon(settings)), [second], now=NOW)
    assert result.replayed == [second]
    assert [row[2] for row in rejected_rows(engine)] == [None, NOW]
    with session(engine) as db:
        assert [row.id for row in list_rejected(db)] == [first]
        assert [row.id for row in list_rejected(db, everything=True)] == [second, first]  # newest first
        assert [row.id for row in list_rejected(db, everything=True, limit=1)] == [second]


def ticket_adapter(payload: dict) -> list[dict]:
    """A support tool's webhook: {"event": "ticket", "ticket": n, "at": ...} -> one inbound message."""
    if "ticket" not in payload:
        raise ValueError('"ticket" is missing')
    return [toot(f"tk-{payload['ticket']}", channel="email", conversation_id=f"tk-{payload['ticket']}")]


def test_webhook_payload_is_mapped_by_its_adapter_again(engine, ingestor):
    payload = json.dumps({"event": "ticket", "ticket": 7})
    row_id = store_rejected(engine, source="tool", reason="adapter was broken", payload=payload, now=NOW)
    result = replay_rejected(engine, ingestor, now=NOW, adapters={"tool": ticket_adapter})
    assert (result.stored, result.replayed) == (1, [row_id])
    with engine.connect() as conn:
        assert conn.execute(select(RawEvent.source, RawEvent.external_id)).one() == ("tool", "tk-7")


def test_webhook_payload_still_refused_by_its_adapter_gets_the_new_reason(engine, ingestor):
    payload = json.dumps({"event": "ticket"})
    row_id = store_rejected(engine, source="tool", reason="old reason", payload=payload, now=NOW)
    result = replay_rejected(engine, ingestor, now=NOW, adapters={"tool": ticket_adapter})
    assert result.still_rejected == [(row_id, '"ticket" is missing')]
    assert rejected_rows(engine) == [(row_id, '"ticket" is missing', None)]


def test_webhook_payload_without_its_adapter_is_not_mistaken_for_an_event(engine, ingestor):
    row_id = store_rejected(engine, source="tool", reason="x", payload='{"event": "ticket"}', now=NOW)
    result = replay_rejected(engine, ingestor, now=NOW)
    assert result.still_rejected == [(row_id, "a tool webhook payload, and no tool adapter to read it")]


# --- the CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    """A CliRunner on the test's database; returns (runner, engine, write_config)."""
    url = database_url
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("KPIBOT_PSEUDONYM_KEY", "test-key")

    def write_config(**values) -> None:
        path = tmp_path / "kpibot.yml"
        path.write_text(yaml.safe_dump(values))
        monkeypatch.setenv("KPIBOT_CONFIG", str(path))

    engine = make_engine(url)
    yield CliRunner(), engine, write_config
    engine.dispose()


def test_cli_lists_then_replays_after_the_config_fix(cli):
    runner, engine, write_config = cli
    ingestor = Ingestor(engine, Settings(pseudonym_key="test-key"))
    ingestor.ingest([(3, json.dumps(toot()))], now=NOW)

    listing = runner.invoke(app, ["rejected", "list"])
    assert listing.exit_code == 0, listing.output
    assert (
        "kpibot" in listing.stdout
        and "mastodon" in listing.stdout
        and "2026-11-21 08:00:00" in listing.stdout
    )

    still = runner.invoke(app, ["rejected", "replay"])
    assert still.exit_code == 1
    assert "rejected event 1: \"channel\" 'mastodon' is not a known channel" in still.stderr
    assert still.stdout.strip() == "replayed 0: imported 0, duplicates 0, still rejected 1"

    write_config(channels=[*DEFAULT_CHANNELS, "mastodon"])
    fixed = runner.invoke(app, ["rejected", "replay", "--id", "1"])
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout.strip() == "replayed 1: imported 1, duplicates 0, still rejected 0"
    assert (
        runner.invoke(app, ["rejected", "list"]).stdout.strip() == "no rejected events waiting for a replay"
    )


def test_cli_replays_chatwoot_payloads_through_the_adapter(cli):
    runner, engine, _ = cli
    payload = (FIXTURES / "message_created_incoming.json").read_text()
    store_rejected(engine, source="chatwoot", reason="was down", payload=payload, now=NOW)
    result = runner.invoke(app, ["rejected", "replay"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "replayed 1: imported 1, duplicates 0, still rejected 0"
    with engine.connect() as conn:
        assert conn.execute(select(RawEvent.external_id)).scalar_one() == "msg-88001"


def test_cli_replay_of_an_unknown_id_exits_2(cli):
    runner, _, _ = cli
    result = runner.invoke(app, ["rejected", "replay", "--id", "99"])
    assert result.exit_code == 2
    assert "no rejected event with id 99" in result.stderr
