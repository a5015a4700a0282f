"""The `kpi_day` and `kpi_day_stale` tables of the per-day KPI cache: reading a range of current rows,
replacing a slot's rows, noting a changed hour, and the packing of a slot's values.

A slot is a whole UTC day or one hour of one. Changes are noted per hour (`kpi_day_stale.day` and `hour`;
-1: the whole day). A day's row is current while no note of its day is newer than its `seen`, an hour's
row while no note of its hour or of its whole day is; the every-channel row (EVERY) is the proof that the
slot was computed at all.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import NamedTuple

import numpy as np
from sqlalchemy import and_, bindparam, case, delete, func, insert, literal, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.dialect import NOTES_LOCK, short_wait
from storage.models import KpiDay, KpiDayStale

K = KpiDay.__table__.c
S = KpiDayStale.__table__.c
EVERY = ""  # the channel of a day's row over every channel
_log = logging.getLogger("kpibot.kpi_days")
GRACE = timedelta(hours=1)  # how long after an hour ends it may be cached (see cached_until)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# The most days one question may cache: older parts of a range are read from the tables. Ingestion
# refuses implausible times, but a row written by hand (opened in year 1) must not make a backlog
# question fill 740,000 days.
MAX_CACHED_DAYS = 1000
BUSY_BACKOFF = 2.0  # seconds without storing after the database was found busy (see `store`)
_busy_until = 0.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WHOLE_DAY = -1  # a note's hour when it is about the whole day
# What the triggers do (migration 0005), for the changes ingestion notes itself: see `note_hour`.
_NOTE_SQLITE = (
    text("DELETE FROM kpi_day_stale WHERE day = :day AND hour = :hour"),
    text("INSERT INTO kpi_day_stale (day, hour) VALUES (:day, :hour)"),
)
_NOTE_POSTGRES = (
    text("SELECT pg_advisory_xact_lock_shared(:lock)"),
    text(
        "INSERT INTO kpi_day_stale (day, hour) SELECT :day, :hour WHERE NOT EXISTS (SELECT 1"
        " FROM kpi_day_stale s WHERE s.day = :day AND s.hour = :hour AND s.xmin = pg_current_xact_id()::xid)"
    ),
)


class Part(NamedTuple):
    """Rows of a series on one channel (EVERY: the whole scope) over a day or part of one."""

    channel: str
    count: int
    total: float  # the exact sum of the values (0 for a count series)
    values: bytes  # see `compact`; empty for a count series
    latest: datetime | None = None  # the newest `as_of` among the rows counted, for series with one


def cached_until(wall_clock: datetime | None = None) -> datetime:
    """The end of the newest hour `kpi_day` may hold: the last whole UTC hour that ended `GRACE` ago.

    The triggers note a change to an hour only once that hour is over (live traffic on the current hour's
    rows notes nothing): a write made in hour H to H's rows is not noted, so H is cached only when every
    transaction begun in H has ended — well within the hour of grace, which also absorbs clock differences
    between bot processes and the database server."""
    return _floor((wall_clock or datetime.now(UTC)) - GRACE, HOUR)


def last_cached_day(wall_clock: datetime | None = None) -> date:
    """The newest whole day `kpi_day` may hold (see `cached_until`)."""
    return (_floor(cached_until(wall_clock), DAY) - DAY).date()


def hours_over(times: Iterable[datetime], wall_clock: datetime | None = None) -> list[tuple[date, int]]:
    """The (day, hour) of each of `times` that is in an hour already over, each once, in order: what a
    change at those times notes (`note_hour`)."""
    now = _floor(wall_clock or datetime.now(UTC), HOUR)
    hours = {_floor(at, HOUR) for at in times}
    return [(at.date(), at.hour) for at in sorted(hours) if at < now]


@dataclass(frozen=True, order=True)
class Slot:
    """What a row of `kpi_day` covers: a whole UTC day, or one hour of it (`hour`), kept for the days a
    period starts or ends inside (today's included). An hour's rows are stored under the series name and
    the hour ("frt@14") beside the day's: a note of that hour or of the whole day makes them stale."""

    day: date
    hour: int | None = None

    @property
    def start(self) -> datetime:
        return midnight(self.day) + timedelta(hours=self.hour or 0)

    @property
    def end(self) -> datetime:
        return self.start + (DAY if self.hour is None else HOUR)

    def series(self, key: str) -> str:
        return key if self.hour is None else f"{key}@{self.hour:02d}"


def split(start: datetime, end: datetime) -> tuple[list[Slot], list[tuple[datetime, datetime]]] | None:
    """The cached slots making up `[start, end)` — the whole UTC days, and the whole hours of the days
    it starts or ends inside, up to `cached_until`, at most MAX_CACHED_DAYS back — and the ranges left
    before and after them (read from the tables: the last hour or two, the minutes before the first
    whole hour, anything older than the cached span); None when there is no slot."""
    stop = min(_floor(end, HOUR), cached_until())
    first = max(_ceil(start, HOUR), _floor(stop, DAY) - MAX_CACHED_DAYS * DAY)
    if first >= stop:
        return None
    day_first, day_stop = _ceil(first, DAY), _floor(stop, DAY)
    if day_first < day_stop:
        slots = hours_between(first, day_first)
        slots += [Slot(day_first.date() + timedelta(days=n)) for n in range((day_stop - day_first).days)]
        slots += hours_between(day_stop, stop)
    else:
        slots = hours_between(first, stop)
    around = ((start, first), (stop, end))
    return slots, [(edge_start, edge_end) for edge_start, edge_end in around if edge_start < edge_end]


def hours_between(start: datetime, end: datetime) -> list[Slot]:
    """The hour slots from `start` to `end` (whole hours; none if `end` is not later)."""
    count = max(0, int((end - start) / HOUR))
    return [Slot(at.date(), at.hour) for at in (start + n * HOUR for n in range(count))]


def _floor(moment: datetime, unit: timedelta) -> datetime:
    moment = moment.astimezone(UTC)
    return moment - (moment - EPOCH) % unit


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit


def midnight(day: date) -> datetime:
    """The UTC midnight starting `day`."""
    return datetime.combine(day, clock_time(), UTC)


def wanted(channel: str, channels: Sequence[str], by_channel: bool) -> bool:
    """Whether a day's row of `channel` belongs in the answer: the every-channel row for all channels,
    else the rows of the asked channels (of every channel, for all channels by channel)."""
    if channels:
        return channel in channels
    return channel != EVERY if by_channel else channel == EVERY


def note_hour(conn: Connection, day: date, hour: int) -> None:
    """Notes, in `conn`'s transaction, a change to `hour` of `day` (an hour that is over), as the triggers
    of migration 0005 do: a note newer than every row of the day has seen (SQLite: replacing the hour's
    older notes; PostgreSQL: one per hour and transaction, under NOTES_LOCK shared)."""
    params = {"day": day, "hour": hour, "lock": NOTES_LOCK}
    for statement in _NOTE_POSTGRES if conn.dialect.name == "postgresql" else _NOTE_SQLITE:
        conn.execute(statement, params)


def newest_note(conn: Connection, day: date) -> int | None:
    """The id of the day's newest note (0: none): what rows computed now have seen. None — store nothing
    — on PostgreSQL while a transaction that noted a change is still open: ids come from a sequence as
    notes are made, so that one may commit a note older than the newest seen now."""
    newest = select(func.coalesce(func.max(S.id), 0)).where(S.day == day)
    if conn.dialect.name != "postgresql":
        return conn.execute(newest).scalar_one()
    if not conn.execute(text("SELECT pg_try_advisory_lock(:lock)"), {"lock": NOTES_LOCK}).scalar_one():
        return None
    try:
        return conn.execute(newest).scalar_one()
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:lock)"), {"lock": NOTES_LOCK})


def stored(
    conn: Connection,
    key: str,
    slots: Sequence[Slot],
    channels: Sequence[str],
    values: bool,
    by_channel: bool,
) -> dict[Slot, dict[str, Part]]:
    """The current rows of `slots` in scope, by slot then channel (with their values if `values`); a slot
    appears only if its every-channel row (the proof it was computed) is current."""
    if not slots:
        return {}
    days = sorted({slot.day for slot in slots})
    in_range = (S.day >= days[0], S.day <= days[-1])
    notes = conn.execute(select(S.day, S.hour, func.max(S.id)).where(*in_range).group_by(S.day, S.hour)).all()
    # The newest note per (day, hour): a day's row is stale after a note of any of its hours (None
    # below), an hour's row after a note of that hour or of the whole day (WHOLE_DAY)
    newest: dict[tuple[date, int | None], int] = defaultdict(int)
    for day, hour, note in notes:
        day = as_date(day)
        newest[day, hour] = note
        newest[day, None] = max(newest[day, None], note)
    blob = K.sorted_values if values else literal(b"")
    if channels:  # the every-channel row only proves the slot was computed: its values are not read
        scope = [K.channel.in_([EVERY, *channels])]
        blob = case((K.channel == EVERY, b""), else_=blob)
    elif by_channel:
        scope = []
    else:
        scope = [K.channel == EVERY]
    whole = [slot.day for slot in slots if slot.hour is None]
    which = [and_(K.series == key, K.day >= min(whole), K.day <= max(whole))] if whole else []
    hours = {slot.series(key) for slot in slots if slot.hour is not None}
    if hours:
        partial = {slot.day for slot in slots if slot.hour is not None}
        which.append(and_(K.series.in_(sorted(hours)), K.day.in_(sorted(partial))))
    rows = conn.execute(
        select(K.series, K.day, K.seen, K.channel, K.count, K.total, blob, K.latest).where(
            or_(*which), *scope
        )
    ).all()
    by_slot: dict[Slot, dict[str, Part]] = defaultdict(dict)
    for series, day, seen, *row in rows:
        day = as_date(day)
        _, _, hour = series.partition("@")
        hour = int(hour) if hour else None
        notes_seen = newest.get((day, hour), 0), 0 if hour is None else newest.get((day, WHOLE_DAY), 0)
        if seen >= max(notes_seen):
            by_slot[Slot(day, hour)][row[0]] = Part(*row)
    # the query also matches other hours of the partial days (any asked hour on any of them): left out
    asked = set(slots)
    return {slot: rows for slot, rows in by_slot.items() if EVERY in rows and slot in asked}


def current(
    conn: Connection,
    key: str,
    slots: Sequence[Slot],
    channels: Sequence[str],
    *,
    values: bool,
    by_channel: bool,
    compute: Callable[[Connection, list[Slot], Batch], dict[Slot, dict[str, Part]]],
) -> dict[Slot, dict[str, Part]]:
    """The rows of every slot: the current stored ones (see `stored`) and, for the others, what
    `compute(conn, missing, batch)` gives, stored together afterwards."""
    ready = stored(conn, key, slots, channels, values, by_channel)
    missing = [slot for slot in slots if slot not in ready]
    if missing:
        batch = Batch()
        ready.update(compute(conn, missing, batch))
        batch.store(conn)
    return ready


def one_by_one(compute: Callable[[Connection, Slot, Batch], dict[str, Part]]):
    """A `compute` for `current` from a function computing one slot."""
    return lambda conn, missing, batch: {slot: compute(conn, slot, batch) for slot in missing}


class Batch:
    """The slots one question (or one series of the warm job) computed, stored together: one short
    transaction, however many slots (a cold 30-day question computes over a hundred)."""

    def __init__(self) -> None:
        self.slots: list[tuple[str, date, int, dict[str, Part]]] = []
        self._notes: dict[date, int] = {}

    def newest_note(self, conn: Connection, day: date) -> int | None:
        """`newest_note` of the day, read once per batch (a day's hours share it)."""
        if day not in self._notes:
            self._notes[day] = newest_note(conn, day)
        return self._notes[day]

    def add(self, key: str, day: date, seen: int | None, rows: dict[str, Part]) -> None:
        """Keeps the rows of a slot stored under `key` ("frt", "frt@14"), computed having seen `seen`
        (None: not known, not stored)."""
        if seen is not None:
            self.slots.append((key, day, seen, rows))

    def store(self, conn: Connection) -> None:
        """Replaces the kept slots' rows in a transaction of its own; gives up at once when the database is
        busy (the caller has its values already), and then stores nothing for BUSY_BACKOFF seconds, so
        questions wait once, not once per slot, behind a long write."""
        global _busy_until
        slots, self.slots = self.slots, []
        if not slots or time.monotonic() < _busy_until:
            return
        spent: dict[date, int] = {}  # per day, the notes every stored slot has seen
        for _, day, seen, _ in slots:
            spent[day] = min(seen, spent.get(day, seen))
        rows = [
            {
                "series": key,
                "day": day,
                "channel": row.channel,
                "seen": seen,
                "count": row.count,
                "total": row.total,
                "sorted_values": row.values,
                "latest": row.latest,
            }
            for key, day, seen, parts in slots
            for row in parts.values()
        ]
        try:
            with conn.engine.connect() as writer, short_wait(writer), writer.begin():
                replaced = delete(KpiDay.__table__).where(K.series == bindparam("s"), K.day == bindparam("d"))
                writer.execute(replaced, [{"s": key, "d": day} for key, day, _, _ in slots])
                writer.execute(insert(KpiDay.__table__), rows)
                # older notes of a day are spent; the newest of each hour stays, as other series' rows
                # compare to it
                newer = KpiDayStale.__table__.alias("newer")
                same_hour = (newer.c.day == S.day, newer.c.hour == S.hour)
                later_same_hour = select(newer.c.id).where(*same_hour, newer.c.id > S.id).exists()
                notes = delete(KpiDayStale.__table__).where(
                    S.day == bindparam("d"), S.id < bindparam("seen"), later_same_hour
                )
                writer.execute(notes, [{"d": day, "seen": seen} for day, seen in spent.items()])
        except DBAPIError as exc:
            if isinstance(exc, OperationalError):  # busy (a lock not granted in time), not a lost race
                _busy_until = time.monotonic() + BUSY_BACKOFF
            first, *_ = slots
            _log.info(
                "kpi_day: %d slots (%s %s…) not stored (%s); computed again next time",
                len(slots),
                first[0],
                first[1],
                exc.__class__.__name__,
            )


def compact(values: np.ndarray) -> np.ndarray:
    """Whole seconds (timestamps to the second, as most sources send) as little-endian int32, half the
    bytes to store, read and select; anything else as float64. Both are exact."""
    if values.size and np.all(values == np.rint(values)) and np.all(np.abs(values) < 2**31):
        return values.astype("<i4")
    return values.astype("<f8")


def unpacked(blob: bytes, count: int) -> np.ndarray:
    """A stored day's values: int32 when the blob holds 4 bytes per value, float64 when 8."""
    return np.frombuffer(blob, dtype="<i4" if len(blob) == 4 * count else "<f8")


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
