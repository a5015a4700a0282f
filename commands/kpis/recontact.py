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
from datetime import UTC, datetime, timedelta
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
from storage.kpi_cache import contacts
from storage.kpi_cache.measures import OWNER
from storage.kpi_cache.settled import hour_of, settled
from storage.models import Conversation, CustomerChange

C = Conversation.__table__.c
CC = CustomerChange.__table__.c
REPEAT_WINDOW = timedelta(hours=72)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    if not q.scope().cached():  # one agent's: read from the tables, with each conversation's owner
        return _matched(q, *_from_tables(conn, q, horizon))
    # every agent: who opened what when, from the KPI cache's "contacts" rows; a period over (the
    # previous one) is matched again only when its conversations or the customers events name changed
    stamp, named = contacts.known(conn)
    asked = ("repeat", q.start, q.end, horizon, q.channels, stamp)
    found = settled(conn, asked, q.start, horizon, q.now, lambda: _running(conn, q, horizon, stamp, named))
    return {**found, "hops": dict(found["hops"])}


def _running(
    conn: Connection, q: Query, horizon: datetime, stamp: tuple, named: np.ndarray
) -> dict[str, Any]:
    """`repeat` from the cache for a range reaching into `now`'s hour: its conversations up to that hour,
    in customer order, are kept while none of them changes (`settled`: sorting ~1M of them was most of a
    90-day answer), and those since are sorted and merged into them."""
    hour = hour_of(q.now)
    if hour <= q.start or horizon <= hour:  # nothing over yet, or all of it (kept whole by the caller)
        return _matched(q, *_cached(conn, q.start, horizon, q.now, named))
    asked = ("repeat contacts", q.start, hour, stamp)
    before = settled(
        conn,
        asked,
        q.start,
        hour,
        q.now,
        lambda: _in_order(*_cached(conn, q.start, hour, q.now, named)),
        size=lambda kept: sum(array.nbytes for array in kept[:3]),
    )
    since = _in_order(*_cached(conn, hour, horizon, q.now, named))
    return _counted(q, *_merged(before, since), None)


def _cached(conn: Connection, start: datetime, end: datetime, now: datetime, named: np.ndarray) -> tuple:
    """What `repeat` matches of the conversations opened in `[start, end)`, from the KPI cache (see
    `_from_tables`; no owners)."""
    found = contacts.opened(conn, start, end, now)
    key = np.where(np.isin(found.handle, named), found.handle, found.alone)
    return key, found.at, found.channel, found.channels, None


def _in_order(key, at, codes, names, _owner=None) -> tuple:
    """The conversations by customer, then by opening."""
    order = contacts.by_customer(key, at)
    return key[order], at[order], codes[order], names


def _merged(before: tuple, since: tuple) -> tuple:
    """Two sets of conversations in customer order, those of `since` all opened after those of `before`,
    as one in customer order (each customer's in opening order), their channel codes into one list."""
    names = sorted({*before[3], *since[3]})
    recoded = [
        np.array([names.index(name) for name in part[3]], dtype=np.int64)[part[2]]
        if len(part[3])
        else np.empty(0, np.int64)
        for part in (before, since)
    ]
    at_places = np.searchsorted(before[0], since[0], side="right")  # after the same customer's earlier ones
    key = np.insert(before[0], at_places, since[0])
    at = np.insert(before[1], at_places, since[1])
    codes = np.insert(recoded[0], at_places, recoded[1])
    return key, at, codes, names


def _matched(q: Query, key, at, codes, names, owner) -> dict[str, Any]:
    """`repeat`'s values from each conversation's customer key, opening time (µs), channel code and owner."""
    order = contacts.by_customer(key, at)  # by customer, then by opening
    return _counted(q, key[order], at[order], codes[order], names, None if owner is None else owner[order])


def _counted(q: Query, key, at, codes, names, owner) -> dict[str, Any]:
    """`repeat`'s values from the conversations in customer order, each customer's in opening order."""
    if not len(key):
        return {"rate": None, "customers": 0, "repeat_customers": 0, "hops": {}}
    in_scope = at < (q.end - EPOCH) // timedelta(microseconds=1)
    if q.channels:
        in_scope &= np.isin(codes, [names.index(c) for c in q.channels if c in names])
    if q.agent is not None:  # read from the tables, with each conversation's owner
        in_scope &= owner == q.agent
    # followed: the customer's next conversation opened within the window after this one
    followed = np.zeros(len(key), dtype=bool)
    same = key[1:] == key[:-1]
    followed[:-1] = same & (at[1:] - at[:-1] <= int(REPEAT_WINDOW.total_seconds() * 1_000_000))
    counted = _firsts(key[in_scope])  # the rows are in key order: a key's first row where it changes
    repeating = np.flatnonzero(in_scope & followed)
    # each repeat customer's first repeating conversation (rows are in opening order within a customer)
    firsts = repeating[_firsts(key[repeating])]
    hops = Counter(
        f"{names[codes[i]]}>{names[codes[i + 1]]}" for i in firsts.tolist() if codes[i] != codes[i + 1]
    )
    return {
        "rate": ratio(len(firsts), len(counted)),
        "customers": len(counted),
        "repeat_customers": len(firsts),
        "hops": dict(sorted(hops.items(), key=lambda item: (-item[1], item[0]))),
    }


def _firsts(keys: np.ndarray) -> np.ndarray:
    """Where each key first appears in `keys` (sorted): what np.unique(return_index=True) gives, without
    sorting again."""
    if not len(keys):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def _from_tables(conn: Connection, q: Query, horizon: datetime) -> tuple:
    """What `repeat` matches, read from the tables (one agent's question: each conversation's owner too):
    per conversation its customer key (a number), opening time, channel code, the channel names, owners."""
    known = exists().where(CC.customer == C.customer)
    found = raw_rows(
        conn,
        select(C.customer, C.channel, C.opened_at, OWNER, known).where(
            C.opened_at >= q.start, C.opened_at < horizon, C.customer.is_not(None)
        ),
    )
    columns = [list(column) for column in zip(*found, strict=True)] if found else [[] for _ in range(5)]
    customer, channel, opened, owner, linked = columns
    # one key per customer: the handle alone when customer events name it, else the handle on its channel
    named = zip(customer, channel, linked, strict=True)
    keys = [who if tied else f"{who}\x00{where}" for who, where, tied in named]
    key = np.unique(np.asarray(keys, dtype=object), return_inverse=True)[1] if keys else np.empty(0, np.int64)
    names = sorted(set(channel))
    codes = np.array([names.index(c) for c in channel], dtype=np.int64)
    return key, contacts.microseconds(opened), codes, names, np.asarray(owner, dtype=object)


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
