"""Where the cache keeps its rows, and how it knows they are current.

A slot's rows (storage.kpi_cache.slots) are kept in `kpi_slot` per measure and channel, with `EVERY` the
row over every channel, which also proves the slot was computed. Changes are noted per hour
(`kpi_change_note`: the day and the hour changed; -1: the whole day) by triggers on the projection tables
and by ingestion for messages and surveys (`note_hours`). A row records the newest note it had `seen` when
computed: a day's row is current while no note of its day is newer, an hour's row while no note of its
hour or of its whole day is. A question stores what it computed in one short transaction of its own
(`Batch`); a busy database only costs the next question the same work.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from functools import partial

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.db import binary_rows
from storage.dialect import NOTES_LOCK, short_wait
from storage.kpi_cache.payloads import payloads
from storage.kpi_cache.slots import Slot
from storage.kpi_cache.tables import EVERY, Part
from storage.models import KpiChangeNote, KpiSlot
from storage.models.cache import WHOLE_DAY

K = KpiSlot.__table__.c
S = KpiChangeNote.__table__.c
BUSY_BACKOFF = 2.0  # seconds without storing after the database was found busy (see `Batch.store`)
_log = logging.getLogger("kpibot.kpi_cache")
# Computes the missing slots of a measure into a batch (see `current`).
Compute = Callable[[Connection, list[Slot], "Batch"], dict[Slot, dict[str, Part]]]
# What the reads of one question shared so far (see `shared_reads`); None outside one.
_SHARED: ContextVar[dict | None] = ContextVar("kpi_cache_shared_reads", default=None)
# What the triggers do (migrations 0007, 0013), for the changes ingestion notes itself: see `note_hours`.
_NOTE_SQLITE = (
    text("DELETE FROM kpi_change_note WHERE day = :day AND hour = :hour"),
    text("INSERT INTO kpi_change_note (day, hour) VALUES (:day, :hour)"),
)
_NOTE_POSTGRES = (
    text("SELECT pg_advisory_xact_lock_shared(:lock)"),
    text(
        "INSERT INTO kpi_change_note (day, hour) SELECT t.day, t.hour"
        " FROM unnest(CAST(:days AS date[]), CAST(:hours AS integer[])) AS t(day, hour)"
        " WHERE NOT EXISTS (SELECT 1 FROM kpi_change_note n WHERE n.day = t.day AND n.hour = t.hour"
        " AND n.xmin = pg_current_xact_id()::xid)"
    ),
)


def wanted(channel: str, channels: Sequence[str], by_channel: bool) -> bool:
    """Whether a day's row of `channel` belongs in the answer: the every-channel row for all channels,
    else the rows of the asked channels (of every channel, for all channels by channel)."""
    if channels:
        return channel in channels
    return channel != EVERY if by_channel else channel == EVERY


def note_hours(conn: Connection, hours: Iterable[tuple[date, int]]) -> None:
    """Notes, in `conn`'s transaction, a change to each (day, hour) of `hours` (hours that are over), as the
    triggers of migrations 0007 and 0013 do: notes newer than every row of their days has seen (SQLite:
    replacing the hours' older notes; PostgreSQL: one per hour and transaction, under NOTES_LOCK shared,
    all in one statement: a statement per hour cost an import ~0.6 ms each)."""
    hours = sorted(set(hours))
    if not hours:
        return
    if conn.dialect.name == "postgresql":
        lock, insert = _NOTE_POSTGRES
        conn.execute(lock, {"lock": NOTES_LOCK})
        conn.execute(insert, {"days": [day for day, _ in hours], "hours": [hour for _, hour in hours]})
        return
    for statement in _NOTE_SQLITE:
        conn.execute(statement, [{"day": day, "hour": hour} for day, hour in hours])


def newest_note(conn: Connection, day: date, last: date | None = None) -> int | None:
    """The id of the day's newest note (0: none), or with `last` the newest from `day` to `last`: what rows
    computed now have seen. None — store nothing — on PostgreSQL while a transaction that noted a change is
    still open: ids come from a sequence as notes are made, so that one may commit a note older than the
    newest seen now."""
    if conn.dialect.name != "postgresql":
        days = S.day == day if last is None else and_(S.day >= day, S.day <= last)
        return conn.execute(select(func.coalesce(func.max(S.id), 0)).where(days)).scalar_one()
    found = conn.execute(_NEWEST_LOCKED, {"lock": NOTES_LOCK, "first": day, "last": last or day}).first()
    return None if found is None else found[0]


# `newest_note` on PostgreSQL in one round trip (three took ~2.5 ms of every question): the lock tried, the
# newest read only once it is held (CASE evaluates its branch after its test; the subquery is evaluated
# when its branch is), and released by the outer query only when taken (OFFSET 0 keeps the inner query
# whole, and WHERE filters before the outer values are computed). No row: not taken.
_NEWEST_LOCKED = text(
    """
    SELECT newest, pg_advisory_unlock(:lock) FROM (
        SELECT CASE WHEN pg_try_advisory_lock(:lock) THEN (
            SELECT coalesce(max(id), 0) FROM kpi_change_note WHERE day >= :first AND day <= :last
        ) END AS newest
        OFFSET 0
    ) AS locked
    WHERE newest IS NOT NULL
    """
)


def stored(
    conn: Connection,
    measure: str,
    slots: Sequence[Slot],
    channels: Sequence[str],
    values: bool,
    by_channel: bool,
) -> dict[Slot, dict[str, Part]]:
    """The current rows of `measure` over `slots` in scope, by slot then channel (with their values if
    `values`); a slot appears only if its every-channel row (the proof it was computed) is current."""
    return stored_together(conn, (measure,), slots, channels, values, by_channel).get(measure, {})


def stored_together(
    conn: Connection,
    measures: Sequence[str],
    slots: Sequence[Slot],
    channels: Sequence[str],
    values: bool,
    by_channel: bool,
) -> dict[str, dict[Slot, dict[str, Part]]]:
    """`stored` of several measures over the same slots, in one read ({measure: {slot: {channel: row}}}): the
    rows of every team or topic of a breakdown (storage.kpi_cache.labelled), a statement each otherwise."""
    if not slots or not measures:
        return {}
    days = sorted({slot.day for slot in slots})
    partial = tuple(sorted({slot.day for slot in slots if slot.hour is not None}))
    asked = ("notes", days[0], days[-1], partial)  # the same for every measure a question reads
    newest = remembered(asked, lambda: _newest_notes(conn, days[0], days[-1], partial))
    if channels:  # the every-channel row only proves the slot was computed: its values are not read
        scope = [K.channel.in_([EVERY, *channels])]
    elif by_channel:
        scope = []
    else:
        scope = [K.channel == EVERY]
    whole = [slot.day for slot in slots if slot.hour is None]
    which = [and_(K.hour == WHOLE_DAY, K.day >= min(whole), K.day <= max(whole))] if whole else []
    hours = {slot.hour for slot in slots if slot.hour is not None}
    if hours:
        partial = {slot.day for slot in slots if slot.hour is not None}
        which.append(and_(K.hour.in_(sorted(hours)), K.day.in_(sorted(partial))))
    # the rows without their payloads, which come from memory when it holds them (`payloads`)
    named = K.measure == measures[0] if len(measures) == 1 else K.measure.in_(sorted(set(measures)))
    rows = conn.execute(
        select(K.measure, K.day, K.hour, K.seen, K.channel, K.count, K.total, K.latest).where(
            named, or_(*which), *scope
        )
    ).all()
    memory = payloads(conn.engine)
    found: dict[str, dict[Slot, dict[str, Part]]] = defaultdict(lambda: defaultdict(dict))
    fetch: set[tuple] = set()  # (measure, day, hour, channel) of the rows whose payloads are not in memory
    for measure, day, hour, seen, channel, count, total, latest in rows:
        day = as_date(day)
        slot = Slot(day, None if hour == WHOLE_DAY else hour)
        if seen < _needed(newest, slot):
            continue
        payload = b""
        if values and not (channels and channel == EVERY):
            payload = memory.get((measure, day, hour, channel, seen))
            if payload is None:
                fetch.add((measure, day, hour, channel))
        found[measure][slot][channel] = Part(channel, count, total, payload, latest)
    if fetch:
        _fetch(conn, found, fetch, newest, memory)
    # the query also matches other hours of the partial days (any asked hour on any of them): left out
    asked = set(slots)
    return {
        measure: {slot: rows for slot, rows in by_slot.items() if EVERY in rows and slot in asked}
        for measure, by_slot in found.items()
    }


def _fetch(conn: Connection, found: dict, fetch: set[tuple], newest: dict, memory) -> None:
    """Fills in the payloads of `fetch`'s rows (kept in memory for the next question), in the binary format
    on PostgreSQL: bytea as hex text would be twice the bytes to send and parse. A row computed again
    since it was read is taken as it is now; a slot with a row gone or no longer current is left out
    whole (computed again), never answered without it."""
    rows = binary_rows(
        conn,
        select(K.measure, K.day, K.hour, K.seen, K.channel, K.count, K.total, K.payload, K.latest).where(
            K.measure.in_(sorted({measure for measure, _, _, _ in fetch})),
            K.day.in_(sorted({day for _, day, _, _ in fetch})),
            K.hour.in_(sorted({hour for _, _, hour, _ in fetch})),
            K.channel.in_(sorted({channel for _, _, _, channel in fetch})),
        ),
    )
    for measure, day, hour, seen, channel, count, total, payload, latest in rows:
        day = as_date(day)
        if (measure, day, hour, channel) not in fetch:
            continue
        slot = Slot(day, None if hour == WHOLE_DAY else hour)
        if seen >= _needed(newest, slot):
            fetch.discard((measure, day, hour, channel))
            memory.put((measure, day, hour, channel, seen), payload)
            found[measure][slot][channel] = Part(channel, count, total, payload, latest)
    for measure, day, hour, _ in fetch:  # gone or no longer current since read
        found[measure].pop(Slot(day, None if hour == WHOLE_DAY else hour), None)


def _needed(newest: dict, slot: Slot) -> int:
    """The `seen` a row of `slot` needs to be current: a day's row the newest note of the day (key hour
    None), an hour's row that of its hour and of its whole day."""
    if slot.hour is None:
        return newest.get((slot.day, None), 0)
    return max(newest.get((slot.day, slot.hour), 0), newest.get((slot.day, WHOLE_DAY), 0))


def _newest_notes(
    conn: Connection, first: date, last: date, partial: Sequence[date]
) -> dict[tuple[date, int | None], int]:
    """The newest change notes from `first` to `last`: a day's row is stale after a note of any of its
    hours (per day, key hour None), an hour's row after a note of that hour or of the whole day (per
    hour, read only for the days with hour slots, `partial`: a day keeps up to 24 notes, which every read
    of 90 days would otherwise go through)."""
    newest: dict[tuple[date, int | None], int] = {}
    per_day = select(S.day, func.max(S.id)).where(S.day >= first, S.day <= last).group_by(S.day)
    for day, note in conn.execute(per_day):
        newest[as_date(day), None] = note
    if partial:
        per_hour = select(S.day, S.hour, func.max(S.id)).where(S.day.in_(partial)).group_by(S.day, S.hour)
        for day, hour, note in conn.execute(per_hour):
            newest[as_date(day), hour] = note
    return newest


def current(
    conn: Connection,
    measure: str,
    slots: Sequence[Slot],
    channels: Sequence[str],
    *,
    values: bool,
    by_channel: bool,
    compute: Compute,
    together: Sequence[str] = (),
) -> Rows:
    """The rows of every slot: the current stored ones (see `stored`) and, for the others, what
    `compute(conn, missing, batch)` gives, stored together afterwards (`Rows.stored` says whether they
    were). Within `shared_reads`, the same
    rows asked again are not read again, and the stored rows of the measures `together` (those the same
    question asks next over the same slots: a breakdown's other teams or topics) are read in the same
    statement, with those a computation kept for them."""
    asked = ("current", measure, tuple(slots), tuple(channels), values, by_channel)
    read = partial(_current, conn, measure, slots, channels, values, by_channel, compute, tuple(together))
    return remembered(asked, read)


class Rows(dict):
    """What `current` gives ({slot: {channel: Part}}), and whether every row of it is stored (False when
    some were computed and a busy database did not take them)."""

    stored = True


def _current(
    conn, measure, slots, channels, values, by_channel, compute: Compute, together: tuple[str, ...]
) -> Rows:
    group: dict | None = None
    if together and _SHARED.get() is not None:
        keys = tuple(sorted({measure, *together}))
        asked = ("stored together", keys, tuple(slots), tuple(channels), values, by_channel)
        group = remembered(asked, lambda: stored_together(conn, keys, slots, channels, values, by_channel))
        ready = Rows(group.get(measure, {}))
    else:
        ready = Rows(stored(conn, measure, slots, channels, values, by_channel))
    missing = [slot for slot in slots if slot not in ready]
    if not missing:
        return ready
    batch = Batch()
    ready.update(compute(conn, missing, batch))
    if group is not None:  # what the computation kept for the others: theirs, not to compute again
        computed = set(missing)
        for key, slot, _, rows in batch.slots:
            if key != measure and key in keys and slot in computed:
                group.setdefault(key, {})[slot] = rows
    ready.stored = batch.store(conn)
    return ready


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within it (one question, in one thread), rows read from the cache are kept and given again when
    asked again: the 24 rows of a breakdown `by hour` each read the period's days, cut to their hours
    (storage.kpi_cache.quarters). Nested, the outer one keeps them."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def remembered(key: tuple, read: Callable[[], object]):
    """`read()`, or within `shared_reads` what it gave the first time for `key`."""
    shared = _SHARED.get()
    if shared is None:
        return read()
    if key not in shared:
        shared[key] = read()
    return shared[key]


def one_by_one(compute: Callable[[Connection, Slot, Batch], dict[str, Part]]):
    """A `compute` for `current` from a function computing one slot."""
    return lambda conn, missing, batch: {slot: compute(conn, slot, batch) for slot in missing}


class Batch:
    """The slots one question (or one measure of the warm job) computed, stored together: one short
    transaction, however many slots (a cold 30-day question computes over a hundred)."""

    def __init__(self) -> None:
        self.slots: list[tuple[str, Slot, int, dict[str, Part]]] = []
        self.unknown = False  # a slot computed without a known `seen`: not stored
        self._notes: dict[date, int] = {}

    def newest_note(self, conn: Connection, day: date) -> int | None:
        """`newest_note` of the day, read once per batch (a day's hours share it)."""
        if day not in self._notes:
            self._notes[day] = newest_note(conn, day)
        return self._notes[day]

    def add(self, measure: str, slot: Slot, seen: int | None, rows: dict[str, Part]) -> None:
        """Keeps the rows of `measure` over `slot`, computed having seen `seen` (None: not known, not
        stored)."""
        if seen is not None:
            self.slots.append((measure, slot, seen, rows))
        else:
            self.unknown = True

    def store(self, conn: Connection) -> bool:
        """Replaces the kept slots' rows in a transaction of its own; gives up at once when the database is
        busy (the caller has its values already), and then stores nothing for BUSY_BACKOFF seconds, so
        questions wait once, not once per slot, behind a long write. Whether it stored them all (those
        without a known `seen` are never stored)."""
        slots, self.slots = self.slots, []
        if not slots:
            return not self.unknown
        if time.monotonic() < _busy_until(conn.engine):
            return False
        spent: dict[date, int] = {}  # per day, the notes every stored slot has seen
        for _, slot, seen, _ in slots:
            spent[slot.day] = min(seen, spent.get(slot.day, seen))
        keys = [{"m": measure, "d": slot.day, "h": _hour(slot)} for measure, slot, _, _ in slots]
        rows = [
            {
                "measure": measure,
                "day": slot.day,
                "hour": _hour(slot),
                "channel": row.channel,
                "seen": seen,
                "count": row.count,
                "total": row.total,
                "payload": row.values,
                "latest": row.latest,
            }
            for measure, slot, seen, parts in slots
            for row in parts.values()
        ]
        try:
            with conn.engine.connect() as writer, short_wait(writer), writer.begin():
                if _lz4(writer):
                    writer.exec_driver_sql("SET LOCAL default_toast_compression = lz4")
                replaced = delete(KpiSlot.__table__).where(
                    K.measure == bindparam("m"), K.day == bindparam("d"), K.hour == bindparam("h")
                )
                writer.execute(replaced, keys)
                writer.execute(insert(KpiSlot.__table__), rows)
                # older notes of a day are spent; the newest of each hour stays, as other measures'
                # rows compare to it
                newer = KpiChangeNote.__table__.alias("newer")
                same_hour = (newer.c.day == S.day, newer.c.hour == S.hour)
                later_same_hour = select(newer.c.id).where(*same_hour, newer.c.id > S.id).exists()
                notes = delete(KpiChangeNote.__table__).where(
                    S.day == bindparam("d"), S.id < bindparam("seen"), later_same_hour
                )
                writer.execute(notes, [{"d": day, "seen": seen} for day, seen in spent.items()])
        except DBAPIError as exc:
            if isinstance(exc, OperationalError):  # busy (a lock not granted in time), not a lost race
                _back_off(conn.engine)
            first, *_ = slots
            _log.info(
                "kpi cache: %d slots (%s %s…) not stored (%s); computed again next time",
                len(slots),
                first[0],
                first[1].day,
                exc.__class__.__name__,
            )
            return False
        return not self.unknown


def _hour(slot: Slot) -> int:
    return WHOLE_DAY if slot.hour is None else slot.hour


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _lz4(conn: Connection) -> bool:
    """Whether the PostgreSQL server compresses with lz4 (PostgreSQL 14 on, built with it; asked once per
    engine). The payloads a batch stores are then compressed with it rather than pglz (the column sets no
    method, so the transaction's default decides): as small, and read back 2-3 times faster — pglz took
    ~7 ms of the 20 ms a 90-day question spent fetching 10 MB of waits. The bytes stored are the same."""
    if conn.dialect.name != "postgresql":
        return False
    known = getattr(conn.engine, "_kpibot_lz4", None)
    if known is None:
        offered = "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        methods = conn.exec_driver_sql(offered).scalar()
        known = conn.engine._kpibot_lz4 = "lz4" in (methods or [])
    return known


# The back-off lives on the engine (one per database, not per process): a test's fresh engine starts
# without one, and two databases in one process do not share it.
def _busy_until(engine: Engine) -> float:
    return getattr(engine, "_kpibot_cache_busy_until", 0.0)


def _back_off(engine: Engine) -> None:
    engine._kpibot_cache_busy_until = time.monotonic() + BUSY_BACKOFF
