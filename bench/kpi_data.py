"""A large synthetic kpibot database for the KPI benchmark, written straight into the projection tables.

Bypasses ingestion (that has its own benchmark, bench/ingest.py): conversations, messages, the
service-level clocks (a customer's waits among them) and surveys are generated with numpy and
bulk-loaded — sqlite3 executemany on SQLite, COPY on PostgreSQL — with the indexes dropped during the
load and rebuilt afterwards exactly as storage/models.py defines them. On PostgreSQL the load ends with
VACUUM ANALYZE: the statistics and visibility map a running server has from autovacuum (PostgreSQL 13+
vacuums insert-only tables too), without which the planner guesses and index-only scans read the table.

Also here: `bench_database`, the database of its own a benchmark uses on a PostgreSQL server.

Shape: conversations opened over 90 days before NOW (busier by day), channel mix facebook 60 %,
twitter 25 %, instagram 10 %, viber 5 %; about 93 % answered with a lognormal first response
(median 40 min); 1-4 customer/agent exchanges (about 5 messages each); about 85 % resolved, some
reopened; handle seconds on a third; CSAT on a quarter and NPS on a tenth of resolved ones. The
service-level clocks (`sla_clock`) are those ingestion would project (storage.projection.service_clocks):
each wait as a "first" or "next" clock, and "resolution" from opening to the first resolution, plus, for
a reopened conversation, from its reopening (12 h after, or halfway to NOW) to the last resolution.
Each clock carries the `deadline` and `late` ingestion stamps it with (storage.service_levels.Deadlines)
under the settings the build is given (default: `Settings`, the channels' benchmarks in calendar time),
computed with numpy for calendar targets and by `Deadlines.stamp` for business-hours ones; the stamp is
recorded (`Deadlines.record`) so nothing stamps the clocks again at first use.

A database is reused (`is_complete`) only at this kpibot's schema revision (storage.schema.HEAD), with
every column and index storage/models/ defines and its clocks stamped under the settings asked: one built
before a migration (or a migration's later edit) lacks what it added, and is built again.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from sqlalchemy import create_engine, inspect, make_url, select, text

from storage.db import make_engine
from storage.models import AppSecret, Conversation, Message, SlaClock, Survey
from storage.schema import current, head
from storage.service_levels import KIND_TARGETS, STAMP, Deadlines, policies
from storage.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 90
CHANNELS = np.array(["facebook", "twitter", "instagram", "viber"])
MIX = (0.60, 0.25, 0.10, 0.05)
AGENTS = np.array([f"U{n:03d}" for n in range(40)])
CHUNK = 100_000
TABLES = (Conversation, Message, SlaClock, Survey)
_CONV_COLUMNS = (
    "id", "source", "external_id", "channel", "customer", "opened_at", "first_inbound_at",
    "first_response_at", "first_responder", "frt_seconds", "last_message_at", "status", "resolved",
    "first_resolved_at", "last_resolved_at", "first_resolution_seconds", "full_resolution_seconds",
    "reopen_count", "agent", "team", "transfer_count", "handle_seconds",
)  # fmt: skip
_MESSAGE_COLUMNS = (
    "conversation_id", "raw_event_id", "channel", "at", "direction", "author_kind", "author_id",
    "private", "text", "handle_seconds",
)  # fmt: skip
_SURVEY_COLUMNS = ("raw_event_id", "conversation_id", "channel", "kind", "score", "at")
_CLOCK_COLUMNS = (
    "conversation_id", "channel", "kind", "start_at", "end_at", "seconds", "agent", "deadline", "late",
)  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REOPEN_AFTER = 12 * 3600.0  # a reopened conversation's second resolution clock starts this long after


def bench_database(server_url: str, name: str, *, fresh: bool = True) -> str:
    """The URL of database `name` on the PostgreSQL server of `server_url`, created if missing (dropped
    and created empty again with `fresh`). Only names starting "kpibot_bench_" are touched."""
    if not name.startswith("kpibot_bench_"):
        raise ValueError(f"refusing to create or drop {name!r}: bench databases are kpibot_bench_*")
    url = make_url(server_url)
    # A database cannot drop itself: administer from the server's maintenance database then.
    admin_url = url.set(database="postgres") if url.database == name else url
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists and fresh:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            if fresh or not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def is_complete(url: str, conversations: int, settings: Settings | None = None) -> bool:
    """Whether the database at `url` holds a finished build of `conversations` conversations, at this
    kpibot's schema revision, with every column and index of storage/models/ (an older build lacks what
    later migrations, or later edits of one, added) and its clocks stamped under `settings` (default:
    `Settings`)."""
    engine = create_engine(url)
    try:
        names = {index.name for model in TABLES for index in model.__table__.indexes}
        with engine.connect() as conn:
            if not inspect(conn).has_table("conversation") or current(conn) != head():
                return False
            schema = inspect(conn)
            found = {i["name"] for model in TABLES for i in schema.get_indexes(model.__tablename__)}
            for model in TABLES:
                held_columns = {column["name"] for column in schema.get_columns(model.__tablename__)}
                if not set(model.__table__.columns.keys()) <= held_columns:
                    return False
            # stamped (not an unfinished build) under the policies asked
            stamped = conn.execute(
                select(AppSecret.__table__.c.value).where(AppSecret.__table__.c.name == STAMP)
            ).scalar()
            deadlines = Deadlines.load(conn, settings or Settings(database_url=url))
            if stamped is None or json.loads(stamped) != deadlines.fingerprints():
                return False
            held = conn.execute(text("SELECT count(*) FROM conversation")).scalar_one()
        return held == conversations and names <= found
    finally:
        engine.dispose()


def build(url: str, conversations: int, seed: int = 1, settings: Settings | None = None) -> None:
    """Creates the schema in the empty database at `url` and fills it with `conversations` synthetic
    conversations (SQLite or PostgreSQL), their service-level clocks stamped under `settings` (default:
    `Settings`, as the bot would read them)."""
    deadlines = Deadlines(policies(None, settings or Settings(database_url=url)))
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    indexes = [index for model in TABLES for index in model.__table__.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    engine.dispose()
    db = _connect_for_load(url, postgres)
    _write(
        db,
        "raw_event",
        ("id", "source", "external_id", "type", "event_at", "received_at", "body"),
        [(1, "bench", "bench", "message", "2026-01-01 00:00:00.000000", "2026-01-01 00:00:00.000000", "{}")],
    )
    rng = np.random.default_rng(seed)
    opened = np.sort(_opening_times(rng, conversations))
    for first in range(0, conversations, CHUNK):
        _insert_chunk(db, rng, first, opened[first : first + CHUNK], deadlines)
        db.commit()
    db.close()
    engine = create_engine(url)
    with engine.begin() as conn:
        deadlines.record(conn)  # the clocks are stamped: nothing is to stamp them again at first use
        if postgres:  # a bulk load's usual setting: sort each index in memory, not in temp files
            conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        for index in indexes:
            index.create(conn)
        if postgres:  # ids were given explicitly; later inserts must not collide with them
            for table in ("raw_event", "conversation"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def _connect_for_load(url: str, postgres: bool):
    """A DBAPI connection set for a one-off bulk load (no fsync on SQLite, no FK triggers on PostgreSQL)."""
    if postgres:
        db = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
        # The generated rows are consistent by construction; checking each foreign key row by row made
        # the whole build 1.7 times slower (100,000 conversations: 12.7 s against 7.6 s). Like
        # pg_restore --disable-triggers, this needs a superuser.
        db.execute("SET session_replication_role = replica")
        return db
    db = sqlite3.connect(make_url(url).database)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA cache_size=-400000")
    return db


def _write(db, table: str, columns: tuple[str, ...], rows) -> None:
    """Appends `rows` (tuples in the SQLite storage form, which PostgreSQL's COPY text format accepts)."""
    if isinstance(db, sqlite3.Connection):
        db.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
        )
        return
    with db.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _opening_times(rng, n: int) -> np.ndarray:
    end = NOW.timestamp()
    day = rng.integers(0, DAYS, n)
    hour_weights = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 9, 9, 9, 9, 9, 10, 8, 6, 4, 2, 1.0])
    hour = rng.choice(24, n, p=hour_weights / hour_weights.sum())
    seconds = end - DAYS * 86400 + day * 86400.0 + hour * 3600.0 + rng.integers(0, 3600, n)
    return np.minimum(seconds, end - 1)


def _times(values: np.ndarray) -> list[str | None]:
    """Epoch seconds as the stored text form of `UTCDateTime` ("YYYY-MM-DD HH:MM:SS.ffffff"); NaN -> None."""
    stamps = np.datetime_as_string(np.nan_to_num(values).astype(np.int64).astype("datetime64[s]"), unit="us")
    return [
        None if v != v else s.replace("T", " ") for s, v in zip(stamps.tolist(), values.tolist(), strict=True)
    ]


def _insert_chunk(db, rng, first: int, opened: np.ndarray, deadlines: Deadlines) -> None:
    n, now = len(opened), NOW.timestamp()
    ids = np.arange(first + 1, first + n + 1)
    channel = CHANNELS[rng.choice(4, n, p=MIX)]
    agent = AGENTS[rng.integers(0, len(AGENTS), n)]
    exchanges = rng.choice([1, 2, 3, 4], n, p=[0.15, 0.3, 0.3, 0.25])
    frt = np.exp(rng.normal(np.log(2400), 1.3, n)).round()
    frt[rng.random(n) < 0.07] = np.nan  # never answered
    inbound_at, outbound_at = [opened], [opened + frt]
    for step in range(1, 4):
        next_in = outbound_at[-1] + rng.exponential(1800, n).round()
        next_in[exchanges <= step] = np.nan
        inbound_at.append(next_in)
        outbound_at.append(next_in + np.exp(rng.normal(np.log(900), 1.2, n)).round())
    inbound_at = [np.where(t <= now, t, np.nan) for t in inbound_at]
    outbound_at = [
        np.where((o <= now) & (i == i), o, np.nan) for i, o in zip(inbound_at, outbound_at, strict=True)
    ]
    first_response = outbound_at[0]
    last_message = np.fmax.reduce([*inbound_at, *outbound_at])
    last_is_reply = np.isclose(last_message, np.fmax.reduce(outbound_at))
    resolve_at = last_message + rng.exponential(3 * 3600, n).round()
    is_resolved = last_is_reply & (rng.random(n) < 0.92) & (resolve_at <= now)
    first_resolved = np.where(is_resolved, resolve_at, np.nan)
    reopened = is_resolved & (rng.random(n) < 0.06)
    again = first_resolved + 86400.0
    last_resolved = np.where(reopened & (again <= now), again, first_resolved)
    still_resolved = is_resolved & ~(reopened & (again > now))
    handle = np.where(rng.random(n) < 0.33, np.exp(rng.normal(np.log(240), 0.6, n)).round(), np.nan)
    replies = np.sum([o == o for o in outbound_at], axis=0)
    handle = np.where(replies > 0, handle, np.nan)
    rows = zip(
        ids.tolist(),
        ["bench"] * n,
        [f"c{i}" for i in ids.tolist()],
        channel.tolist(),
        [f"@u{i % 50000}" for i in ids.tolist()],
        _times(opened),
        _times(opened),
        _times(first_response),
        np.where(first_response == first_response, agent, None).tolist(),
        _floats(np.where(first_response == first_response, frt, np.nan)),
        _times(last_message),
        np.where(still_resolved, "resolved", "open").tolist(),
        still_resolved.astype(int).tolist(),
        _times(first_resolved),
        _times(last_resolved),
        _floats(first_resolved - opened),
        _floats(last_resolved - opened),
        reopened.astype(int).tolist(),
        agent.tolist(),
        ["support"] * n,
        (rng.random(n) < 0.03).astype(int).tolist(),
        _floats(handle),
        strict=True,
    )
    _write(db, "conversation", _CONV_COLUMNS, rows)
    _insert_messages(
        db, ids, channel, agent, inbound_at, outbound_at, handle / np.maximum(replies, 1), deadlines
    )
    reopened_at = first_resolved + np.minimum(REOPEN_AFTER, (now - first_resolved) / 2)
    _insert_resolution_clocks(
        db, ids, channel, opened, first_resolved, reopened, reopened_at, again, now, deadlines
    )
    _insert_surveys(db, rng, ids, channel, np.where(still_resolved, last_resolved, np.nan))


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


def _insert_messages(db, ids, channel, agent, inbound_at, outbound_at, handle_each, deadlines) -> None:
    conv, chan, who = ids.tolist(), channel.tolist(), agent.tolist()
    handle = _floats(handle_each)
    for step, (inbound, outbound) in enumerate(zip(inbound_at, outbound_at, strict=True)):
        in_text, out_text = _times(inbound), _times(outbound)
        _write(
            db,
            "message",
            _MESSAGE_COLUMNS,
            (
                (c, 1, ch, t, "inbound", "customer", f"@u{c % 50000}", 0, "where is my parcel?", None)
                for c, ch, t in zip(conv, chan, in_text, strict=True)
                if t is not None
            ),
        )
        _write(
            db,
            "message",
            _MESSAGE_COLUMNS,
            (
                (c, 1, ch, t, "outbound", "agent", a, 0, "sorry, checking now", h)
                for c, ch, t, a, h in zip(conv, chan, out_text, who, handle, strict=True)
                if t is not None
            ),
        )
        seconds = _floats(outbound - inbound)
        # a conversation's first wait is its "first" clock, the later ones "next" (no wait here is left
        # unanswered by a resolution: a conversation is resolved only after a reply)
        kind = "first" if step == 0 else "next"
        due, late = _stamps(deadlines, kind, channel, inbound, outbound)
        waits = [
            (c, ch, s, e, w, a if e is not None else None, d, lt)
            for c, ch, s, e, w, a, d, lt in zip(
                conv, chan, in_text, out_text, seconds, who, due, late, strict=True
            )
            if s is not None
        ]
        _write(db, "sla_clock", _CLOCK_COLUMNS, ((c, ch, kind, *rest) for c, ch, *rest in waits))


def _insert_resolution_clocks(
    db, ids, channel, opened, resolved, reopened, reopened_at, again, now, deadlines
) -> None:
    """Each conversation's resolution clock from opening to its first resolution (running if none), and a
    reopened one's second, from its reopening to the last resolution (running if that is after NOW)."""
    conv, chan = ids.tolist(), channel.tolist()
    due, late = _stamps(deadlines, "resolution", channel, opened, resolved)
    _write(
        db,
        "sla_clock",
        _CLOCK_COLUMNS,
        (
            (c, ch, "resolution", s, e, w, None, d, lt)
            for c, ch, s, e, w, d, lt in zip(
                conv, chan, _times(opened), _times(resolved), _floats(resolved - opened), due, late,
                strict=True,
            )
        ),
    )  # fmt: skip
    last = np.where(again <= now, again, np.nan)
    due, late = _stamps(deadlines, "resolution", channel, reopened_at, last)
    _write(
        db,
        "sla_clock",
        (*_CLOCK_COLUMNS, "reopened_from", "reopen_gap"),
        (
            (c, ch, "resolution", s, e, w, None, d, lt, f, g)
            for c, ch, s, e, w, d, lt, f, g, r in zip(
                conv,
                chan,
                _times(reopened_at),
                _times(last),
                _floats(last - reopened_at),
                due,
                late,
                _times(resolved),
                _floats(reopened_at - resolved),
                reopened.tolist(),
                strict=True,
            )
            if r
        ),
    )


def _stamps(
    deadlines: Deadlines, kind: str, channel: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[list[str | None], list[float | None]]:
    """The (deadline, late) of clocks of `kind` from `start` to `end` (epoch seconds, NaN: none; end NaN:
    running) as `Deadlines.stamp` gives them for the times stored (`_times` keeps whole seconds):
    deadline as stored text (None without a target), late in seconds (None if in time or running).
    Calendar targets are numpy arithmetic in whole microseconds, as datetime + timedelta; a target
    counted in business hours asks `stamp` clock by clock."""
    n = len(start)
    start_us = np.nan_to_num(start).astype(np.int64) * 1_000_000
    end_us = np.nan_to_num(end).astype(np.int64) * 1_000_000
    due_us = np.zeros(n, dtype=np.int64)
    has_due = np.zeros(n, dtype=bool)
    business = deadlines.known.settings.business_hours is not None
    for name in np.unique(channel).tolist():
        rows = (channel == name) & (start == start)
        policy = deadlines.policy(name)
        target = policy.target(KIND_TARGETS[kind])
        if target is None or not rows.any():
            continue
        has_due |= rows
        if not (policy.business_hours and business):
            # timedelta(seconds=target) rounds to the microsecond, half to even, as np.round does
            due_us[rows] = start_us[rows] + np.int64(np.round(target * 1_000_000))
            continue
        for i in np.flatnonzero(rows).tolist():
            begun = EPOCH + timedelta(microseconds=int(start_us[i]))
            due_us[i] = (deadlines.stamp(kind, name, begun, None)[0] - EPOCH) // timedelta(microseconds=1)
    ended = end == end
    over = has_due & ended & (end_us > due_us)
    late = np.where(over, (end_us - due_us) / 1_000_000, np.nan)
    text_due = np.datetime_as_string(due_us.astype("datetime64[us]"), unit="us").tolist()
    due = [t.replace("T", " ") if h else None for t, h in zip(text_due, has_due.tolist(), strict=True)]
    return due, _floats(late)


def _insert_surveys(db, rng, ids, channel, resolved_at) -> None:
    n = len(ids)
    for kind, share, scores, weights in (
        ("csat", 0.25, [1, 2, 3, 4, 5], [0.08, 0.07, 0.13, 0.32, 0.40]),
        ("nps", 0.10, list(range(11)), [0.04] * 7 + [0.1, 0.12] + [0.25, 0.25]),
    ):
        asked = (resolved_at == resolved_at) & (rng.random(n) < share)
        at = np.where(resolved_at + 3600 <= NOW.timestamp(), resolved_at + 3600, np.nan)
        score = rng.choice(scores, n, p=np.array(weights) / sum(weights))
        _write(
            db,
            "survey",
            _SURVEY_COLUMNS,
            (
                (1, c, ch, kind, float(s), t)
                for c, ch, s, t, a in zip(
                    ids.tolist(), channel.tolist(), score.tolist(), _times(at), asked, strict=True
                )
                if a and t is not None
            ),
        )
