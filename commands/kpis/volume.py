"""Volume and productivity KPIs of METRICS.md: volume, rates, backlog, mix, team, quick replies, cost, leads.

Event-time rule: a conversation counts in the period it opened (volume, reply, resolution and escalation
rates, mix), was resolved (transfers, resolutions) or a message was sent (replies, quick replies,
handled). Outcomes such as "got a reply" or "is resolved" are read as of `query.now`, so a conversation
opened in one period and answered in the next counts as replied for the period it opened in. Nothing
after `query.now` counts.

`by agent` credits a conversation to its owner: the assignee, else whoever answered it first (the same
rule as the speed KPIs); messages are credited to their author.

Per-day figures and rates are None when nothing was counted: an empty period never reads as 0.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.engine import Connection

from commands.kpis.spec import KpiSpec
from commands.query import Query
from storage import kpi_agents, kpi_days
from storage.kpi_day_store import midnight
from storage.models import Conversation, Lead, Message
from storage.planner import unindexed

C = Conversation.__table__.c
M = Message.__table__.c
L = Lead.__table__.c
BACKLOG_LISTED = 10


def volume(conn: Connection, query: Query) -> dict[str, Any]:
    """Conversations opened, customer messages received and human replies sent in the period, and
    conversations opened per day (None when there were none)."""
    q = query.until_now()
    cached = _cached_counts(conn, q, "opened", "inbound", "human_replies")
    if cached is not None:
        conversations, received, sent = cached
        per_day = conversations / q.days if conversations and q.days else None
        return {"conversations": conversations, "inbound": received, "outbound": sent, "per_day": per_day}
    conversations = _count(conn, _opened(q))
    inbound = M.direction == "inbound"
    if q.agent is not None:  # customer messages count for whoever owns their conversation
        inbound = and_(inbound, _owner() == q.agent)
    outbound = _human_reply(q)
    counts = select(_tally(inbound), _tally(outbound)).where(
        M.direction.in_(("inbound", "outbound")),
        q.in_period(M.at),
        q.in_channels(M.channel),
        M.private.is_(False),
    )
    if q.agent is not None:
        counts = counts.select_from(Message.__table__.join(Conversation.__table__, M.conversation_id == C.id))
    received, sent = conn.execute(counts).one()
    per_day = conversations / q.days if conversations and q.days else None
    return {"conversations": conversations, "inbound": received, "outbound": sent, "per_day": per_day}


def _cached_counts(conn: Connection, q: Query, *series: str) -> tuple[int, ...] | None:
    """The period's counts of `series` as of `q.now` from the per-day counts of `storage.kpi_days`; None
    for one agent's figures or a period without a whole cached day."""
    if q.agent is not None:
        return None
    counts = [kpi_days.count(conn, key, q.start, q.end, q.channels, q.now) for key in series]
    return None if counts[0] is None else tuple(counts)


def reply_rate(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations opened in the period that a human had answered by `now`."""
    q = query.until_now()
    cached = _cached_counts(conn, q, "opened", "replied")
    opened, replied = cached or _share(conn, _opened(q), C.first_response_at < q.now)
    return {"rate": _ratio(replied, opened), "replied": replied, "opened": opened}


def resolution_rate(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations opened in the period that are resolved as of `now`."""
    q = query.until_now()
    resolved_by_now = and_(C.resolved.is_(True), C.first_resolved_at < q.now)
    opened, resolved = _cached_counts(conn, q, "opened", "resolved_since") or _share(
        conn, _opened(q), resolved_by_now
    )
    return {"rate": _ratio(resolved, opened), "resolved": resolved, "opened": opened}


def backlog(conn: Connection, query: Query) -> dict[str, Any]:
    """Open conversations at the end of the period (or `now`, if sooner): how many, how many are older
    than their channel's backlog threshold, the oldest's age in seconds, and the 10 oldest.

    A snapshot, not a period count: for the previous period it is the backlog at that period's end.
    A conversation open now counts as open since it opened, a resolved one as closed from its first
    resolution; a reopen is not dated, so an old snapshot may miss a conversation closed then reopened.
    Ages are calendar time: the threshold is a wall-clock promise to the customer.
    """
    q = query.until_now()
    instant = q.end
    scope = [q.in_channels(C.channel)] + ([_owner() == q.agent] if q.agent is not None else [])
    # Two index-friendly halves. Open now: counted from the per-day cache (`_open_now`), else
    # ix_conversation_open; plain counts and its first entry for the oldest, no per-row expressions.
    # Resolved only after the instant (the backlog of a past moment): ix_conversation_resolved alone,
    # `unindexed` opened_at and resolved keeping SQLite off the indexes that would walk every
    # conversation ever opened; those were open then, so few, and are read once.
    still_open = [C.resolved.is_(False), C.opened_at <= instant, *scope]
    closed_later = [
        unindexed(C.resolved).is_(True),
        C.last_resolved_at >= instant,
        C.first_resolved_at >= instant,
        unindexed(C.opened_at) <= instant,
        *scope,
    ]
    first_opened = conn.execute(select(func.min(C.opened_at))).scalar()  # the first index entry
    open_now = _open_now(conn, q, instant, still_open, first_opened)
    late = _over_threshold(conn, q, instant, still_open, C.opened_at, open_now)
    oldest_open = conn.execute(select(func.min(C.opened_at)).where(*still_open)).scalar_one()
    listed = select(C.external_id, C.channel, C.opened_at, C.id)
    rows = conn.execute(listed.where(*still_open).order_by(C.opened_at, C.id).limit(BACKLOG_LISTED)).all()
    then_open = []  # raw (opened_at, id, late) rows: thousands for a week-old snapshot, not parsed
    if first_opened is not None and first_opened <= instant:  # else nothing was open then: no scan
        result = conn.execute(select(C.opened_at, C.id, _late(q, instant)).where(*closed_later))
        try:
            then_open = result.cursor.fetchall()
        finally:
            result.close()
    late += sum(flag for _, _, flag in then_open)
    then_open.sort(key=lambda r: (r[0], r[1]))  # times as stored (ISO text on SQLite) sort as instants
    oldest_then = None
    if then_open:
        oldest = conn.execute(listed.where(C.id.in_([r[1] for r in then_open[:BACKLOG_LISTED]]))).all()
        oldest_then = min(r.opened_at for r in oldest)
        rows += oldest
    count = open_now + len(then_open)
    oldest_at = min((t for t in (oldest_open, oldest_then) if t is not None), default=None)
    rows = sorted(rows, key=lambda r: (r.opened_at, r.id))[:BACKLOG_LISTED]
    threshold = q.settings.backlog_threshold(q.channels[0] if len(q.channels) == 1 else None)
    return {
        "over_threshold": late,
        "open": count,
        "oldest_age": None if oldest_at is None else _age(oldest_at, instant),
        "threshold": threshold,
        "oldest": [
            {"conversation_id": r.external_id, "channel": r.channel, "age": _age(r.opened_at, instant)}
            for r in rows
        ],
    }


def transfers(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations resolved in the period (and not reopened since) that changed agent or team
    before resolution."""
    q = query.until_now()
    where = [q.in_period(C.last_resolved_at), q.in_channels(C.channel), unindexed(C.resolved).is_(True)]
    if q.agent is not None:
        where.append(_owner() == q.agent)
    cached = _cached_counts(conn, q, "resolved", "transferred")
    resolved, moved = cached or _share(conn, where, C.transfer_count > 0)
    return {"rate": _ratio(moved, resolved), "transferred": moved, "resolved": resolved}


def escalations(conn: Connection, query: Query) -> dict[str, Any]:
    """Share of conversations opened in the period that were moved to another support channel by `now`."""
    q = query.until_now()
    escalated_by_now = and_(C.escalated_to.is_not(None), C.escalated_at < q.now)
    cached = _cached_counts(conn, q, "opened", "escalated")
    opened, escalated = cached or _share(conn, _opened(q), escalated_by_now)
    return {"rate": _ratio(escalated, opened), "escalated": escalated, "opened": opened}


def mix(conn: Connection, query: Query) -> dict[str, Any]:
    """Share (0-1) of the period's new conversations per channel, largest first, and the preferred
    (largest) channel; ties go to the channel named first alphabetically."""
    q = query.until_now()
    by_channel = None
    if q.agent is None:
        by_channel = kpi_days.counts_by_channel(conn, "opened", q.start, q.end, q.channels)
    if by_channel is not None:
        rows = sorted(by_channel.items(), key=lambda row: (-row[1], row[0]))
    else:
        counted = func.count().label("n")
        grouped = select(C.channel, counted).where(*_opened(q)).group_by(C.channel)
        rows = conn.execute(grouped.order_by(counted.desc(), C.channel)).all()
    total = sum(n for _, n in rows)
    return {"shares": {channel: n / total for channel, n in rows}, "preferred": rows[0][0] if rows else None}


def agents(conn: Connection, query: Query) -> dict[str, Any]:
    """Per agent, most replies first: conversations they replied in and replies sent in the period, mean
    and slowest first response (seconds) over the conversations they answered first in the period, and
    conversations resolved in the period that they own (assignee, else first responder)."""
    q = query.until_now()
    if q.agent is None and q.clock is None:
        cached = kpi_agents.activity(conn, q.start, q.end, q.channels)
        if cached is not None:
            order = ("name", "conversations", "replies", "frt_mean", "frt_max", "resolutions")
            rows = [{"agent": agent, **{key: one[key] for key in order}} for agent, one in cached.items()]
            return {"rows": sorted(rows, key=lambda r: (-r["replies"], r["agent"]))}
    rows: dict[str, dict[str, Any]] = {}

    def row(agent: str) -> dict[str, Any]:
        empty = {"name": None, "conversations": 0, "replies": 0, "frt_mean": None, "frt_max": None}
        return rows.setdefault(agent, {"agent": agent, **empty, "resolutions": 0})

    replies = select(
        M.author_id, func.max(M.author_name), func.count(), func.count(M.conversation_id.distinct())
    )
    replies = replies.where(
        _human_reply(q), q.in_period(M.at), q.in_channels(M.channel), M.author_id.is_not(None)
    )
    for agent, name, sent, conversations in conn.execute(replies.group_by(M.author_id)):
        row(agent).update(name=name, replies=sent, conversations=conversations)
    for agent, frt_mean, frt_max in _first_responses(conn, q):
        row(agent).update(frt_mean=frt_mean, frt_max=frt_max)
    owner = _owner()
    resolved = [
        q.in_period(C.last_resolved_at),
        q.in_channels(C.channel),
        unindexed(C.resolved).is_(True),
        owner.is_not(None),
    ]
    resolved += [owner == q.agent] if q.agent else []
    for agent, count in conn.execute(select(owner, func.count()).where(*resolved).group_by(owner)):
        row(agent)["resolutions"] = count
    return {"rows": sorted(rows.values(), key=lambda r: (-r["replies"], r["agent"]))}


def quick_replies(conn: Connection, query: Query) -> dict[str, Any]:
    """Human replies sent in the period per quick-reply/template id, most used first."""
    q = query.until_now()
    cached = kpi_days.tally(conn, "quick_replies", q.start, q.end, q.channels) if q.agent is None else None
    if cached is not None:
        ranked = sorted(cached.items(), key=lambda item: (-item[1], item[0]))
        return {"rows": [{"id": reply_id, "count": n} for reply_id, n in ranked]}
    counted = func.count().label("n")
    where = [_human_reply(q), q.in_period(M.at), q.in_channels(M.channel), M.quick_reply.is_not(None)]
    top = (
        select(M.quick_reply, counted)
        .where(*where)
        .group_by(M.quick_reply)
        .order_by(counted.desc(), M.quick_reply)
    )
    return {"rows": [{"id": reply_id, "count": n} for reply_id, n in conn.execute(top)]}


def cost(conn: Connection, query: Query) -> dict[str, Any]:
    """Support cost per conversation handled (given a human reply) in the period, the conversations
    handled, and the cost of the period (`total`); None when no cost is configured.

    A configured daily cost is the whole team's: per contact it is the same on every channel, and a
    channel's `total` is its share by conversations handled. An hourly agent cost is multiplied by the
    handle time of the period's replies (None when no reply carried handle time).
    """
    q = query.until_now()
    settings = q.settings
    handled = _handled(conn, q, q.channels)
    handle_seconds = None
    if settings.support_cost_per_day is None and settings.hourly_agent_cost is not None:
        handle_seconds = _reply_handle_seconds(conn, q)
    if settings.support_cost_per_day is not None:
        handled_all = _handled(conn, q, ()) if q.channels else handled
        whole = settings.support_cost_per_day * q.days
        per_contact = _ratio(whole, handled_all)
        total = whole if not q.channels else _ratio(whole * handled, handled_all)
    elif handle_seconds is not None:
        total = settings.hourly_agent_cost * handle_seconds / 3600.0
        per_contact = _ratio(total, handled)
    else:
        per_contact = total = None
    return {"per_contact": per_contact, "handled": handled, "total": total}


def leads(conn: Connection, query: Query) -> dict[str, Any]:
    """Leads captured in the period, per day, and how many of them converted by `now` (count and share)."""
    q = query.until_now()
    where = [q.in_period(L.at), q.in_channels(L.channel)]
    captured, converted = conn.execute(
        select(func.count(), _tally(and_(L.converted_at.is_not(None), L.converted_at < q.now))).where(*where)
    ).one()
    return {
        "per_day": captured / q.days if captured and q.days else None,
        "leads": captured,
        "conversions": converted,
        "conversion_rate": _ratio(converted, captured),
    }


def _owner():
    """Who a conversation is credited to: its assignee, else whoever answered it first."""
    return func.coalesce(C.agent, C.first_responder)


def _opened(q: Query) -> list[ColumnElement[bool]]:
    where = [q.in_period(C.opened_at), q.in_channels(C.channel)]
    if q.agent is not None:
        where.append(_owner() == q.agent)
    return where


def _human_reply(q: Query) -> ColumnElement[bool]:
    """An outbound message by a human agent (the asked one, for `by agent`); bots never count."""
    reply = and_(M.direction == "outbound", M.author_kind == "agent", M.private.is_(False))
    return and_(reply, M.author_id == q.agent) if q.agent is not None else reply


def _handled(conn: Connection, q: Query, channels: tuple[str, ...]) -> int:
    """Conversations given a human reply in the period on `channels` (() = all); from the per-day cache
    when it serves the period."""
    if q.agent is None:
        cached = kpi_days.distinct(conn, "handled", q.start, q.end, channels)
        if cached is not None:
            return cached
    on_channels = replace(q, channels=channels).in_channels(M.channel)
    where = [_human_reply(q), q.in_period(M.at), on_channels]
    return conn.execute(select(func.count(M.conversation_id.distinct())).where(*where)).scalar_one()


def _reply_handle_seconds(conn: Connection, q: Query) -> float | None:
    """The handle seconds of the period's human replies, None when none carried any."""
    if q.agent is None:
        cached = kpi_days.sample(conn, "reply_handle", q.start, q.end, q.channels)
        if cached is not None:
            return cached.total if cached.count else None
    where = [_human_reply(q), q.in_period(M.at), q.in_channels(M.channel)]
    seconds = conn.execute(select(func.sum(M.handle_seconds)).where(*where)).scalar_one()
    return None if seconds is None else float(seconds)


def _first_responses(conn: Connection, q: Query) -> list[tuple[str, float | None, float | None]]:
    """(agent, mean, slowest) first-response seconds over conversations first answered in the period."""
    where = [q.in_period(C.first_response_at), q.in_channels(C.channel), C.first_responder.is_not(None)]
    where += [C.first_responder == q.agent] if q.agent else []
    if q.clock is None:
        stats = select(C.first_responder, func.avg(C.frt_seconds), func.max(C.frt_seconds)).where(*where)
        return [(a, mean, slowest) for a, mean, slowest in conn.execute(stats.group_by(C.first_responder))]
    by_agent: dict[str, list[float]] = {}
    for agent, opened, answered in conn.execute(
        select(C.first_responder, C.opened_at, C.first_response_at).where(*where)
    ):
        by_agent.setdefault(agent, []).append(q.duration(opened, answered))
    return [(agent, sum(v) / len(v), max(v)) for agent, v in by_agent.items()]


def _late(q: Query, instant: datetime):
    """SQL 1 for a conversation opened longer before `instant` than its channel's backlog threshold."""
    cut = partial(literal, type_=C.opened_at.type)
    special = [
        (C.channel == ch, cut(instant - timedelta(seconds=s)))
        for ch, s in q.settings.backlog_thresholds.items()
    ]
    cutoff = cut(instant - timedelta(seconds=q.settings.backlog_threshold()))
    return case((C.opened_at < (case(*special, else_=cutoff) if special else cutoff), 1), else_=0)


def _open_now(
    conn: Connection, q: Query, instant: datetime, still_open: list, first_opened: datetime | None
) -> int:
    """How many conversations open now had opened by `instant`: from the per-day cache's "open" series
    (each day's conversations still open; the triggers make a day stale when one of them is resolved or
    reopened) from the first conversation's day on, when it has a whole cached day; else, or for one
    agent, from the table."""
    if q.agent is None and first_opened is not None and first_opened <= instant:
        start = midnight(first_opened.date())
        cached = kpi_days.count(conn, "open", start, instant + timedelta(microseconds=1), q.channels)
        if cached is not None:
            return cached
    return _count(conn, still_open)


def _over_threshold(
    conn: Connection, q: Query, instant: datetime, where: list, opened_at, matching: int
) -> int:
    """How many of the `matching` conversations that match `where` opened longer before `instant` than
    their channel's backlog threshold: `matching` less those opened within it, counted per channel with
    its own threshold and once for the others (recent ones are few: a short index range each)."""
    special = {ch: s for ch, s in q.settings.backlog_thresholds.items() if not q.channels or ch in q.channels}
    channel = unindexed(C.channel)
    default = [opened_at >= instant - timedelta(seconds=q.settings.backlog_threshold())]
    recent = [([channel == ch, opened_at >= instant - timedelta(seconds=s)]) for ch, s in special.items()]
    recent.append(default + ([channel.not_in(list(special))] if special else []))
    return matching - sum(_count(conn, [*where, *extra]) for extra in recent)


def _count(conn: Connection, where: list) -> int:
    return conn.execute(select(func.count()).select_from(Conversation.__table__).where(*where)).scalar_one()


def _share(conn: Connection, where: list, part: ColumnElement[bool]) -> tuple[int, int]:
    """(rows matching `where`, those of them also matching `part`)."""
    whole, matching = conn.execute(select(func.count(), _tally(part)).where(*where)).one()
    return whole, matching


def _tally(condition: ColumnElement[bool]):
    """SQL count of rows meeting `condition` (0, not NULL, over no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ratio(part: float | None, whole: float | None) -> float | None:
    return part / whole if part is not None and whole else None


def _age(since: datetime, instant: datetime) -> float:
    return (instant - since).total_seconds()


OPENED = "no conversations opened in this period"
NO_COST = "no cost configured (set support_cost_per_day or hourly_agent_cost) or no conversations handled"
EVERY = ("channel", "day", "agent")
SPECS = (
    KpiSpec("volume", volume, "per_day", "per_day", None, OPENED, EVERY),
    KpiSpec("reply-rate", reply_rate, "rate", "fraction", "higher", OPENED, EVERY),
    KpiSpec("resolution-rate", resolution_rate, "rate", "fraction", "higher", OPENED, EVERY),
    KpiSpec("backlog", backlog, "over_threshold", "count", "lower", "no open conversations", EVERY),
    KpiSpec(
        "transfers", transfers, "rate", "fraction", "lower", "no conversations resolved in this period", EVERY
    ),
    KpiSpec("escalations", escalations, "rate", "fraction", "lower", OPENED, EVERY),
    KpiSpec("mix", mix, None, "fraction", None, OPENED, ("day",)),
    KpiSpec("agents", agents, None, "count", None, "no agent activity in this period", ("channel", "day")),
    KpiSpec(
        "quick-replies", quick_replies, None, "count", None, "no quick replies used in this period", EVERY
    ),
    KpiSpec("cost", cost, "per_contact", "money", "lower", NO_COST, ("channel", "day")),
    KpiSpec("leads", leads, "conversion_rate", "fraction", "higher", "no leads captured in this period"),
)
