"""Computing a slot's rows from the tables (a measure's values or count per channel, a ranking's first
rows, a tally's labels), and keeping the cache warm.

A question that finds a slot missing or stale computes it here and stores it (storage.kpi_cache.store);
the scheduler's hourly `warm` does it ahead of questions.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial

import numpy as np
from sqlalchemy import func, literal, select
from sqlalchemy.engine import Connection, Engine

from storage.days import midnight
from storage.db import raw_rows
from storage.kpi_cache import agents, contacts, owners, quarters
from storage.kpi_cache.measures import MEASURES, QUARTERED, RANKINGS, TALLIES, C, Measure, Ranking, Tally, V
from storage.kpi_cache.slots import HOUR, Slot, cached_until, hours_between, last_cached_day
from storage.kpi_cache.store import Batch, one_by_one, stored
from storage.kpi_cache.tables import EVERY, Part, add_to_tally, compact, tally_value

WARM_DAYS = 100  # what `warm` keeps ready: the longest usual question (90 days) and its edges
# at most how long `warm` rests between slices (as long as the slice took, if less), leaving the GIL and
# the database to the questions and webhooks: 50 ms after a day's ~1.3 s at 1M; next to nothing on a
# small database, whose warm-up (`kpibot import`, tests) must not grow by a pause per day
WARM_PAUSE = 0.05


def computer(key: str):
    """The `compute(conn, missing, batch)` of `store.current` for a measure, ranking or tally."""
    if key in MEASURES:
        return partial(_compute_runs, key=key, measure=MEASURES[key])
    if key in RANKINGS:
        return one_by_one(partial(_compute_top_day, key=key, spec=RANKINGS[key]))
    return one_by_one(partial(_compute_tally_day, key=key, spec=TALLIES[key]))


def warm(
    engine: Engine, now: datetime, days: int = WARM_DAYS, *, stop: Callable[[], bool] | None = None
) -> int:
    """Computes and stores, for every measure, ranking, tally, the agents' activity and who opened
    conversations when (`contacts`), the slots among the last `days` cached days at `now`, and the hours
    over since the last of them (today's), that are missing or changed, so no question has to (run by
    the bot's scheduler at start and hourly). Returns how many slots it computed.

    At 1M conversations a cold cache is minutes of work, so it goes newest first — today's hours, then
    each day back — one slice (the hours, or a day) at a time, each on a connection and in transactions
    of its own, with a short pause between slices: a question arriving meanwhile is answered at once (from
    the days already done, or computing its own), never behind the whole warm-up, and the last week is
    ready within seconds. `stop()`, asked between slices, ends it early (the bot shutting down): the
    slices done are stored, and the next run goes on with the rest."""
    computed = 0
    for key_slots in _missing_slices(engine, now, days):
        if stop is not None and stop():
            break
        began = time.monotonic()
        with engine.connect() as conn:
            for key, compute_day, slots in key_slots:
                # a question may have computed some of them since: those are not done again
                ready = stored(conn, key, slots, (), values=False, by_channel=False)
                batch = Batch()
                for slot in slots:
                    if slot not in ready:
                        compute_day(conn, slot=slot, batch=batch)
                        computed += 1
                batch.store(conn)
                conn.rollback()  # a fresh snapshot per measure; SQLite can checkpoint in between
        time.sleep(min(WARM_PAUSE, time.monotonic() - began))
    return computed


def _missing_slices(engine: Engine, now: datetime, days: int) -> list[list[tuple[str, Callable, list[Slot]]]]:
    """What `warm` has to compute, newest first: the hours over today, then each of the last `days`
    cached days back to the first with data, each as (key, compute_day, its missing slots) for the
    measures, rankings, tallies and agents that miss one; slices with nothing missing are left out."""
    last = last_cached_day(now)
    hours = hours_between(midnight(last + timedelta(days=1)), cached_until(now))
    with engine.connect() as conn:
        oldest = [conn.execute(select(func.min(column))).scalar() for column in (C.opened_at, V.at)]
        if all(at is None for at in oldest):
            return []  # nothing stored yet
        first = max(last - timedelta(days=days - 1), min(at for at in oldest if at is not None).date())
        slices = [hours] + [[Slot(last - timedelta(days=n))] for n in range((last - first).days + 1)]
        every = [slot for slots in slices for slot in slots]
        computers = [(key, partial(_compute_day, key=key, measure=m)) for key, m in MEASURES.items()]
        # a day's quarter-hour rows are computed with its plain ones; alone only where the plain rows were
        # kept without them (a cache filled before they existed)
        computers += [(key + QUARTERED, _quarter_day(key)) for key in MEASURES]
        computers += [(key, partial(_compute_top_day, key=key, spec=spec)) for key, spec in RANKINGS.items()]
        computers += [(key, partial(_compute_tally_day, key=key, spec=spec)) for key, spec in TALLIES.items()]
        computers += [(agents.KEY, agents.compute_day), (contacts.KEY, contacts.compute_day)]
        computers += [(key + owners.SUFFIX, partial(owners.compute_day, key=key)) for key in owners.OWNED]
        ready = {key: stored(conn, key, every, (), values=False, by_channel=False) for key, _ in computers}
    planned = []
    for slots in slices:
        work = [(k, compute, [s for s in slots if _wanted(k, s, ready[k])]) for k, compute in computers]
        work = [(key, compute, missing) for key, compute, missing in work if missing]
        if work:
            planned.append(work)
    return planned


def _wanted(key: str, slot: Slot, ready: dict) -> bool:
    """Whether `warm` computes the slot of `key`: missing, and for quarter-hour rows a whole day."""
    return slot not in ready and (slot.hour is None or not key.endswith(QUARTERED))


def _compute_top_day(conn: Connection, slot: Slot, batch: Batch, key: str, spec: Ranking) -> dict[str, Part]:
    """A slot's first rows of `spec` per channel and over every channel, stored like a measure's."""
    seen = batch.newest_note(conn, slot.day)
    where = [spec.at >= slot.start, spec.at < slot.end, *spec.where]
    by_channel: dict[str, list[tuple[float, datetime, int]]] = defaultdict(list)
    for channel, score, at, row_id in conn.execute(
        select(spec.channel, spec.score, spec.at, spec.id).where(*where)
    ):
        by_channel[channel].append((score, at, row_id))
    parts = top_rows(spec, by_channel)
    batch.add(key, slot, seen, parts)
    return parts


def top_rows(
    spec: Ranking, by_channel: dict[str | None, list[tuple[float, datetime, int]]]
) -> dict[str, Part]:
    """A slot's rows of a ranking from its (score, time, id) per channel: the first `limit` of each channel
    and over every channel (EVERY), with how many there were."""
    by_channel[EVERY] = [row for rows in list(by_channel.values()) for row in rows]
    parts = {}
    for channel, rows in by_channel.items():
        first = sorted(rows, key=spec.rank)[: spec.limit]
        packed = json.dumps([[score, at.isoformat(), row_id] for score, at, row_id in first]).encode()
        parts[channel] = Part(channel, len(rows), 0.0, packed)
    return parts


def _compute_tally_day(conn: Connection, slot: Slot, batch: Batch, key: str, spec: Tally) -> dict[str, Part]:
    """A slot's counts per label of `spec`, per channel and over every channel, stored like a measure's."""
    seen = batch.newest_note(conn, slot.day)
    where = [spec.at >= slot.start, spec.at < slot.end, *spec.where]
    grouped = select(spec.channel, spec.label, func.count(), *spec.sums).where(*where)
    by_channel: dict[str | None, dict] = defaultdict(dict)
    for channel, label, *values in conn.execute(grouped.group_by(spec.channel, spec.label)):
        add_to_tally(by_channel[channel], label, tally_value(values, spec))
        add_to_tally(by_channel[EVERY], label, tally_value(values, spec))
    parts = tally_rows({channel: counts for channel, counts in by_channel.items() if channel is not None})
    batch.add(key, slot, seen, parts)
    return parts


def tally_rows(by_channel: dict[str, dict]) -> dict[str, Part]:
    """A slot's rows of a tally from its counts per channel and over every channel (EVERY; made empty when
    missing: the proof the slot was computed)."""
    by_channel.setdefault(EVERY, {})
    return {
        channel: Part(
            channel,
            sum(value[0] if isinstance(value, list) else value for value in counts.values()),
            0.0,
            json.dumps(counts).encode(),
        )
        for channel, counts in by_channel.items()
    }


def _compute_day(conn: Connection, slot: Slot, batch: Batch, key: str, measure: Measure) -> dict[str, Part]:
    """One slot (a day, or an hour) of the measure from the projection table, by channel and over every
    channel, kept in `batch` to be stored. Rows without a channel count in EVERY only."""
    if slot.hour is None:
        return _compute_whole_day(conn, slot, batch, key, measure)[0]
    return _compute_run(conn, key, measure, [slot], batch)[slot]


def _compute_whole_day(
    conn: Connection, slot: Slot, batch: Batch, key: str, measure: Measure
) -> tuple[dict[str, Part], dict[str, Part]]:
    """A day's plain rows of the measure and its quarter-hour rows (storage.kpi_cache.quarters), both
    from one read of the day, both kept in `batch`."""
    seen = batch.newest_note(conn, slot.day)
    by_channel, newest = quarters.read_day(conn, slot, measure)
    if measure.value is None:
        plain = count_parts((c, int(rows[:, 1].sum()), newest.get(c)) for c, rows in by_channel.items())
    else:
        plain = value_parts(measure, {c: rows[:, 1] for c, rows in by_channel.items()}, newest)
    by_quarter = quarters.packed_rows(by_channel, measure, newest)
    batch.add(key, slot, seen, plain)
    batch.add(key + QUARTERED, slot, seen, by_quarter)
    return plain, by_quarter


def _quarter_day(key: str) -> Callable[..., dict[str, Part]]:
    """A `compute_day` for the warm job: one day's quarter-hour rows of the measure (with its plain rows)."""
    measure = MEASURES[key]
    return lambda conn, slot, batch: _compute_whole_day(conn, slot, batch, key, measure)[1]


def quarter_computer(key: str):
    """The `compute(conn, missing, batch)` of `store.current` for a measure's quarter-hour rows (days only):
    the days' plain rows are computed and stored with them."""
    return one_by_one(_quarter_day(key))


def _compute_runs(
    conn: Connection, missing: list[Slot], batch: Batch, key: str, measure: Measure
) -> dict[Slot, dict[str, Part]]:
    """The missing slots of the measure, each day alone (with its quarter-hour rows) and consecutive hours
    at once (`_runs`)."""
    computed: dict[Slot, dict[str, Part]] = {}
    for run in _runs(missing):
        if run[0].hour is None:
            computed[run[0]] = _compute_whole_day(conn, run[0], batch, key, measure)[0]
        else:
            computed.update(_compute_run(conn, key, measure, run, batch))
    return computed


def _compute_run(
    conn: Connection, key: str, measure: Measure, run: list[Slot], batch: Batch
) -> dict[Slot, dict[str, Part]]:
    """Slots of the measure from the projection table: one slot, or consecutive hours read at once and
    split by hour (a cold question's partial days are dozens of hours)."""
    seen = {slot: batch.newest_note(conn, slot.day) for slot in run}
    start, end = run[0].start, run[-1].end
    where = [measure.at >= start, measure.at < end, *measure.where]
    if len(run) == 1:
        if measure.value is None:
            latest = func.max(measure.as_of) if measure.as_of is not None else literal(None)
            counted = conn.execute(
                select(measure.channel, func.count(), latest).where(*where).group_by(measure.channel)
            ).all()
            by_slot = {run[0]: count_parts(counted)}
        elif measure.as_of is None:
            by_channel: dict[str | None, list[float]] = defaultdict(list)
            for channel, value in raw_rows(conn, select(measure.channel, measure.value).where(*where)):
                by_channel[channel].append(value)
            by_slot = {run[0]: value_parts(measure, by_channel)}
        else:  # values with an outcome time: the newest of those too (times as datetimes: no raw rows)
            by_channel, newest = defaultdict(list), {}
            for channel, value, done in conn.execute(
                select(measure.channel, measure.value, measure.as_of).where(*where)
            ):
                by_channel[channel].append(value)
                newest[channel] = max(newest.get(channel, done), done)
            by_slot = {run[0]: value_parts(measure, by_channel, newest)}
    else:
        extra = measure.value if measure.value is not None else measure.as_of
        if extra is None:
            extra = literal(None)
        as_of = measure.as_of if measure.as_of is not None else literal(None)
        hours: dict[int, dict] = defaultdict(lambda: defaultdict(list))
        ends: dict[int, dict] = defaultdict(dict)  # per hour and channel, the newest outcome time
        for channel, at, value, done in conn.execute(
            select(measure.channel, measure.at, extra, as_of).where(*where)
        ):
            n = int((at - start) / HOUR)
            hours[n][channel].append(value)
            if done is not None:
                ends[n][channel] = max(ends[n].get(channel, done), done)
        by_slot = {}
        for n, slot in enumerate(run):
            by_channel = hours.get(n, {})
            if measure.value is None:
                counted = [
                    (channel, len(times), max((t for t in times if t is not None), default=None))
                    for channel, times in by_channel.items()
                ]
                by_slot[slot] = count_parts(counted)
            else:
                by_slot[slot] = value_parts(measure, dict(by_channel), ends.get(n, {}))
    for slot, rows in by_slot.items():
        batch.add(key, slot, seen[slot], rows)
    return by_slot


def count_parts(counted: Iterable[tuple]) -> dict[str, Part]:
    """A slot's rows of a count measure from (channel, count, newest as_of) per channel."""
    rows = {channel: Part(channel, n, 0.0, b"", last) for channel, n, last in counted}
    newest = max((row.latest for row in rows.values() if row.latest is not None), default=None)
    rows[EVERY] = Part(EVERY, sum(row.count for row in rows.values()), 0.0, b"", newest)
    return {channel: row for channel, row in rows.items() if channel is not None}


def value_parts(
    measure: Measure, by_channel: dict[str | None, list[float] | np.ndarray], newest: dict | None = None
) -> dict[str, Part]:
    """A slot's rows of a value measure from its values per channel, sorted (ids: once each), with the
    newest outcome time per channel (`newest`) for a measure that has one."""
    newest = dict(newest or {})
    found = [np.asarray(values, dtype=np.float64) for values in by_channel.values()]
    by_channel[EVERY] = np.concatenate(found) if found else np.empty(0)
    newest[EVERY] = max(newest.values(), default=None)
    rows = {}
    for channel, values in by_channel.items():
        ordered = np.sort(compact(np.asarray(values, dtype=np.float64)))
        if measure.distinct:  # the count is then of different ids (what `_unpacked` reads the blob by)
            ordered = np.unique(ordered)
        rows[channel] = Part(channel, len(ordered), math.fsum(values), ordered.tobytes(), newest.get(channel))
    return {channel: row for channel, row in rows.items() if channel is not None}


def _runs(slots: list[Slot]) -> list[list[Slot]]:
    """`slots` as runs to compute at once: each day alone, consecutive hours together."""
    runs: list[list[Slot]] = []
    for slot in sorted(slots, key=lambda one: (one.start, one.hour is None)):
        last = runs[-1][-1] if runs else None
        if slot.hour is not None and last is not None and last.hour is not None and last.end == slot.start:
            runs[-1].append(slot)
        else:
            runs.append([slot])
    return runs
