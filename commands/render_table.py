"""How single values of a KPI are labelled and shown, and lists of them as aligned monospace tables.

Used by the Block Kit rendering for statistics fields, breakdowns and lists (agents, oldest
conversations, channel shares); each fits one Slack section (3,000 characters) with "and N more".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands.format import format_value, value_unit
from commands.kpis import KpiSpec
from commands.slack_text import inline

MAX_ROWS = 15
MAX_COLUMNS = 7
_LABELS = {
    "p90": "90th percentile",
    "first_mean": "First resolution, mean",
    "first_median": "First resolution, median",
    "full_mean": "Full resolution, mean",
    "full_median": "Full resolution, median",
    "per_day": "Per day",
    "oldest_age": "Oldest waiting",
    "over_threshold": "Over threshold",
    "frt_mean": "FRT mean",
    "frt_max": "Slowest FRT",
    "conversation_id": "Conversation",
    "non_social": "Non-social",
}


def stat_label(key: str) -> str:
    """The name shown for a values key: "p90" -> "90th percentile", "still_waiting" -> "Still waiting"."""
    return _LABELS.get(key, key.replace("_", " ").capitalize())


def show(key: str, value: Any, spec: KpiSpec | None) -> str:
    """One value of a KPI as text, in the unit its key implies (see `format.value_unit`); None is "—"."""
    return format_value(value, value_unit(key, value, spec.unit if spec is not None else "count"))


def table_rows(value: list | dict) -> list[dict[str, Any]]:
    """A values entry as table rows: a list of dicts as is, {name: number} or {name: {…}} one row per name."""
    if isinstance(value, dict):
        return [
            {"key": name, **item} if isinstance(item, dict) else {"key": name, "share": item}
            for name, item in value.items()
        ]
    return [row if isinstance(row, dict) else {"value": row} for row in value]


def table(
    rows: list[dict[str, Any]],
    spec: KpiSpec | None,
    *,
    max_chars: int,
    escape: Callable[[object], str] = inline,
) -> str:
    """Rows as an aligned monospace code block of at most MAX_ROWS rows and `max_chars` characters,
    followed by "…and N more" when rows were cut. Every cell passes `escape` (Slack's, by default: names
    and ids in cells come from events)."""
    columns = [c for c in rows[0] if any(row.get(c) is not None for row in rows)][:MAX_COLUMNS]
    cells = [[escape(stat_label(c)) if c != "key" else "" for c in columns]]
    cells += [[escape(show(c, row.get(c), spec)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in cells]
    shown = lines[: MAX_ROWS + 1]
    while len(shown) > 1 and len("\n".join(shown)) > max_chars - 40:
        shown.pop()
    more = len(lines) - len(shown)
    return "```\n" + "\n".join(shown) + "\n```" + (f"\n…and {more} more" if more else "")
