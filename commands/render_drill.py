"""The conversations behind a number (commands.drill) as Slack sees them — the "Show conversations"
button under an answer, and the list it posts — and as the terminal prints them (`--list`).

The button's value carries the answer's question: its metric, channels and exact period (not the words
typed: "30d" pressed tomorrow would be another period), so the list is the one behind the number shown.
Everything in a row comes from events, so it is escaped where it is rendered; a link is clickable only
when it is an http(s) URL (commands.slack_text.link).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from commands.drill import DRILLS, EMPTY, DrillList, DrillRow
from commands.errors import UsageError
from commands.format import SECONDS, format_value
from commands.parse import KpiRequest
from commands.periods import Period
from commands.result import KpiResult
from commands.slack_text import inline, link
from storage.settings import Settings

DRILL_ACTION = "kpi_drill"
MAX_VALUE = 2000  # Slack's limit on a button's value
STALE = "this button no longer matches a question kpibot can answer: ask again"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def drill_button(result: KpiResult) -> dict[str, Any] | None:
    """The "Show conversations" button for an answer whose KPI has a list (None otherwise)."""
    value = question_value(result) if result.metric in DRILLS else None
    if value is None:
        return None
    return {
        "type": "button",
        "action_id": DRILL_ACTION,
        "text": {"type": "plain_text", "text": "Show conversations"},
        "value": value,
    }


def question_value(result: KpiResult) -> str | None:
    """What a button under an answer carries: its metric, channels and exact period, as JSON (None when
    that would not fit a button's value)."""
    period = result.period
    value = json.dumps(
        {
            "metric": result.metric,
            "channels": list(result.channels),
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "name": period.name,
        },
        separators=(",", ":"),
    )
    return value if len(value) <= MAX_VALUE else None


def drill_request(value: str, settings: Settings) -> KpiRequest:
    """The question a "Show conversations" button carries (`asked_question`)."""
    return asked_question(value, settings, DRILLS)


def asked_question(value: str, settings: Settings, metrics: Collection[str]) -> KpiRequest:
    """The question a button's value carries (`question_value`). Raises UsageError (STALE) for a value
    kpibot did not write or can no longer answer: a metric not among `metrics`, a channel no longer
    configured."""
    try:
        asked = json.loads(value)
        metric, channels = asked["metric"], tuple(asked["channels"])
        start, end = datetime.fromisoformat(asked["start"]), datetime.fromisoformat(asked["end"])
        name = asked.get("name")
        period = Period(start, end, settings.zone, name if isinstance(name, str) else None)
    except (TypeError, ValueError, KeyError, AttributeError):
        raise UsageError(STALE) from None
    known = {channel.lower() for channel in settings.channels}
    if metric not in metrics or not all(isinstance(c, str) and c in known for c in channels):
        raise UsageError(STALE)
    return KpiRequest(metric, channels, period, "")


def drill_message(drill: DrillList) -> dict[str, Any]:
    """The list as an ephemeral Slack message: a header, what it lists and for which scope, one section
    per conversation (or the sentence saying there is none)."""
    title = f"Conversations behind {drill.name}"
    scope = f"{inline(drill.title)} · {inline(drill.period.label)} · {_channels(drill, inline)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": scope[:3000]}]},
    ]
    if not drill.rows:
        blocks.append(_section(f"_{EMPTY[:1].upper()}{EMPTY[1:]}_"))
    blocks += [_section(row_text(drill, row)) for row in drill.rows]
    return {"text": f"{title}: {len(drill.rows)} conversation(s)", "blocks": blocks}


def drill_renderable(drill: DrillList) -> RenderableType:
    """The list as a terminal table (ids, links and notes printed as text, never as markup)."""
    heading = Text(f"{drill.name} — {_channels(drill, plain)} — {plain(drill.period.label)}", style="bold")
    heading.append(f"\n{drill.title}", style="dim")
    if not drill.rows:
        return Group(heading, Text(EMPTY, style="yellow"))
    columns = ["conversation", "channel", "age", "agent"]
    columns += [drill.figure.lower()] if drill.figure else []
    table = Table(*columns, "note", "link", box=None, pad_edge=False)
    for row in drill.rows:
        cells = [row.conversation_id, row.channel, format_value(row.age, SECONDS), row.agent or "—"]
        cells += [format_value(row.figure, drill.unit)] if drill.figure else []
        table.add_row(*(Text(plain(cell)) for cell in (*cells, row.note or "", row.link or "")))
    return Group(heading, table)


def row_text(drill: DrillList, row: DrillRow) -> str:
    """`*tw-2* · twitter · 2d 1h old · U9` and, below, the figure, the note and an `open` link."""
    first = [f"*{inline(row.conversation_id)}*", inline(row.channel), f"{format_value(row.age, SECONDS)} old"]
    first.append(inline(row.agent) if row.agent else "no agent")
    second = (
        [f"{inline(drill.figure)}: *{inline(format_value(row.figure, drill.unit))}*"] if drill.figure else []
    )
    second += [f"_{inline(row.note)}_"] if row.note else []
    opened = link(row.link, "open") if row.link else ""
    second += [opened] if opened.startswith("<") else []  # only an http(s) URL becomes a link
    return " · ".join(first) + ("\n" + " · ".join(second) if second else "")


def _channels(drill: DrillList, escape) -> str:
    return escape(", ".join(drill.channels)) if drill.channels else "all channels"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def plain(value: object) -> str:
    """Text from events for the terminal: control characters (escape sequences, line breaks) as spaces."""
    return _CONTROL.sub(" ", str(value))
