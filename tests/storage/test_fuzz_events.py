"""Fuzzing the event validator, the ingestion core and the CSV reader with Hypothesis: whatever comes in,
the only outcome is an event accepted or rejected with a reason, and a batch never loses its good events."""

from __future__ import annotations

import io
import itertools
import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storage.events import EventError
from storage.importer import read_csv, read_ndjson
from storage.ingest import Ingestor
from storage.models import RawEvent
from storage.normalise import Accepted, Normaliser, Unreadable
from storage.privacy import Pseudonymiser
from storage.settings import Settings
from tests.fuzzing import FUZZ, FUZZ_DB, as_json_text, good_event, json_values, odd_events, odd_text

NORMALISE = Normaliser(Settings(database_url="sqlite://"), Pseudonymiser(b"fuzz-key"))
_numbers = itertools.count()


@FUZZ
@given(event=odd_events(), form=st.sampled_from(["object", "text", "bytes"]))
def test_the_validator_only_accepts_or_rejects_with_a_reason(event, form):
    payload = {"object": event, "text": as_json_text(event), "bytes": as_json_text(event).encode()}[form]
    try:
        accepted = NORMALISE(0, payload, "kpibot")
    except EventError as refused:
        assert str(refused)  # a reason, in words
    else:
        assert isinstance(accepted, Accepted) and accepted.body.encode("utf-8")  # storable as text


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), odd_text))
def test_raw_bytes_and_text_are_rejected_with_a_reason_or_read(raw):
    try:
        NORMALISE(0, raw, "kpibot")
    except EventError as refused:
        assert str(refused)


@FUZZ_DB
@given(odd=st.lists(odd_events(), min_size=1, max_size=4), good_count=st.integers(1, 3))
def test_a_batch_stores_every_good_event_whatever_else_it_holds(engine, settings, odd, good_count):
    batch_id = next(_numbers)
    goods = [good_event(f"g{batch_id}-{n}") for n in range(good_count)]
    items = list(enumerate([*goods, *odd]))
    ingestor = Ingestor(engine, settings)

    result = ingestor.ingest(items)

    assert result.stored + result.duplicates + len(result.rejected) == len(items)
    with engine.connect() as conn:
        stored = set(conn.execute(select(RawEvent.external_id)).scalars())
    assert {event["id"] for event in goods} <= stored
    assert all(outcome.reason for outcome in result.rejected)


@FUZZ
@given(
    rows=st.lists(st.lists(st.one_of(odd_text, st.binary(max_size=20)), max_size=6), max_size=6),
    bom=st.booleans(),
)
def test_the_csv_reader_yields_a_row_or_an_unreadable_line_for_any_bytes(rows, bom):
    lines = [b"id,type,at,text"]
    for row in rows:
        cells = [c if isinstance(c, bytes) else c.encode("utf-8", "surrogatepass") for c in row]
        lines.append(b",".join(cells))
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + b"\n"

    read = list(read_csv(io.BytesIO(data)))

    for number, payload in read:
        assert isinstance(number, int) and number >= 2
        assert isinstance(payload, dict | Unreadable)
        try:
            NORMALISE(number, payload, "kpibot")
        except EventError as refused:
            assert str(refused)


@FUZZ
@given(
    lines=st.lists(st.one_of(st.binary(max_size=40), json_values.map(json.dumps).map(str.encode)), max_size=6)
)
def test_the_ndjson_reader_hands_every_line_to_the_validator(lines):
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)

    for number, payload in read_ndjson(io.BytesIO(data)):
        try:
            NORMALISE(number, payload, "kpibot")
        except EventError as refused:
            assert str(refused)
