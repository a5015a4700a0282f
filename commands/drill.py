"""The drill-down from a number to the conversations behind it: "Show conversations" in Slack, `--list`
in the terminal (docs/metrics.md, "Drill-down").

`conversations_behind` lists up to ten conversations behind one KPI answer — the same channels and
period, read with the KPI's own definitions (commands.drill_queries), worst first — each with its
channel, age, owner, the figure that ranks it and its link. Durations are calendar time whether or not
the answer counted business hours: the list names conversations, and a conversation's wait is what its
customer lived. KPIs that are not about conversations (mix, agents, costs, customers…) have no list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from commands import drill_queries as lists
from commands.errors import UsageError
from commands.format import COUNT, SCORE, SECONDS
from commands.kpis import KPIS, NAMES
from commands.parse import KpiRequest
from commands.periods import Period
from commands.query import Query
from storage.settings import Settings

LIMIT = 10
NO_LIST = "no conversation list for this metric"
EMPTY = "no conversations behind this number"
Lister = Callable[[Connection, Query, int], list[lists.Found]]


@dataclass(frozen=True)
class Drill:
    """What one KPI's list shows: its title, the name and unit of the figure that ranks it (None: the
    age ranks it), and the function that finds its conversations."""

    title: str
    figure: str | None
    unit: str | None
    find: Lister | None  # None: the sla answer lists its own breaches


_FIRST = Drill(
    "Slowest first responses, and conversations still waiting for one",
    "First response",
    SECONDS,
    lists.first_responses,
)
_UNANSWERED = Drill("Conversations without a human reply, oldest first", None, None, lists.unanswered)
DRILLS: dict[str, Drill] = {
    "frt": _FIRST,
    "bands": _FIRST,
    "wait": Drill("Longest waits for a reply", "Wait", SECONDS, lists.waits),
    "sla": Drill("Service-level breaches, furthest past the deadline first", "Past deadline", SECONDS, None),
    "art": Drill(
        "Slowest resolutions (opening to last resolution)", "Resolution", SECONDS, lists.resolutions
    ),
    "volume": _UNANSWERED,
    "reply-rate": _UNANSWERED,
    "resolution-rate": Drill("Unresolved conversations, oldest first", None, None, lists.unresolved),
    "reopens": Drill("Reopened conversations, latest first", "Reopened after", SECONDS, lists.reopened),
    "backlog": Drill("Oldest open conversations", None, None, lists.oldest_open),
    "transfers": Drill("Transferred conversations, by resolution", "Transfers", COUNT, lists.transferred),
    "escalations": Drill("Escalated conversations, oldest first", None, None, lists.escalated),
    "csat": Drill("Lowest CSAT answers", "Score", SCORE, lists.scores("csat", "lowest")),
    "nps": Drill("Lowest NPS answers", "Score", SCORE, lists.scores("nps", "lowest")),
    "ces": Drill("Highest effort (CES) answers", "Score", SCORE, lists.scores("ces", "highest")),
    "sentiment": Drill("Most negative customer messages", "Sentiment", SCORE, lists.negative),
    "topics": Drill("Conversations about the top topic, latest first", None, None, lists.top_topic),
}


@dataclass(frozen=True)
class DrillRow:
    """One conversation behind a number: its id in the inbox tool, channel, age (seconds from opening to
    `now`; for a breach, the late clock's age), owner (the assignee, else who answered first), the figure
    ranking it, its link as events gave it (unchecked: renderings decide what is clickable) and a note."""

    conversation_id: str
    channel: str
    age: float | None
    agent: str | None
    figure: Any
    link: str | None
    note: str | None = None


@dataclass(frozen=True)
class DrillList:
    """The conversations behind one KPI answer, worst first (empty: nothing behind the number)."""

    metric: str
    channels: tuple[str, ...]
    period: Period
    title: str
    figure: str | None
    unit: str | None
    rows: list[DrillRow]

    @property
    def name(self) -> str:
        return NAMES.get(self.metric, self.metric)

    def to_json(self) -> dict[str, Any]:
        """The `--list --json` document: ages and durations in seconds, every row's figure in `unit`."""
        return {
            "metric": self.metric,
            "channels": list(self.channels),
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "title": self.title,
            "figure": self.figure,
            "unit": self.unit,
            "conversations": [row.__dict__ for row in self.rows],
        }


def has_list(metric: str) -> bool:
    """Whether the KPI has conversations behind it (a "Show conversations" button, `--list`)."""
    return metric in DRILLS


def conversations_behind(
    conn: Connection, request: KpiRequest, settings: Settings, now: datetime, limit: int = LIMIT
) -> DrillList:
    """Up to `limit` conversations behind the answer to `request` as of `now`, worst first.

    Raises UsageError (NO_LIST) for a metric without a list, the scorecard included."""
    drill = DRILLS.get(request.metric)
    if drill is None:
        raise UsageError(f"{NO_LIST} ({request.metric})")
    period = request.period
    query = Query(period.start, period.end, request.channels, now, settings).until_now()
    if drill.find is None:  # sla: its answer already lists its worst breaches
        rows = [_breach(row) for row in KPIS["sla"].compute(conn, query)["breaches"][:limit]]
    else:
        rows = [_row(found, now) for found in drill.find(conn, query, limit)]
    return DrillList(request.metric, request.channels, period, drill.title, drill.figure, drill.unit, rows)


def _row(found: lists.Found, now: datetime) -> DrillRow:
    age = None if found.opened_at is None else (now - found.opened_at).total_seconds()
    return DrillRow(
        found.conversation_id, found.channel, age, found.agent, found.figure, found.link, found.note
    )


def _breach(row: dict[str, Any]) -> DrillRow:
    note = f"{row['target']}, {row['status']}"
    return DrillRow(
        row["conversation_id"], row["channel"], row["age"], row["agent"], row["late"], row["link"], note
    )
