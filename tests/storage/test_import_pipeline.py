"""A bulk import's pipeline (`import_items`): batches validated ahead of the one being stored, texts scored
by worker processes (`storage.analysis_pool`), with the same stored rows, rejections and order as
ingesting each batch in turn with analysis in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.analysis_pool import AnalysisPool, busy_now, default_workers, import_pool
from storage.db import make_engine
from storage.importer import import_items
from storage.ingest import Ingestor
from storage.models import Conversation, Message, RawEvent, RejectedEvent
from tests.databases import refused_inserts
from tests.storage.builders import inbound, reply

SAMPLE = Path(__file__).parents[2] / "bench" / "data" / "nlp_messages.jsonl"


def _sample_events(count: int) -> list[tuple[int, str]]:
    """`count` inbound messages with the labelled set's texts (English, French, German, Spanish, Polish),
    one conversation each, and a reply to every third: lines numbered from 1."""
    texts = [json.loads(line)["text"] for line in SAMPLE.read_text("utf-8").splitlines()[:count]]
    events = []
    for n, text in enumerate(texts):
        events.append(inbound(f"m{n}", n, conv=f"c{n}", text=text))
        if n % 3 == 0:
            events.append(reply(f"r{n}", n + 5, conv=f"c{n}"))
    return [(line, json.dumps(event)) for line, event in enumerate(events, 1)]


def _messages(engine) -> list[tuple]:
    with engine.connect() as conn:
        query = select(Message.text, Message.sentiment, Message.lang, Message.topics, Message.direction)
        return sorted(conn.execute(query.join(RawEvent)).all(), key=repr)


@pytest.fixture
def two_databases(new_database_url, settings):
    """Two fresh databases with their ingestors (settings alike but the URL); engines disposed after."""
    made = []
    for name in ("in_process", "pooled"):
        url = new_database_url(name)
        engine = make_engine(url)
        made.append((engine, Ingestor(engine, settings.model_copy(update={"database_url": url}))))
    yield made
    for engine, _ in made:
        engine.dispose()


def test_worker_processes_store_the_same_sentiment_language_and_topics_as_in_process(two_databases):
    (plain_engine, plain), (pooled_engine, pooled) = two_databases
    items = _sample_events(400)

    import_items(plain, items, batch=60)
    with AnalysisPool(pooled.settings, 2) as pool:
        result = import_items(pooled, items, batch=60, pool=pool)

    assert result.stored == len(items) and not result.rejected
    assert pool.cpu_seconds > 0  # the workers did score (every batch but the first)
    stored = _messages(pooled_engine)
    assert stored == _messages(plain_engine)
    assert sum(1 for row in stored if row[1] is not None) > 300  # scored, not all left empty
    assert {row[2] for row in stored} >= {"en", "fr"}


def test_a_pool_without_workers_analyses_in_process(two_databases):
    (plain_engine, plain), (pooled_engine, pooled) = two_databases
    items = _sample_events(50)

    import_items(plain, items, batch=20)
    with import_pool(pooled.settings, workers=0) as pool:
        import_items(pooled, items, batch=20, pool=pool)

    assert not pool.active and _messages(pooled_engine) == _messages(plain_engine)


def test_failed_workers_leave_the_analysis_to_the_importing_process(two_databases):
    (plain_engine, plain), (pooled_engine, pooled) = two_databases
    items = _sample_events(60)
    pool = AnalysisPool(pooled.settings, 1)
    pool.close()  # shut down: every text sent to it fails

    import_items(plain, items, batch=20)
    result = import_items(pooled, items, batch=20, pool=pool)

    assert result.stored == len(items) and _messages(pooled_engine) == _messages(plain_engine)


def test_a_bad_event_in_a_big_pooled_batch_is_rejected_alone(engine, settings):
    ingestor = Ingestor(engine, settings)
    items = _sample_events(300)
    bad = len(items) - 7
    items[bad] = (items[bad][0], items[bad][1].replace('"type": "message"', '"type": "massage"'))
    refused = items[250][0]  # a good event the database itself refuses, in the second (pooled) batch

    with (
        refused_inserts(engine, "raw_event", external_id=json.loads(items[250][1])["id"]),
        AnalysisPool(settings, 1) as pool,
    ):
        result = import_items(ingestor, items, batch=200, pool=pool)

    assert result.stored == len(items) - 2
    assert [(r.position, r.reason.split(" (")[0]) for r in result.rejected] == [
        (refused, "the database refused this event"),
        (items[bad][0], "\"type\" 'massage' is not one of message, status, assignment, escalation, "
         "survey, lead, conversion, customer"),
    ]  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(
            select(RejectedEvent.position).order_by(RejectedEvent.position)
        ).scalars().all() == [
            refused,
            items[bad][0],
        ]


def test_batches_are_stored_in_the_order_they_are_read(engine, settings):
    # one conversation's events spread over many batches, the replies first in each: raw events keep
    # the file's order, and the conversation is projected from all of them
    events = []
    for n in range(30):
        events += [
            reply(f"r{n}", 2 * n + 1, conv="long"),
            inbound(f"m{n}", 2 * n, conv="long", text="where?"),
        ]
    items = [(line, json.dumps(event)) for line, event in enumerate(events, 1)]

    with AnalysisPool(settings, 1) as pool:
        result = import_items(Ingestor(engine, settings), items, batch=7, pool=pool)

    assert result.stored == 60
    with engine.connect() as conn:
        order = conn.execute(select(RawEvent.external_id).order_by(RawEvent.id)).scalars().all()
        conversation = conn.execute(select(Conversation).where(Conversation.external_id == "long")).one()
    assert order == [e["id"] for e in events]
    assert conversation.frt_seconds == 60.0 and conversation.last_message_at is not None


def test_progress_is_told_as_each_batch_commits(engine, settings):
    items = _sample_events(25)
    seen: list[int] = []

    with AnalysisPool(settings, 1) as pool:
        import_items(Ingestor(engine, settings), items, batch=10, pool=pool, progress=seen.append)

    assert seen == [10, 10, 10, 4]  # 25 messages and 9 replies


def test_a_file_that_fails_part_way_keeps_the_batches_read_before(engine, settings):
    good = _sample_events(25)

    def lines():
        yield from good[:20]
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="went away"):
        import_items(Ingestor(engine, settings), lines(), batch=10)

    with engine.connect() as conn:
        stored = conn.execute(select(RawEvent.id)).scalars().all()
    assert len(stored) == 20  # both whole batches, the second read just before the failure


def test_re_imported_events_are_not_sent_for_analysis(engine, settings):
    items = _sample_events(40)
    ingestor = Ingestor(engine, settings)
    import_items(ingestor, items, batch=10)

    with AnalysisPool(settings, 1) as pool:
        result = import_items(ingestor, items, batch=10, pool=pool)

    assert result.duplicates == len(items) and pool.cpu_seconds == 0


@pytest.mark.parametrize(
    ("cores", "load", "now", "workers"),
    [
        (1, 0.0, None, 0),
        (2, 0.1, None, 1),
        (2, 0.9, None, 0),  # no /proc/stat: the load average decides
        (2, 0.9, 0.05, 1),  # the average still counts work that has ended: idle now, the worker pays
        (2, 0.1, 1.0, 1),  # a burst right now does not outweigh an idle minute
        (2, 3.5, 1.9, 0),
        (8, 2.0, None, 5),
        (8, 0.0, None, 7),
        (8, 6.0, 2.2, 5),
    ],
)
def test_workers_by_default_are_the_idle_cores_beside_the_importer(monkeypatch, cores, load, now, workers):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load))
    monkeypatch.setattr("storage.analysis_pool.busy_now", lambda: now)

    assert default_workers() == workers


def test_the_cores_busy_now_are_read_from_two_samples_of_the_cpu_times(monkeypatch):
    # user, nice, system, idle, iowait, irq, softirq (clock ticks): 300 of 1,000 ticks busy on 4 cores
    samples = iter([[100, 0, 50, 800, 50, 0, 0], [300, 0, 150, 1450, 100, 0, 0]])
    monkeypatch.setattr("storage.analysis_pool._cpu_times", lambda: next(samples))
    monkeypatch.setattr("os.cpu_count", lambda: 4)

    assert busy_now(window=0) == pytest.approx(4 * 300 / 1000)


def test_without_proc_stat_nothing_is_known_of_the_cores_now(monkeypatch):
    def missing():
        raise FileNotFoundError("/proc/stat")

    monkeypatch.setattr("storage.analysis_pool._cpu_times", missing)

    assert busy_now(window=0) is None


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux's /proc/stat")
def test_the_cores_busy_now_on_this_machine_are_between_none_and_all():
    busy = busy_now(window=0.05)

    assert busy is not None and 0 <= busy <= (os.cpu_count() or 1)


def test_an_import_without_text_analysis_counts_no_cores(monkeypatch, settings):
    def sampled():
        raise AssertionError("the cores were sampled for a pool that analyses nothing")

    monkeypatch.setattr("storage.analysis_pool.busy_now", sampled)

    with import_pool(settings, analyse=False) as pool:
        assert pool.workers == 0 and not pool.active
