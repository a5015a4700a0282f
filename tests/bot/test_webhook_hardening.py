"""The webhook doors under attack: poisoned events among concurrent good requests, forged sources, odd
timestamps. Every good event is stored and answered 200; each bad one is rejected alone with its reason."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Message, RawEvent, RejectedEvent
from tests.bot.test_webhooks import SECRET, TOKEN, count, message, post_events, signed, webhook_server

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chatwoot"

POISONS = {
    "lone surrogate": lambda n: json.dumps(message(f"p{n}", text="x")).replace('"x"', '"\\ud83d"'),
    "NUL": lambda n: json.dumps(message(f"p{n}", text="a\x00b")),
    "deep nesting": lambda n: json.dumps(message(f"p{n}"))[:-1] + ', "x": ' + "[" * 990 + "]" * 990 + "}",
    "year 1 at +01:00": lambda n: json.dumps(message(f"p{n}", at="0001-01-01T00:00:00+01:00")),
    "year 9999 at -01:00": lambda n: json.dumps(message(f"p{n}", at="9999-12-31T23:59:59-01:00")),
    "Infinity": lambda n: json.dumps(message(f"p{n}"))[:-1] + ', "handle_seconds": Infinity}',
}


@pytest.fixture
def app(server, database_url):
    with webhook_server(server, database_url, webhook_secret=SECRET, webhook_token=TOKEN) as served:
        yield served


def test_poisoned_requests_among_concurrent_good_ones_cost_no_good_event(app):
    client, engine = app
    bodies = []
    for n in range(120):
        good = json.dumps(message(f"g{n}", conversation_id=f"tw-{n}"))
        if n % 4 == 0:  # a poison alone in its request, and one beside a good event in a batch
            poison = list(POISONS.values())[(n // 4) % len(POISONS)](n)
            bodies.append(poison.encode())
            bodies.append(f"[{good}, {poison}]".encode())
        else:
            bodies.append(good.encode())

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(
            pool.map(lambda body: client.post("/events", content=body, headers=signed(body)), bodies)
        )

    assert {answer.status_code for answer in answers} == {200}
    stored = sum(answer.json()["stored"] for answer in answers)
    rejected = [r for answer in answers for r in answer.json()["rejected"]]
    assert stored == 120 and len(rejected) == 60
    with engine.connect() as conn:
        ids = set(conn.execute(select(RawEvent.external_id)).scalars())
    assert ids == {f"g{n}" for n in range(120)}
    # Each refused payload is kept once: the 25 poisons kept as JSON (5 kinds, 5 ids each) once though
    # sent twice; the lone surrogates, kept only as their shape (any id looks alike), once per position.
    assert count(engine, RejectedEvent) == 25 + 2


@pytest.mark.parametrize("name", list(POISONS))
def test_each_poison_is_answered_with_its_index_and_a_reason(app, name):
    client, _ = app
    body = f"[{json.dumps(message('g1'))}, {POISONS[name](2)}]".encode()

    answer = client.post("/events", content=body, headers=signed(body))

    assert answer.status_code == 200 and answer.json()["stored"] == 1
    [rejected] = answer.json()["rejected"]
    assert rejected["index"] == 1 and rejected["reason"]


def test_events_door_cannot_write_the_chatwoot_source_and_the_real_message_is_stored(app):
    client, engine = app
    real = json.loads((FIXTURES / "message_created_incoming.json").read_text())
    forged = message(f"msg-{real['id']}", source="chatwoot", text="Forged: please reset my password")
    forged.update(conversation_id=f"cw-{real['account']['id']}-{real['conversation']['id']}")

    refused = post_events(client, forged)
    token = client.post(
        "/webhooks/chatwoot?token=tok-test",
        content=json.dumps(real).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert refused.json()["stored"] == 0 and "written by the Chatwoot webhook only" in str(refused.json())
    assert token.json()["stored"] >= 1
    with engine.connect() as conn:
        texts = conn.execute(select(Message.text)).scalars().all()
    assert texts == [real["content"]]


@pytest.mark.parametrize("stamp", ["²", "¹²³", "1" * 5000, "+1795165200", "1795165200x", "١٧٩٥١٦٥٢٠٠"])
def test_odd_timestamps_are_401_not_500(app, stamp):
    client, engine = app
    body = json.dumps(message()).encode()
    headers = signed(body)
    # as bytes: Starlette reads header values as Latin-1, so "²" arrives as "²" (Arabic digits as UTF-8)
    headers["X-Kpibot-Timestamp"] = _wire(stamp)

    response = client.post("/events", content=body, headers=headers)

    assert response.status_code == 401 and count(engine, RawEvent) == 0


def _wire(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
