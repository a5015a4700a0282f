"""POST /events and POST /webhooks/chatwoot (bot/webhooks.py) over real HTTP semantics and a real SQLite file.

Signatures are computed here with hmac directly, following the documented recipe:
hex HMAC-SHA256(secret, "<timestamp>.<raw body>"). The bot's clock is pinned at NOW.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from bot.metrics import Metrics
from bot.webhooks import MAX_BODY_BYTES, webhook_routes
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.models import Conversation, RawEvent, RejectedEvent
from storage.settings import Settings

SECRET, TOKEN = "whsec-test", "tok-test"
NOW = 1_795_165_200  # 2026-11-20 09:00:00 UTC
FIXTURES = Path(__file__).parents[1] / "fixtures" / "chatwoot"


def message(event_id: str = "m1", **changes) -> dict:
    event = {
        "id": event_id,
        "type": "message",
        "at": "2026-11-20T09:00:00Z",
        "conversation_id": "tw-1",
        "channel": "twitter",
        "direction": "inbound",
        "author": {"kind": "customer", "id": "@ana"},
        "text": "My parcel is two weeks late",
    }
    return {**event, **changes}


def signed(body: bytes, *, ts: int = NOW, secret: str = SECRET, content_type: str = "application/json"):
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Kpibot-Timestamp": str(ts),
        "X-Kpibot-Signature": f"sha256={mac}",
    }


@contextmanager
def webhook_server(server, database_url, metrics=None, **settings_fields):
    """The webhook routes on the test's database, the clock at NOW; yields an HTTP client and the engine."""
    target, url = server
    settings = Settings(database_url=database_url, pseudonym_key="test-key", **settings_fields)
    engine = make_engine(settings.database_url)
    ingestor = Ingestor(engine, settings)
    target.app = Starlette(
        routes=webhook_routes(settings, engine, ingestor, metrics=metrics, clock=lambda: NOW)
    )
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client, engine
    engine.dispose()


@pytest.fixture
def app(server, database_url):
    with webhook_server(server, database_url, webhook_secret=SECRET, webhook_token=TOKEN) as served:
        yield served


def pseudonym(handle: str) -> str:
    """What the pseudonymiser makes of `handle` with the tests' key ("test-key")."""
    return "c_" + hmac.new(b"test-key", handle.lower().encode(), hashlib.sha256).hexdigest()[:16]


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def post_events(client, payload, **kwargs):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/events", content=body, headers=signed(body, **kwargs))


# --- authentication ---------------------------------------------------------------------------------


def test_signed_event_is_stored_and_answered_with_counts(app):
    client, engine = app
    response = post_events(client, message())
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "duplicates": 0, "rejected": []}
    with engine.connect() as conn:
        assert conn.execute(select(RawEvent.source, RawEvent.external_id)).all() == [("kpibot", "m1")]


def test_signature_with_the_wrong_secret_is_401_and_stores_nothing(app):
    client, engine = app
    response = post_events(client, message(), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert (count(engine, RawEvent), count(engine, RejectedEvent)) == (0, 0)


def test_signature_of_another_body_is_401(app):
    client, engine = app
    headers = signed(json.dumps(message("m1")).encode())
    response = client.post("/events", content=json.dumps(message("m2")).encode(), headers=headers)
    assert response.status_code == 401
    assert count(engine, RawEvent) == 0


def test_timestamp_is_part_of_the_signed_string(app):
    client, engine = app
    body = json.dumps(message()).encode()
    headers = signed(body, ts=NOW - 10)
    headers["X-Kpibot-Timestamp"] = str(NOW)  # a replayer refreshing the timestamp breaks the signature
    assert client.post("/events", content=body, headers=headers).status_code == 401
    assert count(engine, RawEvent) == 0


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamp_more_than_5_minutes_off_is_stale_401(app, offset):
    client, engine = app
    response = post_events(client, message(), ts=NOW + offset)
    assert response.status_code == 401
    assert "stale" in response.json()["error"]
    assert count(engine, RawEvent) == 0


def test_timestamp_4_minutes_59_old_is_still_accepted(app):
    client, _ = app
    assert post_events(client, message(), ts=NOW - 299).status_code == 200


def test_unsigned_request_is_401_and_stores_nothing(app):
    client, engine = app
    response = client.post("/events", json=message())
    assert response.status_code == 401
    assert "missing credentials" in response.json()["error"]
    assert (count(engine, RawEvent), count(engine, RejectedEvent)) == (0, 0)


def test_bearer_token_is_accepted_without_signature(app):
    client, _ = app
    response = client.post("/events", json=message(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.json() == {"stored": 1, "duplicates": 0, "rejected": []}


def test_wrong_bearer_token_is_401(app):
    client, engine = app
    response = client.post("/events", json=message(), headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 401
    assert count(engine, RawEvent) == 0


def test_secret_is_the_bearer_token_when_no_token_is_configured(server, database_url):
    with webhook_server(server, database_url, webhook_secret=SECRET) as (client, _):
        response = client.post("/events", json=message(), headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200


def test_without_any_secret_webhooks_answer_503(server, database_url):
    with webhook_server(server, database_url) as (client, engine):
        response = post_events(client, message())
        assert client.post("/webhooks/chatwoot?token=x", json={}).status_code == 503
    assert response.status_code == 503
    assert response.json()["error"].startswith("webhooks are not configured")


# --- body limits and formats -------------------------------------------------------------------------


def test_body_over_5_mb_is_413(app):
    client, engine = app
    body = b"[" + b" " * MAX_BODY_BYTES + b"]"
    assert post_events(client, body).status_code == 413
    assert count(engine, RawEvent) == 0


def test_chunked_body_over_5_mb_without_content_length_is_413(app):
    client, _ = app
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    chunks = (b" " * (1024 * 1024) for _ in range(6))  # 6 MB, streamed: no Content-Length to trust
    assert client.post("/events", content=chunks, headers=headers).status_code == 413


def test_other_content_type_is_415(app):
    client, engine = app
    body = json.dumps(message()).encode()
    response = client.post("/events", content=body, headers=signed(body, content_type="text/plain"))
    assert response.status_code == 415
    assert count(engine, RawEvent) == 0


def test_batch_with_one_bad_event_stores_the_rest_and_names_the_bad_one(app):
    client, engine = app
    batch = [message("m1"), message("m2", at="yesterday"), message("m3", at="2026-11-20T09:10:00Z")]
    response = post_events(client, batch)
    assert response.json() == {
        "stored": 2,
        "duplicates": 0,
        "rejected": [{"index": 1, "reason": '"at" is not an ISO-8601 time'}],
    }
    with engine.connect() as conn:
        [(source, position, reason, payload)] = conn.execute(
            select(RejectedEvent.source, RejectedEvent.position, RejectedEvent.reason, RejectedEvent.payload)
        ).all()
    assert (source, position, reason) == ("kpibot", 1, '"at" is not an ISO-8601 time')
    assert json.loads(payload)["id"] == "m2"


def test_ndjson_index_is_the_zero_based_line(app):
    client, _ = app
    lines = [json.dumps(message("m1")), "", json.dumps(message("m3", channel="myspace"))]
    body = "\n".join(lines).encode()
    response = client.post("/events", content=body, headers=signed(body, content_type="application/x-ndjson"))
    # line 0 stored, line 1 blank, line 2 refused
    assert response.json()["stored"] == 1
    [rejected] = response.json()["rejected"]
    assert rejected["index"] == 2
    assert rejected["reason"].startswith("\"channel\" 'myspace' is not a known channel")


def test_redelivered_batch_counts_duplicates_not_errors(app):
    client, engine = app
    post_events(client, [message("m1"), message("m2")])
    assert post_events(client, [message("m1"), message("m2")]).json() == {
        "stored": 0,
        "duplicates": 2,
        "rejected": [],
    }
    assert count(engine, RawEvent) == 2


def test_event_naming_its_source_is_stored_under_it(app):
    client, engine = app
    post_events(client, message(source="zendesk"))
    with engine.connect() as conn:
        assert conn.execute(select(RawEvent.source)).scalar_one() == "zendesk"


def test_body_that_is_not_json_is_kept_as_one_rejected_payload(app):
    client, engine = app
    response = post_events(client, b'{"id": "m1",')
    assert response.status_code == 200
    [rejected] = response.json()["rejected"]
    assert rejected["index"] == 0 and rejected["reason"].startswith("not valid JSON")
    assert count(engine, RejectedEvent) == 1


def test_empty_body_is_400(app):
    client, _ = app
    assert post_events(client, b"  \n").status_code == 400


# --- Chatwoot ------------------------------------------------------------------------------------------


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def post_chatwoot(client, payload, query: str = f"?token={TOKEN}", headers=None):
    return client.post(f"/webhooks/chatwoot{query}", json=payload, headers=headers or {})


# Each kind of Chatwoot webhook, and how many kpibot events it stores (fixtures read by hand):
# status changes -> 1 status; assignee change -> 1 assignment; a message -> 1 message; an answered
# CSAT -> its message + 1 survey; private notes, activity messages, contact and widget events -> nothing.
@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("conversation_created.json", 1),
        ("conversation_opened.json", 1),
        ("conversation_resolved.json", 1),
        ("conversation_status_changed.json", 1),
        ("conversation_updated_assignment.json", 1),
        ("message_created_incoming.json", 1),
        ("message_created_outgoing_agent.json", 1),
        ("message_created_agent_bot.json", 1),
        ("message_created_automation.json", 1),
        ("message_created_instagram.json", 1),
        ("message_updated_csat.json", 2),
        ("message_created_private_note.json", 0),
        ("message_created_activity.json", 0),
        ("contact_created.json", 0),
        ("webwidget_triggered.json", 0),
    ],
)
def test_each_chatwoot_webhook_kind_is_stored_through_the_endpoint(app, name, stored):
    client, engine = app
    response = post_chatwoot(client, fixture(name))
    assert response.json() == {"stored": stored, "duplicates": 0, "rejected": []}
    with engine.connect() as conn:
        assert set(conn.execute(select(RawEvent.source)).scalars()) <= {"chatwoot"}
    assert count(engine, RawEvent) == stored


def test_redelivered_chatwoot_webhook_is_a_duplicate(app):
    client, _ = app
    post_chatwoot(client, fixture("message_created_incoming.json"))
    response = post_chatwoot(client, fixture("message_created_incoming.json"))
    assert response.json() == {"stored": 0, "duplicates": 1, "rejected": []}


def test_full_chatwoot_conversation_gives_frt_2520_s_and_resolution_7200_s(app):
    # first inbound 09:00 (msg 88001); the agent bot at 09:01 and the automation at 09:05 do not count;
    # Bo's reply at 09:42 does: FRT = 42 min = 2520 s. Resolved at 11:00: 2 h after 09:00 = 7200 s.
    client, engine = app
    for payload in fixture("conversation_full.json"):
        assert post_chatwoot(client, payload).json()["rejected"] == []
    with engine.connect() as conn:
        row = conn.execute(
            select(Conversation.frt_seconds, Conversation.first_resolution_seconds, Conversation.channel)
        ).one()
    assert tuple(row) == (2520.0, 7200.0, "twitter")


@pytest.mark.parametrize(
    ("query", "headers"),
    [("", {"X-Kpibot-Token": TOKEN}), ("", {"Authorization": f"Bearer {TOKEN}"}), (f"?token={TOKEN}", {})],
)
def test_chatwoot_token_in_the_url_or_a_header_is_accepted(app, query, headers):
    client, _ = app
    response = post_chatwoot(client, fixture("message_created_incoming.json"), query, headers)
    assert response.json()["stored"] == 1


@pytest.mark.parametrize("query", ["", "?token=wrong", f"?token={SECRET}"])
def test_chatwoot_without_the_right_token_is_401_and_stores_nothing(app, query):
    client, engine = app
    assert post_chatwoot(client, fixture("message_created_incoming.json"), query).status_code == 401
    assert (count(engine, RawEvent), count(engine, RejectedEvent)) == (0, 0)


def test_chatwoot_payload_the_adapter_refuses_is_kept_and_answered_200(app):
    client, engine = app
    payload = fixture("message_created_incoming.json")
    payload["conversation"]["channel"] = "Channel::Carrier_Pigeon"
    response = post_chatwoot(client, payload)
    assert response.status_code == 200  # Chatwoot would resend a non-2xx payload that can never succeed
    assert response.json() == {
        "stored": 0,
        "duplicates": 0,
        "rejected": [
            {
                "index": 0,
                "reason": "\"conversation.channel\" 'Channel::Carrier_Pigeon' is not a Chatwoot channel "
                "kpibot knows",
            }
        ],
    }
    with engine.connect() as conn:
        row = conn.execute(select(RejectedEvent.source, RejectedEvent.payload)).one()
    kept = json.loads(row.payload)
    # kept for replay with what the adapter reads; the contact reduced to its id and pseudonym
    assert row.source == "chatwoot" and kept["content"] == payload["content"]
    assert kept["conversation"]["channel"] == "Channel::Carrier_Pigeon"
    assert kept["sender"] == {"id": 5501, "type": "contact", "identifier": pseudonym("@ana_ships")}
    assert not {"Ana Souza", "ana_ships", "Plant mum"} & {w for w in row.payload.split('"')}


def test_events_are_counted_for_prometheus_by_door_and_result(server, database_url):
    metrics = Metrics()
    with webhook_server(server, database_url, metrics, webhook_secret=SECRET, webhook_token=TOKEN) as (
        client,
        _,
    ):
        post_events(client, [message("m1"), message("m2"), message("m2")])  # 2 stored, 1 duplicate
        post_chatwoot(client, fixture("message_updated_csat.json"))  # a message and its survey
    exposition = metrics.exposition().decode()
    assert 'kpibot_events_total{door="webhook",result="stored"} 2.0' in exposition
    assert 'kpibot_events_total{door="webhook",result="duplicate"} 1.0' in exposition
    assert 'kpibot_events_total{door="chatwoot",result="stored"} 2.0' in exposition
