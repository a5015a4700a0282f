"""Renderings of `sentiment`, `topics` and `voice`: a Block Kit message and a rich terminal renderable.

Both are made of the same paragraphs, with Slack's *bold* and code fences in the message only: the
split as bars of ▇ (one cell per 5 % of scored messages), topics as a small aligned table, voice as
quotes with the pseudonymised author, the channel and how long ago. Customer text, phrases, topics and
names are shown as text, never as markup: escaped for Slack (commands.slack_text), and rich does not parse
markup in `Text`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from commands.engine import change
from commands.format import (
    MISSING,
    format_change,
    format_duration,
    format_value,
    meets_benchmark,
    not_read,
)
from commands.kpis import KPIS
from commands.parse import METRIC_NAMES
from commands.render_table import table
from commands.result import KpiResult
from commands.slack_text import block, inline

NLP_METRICS = frozenset({"sentiment", "topics", "voice"})
BAR_CELLS = 20
SPLIT = ("positive", "neutral", "negative")
SHOWN_PHRASES = 5
SHOWN_CHANNEL_TOPICS = 3


def bar(share: float | None, cells: int = BAR_CELLS) -> str:
    """A share (0-1) as a bar of ▇, `cells` long for 100 % and rounded half up: 0.25 -> 5 of 20."""
    return "▇" * int(share * cells + 0.5) if share else ""


def split_lines(values: dict[str, Any]) -> list[str]:
    """The positive / neutral / negative split as aligned lines "positive  ▇▇▇▇▇…  50 %  (2)": label,
    bar, share and number of messages; [] when nothing was scored."""
    scored = values.get("count") or 0
    if not scored or values.get("positive") is None:
        return []
    return [
        f"{key:<8}  {bar(values[key]):<{BAR_CELLS}}  {format_value(values[key], 'fraction'):>7}"
        f"  ({round(values[key] * scored)})"
        for key in SPLIT
    ]


def topic_cells(topic: dict[str, Any]) -> dict[str, str]:
    """One row of the topics table as text: topic, count, share, mean sentiment, change (▲ 3 / ▼ 2 / =;
    — when nothing came before to compare with) and its most frequent subtopic."""
    subtopics = topic.get("subtopics") or []
    return {
        "topic": topic["topic"],
        "count": format_value(topic["count"], "count"),
        "share": format_value(topic["share"], "fraction"),
        "sentiment": _score(topic.get("sentiment")),
        "change": _count_change(topic.get("change")),
        "top_subtopic": subtopics[0]["subtopic"] if subtopics else "",
    }


def nlp_message(result: KpiResult, *, asked_by: str | None = None) -> dict[str, Any]:
    """The Slack message for a sentiment, topics or voice result: header (net sentiment for sentiment),
    the paragraphs of `_paragraphs`, the notes (or why there is no data) and the scope."""
    header = METRIC_NAMES[result.metric]
    if result.metric == "sentiment" and result.values.get("net") is not None:
        header += f": net {_signed(result.values['net'])}"
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}}]
    blocks += [_section(paragraph) for paragraph in _paragraphs(result, slack=True)]
    blocks += [_section(f"_{note[:1].upper()}{note[1:]}_") for note in _notes(result)]
    scope = " · ".join([_scope(result, inline), *([f"asked by <@{asked_by}>"] if asked_by else [])])
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": scope}]})
    return {"text": f"{header} ({_scope(result, inline)})", "blocks": blocks}


def nlp_renderable(result: KpiResult) -> RenderableType:
    """The terminal rendering of a sentiment, topics or voice result: title, scope and previous period,
    the paragraphs of `_paragraphs` without Slack markup, and the notes."""
    channels = ", ".join(result.channels) or "all channels"
    title = Text(f"{METRIC_NAMES[result.metric]} — {channels} — {result.period.label}", style="bold")
    title.append(f"\nvs {result.previous_period.label}", style="dim")
    paragraphs = [Text(paragraph) for paragraph in _paragraphs(result, slack=False)]
    return Group(title, *paragraphs, *(Text(note, style="yellow") for note in _notes(result)))


def _paragraphs(result: KpiResult, *, slack: bool) -> list[str]:
    """What the result says, a paragraph per block: the comparison, split bars and scores (sentiment);
    the topics table and recurring phrases (topics); the quotes (voice); then the breakdown."""
    bold: Callable[[str], str] = (lambda s: f"*{s}*") if slack else str
    shown: Callable[[object], str] = inline if slack else str
    values, out = result.values, []
    if result.metric == "sentiment":
        lines = split_lines(values)
        if lines:
            out += [_comparison(result), _code("\n".join(lines), slack)]
        if lines or values.get("unscored"):
            stats = [
                f"{bold('Mean score')} {_score(values.get('mean'))}",
                f"{bold('Scored')} {values['count']}",
            ]
            unscored = not_read("sentiment", values)
            if unscored:
                stats.append(unscored)
            out.append(" · ".join(stats))
    elif result.metric == "topics":
        if values.get("topics"):
            read, before = bold(str(values["count"])), result.previous.get("count")
            intro = f"{read} customer messages" + (
                f" · previous period {before}" if before is not None else ""
            )
            unread = not_read("topics", values)
            if unread:
                intro += f" · {unread}"
            cells = [topic_cells(topic) for topic in values["topics"]]
            rows = _code(table(cells, {}, max_chars=2900, escape=shown), slack)
            out.append(f"{intro}\n{rows}")
        if values.get("phrases"):
            phrases = " · ".join(
                f"“{shown(p['phrase'])}” {p['count']}" for p in values["phrases"][:SHOWN_PHRASES]
            )
            out.append(f"{bold('Recurring phrases outside the topics')}: {phrases}")
    else:
        for key, title in (("negative", "Most negative"), ("positive", "Most positive")):
            if values.get(key):
                out.append("\n".join([bold(title), *(_quote(quote, slack) for quote in values[key])]))
    if result.breakdown:
        out.append(f"{bold(f'By {result.by}')}\n{_breakdown(result, bold, shown, slack)}")
    return out


def _comparison(result: KpiResult) -> str:
    """ "Previous period (…): net +10 % · ▲ 15 pt, better" (or "…: no data"), and the benchmark line
    "Benchmark: net +20 % met" when one is configured."""
    current, previous = result.values.get("net"), result.previous.get("net")
    line = f"Previous period ({result.previous_period.label}): "
    if previous is None:
        line += "no data"
    else:
        moved = change(current, previous, "fraction", "higher")
        verdict = {True: ", better", False: ", worse"}.get(moved["good"], "")
        shift = "no change" if moved["direction"] == "same" else format_change(moved, "fraction") + verdict
        line += f"net {_signed(previous)} · {shift}"
    benchmark = result.benchmark.get("net")
    if isinstance(benchmark, int | float):
        met = {True: " met", False: " missed"}.get(meets_benchmark(current, benchmark, "higher"), "")
        line += f"\nBenchmark: net {_signed(benchmark)}{met}"
    return line


def _quote(quote: dict[str, Any], slack: bool) -> str:
    """A voice quote and who said it where and when: Slack's `>` quote, or “…” in the terminal."""
    age = quote.get("age")
    when = f"{format_duration(age)} ago" if age is not None else quote["at"]
    author = quote.get("author") or "unknown"
    said = f"{quote['channel']} · {when} · score {_score(quote['score'])}"
    if slack:
        return f"> {block(quote['text'])}\n— `{inline(author)}` · {inline(said)}"
    return f"  “{quote['text']}”\n    — {author} · {said}"


def _breakdown(
    result: KpiResult, bold: Callable[[str], str], shown: Callable[[object], str], slack: bool
) -> str:
    """Per channel or day: the split and net sentiment as a table, or each channel's top topics."""
    rows = result.breakdown or []
    if result.metric == "topics":
        lines = []
        for row in rows:
            tops = ", ".join(
                f"{shown(t['topic'])} {t['count']} ({format_value(t['share'], 'fraction')})"
                for t in (row["values"].get("topics") or [])[:SHOWN_CHANNEL_TOPICS]
            )
            lines.append(
                f"{bold(shown(row['key']))} ({row['values'].get('count') or 0}): {tops or 'no topic'}"
            )
        return "\n".join(lines) or "no data"
    cells = [
        {
            "key": str(row["key"]),
            **{key: format_value(row["values"].get(key), "fraction") for key in SPLIT},
            "net": _signed(row["values"].get("net")),
            "scored": str(row["values"].get("count") or 0),
        }
        for row in rows
    ]
    return _code(table(cells, {}, max_chars=2900, escape=shown), slack) if cells else "no data"


def _code(fenced: str, slack: bool) -> str:
    """Monospace text as a Slack code block; the terminal is monospace already, so no fences there."""
    if not fenced.startswith("```"):
        fenced = f"```\n{fenced}\n```"
    return fenced if slack else fenced.replace("```\n", "").replace("\n```", "")


def _notes(result: KpiResult) -> list[str]:
    """The engine's notes, or the KPI's empty sentence when there is nothing to show."""
    values = result.values
    if result.metric == "sentiment":
        has_data = values.get("net") is not None
    elif result.metric == "topics":
        has_data = bool(values.get("count"))
    else:
        has_data = bool(values.get("negative") or values.get("positive"))
    return list(result.notes) or ([] if has_data else [KPIS[result.metric].empty])


def _signed(share: float | None) -> str:
    text = format_value(share, "fraction")
    return f"+{text}" if share is not None and share > 0 and text != "0 %" else text


def _score(score: float | None) -> str:
    if score is None:
        return MISSING
    text = format_value(score, "score")
    return f"+{text}" if score > 0 and text != "0" else text


def _count_change(moved: int | None) -> str:
    if moved is None:
        return MISSING
    return "=" if moved == 0 else f"{'▲' if moved > 0 else '▼'} {abs(moved)}"


def _scope(result: KpiResult, shown: Callable[[object], str] = str) -> str:
    return f"{result.period.label} · {shown(', '.join(result.channels)) or 'all channels'}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
