"""Block Kit renderings of KPI answers, help and errors: pure functions returning plain dicts.

Every message carries a plain `text` fallback (notifications, screen readers) beside its `blocks`,
and stays within Slack's limits (50 blocks, 3,000 characters per section, 10 fields per section).
"""

from __future__ import annotations

from typing import Any

from commands.engine import change
from commands.errors import UsageError
from commands.format import TEXT, format_change, format_value, meets_benchmark
from commands.kpis import KPIS, KpiSpec
from commands.kpis.spec import has_data
from commands.parse import METRIC_NAMES
from commands.render_drill import drill_button
from commands.render_nlp import NLP_METRICS, nlp_message
from commands.render_table import show, table, table_rows
from commands.render_why import why_button, why_message
from commands.result import KpiResult, Scorecard, row_name
from commands.slack_text import inline
from commands.why import Why

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELDS = 10
_WAITING_KEYS = ("still_waiting", "oldest_waiting")


def answer_message(answer: KpiResult | Scorecard | Why, *, asked_by: str | None = None) -> dict[str, Any]:
    """The Slack message answering a question: one KPI, the scorecard, or a KPI's change explained."""
    if isinstance(answer, Scorecard):
        return scorecard_message(answer, asked_by=asked_by)
    if isinstance(answer, Why):
        return why_message(answer, asked_by=asked_by)
    message = kpi_message(answer, asked_by=asked_by)
    # "Show conversations" for a KPI with conversations behind it, "Why?" for a change to explain
    buttons = [button for button in (drill_button(answer), why_button(answer)) if button is not None]
    if buttons:  # above the scope line, which stays last
        actions = {"type": "actions", "block_id": "kpi_answer", "elements": buttons}
        blocks = message["blocks"]
        message["blocks"] = [*blocks[: min(len(blocks), MAX_BLOCKS - 1) - 1], actions, blocks[-1]]
    return message


def kpi_message(result: KpiResult, *, asked_by: str | None = None) -> dict[str, Any]:
    """One KPI: header with the main figure, comparisons, other stats, tables, notes and scope."""
    if result.metric in NLP_METRICS:
        return nlp_message(result, asked_by=asked_by)
    spec = KPIS.get(result.metric)
    name = METRIC_NAMES.get(result.metric, result.metric)
    figure = _headline(result.values, spec)
    header = f"{name}: {figure}" if figure else name
    blocks: list[dict[str, Any]] = [_header(header)]
    if _has_data(result.values, spec):
        lines = _comparison(result, spec)
        fields = [
            f"*{spec.label_of(key)}*\n{inline(show(value, spec.unit_of(key)))}"
            for key, value in result.values.items()
            if isinstance(value, int | float | str) and key not in (*_WAITING_KEYS, _headline_key(spec))
        ]
        tables = [
            (key, value) for key, value in result.values.items() if isinstance(value, list | dict) and value
        ]
    else:
        lines, fields, tables = _still_waiting(result.values), [], []
    if lines:
        blocks.append(_section("\n".join(lines)))
    blocks.extend(_fields(fields[i : i + MAX_FIELDS]) for i in range(0, len(fields), MAX_FIELDS))
    blocks.extend(
        _section(f"*{spec.label_of(key)}*\n{_table(value, spec.unit_of(key))}") for key, value in tables
    )
    if result.breakdown and result.by is not None:
        blocks.append(_section(f"*By {result.by}*\n{_breakdown_table(result, spec)}"))
    notes = list(result.notes)
    if not _has_data(result.values, spec) and _empty(spec) not in map(_sentence, notes):
        notes.insert(0, _empty(spec))
    blocks.extend(_section(f"_{_sentence(note)}_") for note in notes)
    blocks.append(_context(_scope(result.period.label, result.channels, result.business_hours, asked_by)))
    text = f"{header} ({_scope(result.period.label, result.channels, result.business_hours, None)})"
    return {"text": text, "blocks": _within_limits(blocks)}


def scorecard_message(scorecard: Scorecard, *, asked_by: str | None = None) -> dict[str, Any]:
    """The scorecard: a header, one section per headline KPI, and the scope."""
    blocks = [_header(f"{scorecard.title}: {scorecard.period.label}"), *scorecard_sections(scorecard)]
    blocks.append(_context(_scope(scorecard.period.label, scorecard.channels, False, asked_by)))
    summary = " · ".join(
        f"{METRIC_NAMES.get(r.metric, r.metric)} {_headline(r.values, KPIS.get(r.metric)) or 'no data'}"
        for r in scorecard.results
    )
    text = f"{scorecard.title}, {scorecard.period.label}: {summary}"
    return {"text": text[:MAX_SECTION], "blocks": _within_limits(blocks)}


def scorecard_sections(scorecard: Scorecard) -> list[dict[str, Any]]:
    """One section per KPI of the scorecard: name, main figure, change, benchmark, still waiting."""
    sections = []
    for result in scorecard.results:
        spec = KPIS.get(result.metric)
        figure = _headline(result.values, spec)
        title = f"*{METRIC_NAMES.get(result.metric, result.metric)}*"
        if figure:
            sections.append(_section("\n".join([f"{title}  *{figure}*", *_comparison(result, spec)])))
        else:
            sections.append(_section("\n".join([title, f"_{_empty(spec)}_", *_still_waiting(result.values)])))
    return sections


def help_message(help_text: str, *, error: UsageError | None = None) -> dict[str, Any]:
    """The help as a message; with `error`, its "did you mean" message comes first."""
    blocks = []
    if error is not None:
        blocks.append(_section(f":warning: {error.message}"))
        blocks.append({"type": "divider"})
    blocks.extend(_section(chunk) for chunk in _chunks(help_text))
    text = error.message if error is not None else help_text.splitlines()[0]
    return {"text": text, "blocks": _within_limits(blocks)}


def notice_message(text: str) -> dict[str, Any]:
    """A one-paragraph message (confirmations, refusals, apologies)."""
    return {"text": text, "blocks": [_section(chunk) for chunk in _chunks(text)][:MAX_BLOCKS]}


def _comparison(result: KpiResult, spec: KpiSpec | None) -> list[str]:
    """Lines comparing the main figure with the previous period and the benchmark, and who still waits."""
    key = _headline_key(spec)
    if spec is None or key is None:
        return []
    lines = []
    current, previous = result.values.get(key), result.previous.get(key)
    if previous is None:
        lines.append(f"Previous period ({result.previous_period.label}): no data")
    else:
        change = _change(current, previous, spec)
        lines.append(
            f"Previous period ({result.previous_period.label}): {format_value(previous, spec.unit)}{change}"
        )
    benchmark = result.benchmark.get(key)
    if _is_scalar(benchmark):
        lines.append(
            f"Benchmark: {format_value(benchmark, spec.unit)}{_versus(current, benchmark, spec.better)}"
        )
    return lines + _still_waiting(result.values)


def _still_waiting(values: dict[str, Any]) -> list[str]:
    """The "still waiting: N, oldest 5h 12m" line when conversations wait for a first response."""
    waiting = values.get("still_waiting")
    if not waiting:
        return []
    oldest = values.get("oldest_waiting")
    age = f", oldest {format_value(oldest, 'seconds')}" if oldest is not None else ""
    return [f":hourglass_flowing_sand: Still waiting: {waiting}{age}"]


def _has_data(values: dict[str, Any], spec: KpiSpec | None) -> bool:
    return has_data(values, _headline_key(spec))


def _empty(spec: KpiSpec | None) -> str:
    return _sentence(spec.empty if spec is not None else "no data in this period")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _change(current: Any, previous: Any, spec: KpiSpec) -> str:
    """ " · ▼ 1h 30m (-50 %), better": the move since the previous period and whether it is good news."""
    moved = change(current, previous, spec.unit, spec.better)
    if moved["direction"] is None:
        return ""
    if moved["direction"] == "same":
        return " · no change"
    verdict = {True: ", better", False: ", worse"}.get(moved["good"], "")
    return f" · {format_change(moved, spec.unit)}{verdict}"


def _versus(current: Any, benchmark: Any, better: str | None) -> str:
    met = meets_benchmark(current, benchmark, better)
    return {True: " :white_check_mark: met", False: " :warning: missed"}.get(met, "")


def _headline_key(spec: KpiSpec | None) -> str | None:
    return spec.headline if spec is not None else None


def _headline(values: dict[str, Any], spec: KpiSpec | None) -> str | None:
    key = _headline_key(spec)
    value = values.get(key) if key else None
    return format_value(value, spec.unit) if _is_scalar(value) else None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _breakdown_table(result: KpiResult, spec: KpiSpec) -> str:
    """The breakdown as a table whose first column, headed by the dimension ("Agent"), names each row (an
    agent by name)."""
    by = result.by or "key"
    rows = [{by: row_name(row), **_breakdown_columns(row["values"], spec)} for row in result.breakdown or []]
    return table(rows, {**spec.values, by: TEXT}, max_chars=MAX_SECTION)


def _breakdown_columns(values: dict[str, Any], spec: KpiSpec | None) -> dict[str, Any]:
    """The headline and the first count of one breakdown row: what fits on a line."""
    key = _headline_key(spec)
    columns = {key: values.get(key)} if key else {}
    count = next((k for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)), None)
    if count and count != key:
        columns[count] = values[count]
    return columns


def _table(value: list | dict, units: dict) -> str:
    """A list of records as a table; one record (social-impact's groups) on a line, each value in its
    unit ("customers 84 · retention 95.0 % · …")."""
    if isinstance(value, dict) and set(value) <= set(units):
        return inline(show(value, units))
    return table(table_rows(value, units), units, max_chars=MAX_SECTION)


def _scope(label: str, channels: tuple[str, ...], business_hours: bool, asked_by: str | None) -> str:
    parts = [label, inline(", ".join(channels)) if channels else "all channels"]
    if business_hours:
        parts.append("business hours")
    if asked_by:
        parts.append(f"asked by <@{asked_by}>")
    return " · ".join(parts)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}


def _fields(fields: list[str]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": field[:2000]} for field in fields]}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION]}]}


def _chunks(text: str) -> list[str]:
    """The text cut at line ends into pieces that each fit one section."""
    chunks, current = [], ""
    for line in text.splitlines():
        if current and len(current) + len(line) + 1 > MAX_SECTION:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line[:MAX_SECTION]
    return [*chunks, current] if current else chunks


def _within_limits(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks; the last one kept is the context line, after a note of what was cut."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 2]
    return [*kept, _section(f"…and {len(blocks) - 1 - len(kept)} more"), blocks[-1]]
