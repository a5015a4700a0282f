"""Volume and flow KPIs (docs/metrics.md): `volume`, `reply-rate`, `resolution-rate`, `transfers`,
`escalations`, `mix`.

Event-time rule: a conversation counts in the period it opened (volume, reply, resolution and escalation
rates, mix) or was resolved (transfers); a message in the period it was sent. Outcomes such as "got a
reply" or "is resolved" are read as of `query.now`, so a conversation opened in one period and answered
in the next counts as replied for the period it opened in. Nothing after `query.now` counts. `by agent`
credits a conversation to its owner: the assignee, else whoever answered it first; messages are credited
to their author (customer messages to their conversation's owner).

Per-day figures and rates are None when nothing was counted: an empty period never reads as 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION, PER_DAY, TEXT
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from commands.stats import ratio
from storage import kpi_cache


def volume(conn: Connection, query: Query) -> dict[str, Any]:
    """Conversations opened, customer messages received and human replies sent in the period, and
    conversations opened per day (None when there were none)."""
    q = query.until_now()
    conversations, received, sent = (kpi_cache.count(conn, key, q.scope()) for key in _VOLUME)
    per_day = conversations / q.days if conversations and q.days else None
    return {"conversations": conversations, "inbound": received, "outbound": sent, "per_day": per_day}


_VOLUME = ("opened", "inbound", "human_replies")


def reply_rate(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations opened in the period that a human had answered by `now`."""
    opened, replied = _counts(conn, query, "opened", "replied")
    return {"rate": ratio(replied, opened), "replied": replied, "opened": opened}


def resolution_rate(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations opened in the period that are resolved as of `now`."""
    opened, resolved = _counts(conn, query, "opened", "resolved_since")
    return {"rate": ratio(resolved, opened), "resolved": resolved, "opened": opened}


def transfers(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations resolved in the period (and not reopened since) that changed agent or team
    before resolution."""
    resolved, moved = _counts(conn, query, "resolved", "transferred")
    return {"rate": ratio(moved, resolved), "transferred": moved, "resolved": resolved}


def escalations(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations opened in the period that were moved to another support channel by `now`."""
    opened, escalated = _counts(conn, query, "opened", "escalated")
    return {"rate": ratio(escalated, opened), "escalated": escalated, "opened": opened}


def mix(conn: Connection, query: Query) -> dict[str, Any]:
    """Share (0-1) of the period's new conversations per channel, largest first, and the preferred
    (largest) channel; ties go to the channel named first alphabetically."""
    by_channel = kpi_cache.counts_by_channel(conn, "opened", query.until_now().scope())
    rows = sorted(by_channel.items(), key=lambda row: (-row[1], row[0]))
    total = sum(n for _, n in rows)
    return {"shares": {channel: n / total for channel, n in rows}, "preferred": rows[0][0] if rows else None}


def _counts(conn: Connection, query: Query, *keys: str) -> tuple[int, ...]:
    scope = query.until_now().scope()
    return tuple(kpi_cache.count(conn, key, scope) for key in keys)


OPENED = "no conversations opened in this period"
EVERY = ("channel", "day", "agent", "team", "topic", "hour", "weekday")
SPECS = (
    KpiSpec(
        "volume",
        "Volume",
        volume,
        {"conversations": COUNT, "inbound": COUNT, "outbound": COUNT, "per_day": PER_DAY},
        "per_day",
        None,
        OPENED,
        EVERY,
    ),
    KpiSpec(
        "reply-rate",
        "Reply rate",
        reply_rate,
        {"rate": FRACTION, "replied": COUNT, "opened": COUNT},
        "rate",
        "higher",
        OPENED,
        EVERY,
    ),
    KpiSpec(
        "resolution-rate",
        "Resolution rate",
        resolution_rate,
        {"rate": FRACTION, "resolved": COUNT, "opened": COUNT},
        "rate",
        "higher",
        OPENED,
        EVERY,
    ),
    KpiSpec(
        "transfers",
        "Transfer rate",
        transfers,
        {"rate": FRACTION, "transferred": COUNT, "resolved": COUNT},
        "rate",
        "lower",
        "no conversations resolved in this period",
        EVERY,
    ),
    KpiSpec(
        "escalations",
        "Escalation rate",
        escalations,
        {"rate": FRACTION, "escalated": COUNT, "opened": COUNT},
        "rate",
        "lower",
        OPENED,
        EVERY,
    ),
    KpiSpec(
        "mix",
        "Channel mix",
        mix,
        {"shares": rows(share=FRACTION), "preferred": TEXT},
        None,
        None,
        OPENED,
        ("day", "team", "topic", "hour", "weekday"),
    ),
)
