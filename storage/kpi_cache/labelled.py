"""A measure's slots kept per team and per topic, so the rows of `by team` and `by topic` are read from the
cache too (docs/architecture.md, "Teams and topics").

A row of those breakdowns asks a measure over one team's or one topic's conversations (a `Slice` with a
team or a topic and no hours). The cache keeps, under the measure's key with TEAM or TOPIC and the label
appended ("frt@team:tier2", "wait@topic:delivery"), the slot's rows of that label per channel and over
every channel, exactly as the measure's plain rows: a question about one team reads its rows as it would
read the plain ones. A slot is computed for every label at once, from one read that gives each row its
labels (`label_of`, `names`): its conversation's team; the top-level topics of its conversation's tagged
customer messages, or of the message itself for a measure of messages — `slicing.slice_terms` in
Python. The asked label, and those of the breakdown (`among`), are stored even when the slot has none of
their rows, so that they are not computed again. Tallies and rankings are kept the same way; the ranges
around the cached slots are read once for all the labels of a question (`range_parts`, `range_tally`,
`range_top`), and the cached rows of all the labels of a breakdown in one statement (`together`).

Current by the same change notes as every row, which also cover what a label depends on: a change of a
conversation's team notes the hours of the conversation's messages, clocks and survey answers (migration
0016), and a tagged customer message stored in a conversation notes the hours of the conversation's other
rows (`note_conversations`, from ingestion and `kpibot rescore`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import partial

import numpy as np
from sqlalchemy import func, literal, select
from sqlalchemy.engine import Connection

from storage.kpi_cache.compute import count_parts, tally_rows, top_rows, value_parts
from storage.kpi_cache.measures import MEASURES, RANKINGS, TALLIES, Measure, Ranking, Tally
from storage.kpi_cache.slicing import Slice
from storage.kpi_cache.slots import Slot, hours_over
from storage.kpi_cache.store import Batch, note_hours, one_by_one, remembered
from storage.kpi_cache.tables import EVERY, Part, add_to_tally, compact, tally_value
from storage.models import Conversation, Message, SlaClock, Survey
from storage.planner import on_channels

TEAM, TOPIC = "@team:", "@topic:"
_CONVERSATION = Conversation.__table__
_OF_ROW = _CONVERSATION.alias("labelled")  # the conversation of a message, clock or survey answer
_TAGGED = Message.__table__.alias("tagged_any")
C, M, K, V = _CONVERSATION.c, Message.__table__.c, SlaClock.__table__.c, Survey.__table__.c
# the times a clock is dated by in the measures (its end, its start, the resolution it reopened)
_CLOCK_TIMES = (K.end_at, K.start_at, K.reopened_from)
# The teams or topics a breakdown asks (see `among`): a slot computed for one of them stores every one's rows
_AMONG: ContextVar[frozenset[str]] = ContextVar("kpi_cache_labelled_among", default=frozenset())


@contextmanager
def among(labels: Iterable[str]) -> Iterator[None]:
    """Within it, a slot computed for one team or topic also stores the rows of each of `labels` (empty when
    the slot has none of them), so that a breakdown's other rows find theirs instead of reading the slot
    again: a topic absent from a day would otherwise be computed anew for every row asking it."""
    token = _AMONG.set(frozenset(labels))
    try:
        yield
    finally:
        _AMONG.reset(token)


def key(measure: str, piece: Slice | None) -> str | None:
    """The cache key of the measure's rows of one team or one topic (None: the slice is not one label)."""
    if piece is None or piece.hours is not None or (piece.team is None) == (piece.topic is None):
        return None
    return measure + (TEAM + piece.team if piece.team is not None else TOPIC + piece.topic)


def together(cache_key: str | None) -> tuple[str, ...]:
    """The keys of the same measure for the other teams or topics the breakdown asks (`among`): read with
    `cache_key`'s rows in one statement (`store.current`)."""
    if cache_key is None or not (labels := _AMONG.get()):
        return ()
    name, by, _ = _parsed(cache_key)
    return tuple(name + by + label for label in sorted(labels))


def computer(cache_key: str):
    """The `compute(conn, missing, batch)` of `store.current` for a key made by `key` (of a measure, a tally
    or a ranking)."""
    name, by, label = _parsed(cache_key)
    if name in MEASURES:
        return one_by_one(partial(_compute_slot, measure=name, by=by, label=label))
    if name in TALLIES:
        return one_by_one(partial(_compute_tally_slot, tally=name, by=by, label=label))
    return one_by_one(partial(_compute_top_slot, ranking=name, by=by, label=label))


def top_level(tags: str | None) -> set[str]:
    """The top-level topics of stored topic labels ("delivery/late,refund" -> {"delivery", "refund"}): what
    `slicing.about` matches."""
    return {tag.split("/", 1)[0] for tag in tags.split(",")} - {""} if tags else set()


def _compute_slot(
    conn: Connection, slot: Slot, batch: Batch, measure: str, by: str, label: str
) -> dict[str, Part]:
    """The slot's rows of every label of `by` found in it, kept in `batch`; those of `label`, returned
    (rows over every channel without any, when it has none)."""
    spec = MEASURES[measure]
    seen = batch.newest_note(conn, slot.day)
    found = label_of(spec.at.table, by)
    where = (spec.at >= slot.start, spec.at < slot.end, *spec.where)
    if spec.value is None:  # a count: counted by the database per channel and label, not fetched
        done = func.max(spec.as_of) if spec.as_of is not None else literal(None)
        counts: dict[str, dict] = defaultdict(dict)
        grouped = select(spec.channel, found, func.count(), done).where(*where).group_by(spec.channel, found)
        for channel, labels, n, at in conn.execute(grouped):
            for name in names(by, labels):
                was, last = counts[name].get(channel, (0, None))
                counts[name][channel] = (
                    was + n,
                    at if last is None or (at is not None and at > last) else last,
                )
        rows = {}
        for name in {*counts, label, *_AMONG.get()}:
            counted = [(channel, n, at) for channel, (n, at) in counts.get(name, {}).items()]
            rows[name] = count_parts(counted)
            batch.add(measure + by + name, slot, seen, rows[name])
        return rows[label]
    done = spec.as_of if spec.as_of is not None else literal(None)
    values: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    newest: dict[str, dict] = defaultdict(dict)
    for channel, labels, row_value, at in conn.execute(
        select(spec.channel, found, spec.value, done).where(*where)
    ):
        for name in names(by, labels):
            values[name][channel].append(row_value)
            if at is not None:
                newest[name][channel] = max(newest[name].get(channel, at), at)
    rows = {}
    for name in {*values, label, *_AMONG.get()}:
        rows[name] = value_parts(spec, dict(values.get(name, {})), newest.get(name, {}))
        batch.add(measure + by + name, slot, seen, rows[name])
    return rows[label]


def range_parts(
    conn: Connection,
    cache_key: str,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    now: datetime,
    by_channel: bool,
) -> list[Part]:
    """The rows of one team or topic (`cache_key`, made by `key`) of a measure dated in `[start, end)` on
    `channels`, as `tables.measure_parts` reads them with that slice: read once for every label of the
    question (within `shared_reads`, a breakdown's other rows take theirs from the same read)."""
    measure, by, label = _parsed(cache_key)
    asked = ("labelled range", measure, by, start, end, tuple(channels), now, by_channel)
    found = remembered(asked, lambda: _range_rows(conn, MEASURES[measure], by, start, end, channels, now))
    spec, rows = MEASURES[measure], found.get(label, {})
    if spec.value is None:
        if by_channel:
            return [Part(channel, len(values), 0.0, b"") for channel, values in rows.items()]
        return [Part(EVERY, sum(len(values) for values in rows.values()), 0.0, b"")]
    values = [value for found in rows.values() for value in found]
    array = compact(np.asarray(values, dtype=np.float64))
    return [Part(EVERY, len(values), math.fsum(values), array.tobytes())]


def _range_rows(
    conn: Connection, spec: Measure, by: str, start: datetime, end: datetime, channels: Sequence[str], now
) -> dict[str, dict]:
    """{label: {channel: [value, …]}} of the measure's rows dated in `[start, end)` (those whose outcome
    came before `now`, for a measure with one)."""
    where = [spec.at >= start, spec.at < end, *spec.where, on_channels(spec.channel, channels)]
    if spec.as_of is not None:
        where.append(spec.as_of < now)
    value = spec.value if spec.value is not None else literal(None)
    found: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for channel, labels, row_value in conn.execute(
        select(spec.channel, label_of(spec.at.table, by), value).where(*where)
    ):
        for name in names(by, labels):
            found[name][channel].append(row_value)
    return found


def range_tally(
    conn: Connection,
    cache_key: str,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    by_channel: bool,
) -> dict:
    """`tables.tally_counts` of one team or topic (`cache_key`, of a tally) over `[start, end)`, read once for
    every label of the question as `range_parts` does."""
    tally, by, label = _parsed(cache_key)
    asked = ("labelled tally", tally, by, start, end, tuple(channels))
    found = remembered(asked, lambda: _range_tally(conn, TALLIES[tally], by, start, end, channels))
    counts = found.get(label, {})
    if by_channel:
        return {channel or EVERY: dict(labels) for channel, labels in counts.items()}
    return _merged(counts)


def _merged(by_channel: dict[str | None, dict]) -> dict:
    """A tally's counts per channel added up over the channels."""
    merged: dict = {}
    for labels in by_channel.values():
        for value_label, value in labels.items():
            add_to_tally(merged, value_label, value)
    return merged


def _range_tally(
    conn: Connection, spec: Tally, by: str, start: datetime, end: datetime, channels: Sequence[str]
) -> dict[str, dict]:
    """{label: {channel: {tally label: value}}} of the tally's rows dated in `[start, end)`."""
    where = [spec.at >= start, spec.at < end, *spec.where, on_channels(spec.channel, channels)]
    found = label_of(spec.at.table, by)
    statement = select(spec.channel, found, spec.label, func.count(), *spec.sums).where(*where)
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(dict))
    for channel, labels, value_label, *values in conn.execute(
        statement.group_by(spec.channel, found, spec.label)
    ):
        for name in names(by, labels):
            add_to_tally(counts[name][channel], value_label, tally_value(values, spec))
    return counts


def range_top(
    conn: Connection, cache_key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> list[tuple[float, datetime, int]]:
    """`tables.ranking_rows` of one team or topic (`cache_key`, of a ranking) over `[start, end)`, read once
    for every label of the question as `range_parts` does."""
    ranking, by, label = _parsed(cache_key)
    asked = ("labelled top", ranking, by, start, end, tuple(channels))
    found = remembered(asked, lambda: _range_top(conn, RANKINGS[ranking], by, start, end, channels))
    return found.get(label, [])


def _range_top(
    conn: Connection, spec: Ranking, by: str, start: datetime, end: datetime, channels: Sequence[str]
) -> dict[str, list[tuple[float, datetime, int]]]:
    """{label: the first rows of the ranking dated in `[start, end)`, first first}."""
    where = [spec.at >= start, spec.at < end, *spec.where, on_channels(spec.channel, channels)]
    statement = select(label_of(spec.at.table, by), spec.score, spec.at, spec.id).where(*where)
    found: dict[str, list] = defaultdict(list)
    for labels, score, at, row_id in conn.execute(statement):
        for name in names(by, labels):
            found[name].append((score, at, row_id))
    return {name: sorted(rows, key=spec.rank)[: spec.limit] for name, rows in found.items()}


def _parsed(cache_key: str) -> tuple[str, str, str]:
    """(measure, tally or ranking; TEAM or TOPIC; label) of a key made by `key`."""
    for by in (TEAM, TOPIC):
        name, found, label = cache_key.partition(by)
        if found and name in (*MEASURES, *TALLIES, *RANKINGS):
            return name, by, label
    raise ValueError(f"not a labelled key: {cache_key!r}")


def _compute_tally_slot(
    conn: Connection, slot: Slot, batch: Batch, tally: str, by: str, label: str
) -> dict[str, Part]:
    """`_compute_slot` for a tally: the slot's counts per tally label of every team or topic found in it,
    kept as `compute`'s tally rows are."""
    seen = batch.newest_note(conn, slot.day)
    counts = _range_tally(conn, TALLIES[tally], by, slot.start, slot.end, ())
    rows = {}
    for name in {*counts, label, *_AMONG.get()}:
        by_channel = counts.get(name, {})
        kept = {channel: dict(found) for channel, found in by_channel.items() if channel is not None}
        rows[name] = tally_rows({**kept, EVERY: _merged(by_channel)})
        batch.add(tally + by + name, slot, seen, rows[name])
    return rows[label]


def _compute_top_slot(
    conn: Connection, slot: Slot, batch: Batch, ranking: str, by: str, label: str
) -> dict[str, Part]:
    """`_compute_slot` for a ranking: the slot's first rows of every team or topic found in it."""
    spec = RANKINGS[ranking]
    seen = batch.newest_note(conn, slot.day)
    statement = select(spec.channel, label_of(spec.at.table, by), spec.score, spec.at, spec.id).where(
        spec.at >= slot.start, spec.at < slot.end, *spec.where
    )
    found: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for channel, labels, score, at, row_id in conn.execute(statement):
        for name in names(by, labels):
            found[name][channel].append((score, at, row_id))
    rows = {}
    for name in {*found, label, *_AMONG.get()}:
        rows[name] = top_rows(spec, dict(found[name]))
        batch.add(
            ranking + by + name, slot, seen, {c: part for c, part in rows[name].items() if c is not None}
        )
    return rows[label]


def label_of(table, by: str):
    """SQL: what a row of `table` is labelled by (`by` TEAM or TOPIC) — its conversation's team, or the topic
    labels of its conversation's tagged customer messages (joined by commas), or a message's own; `names`
    turns it into the teams or topics it counts for."""
    conversation = table.c.id if table is _CONVERSATION else table.c.conversation_id
    if by == TEAM:
        if table is _CONVERSATION:
            return C.team
        return select(_OF_ROW.c.team).where(_OF_ROW.c.id == conversation).scalar_subquery()
    if table is Message.__table__:
        return M.topics
    tagged = _TAGGED.c
    return (
        select(func.aggregate_strings(tagged.topics, ","))
        .where(
            tagged.conversation_id == conversation, tagged.direction == "inbound", tagged.topics.is_not(None)
        )
        .scalar_subquery()
    )


def names(by: str, found: str | None) -> Iterable[str]:
    """The team or topics a row labelled `found` (`label_of`) counts for."""
    if by == TEAM:
        return () if found is None else (found,)
    return top_level(found)


def note_conversations(conn: Connection, conversations: Iterable[int], now: datetime) -> None:
    """Notes, in `conn`'s transaction, the hours over at `now` of the rows of `conversations` that are dated
    apart from their messages — the conversations' own times, their clocks' and survey answers' — for a
    change of what those rows are labelled by (a tagged customer message: the conversation's topics)."""
    ids = sorted(set(conversations))
    times: list[datetime] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        times += _times(
            conn, select(C.opened_at, C.first_response_at, C.last_resolved_at).where(C.id.in_(chunk))
        )
        times += _times(conn, select(*_CLOCK_TIMES).where(K.conversation_id.in_(chunk)))
        times += _times(conn, select(V.at).where(V.conversation_id.in_(chunk)))
    note_hours(conn, hours_over(times, now))


def _times(conn: Connection, statement) -> list[datetime]:
    return [at for row in conn.execute(statement) for at in row if at is not None]
