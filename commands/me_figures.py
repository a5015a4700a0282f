"""What `/kpi me` reads: each agent's figures over a period, and the conversations waiting on one agent.

The figures are those of the team report (commands/kpis/team.py: replies, resolutions) and, per agent,
the first responses and CSAT answers, read from the KPI cache's own declarations (`MEASURES`) with the
owner each declares: a first response is the first responder's; a CSAT answer is credited like a
resolution, to its conversation's owner (the assignee, else whoever answered first). Both per agent come
from the cache's days kept per owner (storage.kpi_cache.owners): docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection

from commands.kpis import team
from commands.kpis.outcome import SATISFIED
from commands.query import Query
from commands.stats import ratio
from storage.kpi_cache import Sample, owners
from storage.kpi_cache.measures import WAIT_KINDS, K
from storage.kpi_cache.tables import exact_sum
from storage.models import Conversation, SlaClock
from storage.planner import on_channels

C = Conversation.__table__.c
WAITING_SHOWN = 10


@dataclass(frozen=True)
class Waiting:
    """A conversation assigned to the agent whose customer waits for a reply: since when, and for how long
    at the instant asked (calendar seconds)."""

    conversation: str  # the id the events gave it
    channel: str
    since: datetime
    age: float
    link: str | None


def figures(conn: Connection, query: Query) -> dict[str, dict[str, Any]]:
    """Per agent active in the query's period (the team report's agents), or only `query.agent` when set:
    first_responses, frt_mean, frt_median, replies, resolutions, csat (0-1, None without answers) and
    csat_responses. An agent with CSAT answers but no activity is listed only when asked for by name."""
    q = query.until_now()
    # the whole team's report, which the KPI cache serves (one agent's is read from the tables), then theirs
    report = team.agents(conn, replace(q, agent=None))["rows"]
    found: dict[str, dict[str, Any]] = {
        row["agent"]: {"name": row["name"], "replies": row["replies"], "resolutions": row["resolutions"]}
        for row in report
        if q.agent in (None, row["agent"])
    }
    if q.agent is not None and q.agent not in found:
        found[q.agent] = {"name": None, "replies": 0, "resolutions": 0}
    first = owners.values_by_owner(conn, "frt", replace(q, agent=None).scope(), agent=q.agent)
    answers = owners.values_by_owner(conn, "csat", replace(q, agent=None).scope(), agent=q.agent)
    for agent, one in found.items():
        mine = first.get(agent, np.empty(0))
        stats = Sample(mine, exact_sum(mine)).summary()
        scores = answers.get(agent, np.empty(0))
        one.update(
            first_responses=stats["count"],
            frt_mean=stats["mean"],
            frt_median=stats["median"],
            csat=ratio(int(np.count_nonzero(scores >= SATISFIED)), scores.size),
            csat_responses=int(scores.size),
        )
    return found


def waiting_on(
    conn: Connection, agent: str, now: datetime, channels: tuple[str, ...], limit: int = WAITING_SHOWN
) -> list[Waiting]:
    """The conversations assigned to `agent` whose customer was waiting for a reply at `now` (a first or
    next wait started before it and not ended by then), oldest wait first, at most `limit`.

    Each kind is read in start order from the running clocks' queue index and stops at `limit` of the
    agent's; waits that ended after `now` (asked as of a past instant) come from the ended clocks' index.
    """
    columns = (K.conversation_id, K.start_at, C.channel, C.external_id, C.link)
    mine = (C.agent == agent, K.start_at < now, on_channels(K.channel, channels))
    joined = select(*columns).join_from(SlaClock.__table__, Conversation.__table__, K.conversation_id == C.id)
    rows = []
    for kind in WAIT_KINDS:
        running = joined.where(K.kind == kind, K.end_at.is_(None), C.resolved.is_(False), *mine)
        rows += conn.execute(running.order_by(K.start_at).limit(limit)).all()
    ended_later = joined.where(K.kind.in_(WAIT_KINDS), K.end_at > now, *mine)
    rows += conn.execute(ended_later.order_by(K.start_at).limit(limit)).all()
    oldest: dict[int, tuple] = {}
    for row in sorted(rows, key=lambda row: (row.start_at, row.conversation_id)):
        oldest.setdefault(row.conversation_id, row)  # one line per conversation, at its oldest wait
    return [
        Waiting(row.external_id, row.channel, row.start_at, (now - row.start_at).total_seconds(), row.link)
        for row in list(oldest.values())[:limit]
    ]
