"""The terminal rendering of a KpiResult or Scorecard: rich tables a person reads at a glance.

Each row shows the value, the previous period, the change (green when it is good news, red when
bad) and the benchmark with ✅ when met or ⚠️ when missed. A KPI with no data shows its note; a previous
period without data shows "—" and no change on every row (KpiResult blanks it).
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from commands.engine import change
from commands.format import COUNT, MISSING, format_change, format_value, meets_benchmark
from commands.kpis import KPIS
from commands.parse import METRIC_NAMES
from commands.render_nlp import NLP_METRICS, nlp_renderable
from commands.render_table import column_unit, show
from commands.render_why import why_renderable
from commands.result import KpiResult, Scorecard, row_name
from commands.why import Why

_GOOD, _BAD, _QUIET = "green", "red", "dim"


def render(answer: KpiResult | Scorecard | Why) -> RenderableType:
    """The rich renderable for a KPI result, the scorecard or a KPI's change explained (`why`)."""
    if isinstance(answer, Scorecard):
        return render_scorecard(answer)
    if isinstance(answer, Why):
        return why_renderable(answer)
    return render_result(answer)


def to_text(answer: KpiResult | Scorecard | Why, width: int = 110) -> str:
    """The rendering as plain text (no colours), as a terminal of `width` columns would show it."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, legacy_windows=False).print(render(answer))
    return buffer.getvalue()


def render_result(result: KpiResult) -> RenderableType:
    """One KPI: title and scope, notes, a row per value with previous, change and benchmark, and the
    breakdown table when one was asked for."""
    if result.metric in NLP_METRICS:
        return nlp_renderable(result)
    spec = KPIS[result.metric]
    better, headline = spec.better, spec.headline
    parts: list[RenderableType] = [_title(spec.name, result)]
    parts += [Text(note, style="yellow") for note in result.notes]
    if _any_data(result.values) or _any_data(result.previous):
        table = Table("", "value", "previous", "change", "benchmark", box=None, pad_edge=False)
        nested: list[RenderableType] = []
        for key, value in result.values.items():
            key_unit = spec.unit_of(key)
            if _is_rows(value):
                nested.append(_rows_table(spec.label_of(key).lower(), value, key_unit))
                continue
            previous = result.previous.get(key)
            table.add_row(
                Text(key.replace("_", " "), style="bold" if key == headline else ""),
                Text(show(value, key_unit)),
                Text(show(previous, key_unit), style=_QUIET),
                _change_cell(value, previous, key_unit, _judged(better, key_unit, key == headline)),
                _benchmark_cell(value, result.benchmark.get(key), key_unit, better),
            )
        parts += [table, *nested] if table.row_count else nested
    if result.by is not None:
        parts.append(_breakdown_table(result, spec.values))
    return Group(*parts)


def render_scorecard(card: Scorecard) -> RenderableType:
    """The headline KPIs in one table: value (or why there is none), previous, change, benchmark."""
    scope = ", ".join(card.channels) or "all channels"
    title = Text(f"{card.title} — {scope} — {card.period.label}", style="bold")
    title.append(f"\nvs {card.previous_period.label}", style=_QUIET)
    table = Table("KPI", "value", "previous", "change", "benchmark", box=None, pad_edge=False)
    footnotes: list[RenderableType] = []
    for result in card.results:
        key, unit, better = _headline(result.metric), _unit(result.metric), _better(result.metric)
        value = result.values.get(key) if key else None
        previous = result.previous.get(key) if key else None
        shown = Text(format_value(value, unit)) if value is not None else Text(_note(result), style=_QUIET)
        table.add_row(
            METRIC_NAMES.get(result.metric, result.metric),
            shown,
            Text(format_value(previous, unit), style=_QUIET),
            _change_cell(value, previous, unit, better),
            _benchmark_cell(value, result.benchmark.get(key) if key else None, unit, better),
        )
        if result.values.get("still_waiting"):
            waiting = result.values["still_waiting"]
            oldest = format_value(result.values.get("oldest_waiting"), "seconds")
            footnotes.append(Text(f"still waiting for a first response: {waiting}, oldest {oldest}"))
    return Group(title, table, *footnotes)


def _title(name: str, result: KpiResult) -> Text:
    scope = ", ".join(result.channels) or "all channels"
    title = Text(f"{name} — {scope} — {result.period.label}", style="bold")
    if result.business_hours:
        title.append(" (business hours)", style="bold")
    title.append(f"\nvs {result.previous_period.label}", style=_QUIET)
    return title


def _change_cell(value: Any, previous: Any, unit: str, better: str | None) -> Text:
    moved = change(value, previous, unit, better)
    style = {True: _GOOD, False: _BAD}.get(moved["good"], "")
    return Text(format_change(moved, unit), style=style)


def _benchmark_cell(value: Any, target: Any, unit: str, better: str | None) -> Text:
    if target is None:
        return Text("")
    met = meets_benchmark(value, target, better)
    mark = {True: " ✅", False: " ⚠️"}.get(met, "")
    return Text(show(target, unit) + mark)


def _breakdown_table(result: KpiResult, units: dict) -> RenderableType:
    rows = result.breakdown or []
    if not rows:
        return Text(f"by {result.by}: no data", style=_QUIET)
    keys = [key for key, value in rows[0]["values"].items() if not _is_rows(value)]
    table = Table(result.by, *(k.replace("_", " ") for k in keys), title=f"by {result.by}", box=None)
    for row in rows:
        values = row["values"]
        table.add_row(
            Text(row_name(row)),
            *(Text(show(values.get(k), column_unit(units, k))) for k in keys),
        )
    return table


def _rows_table(title: str, rows: list[dict[str, Any]], units: dict) -> RenderableType:
    """A list of records inside the values (backlog's oldest conversations, the team report)."""
    if not rows:
        return Text(f"{title}: none", style=_QUIET)
    columns = list(rows[0])
    table = Table(*(c.replace("_", " ") for c in columns), title=title, box=None)
    for row in rows:
        table.add_row(*(Text(show(row.get(c), column_unit(units, c))) for c in columns))
    return table


def _judged(better: str | None, unit: str, is_headline: bool) -> str | None:
    """Which way is good for this row: a count going up is good or bad only when it is the KPI itself
    (backlog); counts beside it (how many answers) are neither."""
    return better if unit != COUNT or is_headline else None


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _any_data(values: dict[str, Any]) -> bool:
    return any(v not in (None, 0, [], {}) for v in values.values())


def _note(result: KpiResult) -> str:
    return result.notes[0] if result.notes else MISSING


def _headline(metric: str) -> str | None:
    return KPIS[metric].headline if metric in KPIS else None


def _unit(metric: str) -> str:
    return KPIS[metric].unit if metric in KPIS else COUNT


def _better(metric: str) -> str | None:
    return KPIS[metric].better if metric in KPIS else None
