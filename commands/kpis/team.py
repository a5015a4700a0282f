"""What the team did (docs/metrics.md): `agents` (each agent's replies, conversations, first responses and
resolutions) and `quick-replies` (templates used). A reply counts by when it was sent, a first response
by when it was given, a resolution by when the conversation was last resolved; a resolution is credited
to the conversation's owner (the assignee, else whoever answered it first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from commands.format import COUNT, SECONDS, TEXT
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache import agents as team_activity


def agents(conn: Connection, query: Query) -> dict[str, Any]:
    """Per agent, most replies first: conversations they replied in and replies sent in the period, mean
    and slowest first response (seconds) over the conversations they answered first in the period, and
    conversations resolved in the period that they own."""
    q = query.until_now()
    scope = q.scope()
    found = team_activity.activity(
        conn, q.start, q.end, q.channels, q.now, duration=scope.duration, cache=scope.cached()
    )
    order = ("name", "conversations", "replies", "frt_mean", "frt_max", "resolutions")
    rows = [
        {"agent": agent, **{key: one[key] for key in order}}
        for agent, one in found.items()
        if q.agent is None or agent == q.agent
    ]
    return {"rows": sorted(rows, key=lambda r: (-r["replies"], r["agent"]))}


def agent_names(conn: Connection, query: Query) -> dict[str, str]:
    """The name each agent active in the query's period and channels goes by in the team report, for the
    rows of `by agent`; an agent the events never named is left out (shown by id)."""
    return {row["agent"]: row["name"] for row in agents(conn, query)["rows"] if row["name"]}


def quick_replies(conn: Connection, query: Query) -> dict[str, Any]:
    """Human replies sent in the period per quick-reply/template id, most used first."""
    used = kpi_cache.tally(conn, "quick_replies", query.until_now().scope())
    ranked = sorted(used.items(), key=lambda item: (-item[1], item[0]))
    return {"rows": [{"id": reply_id, "count": n} for reply_id, n in ranked]}


_AGENT = rows(
    agent=TEXT,
    name=TEXT,
    conversations=COUNT,
    replies=COUNT,
    frt_mean=SECONDS,
    frt_max=SECONDS,
    resolutions=COUNT,
)
SPECS = (
    KpiSpec(
        "agents",
        "Team report",
        agents,
        {"rows": _AGENT},
        None,
        None,
        "no agent activity in this period",
        ("channel", "day"),
        synonyms=("team",),
        labels={"rows": "Agents"},
    ),
    KpiSpec(
        "quick-replies",
        "Most used quick replies",
        quick_replies,
        {"rows": rows(id=TEXT, count=COUNT)},
        None,
        None,
        "no quick replies used in this period",
        ("channel", "day", "agent"),
        labels={"rows": "Quick replies"},
    ),
)
