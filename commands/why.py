"""`/kpi why METRIC`: how a mean KPI's change from the previous period splits into its causes
(docs/metrics.md, "why").

A mean KPI is `M = Σ_c w_c × m_c` over channels `c` (`w_c` the channel's share of the items, `m_c` its
mean; a rate is the mean of 0/1 items). Its change `M_q − M_p` from the previous period `p` to the current
`q` splits exactly into **mix**, channel shares moving, and **performance**, channels' own means moving:

    mix_c  = (w_c,q − w_c,p) × (m_c,p − M_p)      performance_c = w_c,q × (m_c,q − m_c,p)

(`Σ_c (w_c,q − w_c,p) = 0`, so subtracting `M_p` changes no total, and a channel gaining share only adds
to the mean when it was slower than average). A channel without items before counts at `M_p`. Within the
channels, the performance part splits the same way over a second grouping — business vs off hours of
arrival, agents, topics — with `m_c,p` in place of `M_p` and the channel's current weight in front; each
grouping's parts add up to the performance part. So every table's rows add up to the change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from commands.drill import DrillList, conversations_behind
from commands.errors import UsageError
from commands.kpis import KPIS
from commands.parse import KpiRequest
from commands.periods import Period
from commands.query import Query
from commands.result import period_json
from commands.why_items import SPLITS, WHY, Sums, agent_hours, read_sums
from commands.why_words import summary
from storage import kpi_cache
from storage.settings import Settings

SHOWN = 3  # conversations weighing most on the current value
NO_WHY = "`why` explains " + ", ".join(f"`{key}`" for key in WHY)


@dataclass(frozen=True)
class Row:
    """One group of a split: its items and mean in each period, and what it adds to the change through
    its share moving (`mix`) and its own mean moving (`performance`)."""

    key: str
    previous_count: int
    count: int
    previous_mean: float | None
    mean: float | None
    previous_share: float
    share: float
    mix: float
    performance: float

    @property
    def part(self) -> float:
        return self.mix + self.performance


@dataclass(frozen=True)
class Split:
    """A grouping's rows, the largest part first; their parts add up to `mix + performance`."""

    by: str
    rows: list[Row]

    @property
    def mix(self) -> float:
        return sum(row.mix for row in self.rows)

    @property
    def performance(self) -> float:
        return sum(row.performance for row in self.rows)


@dataclass
class Why:
    """The explanation of one KPI's change: its mean in both periods, the split by channel, the splits
    within channels, the load per channel, the conversations weighing most now, and the words."""

    metric: str
    headline: str
    channels: tuple[str, ...]
    period: Period
    previous_period: Period
    current: float | None
    previous: float | None
    count: int
    previous_count: int
    by_channel: Split | None = None
    within: dict[str, Split] = field(default_factory=dict)
    load: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    drill: DrillList | None = None  # the conversations weighing most on the current value
    words: str = ""

    @property
    def change(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def unit(self) -> str:
        return KPIS[self.metric].unit_of(self.headline)

    def to_json(self) -> dict[str, Any]:
        """The `why --json` document: durations in seconds, rates as fractions; parts in the KPI's unit."""
        return {
            "metric": "why",
            "kpi": self.metric,
            "value": self.headline,
            "channels": list(self.channels),
            "period": period_json(self.period),
            "previous_period": period_json(self.previous_period),
            "current": self.current,
            "previous": self.previous,
            "change": self.change,
            "count": self.count,
            "previous_count": self.previous_count,
            "summary": self.words,
            "by_channel": _split_json(self.by_channel),
            "within_channels": {by: _split_json(split) for by, split in self.within.items()},
            "load": {
                channel: {"previous": before, "current": now} for channel, (before, now) in self.load.items()
            },
            "conversations": [row.__dict__ for row in self.drill.rows] if self.drill else [],
        }


def explain(
    conn: Connection, request: KpiRequest, settings: Settings, now: datetime, *, source: str = "auto"
) -> Why:
    """Why `request.metric` moved between the previous period and `request.period`, as of `now` (from
    the KPI cache where it serves; `source` "tables" never reads it: the answer is the same).

    Raises UsageError for a KPI that is not a mean, a breakdown, or business hours."""
    how = WHY.get(request.metric)
    if how is None:
        raise UsageError(f"{NO_WHY}: not `{request.metric}`")
    if request.by is not None:
        raise UsageError("`why` splits the change its own way: ask without `by`")
    if request.business_hours:
        raise UsageError("`why` explains calendar-time figures: ask without `bh`")
    period, previous_period = request.period, request.period.previous()
    query = Query(period.start, period.end, request.channels, now, settings, source=source)
    before_query = query.with_range(previous_period.start, previous_period.end)
    sums, before = read_sums(conn, request.metric, query), read_sums(conn, request.metric, before_query)
    (count, total), (previous_count, previous_total) = _total(sums), _total(before)
    why = Why(
        request.metric,
        how.headline,
        request.channels,
        period,
        previous_period,
        total / count if count else None,
        previous_total / previous_count if previous_count else None,
        count,
        previous_count,
    )
    if why.change is None:
        why.words = summary(why)
        return why
    why.by_channel = split({"": _channels(before)}, {"": _channels(sums)}, "channel")
    why.within = {by: split(before[by], sums[by], by) for by in SPLITS}
    why.load = agent_load(conn, before_query, query)
    why.drill = conversations_behind(conn, request, settings, now, limit=SHOWN)
    why.words = summary(why)
    return why


Groups = dict[str, dict[str, tuple[int, float]]]  # {parent: {group: (count, sum)}}


def split(before: Groups, now: Groups, by: str) -> Split:
    """The change of the mean from `before` to `now` split over the groups of each parent (one parent ""
    for a split over the whole, the channels for a split within them): exact, the rows' parts add up to
    the change (or, within channels, to its performance part)."""
    total_p, total_q = _totals(before), _totals(now)
    n_p, s_p = (sum(values) for values in zip(*total_p.values(), strict=True))
    n_q = sum(n for n, _ in total_q.values())
    overall_p = s_p / n_p
    parts: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for parent, groups in now.items():  # a parent without current items weighs 0
        np_, sp = total_p.get(parent, (0, 0.0))
        nq = total_q[parent][0]
        parent_mean = sp / np_ if np_ else overall_p
        weight = nq / n_q
        earlier = before.get(parent, {})
        for key in set(groups) | set(earlier):
            gp_n, gp_s = earlier.get(key, (0, 0.0))
            gq_n, gq_s = groups.get(key, (0, 0.0))
            mean_p = gp_s / gp_n if gp_n else parent_mean
            mean_q = gq_s / gq_n if gq_n else mean_p
            share_p, share_q = (gp_n / np_ if np_ else 0.0), gq_n / nq
            parts[key][0] += weight * (share_q - share_p) * (mean_p - parent_mean)
            parts[key][1] += weight * share_q * (mean_q - mean_p)
    flat_p, flat_q = _flat(before), _flat(now)
    rows = []
    for key in set(flat_p) | set(flat_q):
        (pn, ps), (qn, qs) = flat_p.get(key, (0, 0.0)), flat_q.get(key, (0, 0.0))
        mix, performance = parts.get(key, (0.0, 0.0))
        means = (ps / pn if pn else None, qs / qn if qn else None)
        rows.append(Row(key, pn, qn, *means, pn / n_p, qn / n_q, mix, performance))
    rows.sort(key=lambda row: (-abs(row.part), row.key))
    return Split(by, rows)


def _totals(groups: Groups) -> dict[str, tuple[int, float]]:
    """Each parent's count and sum over its groups."""
    return {
        parent: (sum(n for n, _ in cells.values()), sum(s for _, s in cells.values()))
        for parent, cells in groups.items()
    }


def _flat(groups: Groups) -> dict[str, tuple[int, float]]:
    """Each group's count and sum over the parents."""
    flat: dict[str, tuple[int, float]] = {}
    for cells in groups.values():
        for key, (n, s) in cells.items():
            fn, fs = flat.get(key, (0, 0.0))
            flat[key] = (fn + n, fs + s)
    return flat


def _channels(sums: Sums) -> dict[str, tuple[int, float]]:
    """Each channel's count and sum (every split holds them all: the agent split is read)."""
    return _totals(sums["agent"])


def _total(sums: Sums) -> tuple[int, float]:
    found = _channels(sums).values()
    return sum(n for n, _ in found), sum(s for _, s in found)


def agent_load(conn: Connection, before: Query, query: Query) -> dict[str, tuple[float | None, float | None]]:
    """Conversations opened per active agent-hour, per channel and over all ("all"), in both periods."""
    loads: dict[str, list[float | None]] = defaultdict(lambda: [None, None])
    for index, q in enumerate((before, query)):
        opened = kpi_cache.counts_by_channel(conn, "opened", q.until_now().scope())
        hours = agent_hours(conn, q)
        for channel in set(opened) | set(hours):
            loads[channel][index] = opened.get(channel, 0) / hours[channel] if hours.get(channel) else None
        everyone = sum(hours.values())
        loads["all"][index] = sum(opened.values()) / everyone if everyone else None
    return {channel: (before, now) for channel, (before, now) in sorted(loads.items())}


def _split_json(split: Split | None) -> dict[str, Any] | None:
    if split is None:
        return None
    return {
        "mix": split.mix,
        "performance": split.performance,
        "rows": [
            {
                "key": row.key,
                "previous_count": row.previous_count,
                "count": row.count,
                "previous_mean": row.previous_mean,
                "mean": row.mean,
                "previous_share": row.previous_share,
                "share": row.share,
                "mix": row.mix,
                "performance": row.performance,
                "part": row.part,
            }
            for row in split.rows
        ],
    }
