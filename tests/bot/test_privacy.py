"""What kpibot keeps about customers when it refuses something, and what its logs may say.

Refused events are kept pseudonymised (handles hashed as ingestion hashes them, names, e-mails, phones
and bios dropped), replay to the same customer, and go with `kpibot purge`. A whole run of bad requests
and failures leaves no secret, token, handle or message text in the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.adapters.chatwoot import chatwoot_to_events
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.models import Message, RejectedEvent
from storage.purge import purge_text
from storage.replay import replay_rejected
from storage.settings import DEFAULT_CHANNELS
from tests.bot.running_bot import SECRET, running_bot
from tests.bot.test_webhooks import signed
from tests.databases import refused_inserts
from tests.slack_standin import event_body, sign, slash_command_body
from tests.storage.builders import inbound

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chatwoot"
NOW = datetime(2026, 11, 21, tzinfo=UTC)
HANDLE, NAME, TEXT = "@ana_private", "Ana Privata", "PRIVATE-TEXT my card 4970 is blocked"


def pseudonym(handle: str) -> str:
    return "c_" + hmac.new(b"test-key", handle.lower().encode(), hashlib.sha256).hexdigest()[:16]


def customer_message(event_id: str, **changes) -> dict:
    event = inbound(event_id, 0, conv=f"tw-{event_id}", text=TEXT, handle=HANDLE)
    event["author"]["name"] = NAME
    return {**event, **changes}


def kept_rows(engine) -> list[RejectedEvent]:
    with engine.connect() as conn:
        return list(conn.execute(select(RejectedEvent).order_by(RejectedEvent.id)))


def test_a_refused_event_is_kept_with_its_handle_pseudonymised_and_replays_to_the_same_customer(
    engine, settings
):
    ingestor = Ingestor(engine, settings)
    customer = {"id": "k1", "type": "customer", "at": "2026-11-20T09:00:00Z", "customer_id": HANDLE}
    customer["change"] = "churned"  # not new/lost/active

    result = ingestor.ingest([(0, json.dumps(customer_message("m1", channel="mastodon"))), (1, customer)])

    rows = kept_rows(engine)
    assert len(result.rejected) == 2 and [r.pseudonymised for r in rows] == [True, True]
    assert HANDLE not in rows[0].payload + rows[1].payload and NAME not in rows[0].payload
    assert json.loads(rows[0].payload)["author"] == {"kind": "customer", "id": pseudonym(HANDLE)}
    assert json.loads(rows[1].payload)["customer_id"] == pseudonym(HANDLE)
    fixed = settings.model_copy(update={"channels": [*DEFAULT_CHANNELS, "mastodon"]})
    replayed = replay_rejected(engine, Ingestor(engine, fixed), ids=[rows[0].id], now=NOW)
    assert replayed.stored == 1
    with engine.connect() as conn:  # the pseudonym, not a hash of the pseudonym
        assert conn.execute(select(Message.author_id)).scalar_one() == pseudonym(HANDLE)


def test_a_chatwoot_payload_is_kept_without_the_contact_and_replays_to_the_same_customer(engine, settings):
    from bot.adapters.chatwoot_private import private_payload

    payload = json.loads((FIXTURES / "message_created_incoming.json").read_text())
    payload["sender"].update(email="ana@example.org", phone_number="+33612345678")
    payload["conversation"]["channel"] = "Channel::Carrier_Pigeon"
    ingestor = Ingestor(engine, settings)

    private = private_payload(payload, ingestor.normalise.pseudonymise)
    kept = json.dumps(private)
    for personal in ("Ana Souza", "ana_ships", "Plant mum", "ana@example.org", "+33612345678"):
        assert personal not in kept
    # a fixed adapter (here: one that knows the pigeon) maps the kept payload to the same customer
    from storage.replay import store_rejected

    store_rejected(engine, source="chatwoot", reason="unknown", payload=kept, now=NOW, pseudonymised=True)

    def fixed_adapter(data):
        data["conversation"]["channel"] = "Channel::TwitterProfile"
        return chatwoot_to_events(data)

    assert replay_rejected(engine, ingestor, now=NOW, adapters={"chatwoot": fixed_adapter}).stored == 1
    with engine.connect() as conn:
        assert conn.execute(select(Message.author_id)).scalar_one() == pseudonym("@ana_ships")


def test_purge_deletes_rejected_events_older_than_the_retention(engine, settings):
    ingestor = Ingestor(engine, settings)
    ingestor.ingest([(0, customer_message("old", channel="mastodon"))], now=NOW - timedelta(days=40))
    ingestor.ingest([(0, customer_message("new", channel="mastodon"))], now=NOW - timedelta(days=5))

    result = purge_text(engine, now=NOW, retention_days=30)

    assert result.rejected == 1
    assert [json.loads(row.payload)["id"] for row in kept_rows(engine)] == ["new"]


def test_database_errors_never_carry_the_statements_parameters(database_url):
    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as raised, engine.begin() as conn:
            conn.execute(text("INSERT INTO no_such_table (text) VALUES (:text)"), {"text": TEXT})
    finally:
        engine.dispose()

    assert TEXT not in str(raised.value) and "parameters" in str(raised.value)


def test_a_run_of_bad_requests_and_failures_logs_no_secret_handle_or_text(database_url, slack_api, caplog):
    webhook_secret, webhook_token = "whsec-private-0123", "tok-private-4567"
    overrides = {"webhook_secret": webhook_secret, "webhook_token": webhook_token}
    overrides["intake_channels"] = {"C0TWITTER": "twitter"}
    with caplog.at_level(logging.INFO), running_bot(database_url, slack_api, **overrides) as bot:
        web = bot.http
        good = json.dumps(customer_message("m1")).encode()
        # webhooks: wrong signature, a batch with a poisoned and an unknown-channel event, a database failure
        web.post("/events", content=good, headers=signed(good, secret="wrong"))
        batch = json.dumps([customer_message("m2", channel="mastodon"), customer_message("m3", text="a\x00")])
        bearer = {"Authorization": f"Bearer {webhook_token}", "Content-Type": "application/json"}
        web.post("/events", content=batch.encode(), headers=bearer)
        with refused_inserts(bot.engine, "raw_event"):
            failed = web.post("/events", content=good, headers=bearer)
        # Chatwoot: a payload it cannot map, and one with a wrong token
        chatwoot = json.loads((FIXTURES / "message_created_incoming.json").read_text())
        chatwoot["sender"]["name"], chatwoot["content"] = NAME, TEXT
        chatwoot["conversation"]["channel"] = "Channel::Carrier_Pigeon"
        for token in (webhook_token, "wrong"):
            web.post(
                f"/webhooks/chatwoot?token={token}",
                content=json.dumps(chatwoot).encode(),
                headers={"Content-Type": "application/json"},
            )
        # Slack: a forged command, and an intake event whose handling fails in the database
        forged = slash_command_body("/kpi", TEXT, response_url=slack_api.response_url)
        web.post("/slack/events", content=forged, headers={**sign(forged, "not-the-secret")})
        mention = {"type": "message", "text": TEXT, "user": HANDLE, "ts": "1795165200.000100"}
        mention.update(channel="C0TWITTER", event_ts="1795165200.000100")
        body = event_body(mention, event_id="EvP")
        with refused_inserts(bot.engine, "raw_event"):
            bot.event(body)
        # a failing slash command (its apology is logged with the traceback)
        with bot.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE survey RENAME TO survey_gone")
        bot.command(slash_command_body("/kpi", "csat", response_url=slack_api.new_response_url()))
        slack_api.wait_for_response()

    assert failed.status_code == 503  # the run did exercise the failure paths
    logged = "\n".join(
        record.getMessage()
        + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))  # the test's own HTTP client
    )
    assert "injected failure" in logged  # the failures were logged…
    for private in (SECRET, webhook_secret, webhook_token, "xoxb-test", HANDLE, NAME, TEXT, "PRIVATE"):
        assert private not in logged  # …without anything private


def test_a_payload_that_cannot_be_read_keeps_no_handle_or_text(engine, settings):
    ingestor = Ingestor(engine, settings)
    readable = json.dumps(customer_message("m1"))
    payloads = [
        readable[:-1] + ', "handle_seconds": Infinity}',  # not JSON, but readable leniently: pseudonymised
        readable[:-1] + ', "x": ' + "[" * 990 + "]" * 990 + "}",  # too deep to read: its shape only
        readable[:-12],  # broken JSON: its shape only
        f"{HANDLE} says {TEXT}",  # not JSON at all: only its length
    ]

    result = ingestor.ingest(list(enumerate(payloads)))

    rows = kept_rows(engine)
    assert len(result.rejected) == 4 and len(rows) == 4
    for row in rows:
        assert HANDLE not in row.payload and NAME not in row.payload
    # the readable one keeps its text for a replay (purged with the retention); the others keep none
    assert TEXT in rows[0].payload and not any(TEXT in row.payload for row in rows[1:])
    assert json.loads(rows[0].payload.replace("Infinity", "1"))["author"]["id"] == pseudonym(HANDLE)
    assert rows[2].payload.startswith('{"id": "…", "type": "…", "at": "…"')
    assert rows[3].payload == f"(not JSON: {len(payloads[3])} characters, not kept)"
