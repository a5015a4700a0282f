"""How a Heatmap reads: its title, the rush-hours summary, a text grid (the terminal, and a code block in
Slack) and the Block Kit message. The PNG is commands.heatmap_chart; JSON is Heatmap.to_json.

The text grid has a row per weekday (Monday first) and two characters per local hour, shaded in four
equal steps of the largest cell (darker: more messages, or a slower median); `·` marks an hour without
any. Each row ends with the weekday's total.
"""

from __future__ import annotations

import math
from typing import Any

from commands.format import format_duration
from commands.heatmap import DAY_NAMES, METRICS, WEEKDAYS, Heatmap, hour_span
from commands.slack_text import inline

SHADES = "░▒▓█"
EMPTY = " ·"
TITLES = {"volume": "Inbound messages", "frt": "Median first response"}
EMPTY_NOTES = {
    "volume": "no inbound customer messages in this period",
    "frt": "no first responses in this period",
}


def heatmap_title(heatmap: Heatmap) -> str:
    """`Inbound messages by hour and weekday · twitter · last 30 days · Europe/Paris` (plain text)."""
    channels = ", ".join(heatmap.channels) if heatmap.channels else "all channels"
    return (
        f"{TITLES[heatmap.metric]} by hour and weekday · {channels} · {heatmap.period.label} · {heatmap.tz}"
    )


def summary_lines(heatmap: Heatmap) -> list[str]:
    """The rush hours a support lead asks for, plain text: the busiest hour of the week, the busiest day
    and hour of day, the total; for frt also the slowest hour. One line saying so when the grid is empty."""
    busiest = heatmap.busiest()
    if busiest is None:
        return [EMPTY_NOTES[heatmap.metric]]
    day = max(range(7), key=lambda d: heatmap.by_weekday[d])
    hour = max(range(24), key=lambda h: heatmap.by_hour[h])
    lines = [f"busiest: {busiest.label}, {heatmap.counted(busiest.count)}"]
    if heatmap.metric == "frt":
        lines[0] += f" (median {format_duration(busiest.value)})"
        slowest = heatmap.slowest()
        if slowest is not None:
            lines.insert(
                0,
                f"slowest: {slowest.label}, median {format_duration(slowest.value)} "
                f"({heatmap.counted(slowest.count)})",
            )
    lines.append(
        f"busiest day: {DAY_NAMES[day]}, {heatmap.counted(heatmap.by_weekday[day])} · "
        f"busiest hour: {hour_span(hour)}, {heatmap.counted(heatmap.by_hour[hour])}"
    )
    lines.append(f"total: {heatmap.counted(heatmap.total)}")
    return lines


def heatmap_grid(heatmap: Heatmap) -> str:
    """The grid as plain text: hour labels, a row per weekday with its total, and the legend."""
    top = _top(heatmap)
    header = "    " + "".join(f"{hour:<6d}" for hour in range(0, 24, 3))
    rows = [header.rstrip()]
    for day, name in enumerate(WEEKDAYS):
        cells = "".join(
            _cell(heatmap.values[day][hour], heatmap.counts[day][hour], top) for hour in range(24)
        )
        rows.append(f"{name} {cells} {heatmap.by_weekday[day]:>7,}")
    rows.append(_legend(heatmap, top))
    return "\n".join(rows)


def heatmap_text(heatmap: Heatmap) -> str:
    """The terminal's answer: title, grid and summary (the summary alone when the grid is empty)."""
    parts = [heatmap_title(heatmap), ""]
    if heatmap.total:
        parts += [heatmap_grid(heatmap), ""]
    return "\n".join(parts + summary_lines(heatmap))


def heatmap_message(heatmap: Heatmap, *, note: str | None = None) -> dict[str, Any]:
    """The Block Kit answer: header, the scope, the summary, the grid in a code block and `note` (where
    the image went, or why it did not) as context."""
    channels = inline(", ".join(heatmap.channels)) if heatmap.channels else "all channels"
    scope = f"{heatmap.period.label} · {channels} · local hours of {inline(heatmap.tz)}"
    summary = "\n".join(inline(line) for line in summary_lines(heatmap))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Heatmap: {TITLES[heatmap.metric]}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": scope}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
    ]
    if heatmap.total:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{heatmap_grid(heatmap)}```"}}
        )
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {"text": f"Heatmap: {METRICS[heatmap.metric]} · {summary_lines(heatmap)[0]}", "blocks": blocks}


def _top(heatmap: Heatmap) -> float:
    return max((value for row in heatmap.values for value in row if value), default=0)


def _cell(value: float | None, count: int, top: float) -> str:
    if not count or value is None:
        return EMPTY
    return SHADES[_level(value, top) if top else 0] * 2


def _level(value: float, top: float) -> int:
    """0-3: the quarter of the largest value `value` falls in (its upper bound included)."""
    return max(0, min(3, math.ceil(value / top * 4) - 1))


def _legend(heatmap: Heatmap, top: float) -> str:
    if heatmap.metric == "frt":
        return f"{EMPTY.strip()} none  {SHADES} quarters up to a {format_duration(top)} median first response"
    most = f"{math.floor(top):,}"
    return f"{EMPTY.strip()} none  {SHADES} quarters up to {most} messages in the hour (whole period)"
