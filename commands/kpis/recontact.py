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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from commands.stats import ratio
from storage import kpi_cache
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
    rows = conn.execute(
        select(C.customer, C.channel, C.opened_at, OWNER, known)
        .where(C.opened_at >= q.start, C.opened_at < horizon, C.customer.is_not(None))
        .order_by(C.opened_at, C.id)
    ).all()
    contacts: dict[tuple, list[tuple[datetime, str, bool]]] = {}
    counted: set[tuple] = set()  # customers with a conversation in the period and scope
    for customer, channel, opened_at, owner, linked in rows:
        key = (customer,) if linked else (customer, channel)
        in_scope = (
            opened_at < q.end
            and (not q.channels or channel in q.channels)
            and (q.agent is None or owner == q.agent)
        )
        contacts.setdefault(key, []).append((opened_at, channel, in_scope))
        if in_scope:
            counted.add(key)
    repeats, hops = 0, Counter()
    for key in counted:
        hop = _repeat(contacts[key])
        if hop is not None:
            repeats += 1
            if hop[0] != hop[1]:
                hops[f"{hop[0]}>{hop[1]}"] += 1
    return {
        "rate": ratio(repeats, len(counted)),
        "customers": len(counted),
        "repeat_customers": repeats,
        "hops": dict(sorted(hops.items(), key=lambda item: (-item[1], item[0]))),
    }


def _repeat(contacts: list[tuple[datetime, str, bool]]) -> tuple[str, str] | None:
    """(first channel, next channel) of the customer's first conversation in the period and scope that
    another conversation (any) followed within the window, or None when none did. In opening order."""
    for i, (opened_at, channel, in_scope) in enumerate(contacts):
        if in_scope and i + 1 < len(contacts) and contacts[i + 1][0] <= opened_at + REPEAT_WINDOW:
            return channel, contacts[i + 1][1]
    return None


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
