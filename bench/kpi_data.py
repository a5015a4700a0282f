"""A large synthetic kpibot database for the KPI benchmark, written straight into the projection tables.

Bypasses ingestion (that has its own benchmark, bench/ingest.py): conversations, messages, waits and
surveys are generated with numpy and bulk-inserted with sqlite3 executemany, indexes dropped during
the load and rebuilt afterwards exactly as storage/models.py defines them.

Shape: conversations opened over 90 days before NOW (busier by day), channel mix facebook 60 %,
twitter 25 %, instagram 10 %, viber 5 %; about 93 % answered with a lognormal first response
(median 40 min); 1-4 customer/agent exchanges (about 5 messages each); about 85 % resolved, some
reopened; handle seconds on a third; CSAT on a quarter and NPS on a tenth of resolved ones.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import create_engine

from storage.db import make_engine
from storage.models import Conversation, Message, Survey, Wait

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 90
CHANNELS = np.array(["facebook", "twitter", "instagram", "viber"])
MIX = (0.60, 0.25, 0.10, 0.05)
AGENTS = np.array([f"U{n:03d}" for n in range(40)])
CHUNK = 100_000
TABLES = (Conversation, Message, Wait, Survey)
_CONV_COLUMNS = (
    "id, source, external_id, channel, customer, opened_at, first_inbound_at, first_response_at, "
    "first_responder, frt_seconds, last_message_at, status, resolved, first_resolved_at, last_resolved_at, "
    "first_resolution_seconds, full_resolution_seconds, reopen_count, agent, team, transfer_count, "
    "handle_seconds"
)


def build(path: str, conversations: int, seed: int = 1) -> None:
    """Creates the schema at `path` and fills it with `conversations` synthetic conversations."""
    engine = make_engine(f"sqlite:///{path}")
    indexes = [index for model in TABLES for index in model.__table__.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA cache_size=-400000")
    db.execute(
        "INSERT INTO raw_event (id, source, external_id, type, event_at, received_at, body) "
        "VALUES (1, 'bench', 'bench', 'message', '2026-01-01 00:00:00.000000', "
        "'2026-01-01 00:00:00.000000', '{}')"
    )
    rng = np.random.default_rng(seed)
    opened = np.sort(_opening_times(rng, conversations))
    for first in range(0, conversations, CHUNK):
        _insert_chunk(db, rng, first, opened[first : first + CHUNK])
        db.commit()
    db.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    engine.dispose()


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


def _insert_chunk(db: sqlite3.Connection, rng, first: int, opened: np.ndarray) -> None:
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
    db.executemany(f"INSERT INTO conversation ({_CONV_COLUMNS}) VALUES ({', '.join('?' * 22)})", rows)
    _insert_messages(db, ids, channel, agent, inbound_at, outbound_at, handle / np.maximum(replies, 1))
    _insert_surveys(db, rng, ids, channel, np.where(still_resolved, last_resolved, np.nan))


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


def _insert_messages(db, ids, channel, agent, inbound_at, outbound_at, handle_each) -> None:
    message_sql = (
        "INSERT INTO message (conversation_id, raw_event_id, channel, at, direction, author_kind, author_id, "
        "private, text, handle_seconds) VALUES (?, 1, ?, ?, ?, ?, ?, 0, ?, ?)"
    )
    wait_sql = (
        "INSERT INTO wait (conversation_id, channel, start_at, end_at, seconds, agent) VALUES (?,?,?,?,?,?)"
    )
    conv, chan, who = ids.tolist(), channel.tolist(), agent.tolist()
    handle = _floats(handle_each)
    for inbound, outbound in zip(inbound_at, outbound_at, strict=True):
        in_text, out_text = _times(inbound), _times(outbound)
        db.executemany(
            message_sql,
            (
                (c, ch, t, "inbound", "customer", f"@u{c % 50000}", "where is my parcel?", None)
                for c, ch, t in zip(conv, chan, in_text, strict=True)
                if t is not None
            ),
        )
        db.executemany(
            message_sql,
            (
                (c, ch, t, "outbound", "agent", a, "sorry, checking now", h)
                for c, ch, t, a, h in zip(conv, chan, out_text, who, handle, strict=True)
                if t is not None
            ),
        )
        seconds = _floats(outbound - inbound)
        db.executemany(
            wait_sql,
            (
                (c, ch, s, e, w, a if e is not None else None)
                for c, ch, s, e, w, a in zip(conv, chan, in_text, out_text, seconds, who, strict=True)
                if s is not None
            ),
        )


def _insert_surveys(db, rng, ids, channel, resolved_at) -> None:
    n = len(ids)
    sql = (
        "INSERT INTO survey (raw_event_id, conversation_id, channel, kind, score, at) "
        "VALUES (1, ?, ?, ?, ?, ?)"
    )
    for kind, share, scores, weights in (
        ("csat", 0.25, [1, 2, 3, 4, 5], [0.08, 0.07, 0.13, 0.32, 0.40]),
        ("nps", 0.10, list(range(11)), [0.04] * 7 + [0.1, 0.12] + [0.25, 0.25]),
    ):
        asked = (resolved_at == resolved_at) & (rng.random(n) < share)
        at = np.where(resolved_at + 3600 <= NOW.timestamp(), resolved_at + 3600, np.nan)
        score = rng.choice(scores, n, p=np.array(weights) / sum(weights))
        db.executemany(
            sql,
            (
                (c, ch, kind, float(s), t)
                for c, ch, s, t, a in zip(
                    ids.tolist(), channel.tolist(), score.tolist(), _times(at), asked, strict=True
                )
                if a and t is not None
            ),
        )
