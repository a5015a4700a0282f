"""`/kpi why` as Slack sees it (the answer, and the "Why?" button under a KPI answer) and as the terminal
prints it. The words come first, then the tables whose rows add up to the change: by channel (mix and
performance), then within channels by arrival hours, agent and topic; the load; the conversations
weighing most. Names in them come from events and settings, so every cell and the words are escaped.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from commands.format import TEXT, format_value
from commands.kpis import KPIS
from commands.render_drill import plain, question_value, row_text
from commands.render_table import table
from commands.result import KpiResult
from commands.slack_text import inline
from commands.why import Split, Why
from commands.why_items import WHY
from commands.why_words import amount

WHY_ACTION = "kpi_why"
SPLIT_TITLES = {
    "channel": "By channel",
    "hours": "Within channels, by arrival (business or off hours)",
    "agent": "Within channels, by agent",
    "topic": "Within channels, by topic",
}
ROWS = 5  # rows of a split table shown; the JSON has them all
_SECTION = 3000


def why_button(result: KpiResult) -> dict[str, Any] | None:
    """The "Why?" button for an answer that has a change to explain: a mean KPI with a value in both
    periods (None otherwise)."""
    how = WHY.get(result.metric)
    if how is None or result.by is not None or result.business_hours:
        return None
    if result.values.get(how.headline) is None or result.previous.get(how.headline) is None:
        return None
    value = question_value(result)
    if value is None:
        return None
    return {
        "type": "button",
        "action_id": WHY_ACTION,
        "text": {"type": "plain_text", "text": "Why?"},
        "value": value,
    }


def why_message(why: Why, *, asked_by: str | None = None) -> dict[str, Any]:
    """The explanation as a Slack message: header, the words, one table per split, load, conversations."""
    header = _title(why)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}},
        _section(inline(why.words)),
    ]
    for split in _splits(why):
        rows = _rows(split, why.unit)
        if rows:
            text = table(rows, dict.fromkeys(rows[0], TEXT), max_chars=_SECTION - 200)
            blocks.append(_section(f"*{SPLIT_TITLES[split.by]}*\n{text}"))
    if why.drill is not None and why.drill.rows:
        listed = "\n".join(row_text(why.drill, row) for row in why.drill.rows)
        blocks.append(_section(f"*Weighing most now* ({inline(why.drill.title.lower())})\n{listed}"))
    scope = [why.period.label, f"vs {why.previous_period.label}"]
    scope.append(inline(", ".join(why.channels)) if why.channels else "all channels")
    if asked_by:
        scope.append(f"asked by <@{asked_by}>")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(scope)[:_SECTION]}]})
    return {"text": f"{header}: {why.words}"[:3000], "blocks": blocks[:50]}


def why_renderable(why: Why) -> RenderableType:
    """The explanation for the terminal: title, words, tables (names printed as text, never markup)."""
    parts: list[RenderableType] = [Text(plain(_title(why)), style="bold"), Text(plain(why.words))]
    for split in _splits(why):
        rows = _rows(split, why.unit)
        if not rows:
            continue
        grid = Table(
            *(column if column != "key" else split.by for column in rows[0]), box=None, pad_edge=False
        )
        for row in rows:
            grid.add_row(*(Text(plain(cell)) for cell in row.values()))
        parts += [Text(f"\n{SPLIT_TITLES[split.by]}", style="bold"), grid]
    if why.drill is not None and why.drill.rows:
        parts.append(Text(f"\nWeighing most now ({why.drill.title.lower()})", style="bold"))
        unit = why.drill.unit
        for row in why.drill.rows:
            figure = format_value(row.figure, unit) if why.drill.figure and unit else ""
            line = f"{row.conversation_id}  {row.channel}  {figure}  {row.link or ''}"
            parts.append(Text(plain(line).rstrip()))
    parts.append(Text(f"\n{why.period.label} vs {why.previous_period.label}", style="dim"))
    return Group(*parts)


def _title(why: Why) -> str:
    name = KPIS[why.metric].name
    before, now = (format_value(v, why.unit) for v in (why.previous, why.current))
    return f"Why {name} moved: {before} → {now}"


def _splits(why: Why) -> list[Split]:
    return [split for split in (why.by_channel, *why.within.values()) if split is not None]


def _rows(split: Split, unit: str) -> list[dict[str, str]]:
    """The split's first ROWS rows as text: share and mean before → now, and the parts (signed)."""
    return [
        {
            "key": row.key,
            "share": f"{row.previous_share * 100:.0f} % → {row.share * 100:.0f} %",
            "mean": f"{format_value(row.previous_mean, unit)} → {format_value(row.mean, unit)}",
            "mix": _signed(row.mix, unit),
            "performance": _signed(row.performance, unit),
            "part": _signed(row.part, unit),
        }
        for row in split.rows[:ROWS]
    ]


def _signed(value: float, unit: str) -> str:
    if value == 0:
        return "0"
    return f"{'+' if value > 0 else '−'}{amount(value, unit)}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_SECTION]}}
