"""Fuzzing the webhook doors with Hypothesis: the Chatwoot adapter raises nothing but a ValueError naming
what it cannot map, and `POST /events` answers every batch with exact counts, storing its good events."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.adapters.chatwoot import chatwoot_to_events
from bot.adapters.chatwoot_private import private_payload
from bot.webhook_body import BadBody, body_items
from storage.events import EventError
from storage.models import RawEvent
from storage.normalise import Normaliser
from storage.privacy import Pseudonymiser
from storage.settings import Settings
from tests.bot.test_webhooks import SECRET, TOKEN, signed, webhook_server
from tests.fuzzing import FUZZ, FUZZ_DB, good_event, json_values, mutated_chatwoot, odd_events

NORMALISE = Normaliser(Settings(database_url="sqlite://"), Pseudonymiser(b"fuzz-key"))
_numbers = itertools.count()


@FUZZ
@given(payload=st.one_of(mutated_chatwoot(), json_values))
def test_the_chatwoot_adapter_maps_or_names_what_it_cannot(payload):
    try:
        events = chatwoot_to_events(payload)
    except ValueError as refused:
        assert str(refused)
    else:
        for event in events:
            try:
                NORMALISE(0, event, "chatwoot")
            except EventError as refused:
                assert str(refused)
    kept = private_payload(payload, NORMALISE.pseudonymise)
    assert kept is None or isinstance(json.dumps(kept), str)


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_the_body_parser_gives_items_or_a_400(body):
    for kind in ("json", "ndjson"):
        try:
            items = body_items(body, kind)
        except BadBody as bad:
            assert str(bad) in ("the body is empty",) or str(bad).startswith("the body is not UTF-8")
        else:
            assert all(isinstance(index, int) for index, _ in items)


@pytest.fixture
def app(server, database_url):
    with webhook_server(server, database_url, webhook_secret=SECRET, webhook_token=TOKEN) as served:
        yield served


@FUZZ_DB
@given(odd=st.lists(odd_events(), min_size=1, max_size=4), position=st.integers(0, 4))
def test_a_webhook_batch_is_answered_200_with_exact_counts_and_its_good_events_stored(app, odd, position):
    client, engine = app
    good = good_event(f"w{next(_numbers)}")
    batch = [*odd]
    batch.insert(min(position, len(batch)), good)
    body = json.dumps(batch).encode()

    answer = client.post("/events", content=body, headers=signed(body))

    assert answer.status_code == 200, answer.text
    counts = answer.json()
    assert counts["stored"] + counts["duplicates"] + len(counts["rejected"]) == len(batch)
    with engine.connect() as conn:
        assert conn.execute(select(RawEvent.id).where(RawEvent.external_id == good["id"])).first()
