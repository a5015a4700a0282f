"""Group commit (storage/group_commit.py): callers queued behind a write share one transaction, own counts."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select

from storage.group_commit import GroupCommit
from storage.ingest import Outcome
from storage.models import RawEvent
from tests.databases import refused_inserts
from tests.slack_standin import wait_for


def message(event_id: str, **changes) -> dict:
    event = {
        "id": event_id,
        "type": "message",
        "at": "2026-11-20T09:00:00Z",
        "conversation_id": f"c-{event_id}",
        "channel": "twitter",
        "direction": "inbound",
        "author": {"kind": "customer", "id": "@ana"},
        "text": "Where is my parcel?",
    }
    return {**event, **changes}


def queued_together(writer: GroupCommit, requests: list[list[dict]], monkeypatch) -> list:
    """Each request's result (or exception), all queued in this order behind a slow first write of e0."""
    results: list = [None] * len(requests)
    gate = threading.Event()
    ingest = writer.ingestor.ingest

    def slow_first_write(*args, **kwargs):
        gate.wait(timeout=10)
        return ingest(*args, **kwargs)

    monkeypatch.setattr(writer.ingestor, "ingest", slow_first_write)

    def call(n: int) -> None:
        try:
            results[n] = writer.ingest(list(enumerate(requests[n])))
        except Exception as exc:  # noqa: BLE001 - the test inspects what each caller got
            results[n] = exc

    first = threading.Thread(target=writer.ingest, args=([(0, message("e0"))],))
    first.start()
    wait_for(lambda: writer._writing, message="the first write to start")
    threads = [threading.Thread(target=call, args=(n,)) for n in range(len(requests))]
    for n, thread in enumerate(threads):
        thread.start()
        wait_for(lambda n=n: len(writer._queue) == n + 1, message=f"request {n} queued")
    gate.set()
    for thread in (first, *threads):
        thread.join(timeout=10)
    monkeypatch.setattr(writer.ingestor, "ingest", ingest)
    return results


def stored_ids(engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(RawEvent.external_id, RawEvent.received_at)).all())


def test_queued_requests_share_one_transaction_and_each_gets_its_own_counts(ingestor, engine, monkeypatch):
    writer = GroupCommit(ingestor)
    # A sends e1; B sends e1 again and e2; C sends e3: A stored 1; B 1 stored + 1 duplicate; C stored 1
    requests = [[message("e1")], [message("e1"), message("e2")], [message("e3")]]
    a, b, c = queued_together(writer, requests, monkeypatch)
    assert [(r.stored, r.duplicates, r.rejected) for r in (a, b, c)] == [(1, 0, []), (1, 1, []), (1, 0, [])]
    received = stored_ids(engine)
    assert sorted(received) == ["e0", "e1", "e2", "e3"]
    # e1, e2 and e3 in one transaction (one receive time), after the one that stored e0
    assert received["e1"] == received["e2"] == received["e3"] != received["e0"]


def test_events_stored_earlier_are_duplicates_within_a_merged_group(ingestor, monkeypatch):
    writer = GroupCommit(ingestor)
    # e0 is stored first: a mix of old and new in one group, so which ones it stored is read back
    a, b = queued_together(writer, [[message("e0")], [message("e2")]], monkeypatch)
    assert [(a.stored, a.duplicates), (b.stored, b.duplicates)] == [(0, 1), (1, 0)]


def test_request_with_a_bad_event_is_stored_alone_and_keeps_its_positions(ingestor, engine, monkeypatch):
    writer = GroupCommit(ingestor)
    requests = [[message("e1")], [message("e2"), message("e3", at="noon")]]
    good, mixed = queued_together(writer, requests, monkeypatch)
    assert (good.stored, good.rejected) == (1, [])
    assert (mixed.stored, mixed.rejected) == (1, [Outcome(1, "rejected", '"at" is not an ISO-8601 time')])
    assert sorted(stored_ids(engine)) == ["e0", "e1", "e2"]


def test_a_failed_write_is_reported_to_every_caller_in_the_group(ingestor, monkeypatch):
    writer = GroupCommit(ingestor)
    calls = []
    ingest = ingestor.ingest

    def disk_full_after_the_first(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk full")
        return ingest(*args, **kwargs)

    monkeypatch.setattr(ingestor, "ingest", disk_full_after_the_first)
    results = queued_together(writer, [[message("e1")], [message("e2")]], monkeypatch)
    assert [str(r) for r in results] == ["disk full", "disk full"]
    # no write is left marked as under way: once the disk has room, the next caller is answered, not hung
    monkeypatch.setattr(ingestor, "ingest", ingest)
    assert writer.ingest([(0, message("e3"))]).stored == 1


def test_an_event_the_database_refuses_is_rejected_in_its_own_request_only(ingestor, engine, monkeypatch):
    writer = GroupCommit(ingestor)
    requests = [[message("e1")], [message("e2"), message("bad")], [message("e3")]]
    with refused_inserts(engine, "raw_event", external_id="bad"):
        a, b, c = queued_together(writer, requests, monkeypatch)

    assert [(r.stored, r.duplicates) for r in (a, b, c)] == [(1, 0), (1, 0), (1, 0)]
    assert a.rejected == c.rejected == [] and [o.position for o in b.rejected] == [1]
    assert b.rejected[0].reason.startswith("the database refused this event")
    assert sorted(stored_ids(engine)) == ["e0", "e1", "e2", "e3"]


def test_a_request_that_fails_its_group_fails_alone_and_the_others_are_stored(ingestor, engine, monkeypatch):
    writer = GroupCommit(ingestor)
    ingest = ingestor.ingest

    def poisoned(items, **kwargs):
        if any(
            json.loads(p)["id"] == "poison" if isinstance(p, str) else p["id"] == "poison" for _, p in items
        ):
            raise RuntimeError("poisoned write")
        return ingest(items, **kwargs)

    monkeypatch.setattr(ingestor, "ingest", poisoned)
    requests = [[message("e1")], [message("poison")], [message("e2")], [message("e3")]]
    results = queued_together(writer, requests, monkeypatch)

    assert [getattr(r, "stored", str(r)) for r in results] == [1, "poisoned write", 1, 1]
    assert sorted(stored_ids(engine)) == ["e0", "e1", "e2", "e3"]
