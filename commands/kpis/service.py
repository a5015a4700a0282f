"""The `sla` KPI (docs/metrics.md, "Service levels"): per target of the channels' policies, the clocks
that met it, breached it, the hit rate and those still pending, and the worst breaches.

Event time: a met target counts when it was met (the clock's end), a breach at its deadline (start +
target), whether or not the clock ended later, so a closed period never changes after the fact. Each
channel counts against its own policy (storage.service_levels): channels sharing a target are read
together. In calendar time the counts come from the KPI cache — met: clocks ended in the period within
the target; breached: clocks whose deadline falls in the period (so started one target earlier) less
those of them that ended in time. In business hours a deadline is no fixed shift, so the clocks that may
have one in the period are read from the tables and each deadline computed (`BusinessClock.deadline`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from commands.business_hours import BusinessClock
from commands.format import COUNT, FRACTION, SECONDS, TEXT
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache.measures import OWNER
from storage.models import Conversation, SlaClock
from storage.service_levels import TARGET_KEYS, TARGET_NAMES, TARGETS, policies

C = Conversation.__table__.c
K = SlaClock.__table__.c
CLOCK = {"first": "first", "next": "next", "resolve": "resolution"}  # target -> sla_clock.kind
LISTED = 10
# How far before a period a business-hours clock may start and still have its deadline in it, beyond the
# target itself: closed weekends and holidays.
_BH_REACH = timedelta(days=62)


def sla(conn: Connection, query: Query) -> dict[str, Any]:
    """Met, breached, hit rate and pending per target (absent when no channel asked has it), the
    first-response hit rate as the headline, and the worst breaches of the period."""
    q = query.until_now()
    known = policies(conn, q.settings)
    values: dict[str, Any] = {"hit_rate": None}
    late: list[dict[str, Any]] = []
    for name in TARGETS:
        groups = known.groups(name, q.channels)
        if not groups:
            continue
        counts = {"met": 0, "breached": 0, "pending": 0}
        for (seconds, business), channels in groups.items():
            group = replace(q, channels=channels)
            clock = _clock(q) if business else None
            found = (
                _business(conn, group, name, seconds, clock)
                if clock
                else _calendar(conn, group, name, seconds)
            )
            for key in counts:
                counts[key] += found[key]
            late += _worst(conn, group, name, seconds, clock)
        judged = counts["met"] + counts["breached"]
        targets = {seconds for seconds, _ in groups}
        values[TARGET_KEYS[name]] = {
            **counts,
            "hit_rate": counts["met"] / judged if judged else None,
            "target": targets.pop() if len(targets) == 1 else None,
        }
    first = values.get("first_response")
    values["hit_rate"] = first["hit_rate"] if first else None
    late.sort(key=lambda row: (-row["late"], row["conversation_id"]))
    values["breaches"] = late[:LISTED]
    return values


def _calendar(conn: Connection, q: Query, name: str, target: float) -> dict[str, int]:
    """The counts of one target over channels sharing it, in calendar time, from the KPI cache."""
    kind, shift = CLOCK[name], timedelta(seconds=target)
    met = kpi_cache.sample(conn, f"sla_{kind}_ended", q.scope()).at_most(target)
    due = q.with_range(q.start - shift, q.end - shift).scope()  # deadlines in the period
    breached = kpi_cache.count(conn, f"sla_{kind}_started", due)
    breached -= kpi_cache.sample(conn, f"sla_{kind}_started_ended", due).at_most(target)
    # pending: running at the period's end (or now) with the deadline still ahead
    end = q.end
    ahead = replace(q, start=end - shift, end=end, now=end).scope()
    pending = kpi_cache.count(conn, f"sla_{kind}_started", ahead)
    pending -= kpi_cache.count(conn, f"sla_{kind}_started_ended", ahead)
    return {"met": met, "breached": breached, "pending": pending}


def _business(conn: Connection, q: Query, name: str, target: float, clock: BusinessClock) -> dict[str, int]:
    """The counts of one target counted in business hours: met from the cache's business-hours reading of
    the ended clocks; breaches and pending from each candidate clock's own deadline."""
    kind = CLOCK[name]
    met = kpi_cache.sample(conn, f"sla_{kind}_ended", replace(q, clock=clock).scope()).at_most(target)
    breached = pending = 0
    for start, end in _clocks(conn, q, kind, q.start - timedelta(seconds=target) - _BH_REACH, q.end):
        deadline = clock.deadline(start, target)
        ended = end if end is not None and end < q.end else None  # known by the period's end
        if q.start <= deadline < q.end and (ended is None or ended > deadline):
            breached += 1
        elif deadline >= q.end and start < q.end and ended is None:
            pending += 1
    return {"met": met, "breached": breached, "pending": pending}


def _clocks(conn: Connection, q: Query, kind: str, since: datetime, until: datetime) -> list:
    statement = select(K.start_at, K.end_at).where(
        K.kind == kind, K.start_at >= since, K.start_at < until, q.in_channels(K.channel)
    )
    if q.agent is not None:
        statement = statement.join(Conversation.__table__, K.conversation_id == C.id).where(q.agent == OWNER)
    return conn.execute(statement).all()


def _worst(
    conn: Connection, q: Query, name: str, target: float, clock: BusinessClock | None
) -> list[dict[str, Any]]:
    """The breaches of the period furthest past their deadline (up to LISTED): open clocks by their start,
    ended ones by their length, then each one's lateness computed."""
    kind, shift = CLOCK[name], timedelta(seconds=target)
    since = q.start - shift - (_BH_REACH if clock else timedelta(0))
    base = (K.kind == kind, K.start_at >= since, K.start_at < q.end - (timedelta(0) if clock else shift))
    base += (q.in_channels(K.channel),)
    columns = select(K.start_at, K.end_at, K.channel, C.external_id, C.link, OWNER.label("agent")).join_from(
        SlaClock.__table__, Conversation.__table__, K.conversation_id == C.id
    )
    if q.agent is not None:
        columns = columns.where(q.agent == OWNER)
    running = or_(K.end_at.is_(None), K.end_at >= q.end)
    candidates = conn.execute(columns.where(*base, running).order_by(K.start_at).limit(LISTED * 4)).all()
    if clock is None:
        ended = and_(K.end_at < q.end, K.seconds > target)
        candidates += conn.execute(columns.where(*base, ended).order_by(K.seconds.desc()).limit(LISTED)).all()
    else:
        candidates += conn.execute(columns.where(*base, K.end_at < q.end)).all()
    found = []
    for row in candidates:
        deadline = clock.deadline(row.start_at, target) if clock else row.start_at + shift
        finished = row.end_at if row.end_at is not None and row.end_at < q.end else None
        if not q.start <= deadline < q.end or (finished is not None and finished <= deadline):
            continue
        found.append(
            {
                "conversation_id": row.external_id,
                "channel": row.channel,
                "target": TARGET_NAMES[name],
                "late": ((finished or q.end) - deadline).total_seconds(),
                "age": ((finished or q.end) - row.start_at).total_seconds(),
                "status": "ended late" if finished is not None else "still open",
                "agent": row.agent,
                "link": row.link,
            }
        )
    found.sort(key=lambda row: -row["late"])
    return found[:LISTED]


def _clock(q: Query) -> BusinessClock | None:
    return q.clock or BusinessClock.from_settings(q.settings)


_TARGET = rows(met=COUNT, breached=COUNT, hit_rate=FRACTION, pending=COUNT, target=SECONDS)

SPECS = (
    KpiSpec(
        "sla",
        "Service levels",
        sla,
        {
            "hit_rate": FRACTION,
            "first_response": _TARGET,
            "next_response": _TARGET,
            "resolution": _TARGET,
            "breaches": rows(
                conversation_id=TEXT,
                channel=TEXT,
                target=TEXT,
                late=SECONDS,
                age=SECONDS,
                status=TEXT,
                agent=TEXT,
                link=TEXT,
            ),
        },
        "hit_rate",
        "higher",
        "no service-level clocks met or breached",
        ("channel", "day", "agent"),
        synonyms=("slas", "service-levels", "service-level"),
        labels={"hit_rate": "First-response hit rate", "late": "Past deadline"},
    ),
)
