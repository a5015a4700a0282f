"""`/kpi me [channel…] [period]`: the asking agent's own numbers beside the team's (docs/metrics.md, "me").

Who asks is a Slack user; the events name agents by their own ids. `resolve_agent` matches the two: the
`agents:` map of the settings first, else the Slack user id itself when the events know an agent by it
(agents replying in Slack intake channels are stored with their Slack user id). Nobody is matched by
name, and nobody can ask for another agent's numbers here: those are the team report's (`/kpi agents`,
`by agent`).

Each figure is the agent's, beside the team median — the median, over the agents active in the period
(those in the team report), of the same figure (counts as 0 for an active agent without any, averages
and CSAT over the agents who have one) — and beside the agent's own previous period.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from commands.errors import UsageError
from commands.format import COUNT, FRACTION, SECONDS
from commands.me_figures import C, Waiting, figures, waiting_on
from commands.parse import parse_command
from commands.periods import Period
from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache.measures import HUMAN_REPLY, M
from storage.settings import Settings

WORD = "me"
# (key, label, unit, better): what `/kpi me` shows, in this order
FIGURES = (
    ("first_responses", "First responses", COUNT, None),
    ("frt_mean", "FRT mean", SECONDS, "lower"),
    ("frt_median", "FRT median", SECONDS, "lower"),
    ("replies", "Replies", COUNT, None),
    ("resolutions", "Resolutions", COUNT, None),
    ("csat", "CSAT", FRACTION, "higher"),
    ("csat_responses", "CSAT answers", COUNT, None),
)
UNKNOWN_AGENT = (
    "I don't know which agent you are: ask an admin to add `agents: {{{user}: your-agent-id}}` to the "
    "kpibot config (the id your support tool gives you)."
)
PRIVATE = (
    "`/kpi me` shows your own numbers, so it always answers only you. To share the team's, use "
    "`/kpi agents public`."
)


@dataclass(frozen=True)
class MeRequest:
    """`/kpi me` as asked: channels (() = all) and period; `public` was asked, which `me` refuses (PRIVATE)
    with this short reason rather than the help."""

    channels: tuple[str, ...]
    period: Period
    period_word: str
    public: bool = False
    metric: str = WORD  # what the command metrics call it


@dataclass(frozen=True)
class Figure:
    """One of the agent's figures: theirs, the team median, and theirs in the previous period."""

    key: str
    label: str
    unit: str
    better: str | None
    value: Any
    team: Any
    previous: Any


@dataclass
class MeReport:
    """An agent's figures for a period and the conversations waiting on them at `now`. `active` is
    whether they did anything in the period; `team_agents` how many agents the team medians are over."""

    agent: str
    name: str | None
    channels: tuple[str, ...]
    period: Period
    previous_period: Period
    now: datetime
    active: bool
    team_agents: int
    figures: list[Figure] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: durations in seconds, CSAT as a fraction, times in ISO 8601."""
        return {
            "metric": WORD,
            "agent": self.agent,
            "name": self.name,
            "channels": list(self.channels),
            "period": _period_json(self.period),
            "previous_period": _period_json(self.previous_period),
            "now": self.now.isoformat(),
            "active": self.active,
            "team_agents": self.team_agents,
            "figures": {
                f.key: {"value": f.value, "team_median": f.team, "previous": f.previous} for f in self.figures
            },
            "waiting": [
                {
                    "conversation": w.conversation,
                    "channel": w.channel,
                    "since": w.since.isoformat(),
                    "age_seconds": w.age,
                    "link": w.link,
                }
                for w in self.waiting
            ],
        }


def is_me(text: str) -> bool:
    """Whether a `/kpi` text asks for the asker's own numbers (`me …`)."""
    words = text.split()
    return bool(words) and words[0].lower() == WORD


def parse_me(text: str, settings: Settings, now: datetime) -> MeRequest:
    """The channels and period of `me [channel…] [period]` (the KPI grammar's words); raises UsageError for
    a metric, a breakdown or `bh`, which `me` does not take."""
    rest = text.split(None, 1)[1] if len(text.split()) > 1 else ""
    request = parse_command(rest, settings, now)
    if request.metric == "help":
        raise UsageError("`me [channel…] [period]` shows your own numbers beside the team's median")
    if request.metric != "scorecard":
        raise UsageError(f"`me` shows all your numbers at once: ask `me` without `{request.metric}`")
    if request.by is not None or request.business_hours:
        raise UsageError("`me` takes channels and a period only, e.g. `me twitter 30d`")
    return MeRequest(request.channels, request.period, request.period_word, request.public)


def resolve_agent(conn: Connection, settings: Settings, slack_user_id: str) -> str | None:
    """The agent id a Slack user goes by in the events: theirs in the settings' `agents:` map, else their
    Slack user id when some human reply was written under it; None when neither."""
    mapped = settings.agents.get(slack_user_id)
    if mapped is not None:
        return mapped
    return slack_user_id if _replied_as(conn, slack_user_id) else None


def is_known_agent(conn: Connection, settings: Settings, agent: str) -> bool:
    """Whether `agent` is an agent id at all: in the `agents:` map, the author of a human reply, or the
    assignee of a conversation. (An agent id unknown here is a typo, not an agent without activity.)"""
    if agent in settings.agents.values() or _replied_as(conn, agent):
        return True
    return conn.execute(select(C.id).where(C.agent == agent).limit(1)).first() is not None


def _replied_as(conn: Connection, author: str) -> bool:
    """Whether a human reply was written under the author id `author`, newest first so an active agent is
    found at once. No index leads with the author, so an unknown id reads the messages' time index through
    (docs/performance.md, "/kpi me")."""
    replied = select(M.id).where(*HUMAN_REPLY, M.author_id == author).order_by(M.at.desc()).limit(1)
    return conn.execute(replied).first() is not None


def build_me(
    conn: Connection,
    settings: Settings,
    agent: str,
    now: datetime,
    period: Period,
    channels: tuple[str, ...] = (),
    *,
    source: str = "auto",
) -> MeReport:
    """The agent's figures over `period` on `channels` (() = all) as of `now`, beside the team medians and
    their previous period, and the conversations waiting on them at `now`."""
    previous_period = period.previous()
    query = Query(period.start, period.end, channels, now, settings, source=source)
    with kpi_cache.shared_reads():  # the figures read the same days' change notes
        team = figures(conn, query)
        previous = replace(query, start=previous_period.start, end=previous_period.end, agent=agent)
        before = figures(conn, previous)
        mine = team.get(agent) or figures(conn, replace(query, agent=agent))[agent]
    shown = [
        Figure(key, label, unit, better, mine[key], _median(team, key), before[agent][key])
        for key, label, unit, better in FIGURES
    ]
    return MeReport(
        agent=agent,
        name=mine["name"] or before[agent]["name"],
        channels=channels,
        period=period,
        previous_period=previous_period,
        now=now,
        active=agent in team or bool(mine["csat_responses"]),
        team_agents=len(team),
        figures=shown,
        waiting=waiting_on(conn, agent, now, channels),
    )


def _median(team: dict[str, dict[str, Any]], key: str) -> float | None:
    """The median of the figure over the active agents: a count of each (0 included), an average or a
    rate over the agents who have one; None when nobody has."""
    values = [one[key] for one in team.values() if one[key] is not None]
    return statistics.median(values) if values else None


def _period_json(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat(), "label": period.label}
