"""The digest: one local day, week (Monday to Monday) or calendar month against the one before and the
benchmark, as a result object with a Block Kit and a plain-text rendering. Daily, weekly and monthly
digests are this one digest over a different period (commands/cadence.py says which).

Each figure comes from the KPI engine (`measure`), so the digest says what `/kpi … yesterday` says.
Sentiment and topics appear when those KPIs are registered. The biggest movers are the lines whose
value moved most relative to the previous period, good or bad: a duration, rate or count by its relative
change (a count from 0 as if from 1, so a backlog appearing from nothing counts), NPS by its points out
of 100 and net sentiment by its difference of shares, as neither has a meaningful base to divide by.
The anomalies the anomaly alerts posted about the period's hours are listed last (storage.anomalies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from commands.anomaly_alert import digest_line
from commands.cadence import period_title
from commands.engine import change, measure
from commands.format import MISSING, format_change, format_value, meets_benchmark, not_read
from commands.kpis import KPIS
from commands.periods import Period
from commands.result import KpiResult
from commands.slack_text import inline
from storage import anomalies
from storage.days import midnight
from storage.models import AnomalyPost
from storage.settings import Settings

# label, metric, values key, unit, better, benchmark key
LINES = (
    ("Conversations", "volume", "conversations", "count", None, "per_day"),
    ("First response, mean", "frt", "mean", "seconds", "lower", "mean"),
    ("First response, median", "frt", "median", "seconds", "lower", "median"),
    ("First response in SLA", "sla", "hit_rate", "fraction", "higher", None),
    ("Reply wait, mean", "wait", "mean", "seconds", "lower", "mean"),
    ("Resolution time, mean", "art", "first_mean", "seconds", "lower", "first_mean"),
    ("Backlog over threshold", "backlog", "over_threshold", "count", "lower", None),
    ("Reopen rate", "reopens", "rate", "fraction", "lower", None),
    ("Repeat contacts (72 h)", "repeat", "rate", "fraction", "lower", None),
    ("CSAT", "csat", "score", "fraction", "higher", "score"),
    ("NPS", "nps", "score", "nps", "higher", "score"),
    ("Net sentiment", "sentiment", "net", "net", "higher", "net"),
)
MOVERS = 3
CHART_PERIODS = {"day": 14, "week": 12, "month": 12}  # how many periods the chart in the thread shows
TOPICS = 5
ANOMALIES = 5  # anomalies listed; "and N more" after them
SPLIT = ("positive", "neutral", "negative")


@dataclass(frozen=True)
class DigestLine:
    """One figure of the digest: its value for the period, the one before, and the benchmark."""

    label: str
    unit: str
    better: str | None
    value: Any
    previous: Any
    benchmark: Any = None
    bench_unit: str | None = None  # when the benchmark is in another unit (tickets per day)

    @property
    def change(self) -> dict[str, Any]:
        """How the value moved since the previous period (see commands.engine.change)."""
        return change(self.value, self.previous, _display_unit(self.unit), self.better)

    @property
    def move(self) -> float | None:
        """How far the value moved, comparable across lines; None when it cannot be compared."""
        if not _number(self.value) or not _number(self.previous) or self.value == self.previous:
            return None
        if self.unit in ("nps", "net"):
            return abs(self.value - self.previous) / (100 if self.unit == "nps" else 1)
        base = max(abs(self.previous), 1) if self.unit == "count" else abs(self.previous)
        return abs(self.value - self.previous) / base if base else None


@dataclass
class Digest:
    """The digest of `period` (a local day, week or month starting on local date `day`, in `tz`) for
    support channels `channels` (() = all)."""

    day: date
    tz: ZoneInfo
    channels: tuple[str, ...]
    period: Period
    lines: list[DigestLine]
    still_waiting: int = 0
    oldest_waiting: float | None = None
    open_conversations: int | None = None
    sentiment: dict[str, float] | None = None
    unscored: str | None = None  # what the sentiment did not read, "12 % unscored: 9 pl, 3 other"
    topics: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[AnomalyPost] = field(default_factory=list)  # posted about the period's hours

    @property
    def movers(self) -> list[DigestLine]:
        """The lines that moved most since the previous period, largest first (at most MOVERS)."""
        moved = [line for line in self.lines if line.move is not None]
        return sorted(moved, key=lambda line: -line.move)[:MOVERS]


def local_day(day: date, tz: ZoneInfo) -> Period:
    """The local calendar day `day` in `tz` as a period (23 or 25 hours on the days clocks change)."""
    return Period(midnight(day, tz), midnight(day + timedelta(days=1), tz), tz, unit="day")


def build_digest(
    conn: Connection, settings: Settings, *, period: Period, channels: tuple[str, ...], now: datetime
) -> Digest:
    """The digest of `period` (a local day, week or month: its `unit`) as of `now`: each line vs the
    previous period and the benchmark, who is still waiting for a first response, the open backlog, the
    sentiment split and the top topics."""
    wanted = {metric for _, metric, *_ in LINES} | {"topics"}
    results = {key: measure(conn, KPIS[key], settings, now, channels, period) for key in wanted}
    lines = [_line(results[spec[1]], *spec) for spec in LINES if spec[1] in results]
    digest = Digest(period.start.astimezone(period.tz).date(), period.tz, channels, period, lines)
    if "frt" in results:
        digest.still_waiting = results["frt"].values.get("still_waiting") or 0
        digest.oldest_waiting = results["frt"].values.get("oldest_waiting")
    if "backlog" in results:
        digest.open_conversations = results["backlog"].values.get("open")
    if "sentiment" in results and all(_number(results["sentiment"].values.get(k)) for k in SPLIT):
        values = results["sentiment"].values
        digest.sentiment = {k: values[k] for k in SPLIT}
        digest.unscored = not_read("sentiment", values)
    if "topics" in results:
        found = results["topics"].values.get("topics") or []
        digest.topics = [t for t in found if isinstance(t, dict) and t.get("topic")][:TOPICS]
    digest.anomalies = anomalies.fired(conn, period.start, period.end, channels)
    return digest


def digest_message(digest: Digest) -> dict[str, Any]:
    """The digest as a Slack message: Block Kit `blocks` and a plain `text` fallback."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{_title(digest)} · {period_title(digest.period)}"},
        },
        _context(f"{_scope(digest, inline)} · vs {_before(digest)} and benchmark"),
    ]
    fields = [f"*{line.label}*\n{_figure(line, _unit(digest), bold=True)}" for line in digest.lines]
    blocks += [_fields(fields[i : i + 10]) for i in range(0, len(fields), 10)]
    extra = _extras(digest, bold=True)
    if extra:
        blocks.append(_section("\n".join(extra)))
    blocks.append(_context(f"The {CHART_PERIODS[_unit(digest)]}-{_unit(digest)} chart is in the thread."))
    return {"text": _fallback(digest), "blocks": blocks}


def digest_text(digest: Digest) -> str:
    """The digest as terminal text: one line per figure, then the movers, sentiment and topics."""
    width = max(len(line.label) for line in digest.lines) if digest.lines else 0
    out = [
        f"{_title(digest)} · {period_title(digest.period)} · {_scope(digest)}",
        f"vs {_before(digest)}",
    ]
    out += [f"  {line.label:<{width}}  {_figure(line, _unit(digest), bold=False)}" for line in digest.lines]
    return "\n".join(out + _extras(digest, bold=False)) + "\n"


def _line(result: KpiResult, label, metric, key, unit, better, bench_key) -> DigestLine:
    benchmark = result.benchmark.get(bench_key) if bench_key else None
    bench_unit = "per_day" if bench_key == "per_day" else None
    return DigestLine(
        label, unit, better, result.values.get(key), result.previous.get(key), benchmark, bench_unit
    )


def _figure(line: DigestLine, unit_name: str, *, bold: bool) -> str:
    unit = _display_unit(line.unit)
    if line.value is None:
        return "no data"
    value = format_value(line.value, unit)
    parts = [f"*{value}*" if bold else value]
    if line.previous is None:
        parts.append(f"(none the {unit_name} before)")
    elif line.change["absolute"] is not None:
        parts.append(format_change(line.change, unit) + _verdict(line))
    if _number(line.benchmark):
        mark = {True: "on target", False: "off target"}.get(
            meets_benchmark(line.value, line.benchmark, line.better)
        )
        parts.append(
            f"bench {format_value(line.benchmark, line.bench_unit or unit)}" + (f" {mark}" if mark else "")
        )
    return " · ".join(parts)


def _extras(digest: Digest, *, bold: bool) -> list[str]:
    """The lines under the figures: still waiting, open backlog, movers, sentiment split, topics."""

    def title(text: str) -> str:
        return f"*{text}*" if bold else text

    lines = []
    if digest.still_waiting:
        oldest = format_value(digest.oldest_waiting, "seconds")
        lines.append(f"{title('Still waiting')} for a reply: {digest.still_waiting}, oldest {oldest}")
    if digest.open_conversations is not None:
        lines.append(f"{title('Open conversations')} at {_unit(digest)} end: {digest.open_conversations}")
    if digest.movers:
        moves = [
            f"{m.label} {format_change(m.change, _display_unit(m.unit))}{_verdict(m)}" for m in digest.movers
        ]
        lines.append(f"{title('Biggest movers')}: " + "; ".join(moves))
    if digest.sentiment:
        split = " · ".join(f"{k} {format_value(v, 'fraction')}" for k, v in digest.sentiment.items())
        unscored = f" ({digest.unscored})" if digest.unscored else ""
        lines.append(f"{title('Sentiment')}: {split}{unscored}")
    if digest.topics:
        shown = inline if bold else str  # topic labels come from settings: inert in Slack
        lines.append(f"{title('Top topics')}: " + "; ".join(_topic(t, shown) for t in digest.topics))
    if digest.anomalies:
        shown = inline if bold else str
        listed = [digest_line(posted, digest.tz, shown) for posted in digest.anomalies[:ANOMALIES]]
        more = len(digest.anomalies) - len(listed)
        lines.append(f"{title('Anomalies')}: " + "; ".join(listed) + (f"; and {more} more" if more else ""))
    return lines


def _topic(topic: dict[str, Any], shown: Callable[[object], str]) -> str:
    text = f"{shown(topic['topic'])} {topic.get('count', MISSING)}"
    if _number(topic.get("share")):
        text += f" ({format_value(topic['share'], 'fraction')})"
    return text


def _verdict(line: DigestLine) -> str:
    return {True: " good", False: " bad"}.get(line.change["good"], "")


def _fallback(digest: Digest) -> str:
    shown = [
        f"{line.label} {format_value(line.value, _display_unit(line.unit))}" for line in digest.lines[:4]
    ]
    name = period_title(digest.period).replace("Week of", "the week of")  # within a sentence
    return f"{_title(digest)} for {name} ({_scope(digest, inline)}): " + ", ".join(shown)


def _display_unit(unit: str) -> str:
    # Net sentiment (positive share - negative share) reads as a rate: "+12 %", changes in points.
    return "fraction" if unit == "net" else unit


def _scope(digest: Digest, shown: Callable[[object], str] = str) -> str:
    return (shown(", ".join(digest.channels)) or "all channels") + f" · {digest.tz.key}"


def _unit(digest: Digest) -> str:
    return digest.period.unit or "day"


def _before(digest: Digest) -> str:
    return period_title(digest.period.previous()).replace("Week of", "the week of")


def _title(digest: Digest) -> str:
    return {"day": "Daily", "week": "Weekly", "month": "Monthly"}[_unit(digest)] + " digest"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _fields(fields: list[str]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": text[:2000]} for text in fields]}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
