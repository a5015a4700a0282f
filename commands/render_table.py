"""How single values of a KPI are labelled and shown, and lists of them as aligned monospace tables.

Used by the Block Kit rendering for statistics fields, breakdowns and lists (agents, oldest
conversations, channel shares); each fits one Slack section (3,000 characters) with "and N more".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands.format import COUNT, MISSING, TEXT, format_value
from commands.kpis.spec import ValueUnit, label
from commands.slack_text import inline

MAX_ROWS = 15
MAX_COLUMNS = 7


def stat_label(key: str) -> str:
    """The name shown for a values key (commands.kpis.spec.label)."""
    return label(key)


SHOWN_ITEMS = 5  # entries of a mapping shown on screen


def show(value: Any, unit: ValueUnit) -> str:
    """One value as text in its unit; None is "—"; a mapping (mix's shares, repeat's hops), largest first,
    as "name value · …", its first SHOWN_ITEMS and how many more (the JSON holds them all)."""
    if isinstance(value, dict) and isinstance(unit, dict):
        items = list(value.items())
        parts = [
            f"{_name(name, unit)} {show(item, column_unit(unit, name))}" for name, item in items[:SHOWN_ITEMS]
        ]
        if len(items) > SHOWN_ITEMS:
            parts.append(f"+{len(items) - SHOWN_ITEMS} more")
        return " · ".join(parts) or MISSING
    return format_value(value, unit if isinstance(unit, str) else COUNT)


def _name(key: str, units: dict[str, ValueUnit]) -> str:
    """A declared column's key as words ("revenue per customer"); a name from the data (a channel) as is."""
    return key.replace("_", " ") if key in units else key


def column_unit(units: dict[str, ValueUnit], column: str) -> ValueUnit:
    """The unit of a table's column: as declared, the only one of a {name: number} mapping (its "share"),
    text for the row names ("key")."""
    if column in units:
        return units[column]
    if column != "key" and len(units) == 1:
        return next(iter(units.values()))
    return TEXT


def table_rows(value: list | dict, units: dict[str, ValueUnit] | None = None) -> list[dict[str, Any]]:
    """A values entry as table rows: a list of dicts as is, {name: number} or {name: {…}} one row per name;
    a number goes in the one column `units` declares (mix's "share", repeat's hops' "count")."""
    if isinstance(value, dict):
        column = next(iter(units)) if units and len(units) == 1 else "share"
        return [
            {"key": name, **item} if isinstance(item, dict) else {"key": name, column: item}
            for name, item in value.items()
        ]
    return [row if isinstance(row, dict) else {"value": row} for row in value]


def table(
    rows: list[dict[str, Any]],
    units: dict[str, ValueUnit],
    *,
    max_chars: int,
    escape: Callable[[object], str] = inline,
) -> str:
    """Rows as an aligned monospace code block of at most MAX_ROWS rows and `max_chars` characters,
    followed by "…and N more" when rows were cut. Every cell passes `escape` (Slack's, by default: names
    and ids in cells come from events)."""
    columns = [c for c in rows[0] if any(row.get(c) is not None for row in rows)][:MAX_COLUMNS]
    cells = [[stat_label(c) if c != "key" else "" for c in columns]]
    cells += [[show(row.get(c), column_unit(units, c)) for c in columns] for row in rows]
    # aligned by the text as shown: "&gt;" is one character on screen
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "  ".join(escape(cell) + " " * (widths[i] - len(cell)) for i, cell in enumerate(line)).rstrip()
        for line in cells
    ]
    shown = lines[: MAX_ROWS + 1]
    while len(shown) > 1 and len("\n".join(shown)) > max_chars - 40:
        shown.pop()
    more = len(lines) - len(shown)
    return "```\n" + "\n".join(shown) + "\n```" + (f"\n…and {more} more" if more else "")
