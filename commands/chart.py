"""The digest chart: conversations opened per channel (stacked bars) with the median first response time
as a line, per local day (14 days), week (12 weeks) or month (12 months) up to the digest's period, as PNG
bytes readable at Slack's thumbnail size.

Drawn with matplotlib's object API on the Agg canvas: no pyplot, no global state, no display. Matplotlib
is not thread-safe and the scheduler runs jobs in parallel threads, so one chart is drawn at a time.
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from commands.digest import CHART_PERIODS, local_day
from commands.kpis import KPIS
from commands.periods import Period
from commands.query import Query
from storage.models import Conversation
from storage.settings import Settings

DAYS = CHART_PERIODS["day"]
# Brand-like colours, chosen to stay apart from each other and from the FRT line.
COLOURS = {
    "facebook": "#1f5fbf",
    "twitter": "#4fb3e8",
    "instagram": "#d6337f",
    "viber": "#7d55c7",
    "whatsapp": "#2fa84f",
    "telegram": "#17a2a2",
    "email": "#8c8c8c",
    "chat": "#f0a830",
    "phone": "#6b4e2e",
}
SPARE = ("#b8860b", "#5f9ea0", "#cd5c5c", "#9acd32", "#708090", "#da70d6")
LINE = "#e4572e"
C = Conversation.__table__.c
DRAWING = threading.Lock()  # matplotlib is not thread-safe: every chart (this one, the heatmap) takes it


@dataclass(frozen=True)
class DailySeries:
    """Per local day (or week, or month: `unit`), by its first date: conversations opened on each channel,
    and the median first response (seconds)."""

    days: list[date]
    volume: dict[str, list[int]]
    frt_median: list[float | None]
    unit: str = "day"


def daily_series(
    conn: Connection,
    settings: Settings,
    *,
    last_day: date,
    tz: ZoneInfo,
    channels: tuple[str, ...],
    now: datetime,
    days: int = DAYS,
) -> DailySeries:
    """The `days` local days ending with `last_day` (see period_series)."""
    return period_series(conn, settings, last=local_day(last_day, tz), channels=channels, now=now, count=days)


def period_series(
    conn: Connection,
    settings: Settings,
    *,
    last: Period,
    channels: tuple[str, ...],
    now: datetime,
    count: int | None = None,
) -> DailySeries:
    """The `count` (default: CHART_PERIODS of its unit) local days, weeks or months ending with `last`:
    conversations opened per channel per period (busiest channel first) and the median first response per
    period from the KPI engine (None in periods without one)."""
    unit = last.unit or "day"
    periods = [last]
    for _ in range((count or CHART_PERIODS[unit]) - 1):
        periods.insert(0, periods[0].previous())
    query = Query(periods[0].start, last.end, channels, now, settings)
    # One query: each conversation's period is found by comparing with the periods' local ends.
    index = case(*((C.opened_at < period.end, n) for n, period in enumerate(periods)))
    rows = conn.execute(
        select(index.label("period"), C.channel, func.count())
        .where(query.in_period(C.opened_at), C.opened_at < now, query.in_channels(C.channel))
        .group_by(index, C.channel)
    ).all()
    volume: dict[str, list[int]] = {}
    for n, channel, opened in rows:
        volume.setdefault(channel, [0] * len(periods))[n] = opened
    ordered = dict(sorted(volume.items(), key=lambda item: (-sum(item[1]), item[0])))
    frt = KPIS["frt"]
    medians = [frt.compute(conn, query.with_range(p.start, p.end)).get("median") for p in periods]
    starts = [period.start.astimezone(last.tz).date() for period in periods]
    return DailySeries(starts, ordered, medians, unit)


def render_chart(series: DailySeries, *, title: str | None = None) -> bytes:
    """The chart as PNG bytes: stacked daily bars per channel, the FRT median line on its own axis."""
    with DRAWING:
        return _draw(series, title)


def _draw(series: DailySeries, title: str | None) -> bytes:
    # 1000 x 560 px: few inches at a high dpi keep the text large when Slack shrinks the image.
    figure = Figure(figsize=(8, 4.48), dpi=125, layout="constrained")
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    positions = list(range(len(series.days)))
    bottom = [0] * len(series.days)
    colours = channel_colours(list(series.volume))
    for channel, counts in series.volume.items():
        bars.bar(positions, counts, bottom=bottom, color=colours[channel], width=0.8, label=channel, zorder=2)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    bars.set_ylabel("conversations", fontsize=15)
    bars.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    bars.set_ylim(0, max(1, max(bottom, default=0)) * 1.1)
    bars.grid(axis="y", color="#dddddd", zorder=0)
    step = max(1, math.ceil(len(positions) / 7))  # at most 7 date labels stay legible when shrunk
    bars.set_xticks(positions[::step], [_tick(day, series.unit) for day in series.days[::step]])
    bars.tick_params(labelsize=14)
    bars.set_xlim(-0.6, len(positions) - 0.4)
    frt = bars.twinx()
    hours = [math.nan if value is None else value / 3600 for value in series.frt_median]
    frt.plot(
        positions, hours, color=LINE, linewidth=3.5, marker="o", markersize=7, label="FRT median", zorder=3
    )
    frt.set_ylim(0, max([h for h in hours if not math.isnan(h)] + [1]) * 1.25)
    frt.yaxis.set_major_locator(MaxNLocator(nbins=4))
    frt.yaxis.set_major_formatter(FuncFormatter(_hours))
    frt.set_ylabel("FRT median", fontsize=15, color=LINE)
    frt.tick_params(labelsize=14, colors=LINE, axis="y")
    for axis in (bars, frt):
        axis.spines["top"].set_visible(False)
    handles = bars.get_legend_handles_labels()[0] + frt.get_legend_handles_labels()[0]
    labels = bars.get_legend_handles_labels()[1] + frt.get_legend_handles_labels()[1]
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 5),
        fontsize=14,
        frameon=False,
        handlelength=1.0,
        columnspacing=1.0,
        handletextpad=0.4,
    )
    if title:
        figure.suptitle(title, fontsize=17, fontweight="bold")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def channel_colours(channels: list[str]) -> dict[str, str]:
    """The bar colour of each channel: its own for known channels, else a spare one not used yet."""
    spare = iter(colour for colour in SPARE if colour not in COLOURS.values())
    return {channel: COLOURS.get(channel) or next(spare, "#999999") for channel in channels}


def chart_title(last_day: date, unit: str = "day") -> str:
    """The chart's title: the days, weeks or months it shows, up to `last_day` (the last one's last day)."""
    count = CHART_PERIODS[unit]
    if unit == "month":
        return f"Last {count} months to {last_day:%b %Y}"
    return f"Last {count} {unit}s to {last_day:%a} {last_day.day} {last_day:%b}"


def _tick(first: date, unit: str) -> str:
    """A bar's label: "Thu 19" for a day, "30 Nov" for the week starting then, "Nov" or "Jan 27" for a
    month."""
    if unit == "week":
        return f"{first.day} {first:%b}"
    if unit == "month":
        return f"{first:%b %y}" if first.month == 1 else f"{first:%b}"
    return f"{first:%a} {first.day}"


def _hours(value: float, _position: int) -> str:
    """An axis label in hours: "2h", "1.5h", "30m" below an hour."""
    if value <= 0:
        return "0"
    if value < 1:
        return f"{round(value * 60)}m"
    return f"{value:g}h" if value == round(value, 1) else f"{value:.1f}h"
