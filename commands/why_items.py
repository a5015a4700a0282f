"""The items behind a mean KPI, grouped as `/kpi why` splits them (commands.why; docs/metrics.md, "why").

A mean duration (frt, wait, art) is the mean of its items' seconds; a rate (reply-rate, resolution-rate,
csat) the mean of 0/1 items. Within each channel the items are counted and summed per agent credited,
per arrival (business or off hours, told from the UTC half hour the customer arrived in) and per
topic of their conversation (the top-level topic of its earliest customer message that has one). These
are KPI-cache tallies (storage.kpi_cache.measures, `why:…`) declared from the KPI's own measure, so the
mean over every group is the KPI's figure exactly; tests compare the two. A rate's items are worth 1
once answered (resolved) in the tallies; asked as of an instant before some of those outcomes, the
few that came later are read from the index on their time and taken back out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Connection

from commands.query import Query
from storage import kpi_cache
from storage.business_hours import BusinessClock
from storage.db import raw_rows
from storage.kpi_cache.measures import TALLIES, C, Tally
from storage.planner import on_channels, unindexed

UNASSIGNED = "unassigned"
UNTAGGED = "untagged"
OFF_HOURS, BUSINESS_HOURS = "off hours", "business hours"
SPLITS = ("hours", "agent", "topic")  # the groupings within channels, in the order shown
_LABELS = {"hours": "arrival", "agent": "agent", "topic": "topic"}  # the tally of each
# Without configured business hours, "business hours" are Monday to Friday, 09:00-18:00 local time.
DEFAULT_OPEN = (0, 5, 9, 18)  # first weekday, weekday after the last, opening hour, closing hour
# {split: {channel: {group: (count, sum)}}}
Sums = dict[str, dict[str, dict[str, tuple[int, float]]]]


@dataclass(frozen=True)
class Explained:
    """One KPI `why` explains: the values of its answer that are the mean of its items and their count;
    for a rate valued by an outcome known later (an answer, a resolution), when that came: the cached
    tallies count every outcome stored, and those at or after the instant asked are taken back out."""

    headline: str
    count: str
    outcome_at: ColumnElement | None = None
    indexed_after: ColumnElement | None = None  # an indexed time never before the outcome's, to read by


WHY: dict[str, Explained] = {
    "frt": Explained("mean", "count"),
    "wait": Explained("mean", "count"),
    "art": Explained("first_mean", "count"),
    "reply-rate": Explained("rate", "opened", C.first_response_at, C.first_response_at),
    "resolution-rate": Explained("rate", "opened", C.first_resolved_at, C.last_resolved_at),
    "csat": Explained("score", "responses"),
}


def read_sums(conn: Connection, key: str, query: Query) -> Sums:
    """The count and sum of KPI `key`'s items in `query`'s period (up to its `now`) on its channels, per
    channel and group of each split."""
    q, how = query.until_now(), WHY[key]
    scope = q.scope()
    read = {by: kpi_cache.tally_parts(conn, _tally(key, by), scope, by_channel=True) for by in SPLITS}
    name = {"hours": _hours_namer(q), "agent": _agent, "topic": _topic}
    sums: Sums = {}
    for by, parts in read.items():
        grouped, named = sums.setdefault(by, {}), name[by]
        for channel, labels in parts:
            into = grouped.setdefault(channel or "", {})
            for label, (count, total) in labels.items():
                group = named(label)
                n, s = into.get(group, (0, 0.0))
                into[group] = (n + count, s + (total or 0))
        if how.outcome_at is not None:  # outcomes after the instant asked are not yet: worth 0, not 1
            for channel, label, later in _outcomes_after(conn, how, TALLIES[_tally(key, by)], q):
                into = grouped[channel or ""]
                n, s = into[named(label)]
                into[named(label)] = (n, s - later)
    return sums


def _tally(key: str, by: str) -> str:
    return f"why:{key}:{_LABELS[by]}"


def _outcomes_after(conn: Connection, how: Explained, tally: Tally, q: Query) -> list[tuple]:
    """(channel, label, items) of the period's items whose outcome, counted in the tally, came at or after
    `now`: read from the index on the outcome's time (none, or few, for a question about now)."""
    (worth,) = tally.sums
    channel = unindexed(tally.channel)  # grouped by, yet no index on it may drive the read
    where = [
        how.indexed_after >= q.now,
        unindexed(how.outcome_at) >= q.now,
        unindexed(tally.at) >= q.start,
        unindexed(tally.at) < q.end,
        on_channels(tally.channel, q.channels),
        *tally.where,
    ]
    counted = select(channel, tally.label, worth).where(*where).group_by(channel, tally.label)
    return [row for row in raw_rows(conn, counted) if row[2]]


def agent_hours(conn: Connection, query: Query) -> dict[str, int]:
    """Active agent-hours per channel in the period: the different UTC hours in which each agent sent a
    human reply on that channel, added up over the agents."""
    hours: dict[str, int] = {}
    for channel, agents in kpi_cache.tally_parts(
        conn, "agent_hours", query.until_now().scope(), by_channel=True
    ):
        hours[channel] = hours.get(channel, 0) + sum(counted for _, counted in agents.values())
    return hours


def _agent(label: str | None) -> str:
    return UNASSIGNED if label in (None, "null", "") else label


@functools.lru_cache(maxsize=4096)
def _topic(label: str | None) -> str:
    """The top-level topic of the first stored label ("delivery/late,billing" -> "delivery")."""
    if label in (None, "null", ""):
        return UNTAGGED
    return label.split(",")[0].split("/")[0] or UNTAGGED


def _hours_namer(query: Query) -> Callable[[str | None], str]:
    """Names an arrival's UTC half hour ("2026-11-20 09:3": 09:30-10:00) business or off hours: the
    configured business hours, else DEFAULT_OPEN in the workspace time zone, at the start of it."""
    is_open = _opening(query)
    named: dict[str | None, str] = {}

    def name(label: str | None) -> str:
        if label not in named:
            start = datetime.fromisoformat(f"{label}0").replace(tzinfo=UTC) if label else None
            named[label] = BUSINESS_HOURS if start is not None and is_open(start) else OFF_HOURS
        return named[label]

    return name


def _opening(query: Query) -> Callable[[datetime], bool]:
    """Whether the workspace is open at an instant."""
    settings = query.settings
    try:
        clock = BusinessClock.from_settings(settings)
    except ValueError:  # misconfigured hours: said where durations use them; the default here
        clock = None
    if clock is not None:
        return lambda instant: clock.open_seconds(instant, instant + timedelta(minutes=1)) > 0
    first, after, opens, closes = DEFAULT_OPEN
    zone = settings.zone

    def default_open(instant: datetime) -> bool:
        local = instant.astimezone(zone)
        return first <= local.weekday() < after and opens <= local.hour < closes

    return default_open
