"""The `sla` KPI (docs/metrics.md, "sla"): per target of the channels' policies, the clocks that met it,
breached it, the hit rate and those still pending, and the worst breaches.

Event time: a met target counts when it was met (the clock's end), a breach at its deadline, whether or
not the clock ended later, so a closed period never changes after the fact. Every clock carries its
deadline under its channel's policy (storage.service_levels), so met and breached are two tallies of
the KPI cache (per clock kind) whatever the policies; pending (clocks running at the period's end with
the deadline ahead) and the breaches still running are read from the tables through the running clocks'
index, the breaches that ended late from the cache's ranking of the latest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION, SECONDS, TEXT
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache import labelled
from storage.kpi_cache.measures import OWNER
from storage.models import Conversation, SlaClock
from storage.service_levels import KIND_TARGETS, TARGET_KEYS, TARGET_NAMES, TARGETS, policies

C = Conversation.__table__.c
K = SlaClock.__table__.c
CLOCK = {target: kind for kind, target in KIND_TARGETS.items()}  # target -> sla_clock.kind
LISTED = 10
# How far after a period's end a deadline of a clock running then may fall, beyond the longest target:
# closed weekends and holidays of business-hours targets.
_BH_REACH = timedelta(days=62)


def sla(conn: Connection, query: Query) -> dict[str, Any]:
    """Met, breached, hit rate and pending per target (absent when no channel asked has it), the
    first-response hit rate as the headline, and the worst breaches of the period."""
    q = query.until_now()
    # the same for every row of a breakdown and the previous period: read once a question
    known = kpi_cache.remembered(("sla policies", id(q.settings)), lambda: policies(conn, q.settings))
    scope = q.scope()
    met_by_kind = kpi_cache.tally(conn, "sla_met", scope)
    breached_by_kind = kpi_cache.tally(conn, "sla_breached", scope)
    values: dict[str, Any] = {"hit_rate": None}
    asked = {name: groups for name in TARGETS if (groups := known.groups(name, q.channels))}
    every = [group for groups in asked.values() for group in groups]
    reach = timedelta(seconds=max((seconds for seconds, _ in every), default=0))
    if any(business for _, business in every):
        reach += _BH_REACH
    pending = _pending(conn, q, [CLOCK[name] for name in asked], reach) if asked else {}
    for name, groups in asked.items():
        kind = CLOCK[name]
        met, breached = met_by_kind.get(kind, 0), breached_by_kind.get(kind, 0)
        targets = {seconds for seconds, _ in groups}
        values[TARGET_KEYS[name]] = {
            "met": met,
            "breached": breached,
            "pending": pending.get(kind, 0),
            "hit_rate": met / (met + breached) if met + breached else None,
            "target": targets.pop() if len(targets) == 1 else None,
        }
    first = values.get("first_response")
    values["hit_rate"] = first["hit_rate"] if first else None
    values["breaches"] = _worst(conn, q, sum(breached_by_kind.values()))
    return values


def _pending(conn: Connection, q: Query, kinds: list[str], reach: timedelta) -> dict[str, int]:
    """Per clock kind of `kinds`, the clocks running at the period's end (or now) whose deadline is still
    ahead of it; `reach` bounds how far after the end such a deadline may fall (the longest target, and
    closed hours), so that only those deadlines are read. One statement for every kind."""
    end = q.end
    where = [K.kind.in_(kinds), K.deadline >= end, q.in_channels(K.channel)]
    if end >= q.now:  # now: the running clocks, from their own index
        where.append(K.end_at.is_(None))
    else:
        where += [K.deadline < end + reach, K.start_at < end, or_(K.end_at.is_(None), K.end_at >= end)]
    if (by := q.label) is not None:  # one read for every row of the breakdown
        asked = ("sla pending", by, tuple(kinds), q.start, q.end, q.now, q.channels, reach)
        pending = kpi_cache.remembered(asked, lambda: _pending_by_label(conn, by, where))
        return pending.get(q.labelled_as, {})
    counted = select(K.kind, func.count()).select_from(SlaClock.__table__)
    if narrowed := q.conversation_terms():  # an agent's, a team's or a topic's conversations
        counted = counted.join(Conversation.__table__, K.conversation_id == C.id)
        where += narrowed
    return dict(conn.execute(counted.where(*where).group_by(K.kind)).all())


def _pending_by_label(conn: Connection, by: str, where: list) -> dict[str, Counter]:
    """`_pending`'s counts per team or topic (`by`), from one read of the clocks labelled."""
    label = labelled.label_of(SlaClock.__table__, by)
    found: dict[str, Counter] = defaultdict(Counter)
    for kind, found_as, count in conn.execute(
        select(K.kind, label, func.count()).where(*where).group_by(K.kind, label)
    ):
        for name in labelled.names(by, found_as):
            found[name][kind] += count
    return found


def _worst(conn: Connection, q: Query, breached: int) -> list[dict[str, Any]]:
    """The breaches of the period furthest past their deadline: those still running at its end (the
    earliest deadlines), and those that ended latest past theirs (the cache's `sla_late` ranking).
    `breached`: how many clocks of the period breached (every running one among them: none, nothing to
    look for; a topic without any would have every running clock of the period read for it)."""
    columns = select(
        K.id, K.kind, K.channel, K.start_at, K.end_at, K.deadline, K.late, C.external_id, C.link,
        OWNER.label("agent"),
    ).join_from(SlaClock.__table__, Conversation.__table__, K.conversation_id == C.id)  # fmt: skip
    in_period = [K.deadline >= q.start, K.deadline < q.end, q.in_channels(K.channel), *q.conversation_terms()]
    running = []
    if breached:
        running = conn.execute(
            columns.where(K.end_at.is_(None), *in_period).order_by(K.deadline, K.id).limit(LISTED)
        ).all()
    if q.agent is None:
        ended = [] if not (ids := kpi_cache.top(conn, "sla_late", q.scope())) else ids
        late = conn.execute(columns.where(K.id.in_(ended))).all() if ended else []
    else:  # the ranking is kept for every agent at once
        late = conn.execute(
            columns.where(K.late.is_not(None), *in_period).order_by(K.late.desc(), K.id).limit(LISTED)
        ).all()
    found = [_breach(row, q.end) for row in [*running, *late]]
    found.sort(key=lambda row: (-row["late"], row["conversation_id"]))
    return found[:LISTED]


def _breach(row, end: datetime) -> dict[str, Any]:
    finished = row.end_at if row.late is not None else None
    return {
        "conversation_id": row.external_id,
        "channel": row.channel,
        "target": TARGET_NAMES[KIND_TARGETS[row.kind]],
        "late": row.late if finished is not None else (end - row.deadline).total_seconds(),
        "age": ((finished or end) - row.start_at).total_seconds(),
        "status": "ended late" if finished is not None else "still open",
        "agent": row.agent,
        "link": row.link,
    }


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
        ("channel", "day", "agent", "team", "topic"),
        synonyms=("slas", "service-levels", "service-level"),
        labels={"hit_rate": "First-response hit rate", "late": "Past deadline"},
    ),
)
