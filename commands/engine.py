"""The KPI engine: a parsed request in, a KpiResult (or the Scorecard) out, for every edge alike.

Each KPI is computed for the asked period and for its previous period with the same `now`, beside
the benchmark values the settings hold for that KPI and scope. Breakdowns recompute the KPI per
channel, per local day of the workspace time zone, or per agent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from commands.errors import UsageError
from commands.format import POINTS
from commands.kpis import EXTENDED, KPIS, SCORECARD, KpiSpec
from commands.kpis.team import agent_names
from commands.parse import KpiRequest, metrics_with
from commands.periods import Period
from commands.query import Query
from commands.result import KpiResult, Scorecard
from commands.why import Why, explain
from storage import kpi_cache
from storage.business_hours import BusinessClock
from storage.days import midnight
from storage.kpi_cache import labelled
from storage.kpi_cache.slicing import joined
from storage.models import Conversation, Message
from storage.planner import unindexed
from storage.settings import Settings

M = Message.__table__.c
C = Conversation.__table__.c


def compute(
    conn: Connection, request: KpiRequest, settings: Settings, now: datetime, *, source: str = "auto"
) -> KpiResult | Scorecard | Why:
    """The answer to `request` as of `now`: one KPI's result (with its breakdown if asked), the scorecard,
    or with `why` the explanation of the KPI's change (commands.why).
    `source` "tables" never reads the KPI cache (the answer is the same: tests compare the two).

    Raises UsageError for a KPI that is not available yet or a breakdown the KPI does not have.
    """
    if request.metric == "help":
        raise ValueError("`help` is answered with help_text by the edges, not computed")
    if request.explain:
        return explain(conn, request, settings, now, source=source)
    if request.metric == "scorecard":
        if request.by is not None:
            raise UsageError(f"`by {request.by}` needs one metric, e.g. `frt by {request.by}`")
        return scorecard(
            conn,
            settings,
            now,
            request.channels,
            request.period,
            request.business_hours,
            source=source,
            extended=request.extended,
        )
    spec = kpi_spec(request.metric)
    if request.by is not None and request.by not in spec.breakdowns:
        having = ", ".join(f"`{key}`" for key in metrics_with(request.by)) or "no metric"
        raise UsageError(f"`by {request.by}` is not available for {spec.key} (it is for {having})")
    clock = _clock(settings, request.business_hours)
    with kpi_cache.shared_reads():  # the periods and the rows read the same days' change notes, some rows
        result = measure(conn, spec, settings, now, request.channels, request.period, clock, source=source)
        if request.by is not None:
            period = request.period
            base = Query(period.start, period.end, request.channels, now, settings, clock, source=source)
            result.by = request.by
            result.breakdown = breakdown(conn, spec, base, request.by, request.period)
    return result


def scorecard(
    conn: Connection,
    settings: Settings,
    now: datetime,
    channels: tuple[str, ...],
    period: Period,
    business_hours: bool = False,
    *,
    source: str = "auto",
    extended: bool = False,
) -> Scorecard:
    """The headline KPIs (volume, FRT, wait, resolution time, reply and resolution rates, backlog, CSAT,
    NPS, sentiment — those available), each with its previous period and benchmark."""
    clock = _clock(settings, business_hours)
    keys = EXTENDED if extended else SCORECARD
    with kpi_cache.shared_reads():  # the KPIs read some measures alike, and the same days' change notes
        results = [
            measure(conn, KPIS[key], settings, now, channels, period, clock, source=source) for key in keys
        ]
    return Scorecard(channels, period, period.previous(), results, extended)


def measure(
    conn: Connection,
    spec: KpiSpec,
    settings: Settings,
    now: datetime,
    channels: tuple[str, ...],
    period: Period,
    clock: BusinessClock | None = None,
    *,
    source: str = "auto",
) -> KpiResult:
    """One KPI for `period` and its previous period as of `now`, with its benchmark and a note when the
    headline (or, for a KPI without one, every value) has no data."""
    previous_period = period.previous()
    query = Query(period.start, period.end, channels, now, settings, clock, source=source)
    values = spec.compute(conn, query)
    previous = spec.compute(conn, query.with_range(previous_period.start, previous_period.end))
    benchmark = {k: v for k, v in settings.benchmark(spec.key, channels).items() if k in values}
    # no headline (agents, mix, topics…): no data when nothing at all was found
    empty = values.get(spec.headline) is None if spec.headline is not None else not _has_data(values)
    notes = [spec.empty] if empty else []
    return KpiResult(
        metric=spec.key,
        channels=channels,
        business_hours=clock is not None,
        period=period,
        previous_period=previous_period,
        values=values,
        previous=previous,
        benchmark=benchmark,
        notes=notes,
    )


def breakdown(conn: Connection, spec: KpiSpec, query: Query, by: str, period: Period) -> list[dict[str, Any]]:
    """Rows {"key", "values"} of the KPI per channel, agent, team or topic (those with data, the row to act
    on first), or per local day, hour of the day or weekday of the period (every one, in order)."""
    if by == "day":
        return [
            {"key": day.isoformat(), "values": spec.compute(conn, query.with_range(start, end))}
            for day, start, end in local_days(period)
        ]
    if by in CYCLES:  # the rows all read the period's days, cut to their hours: read once
        with kpi_cache.shared_reads():
            return [
                {"key": key, "values": spec.compute(conn, replace(query, hours=hours))}
                for key, hours in local_cycle(by, period, query.now)
            ]
    if by == "channel":
        keys = query.channels or tuple(channel.lower() for channel in query.settings.channels)
        rows = [{"key": c, "values": spec.compute(conn, replace(query, channels=(c,)))} for c in keys]
    elif by == "agent":
        names = agent_names(conn, query)
        rows = [
            {"key": a, "name": names.get(a, a), "values": spec.compute(conn, replace(query, agent=a))}
            for a in _agents(conn, query)
        ]
    elif by in ("team", "topic"):  # each row's slots computed once for all the rows (labelled.among)
        names = _teams(conn, query) if by == "team" else top_topics(query.settings)
        with kpi_cache.shared_reads(), labelled.among(names):
            rows = [
                {"key": name, "values": spec.compute(conn, replace(query, **{by: name}))} for name in names
            ]
    else:
        raise UsageError(f"unknown breakdown `by {by}`")
    rows = [row for row in rows if _has_data(row["values"])]
    return sorted(rows, key=lambda row: _worst_first(spec, row["values"]))


# The breakdowns by a cycle of the local clock: every key, in order, even those without data.
CYCLES = {
    "hour": tuple(f"{hour:02d}:00" for hour in range(24)),
    "weekday": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def local_cycle(
    by: str, period: Period, now: datetime
) -> list[tuple[str, tuple[tuple[datetime, datetime], ...]]]:
    """Each hour of the day (`by` "hour") or weekday ("weekday") in the period's time zone, with the ranges
    of the period (up to `now`) that were that local hour or weekday: a clock change gives a day 23 or 25
    hours, each counted in the local hour it was."""
    from commands.heatmap import local_hours

    ranges: dict[int, list[tuple[datetime, datetime]]] = {}
    for cell, start, end in local_hours(period.start, min(period.end, max(now, period.start)), period.tz):
        weekday, hour = divmod(cell, 24)
        ranges.setdefault(hour if by == "hour" else weekday, []).append((start, end))
    # adjacent ranges joined: a weekday is one range a day, not 24
    return [(name, tuple(joined(ranges.get(n, [])))) for n, name in enumerate(CYCLES[by])]


def top_topics(settings: Settings) -> list[str]:
    """The taxonomy's top-level topics, in its order (the taxonomy compiled once per content: 25 ms of every
    `by topic` answer otherwise)."""
    from storage.topics import compile_taxonomy

    known = repr(settings.topics)
    if known not in _TOP_TOPICS:
        names: dict[str, None] = {}
        for label in compile_taxonomy(settings.topics).labels:
            names.setdefault(label.split("/")[0], None)
        if len(_TOP_TOPICS) >= 8:
            _TOP_TOPICS.clear()
        _TOP_TOPICS[known] = tuple(names)
    return list(_TOP_TOPICS[known])


_TOP_TOPICS: dict[str, tuple[str, ...]] = {}  # by the taxonomy's repr


def change(current: Any, previous: Any, unit: str, better: str | None = None) -> dict[str, Any]:
    """How a value moved since the previous period: `absolute` difference, `relative` difference as a
    fraction of the previous value (None for rates and NPS, read in points, or from a zero or negative
    base), `direction` up/down/same, and `good` (True/False, None when neither is better)."""
    if not isinstance(current, int | float) or not isinstance(previous, int | float):
        return {"absolute": None, "relative": None, "direction": None, "good": None}
    absolute = current - previous
    relative = absolute / previous if previous > 0 and unit not in POINTS else None
    direction = "up" if absolute > 0 else "down" if absolute < 0 else "same"
    good = None
    if better in ("lower", "higher") and direction != "same":
        good = (direction == "down") == (better == "lower")
    return {"absolute": absolute, "relative": relative, "direction": direction, "good": good}


def kpi_spec(key: str) -> KpiSpec:
    """The registered KPI for `key` (the grammar knows only registered ones)."""
    return KPIS[key]


def local_days(period: Period) -> list[tuple[date, datetime, datetime]]:
    """Each local calendar day the period touches in its time zone: (date, start, end) cut to the period."""
    days, day = [], period.start.astimezone(period.tz).date()
    while True:
        start = midnight(day, period.tz)
        if start >= period.end:
            return days
        end = midnight(day + timedelta(days=1), period.tz)
        days.append((day, max(start, period.start), min(end, period.end)))
        day += timedelta(days=1)


def _clock(settings: Settings, business_hours: bool) -> BusinessClock | None:
    if not business_hours:
        return None
    try:
        clock = BusinessClock.from_settings(settings)
    except ValueError as exc:
        raise UsageError(f"business hours are misconfigured ({exc}); ask again without `bh`") from None
    if clock is None:
        raise UsageError("business hours are not configured; ask again without `bh`")
    return clock


def _agents(conn: Connection, query: Query) -> list[str]:
    """Agents who sent a reply the customer saw in the period, on the asked channels."""
    rows = conn.execute(
        select(M.author_id)
        .where(
            query.in_period(M.at),
            query.in_channels(M.channel),
            M.direction == "outbound",
            M.author_kind == "agent",
            M.private.is_(False),
            M.author_id.is_not(None),
        )
        .distinct()
    )
    return sorted(rows.scalars())


def _teams(conn: Connection, query: Query) -> list[str]:
    """Teams of the conversations that were open during the period, on the asked channels: each team found
    by a seek in `ix_conversation_team` past the one before (a skip scan), then whether one of its
    conversations had a message since the period started and opened before it ended (the first of them
    by last message, unless none was active in the period)."""
    teams, team = [], conn.execute(select(func.min(C.team)).where(C.team.is_not(None))).scalar()
    while team is not None:
        active = select(C.id).where(
            C.team == team,
            C.last_message_at >= query.start,
            unindexed(C.opened_at) < query.end,
            query.in_channels(unindexed(C.channel)),
        )
        if conn.execute(active.limit(1)).first() is not None:
            teams.append(team)
        team = conn.execute(select(func.min(C.team)).where(C.team > team)).scalar()
    return sorted(teams)  # as Python orders them, whatever the database collation


def _has_data(values: dict[str, Any]) -> bool:
    """True when any value is a non-zero number or a non-empty collection."""
    return any(
        bool(v) if isinstance(v, int | float | dict | list | tuple) else v is not None
        for v in values.values()
    )


def _worst_first(spec: KpiSpec, values: dict[str, Any]) -> tuple:
    """Sort key: rows without a headline last; otherwise the worst value first (largest when neither)."""
    value = values.get(spec.headline) if spec.headline else None
    if not isinstance(value, int | float):
        return (1, 0.0)
    return (0, value if spec.better == "higher" else -value)
