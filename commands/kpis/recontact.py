"""Customers coming back (docs/metrics.md): `reopens` (conversations reopened after a resolution, and
those that stayed resolved) and `repeat` (customers who opened another conversation within 72 hours).

Event time: a reopening counts when it happened; a resolution when it happened, and it "stayed
resolved" unless a reopening undid it within 7 days (only reopenings before `query.now` count, so a
resolution of yesterday has stayed resolved so far). A repeat contact counts in the period of the first
conversation; the second may open after the period's end, up to 72 hours later and before `now`.

Customers are their pseudonymised handle per channel; a handle that `customer` events name (the CRM
knows that customer) is one customer on every channel, so their contacts on two channels are a repeat
and a channel hop ("twitter>whatsapp").
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import exists, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from commands.stats import ratio
from storage import kpi_cache
from storage.db import raw_rows
from storage.kpi_cache.measures import OWNER
from storage.models import Conversation, CustomerChange

C = Conversation.__table__.c
CC = CustomerChange.__table__.c
REPEAT_WINDOW = timedelta(hours=72)


def reopens(conn: Connection, query: Query) -> dict[str, Any]:
    """Conversations resolved in the period, those reopened in it (by the reopening), the reopen rate
    (reopened ÷ resolved) and the share of the resolved that stayed resolved (no reopening within 7 days
    of a resolution in the period)."""
    scope = query.until_now().scope()
    resolved = kpi_cache.distinct(conn, "resolutions", scope)
    reopened = kpi_cache.distinct(conn, "reopenings", scope)
    undone = kpi_cache.distinct(conn, "reopened_soon", scope)
    return {
        "rate": ratio(reopened, resolved),
        "resolved": resolved,
        "reopened": reopened,
        "stayed_resolved": ratio(resolved - undone, resolved),
    }


def repeat(conn: Connection, query: Query) -> dict[str, Any]:
    """Customers who opened a conversation in the period, those who opened another within 72 hours after
    one of them (any channel for a customer `customer` events name, else on the same channel), the rate,
    and the channel hops of those repeats (first channel > next channel)."""
    q = query.until_now()
    horizon = min(q.end + REPEAT_WINDOW, q.now)
    known = exists().where(CC.customer == C.customer)
    found = raw_rows(
        conn,
        select(C.customer, C.channel, C.opened_at, OWNER, known).where(
            C.opened_at >= q.start, C.opened_at < horizon, C.customer.is_not(None)
        ),
    )
    if not found:
        return {"rate": None, "customers": 0, "repeat_customers": 0, "hops": {}}
    customer, channel, opened, owner, linked = (list(column) for column in zip(*found, strict=True))
    # one key per customer: the handle alone when customer events name it, else the handle on its channel
    keys = [
        who if tied else f"{who}\x00{where}"
        for who, where, tied in zip(customer, channel, linked, strict=True)
    ]
    key = np.unique(np.asarray(keys, dtype=object), return_inverse=True)[1]
    at = _microseconds(opened)
    order = np.lexsort((at, key))  # by customer, then by opening
    key, at = key[order], at[order]
    channels = np.asarray(channel, dtype=object)[order]
    in_scope = at < _microseconds([q.end])[0]
    if q.channels:
        in_scope &= np.isin(channels, list(q.channels))
    if q.agent is not None:
        in_scope &= np.asarray(owner, dtype=object)[order] == q.agent
    # followed: the customer's next conversation opened within the window after this one
    followed = np.zeros(len(key), dtype=bool)
    same = key[1:] == key[:-1]
    followed[:-1] = same & (at[1:] - at[:-1] <= int(REPEAT_WINDOW.total_seconds() * 1_000_000))
    counted = np.unique(key[in_scope])
    repeating = np.flatnonzero(in_scope & followed)
    # each repeat customer's first repeating conversation (rows are in opening order within a customer)
    firsts = repeating[np.unique(key[repeating], return_index=True)[1]]
    hops = Counter(
        f"{channels[i]}>{channels[i + 1]}" for i in firsts.tolist() if channels[i] != channels[i + 1]
    )
    return {
        "rate": ratio(len(firsts), len(counted)),
        "customers": len(counted),
        "repeat_customers": len(firsts),
        "hops": dict(sorted(hops.items(), key=lambda item: (-item[1], item[0]))),
    }


def _microseconds(times: list) -> np.ndarray:
    """Times as int64 microseconds since the epoch: SQLite's raw text ("2026-11-20 09:00:00.000000") or
    datetimes (PostgreSQL, or a question's bounds)."""
    if times and isinstance(times[0], str):
        return np.asarray(times, dtype="datetime64[us]").astype(np.int64)
    return np.asarray([round(moment.timestamp() * 1_000_000) for moment in times], dtype=np.int64)


SPECS = (
    KpiSpec(
        "reopens",
        "Reopen rate",
        reopens,
        {"rate": FRACTION, "resolved": COUNT, "reopened": COUNT, "stayed_resolved": FRACTION},
        "rate",
        "lower",
        "no conversations resolved in this period",
        ("channel", "day", "agent", "team", "topic", "hour", "weekday"),
        synonyms=("reopen", "reopened", "reopen-rate"),
        labels={"rate": "Reopen rate", "stayed_resolved": "Stayed resolved (7 days)"},
    ),
    KpiSpec(
        "repeat",
        "Repeat contacts",
        repeat,
        {
            "rate": FRACTION,
            "customers": COUNT,
            "repeat_customers": COUNT,
            "hops": rows(count=COUNT),
        },
        "rate",
        "lower",
        "no customers opened a conversation in this period",
        ("channel", "day", "agent"),
        synonyms=("repeats", "repeat-contacts", "recontact"),
        labels={"rate": "Repeat-contact rate (72 h)", "hops": "Channel hops"},
    ),
)
