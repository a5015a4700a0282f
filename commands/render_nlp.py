"""Renderings of `sentiment`, `topics` and `voice`: Block Kit messages and rich terminal renderables.

The split reads as bars of ▇ (one cell per 5 % of scored messages), topics as a small aligned table,
voice as quotes with the pseudonymised author, the channel and how long ago. Customer text is shown
as text, never as markup: Slack's control characters are escaped and rich markup is not parsed.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from commands.engine import change
from commands.format import MISSING, format_change, format_duration, format_value, meets_benchmark
from commands.kpis import KPIS
from commands.parse import METRIC_NAMES
from commands.render_table import table
from commands.result import KpiResult

NLP_METRICS = frozenset({"sentiment", "topics", "voice"})
BAR_CELLS = 20
SPLIT = ("positive", "neutral", "negative")
SHOWN_PHRASES = 5
SHOWN_CHANNEL_TOPICS = 3
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


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
    """The Slack message for a sentiment, topics or voice result: header, comparison, the split bars /
    topics table / quotes, the breakdown when asked, notes (or why there is no data), and the scope."""
    name = METRIC_NAMES[result.metric]
    values, blocks = result.values, []
    if result.metric == "sentiment":
        header = f"{name}: net {_signed(values.get('net'))}" if values.get("net") is not None else name
        lines = split_lines(values)
        if lines:
            blocks.append(_section(_comparison(result)))
            blocks.append(_section("```\n" + "\n".join(lines) + "\n```"))
            blocks.append(_section(_sentiment_stats(values)))
        elif values.get("unscored"):
            blocks.append(_section(_sentiment_stats(values)))
    elif result.metric == "topics":
        header = name
        if values.get("topics"):
            rows = [topic_cells(topic) for topic in values["topics"]]
            blocks.append(_section(f"{_topics_intro(result)}\n{table(rows, None, max_chars=2900)}"))
        if values.get("phrases"):
            blocks.append(_section(f"*Recurring phrases outside the topics*\n{_phrases(values['phrases'])}"))
    else:
        header = name
        for key, title in (("negative", "Most negative"), ("positive", "Most positive")):
            if values.get(key):
                quotes = "\n".join(_slack_quote(quote) for quote in values[key])
                blocks.append(_section(f"*{title}*\n{quotes}"))
    if result.breakdown:
        blocks.append(_section(f"*By {result.by}*\n{_breakdown(result, slack=True)}"))
    notes = list(result.notes) or ([] if _has_data(result) else [KPIS[result.metric].empty])
    blocks.extend(_section(f"_{note[:1].upper()}{note[1:]}_") for note in notes)
    scope = _scope(result, asked_by)
    blocks = [_header(header), *blocks, {"type": "context", "elements": [{"type": "mrkdwn", "text": scope}]}]
    return {"text": f"{header} ({_scope(result, None)})", "blocks": blocks}


def nlp_renderable(result: KpiResult) -> RenderableType:
    """The terminal rendering of a sentiment, topics or voice result: title and scope, then the split
    bars, the topics table or the quotes, the breakdown when asked, and the notes."""
    scope = ", ".join(result.channels) or "all channels"
    title = Text(f"{METRIC_NAMES[result.metric]} — {scope} — {result.period.label}", style="bold")
    title.append(f"\nvs {result.previous_period.label}", style="dim")
    parts: list[RenderableType] = [title]
    values = result.values
    if result.metric == "sentiment":
        lines = split_lines(values)
        if lines:
            parts += [Text(_comparison(result)), Text("\n".join(lines))]
        if lines or values.get("unscored"):
            parts.append(Text(_sentiment_stats(values).replace("*", "")))
    elif result.metric == "topics":
        if values.get("topics"):
            grid = Table(
                "topic", "count", "share", "sentiment", "change", "top subtopic", box=None, pad_edge=False
            )
            for topic in values["topics"]:
                grid.add_row(*(Text(cell) for cell in topic_cells(topic).values()))
            parts += [Text(_topics_intro(result).replace("*", "")), grid]
        if values.get("phrases"):
            parts.append(Text(f"recurring phrases outside the topics: {_phrases(values['phrases'])}"))
    else:
        for key, title_text in (("negative", "most negative"), ("positive", "most positive")):
            if values.get(key):
                parts.append(Text(title_text, style="bold"))
                parts += [_terminal_quote(quote) for quote in values[key]]
    if result.breakdown:
        parts.append(Text(f"by {result.by}\n{_breakdown(result, slack=False)}"))
    notes = list(result.notes) or ([] if _has_data(result) else [KPIS[result.metric].empty])
    parts += [Text(note, style="yellow") for note in notes]
    return Group(*parts)


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


def _sentiment_stats(values: dict[str, Any]) -> str:
    stats = [f"*Mean score* {_score(values.get('mean'))}", f"*Scored* {values.get('count') or 0}"]
    if values.get("unscored"):
        stats.append(f"*Unscored* {values['unscored']} (not English)")
    return " · ".join(stats)


def _topics_intro(result: KpiResult) -> str:
    read, before = result.values.get("count") or 0, result.previous.get("count")
    return f"*{read}* customer messages" + (f" · previous period {before}" if before is not None else "")


def _phrases(phrases: list[dict[str, Any]]) -> str:
    return " · ".join(f"“{p['phrase']}” {p['count']}" for p in phrases[:SHOWN_PHRASES])


def _slack_quote(quote: dict[str, Any]) -> str:
    text = quote["text"].translate(_SLACK_ESCAPES)
    return f"> {text}\n— `{quote.get('author') or 'unknown'}` · {_attribution(quote)}"


def _terminal_quote(quote: dict[str, Any]) -> Text:
    line = Text(f"  “{quote['text']}”\n")
    line.append(f"    — {quote.get('author') or 'unknown'} · {_attribution(quote)}", style="dim")
    return line


def _attribution(quote: dict[str, Any]) -> str:
    age = quote.get("age")
    when = f"{format_duration(age)} ago" if age is not None else quote["at"]
    return f"{quote['channel']} · {when} · score {_score(quote['score'])}"


def _breakdown(result: KpiResult, *, slack: bool) -> str:
    """Per channel or day: the split and net sentiment, or the top topics, one row each."""
    if result.metric == "topics":
        lines = []
        for row in result.breakdown or []:
            top = row["values"].get("topics") or []
            shown = ", ".join(
                f"{t['topic']} {t['count']} ({format_value(t['share'], 'fraction')})"
                for t in top[:SHOWN_CHANNEL_TOPICS]
            )
            key = f"*{row['key']}*" if slack else str(row["key"])
            lines.append(f"{key} ({row['values'].get('count') or 0}): {shown or 'no topic'}")
        return "\n".join(lines) or "no data"
    rows = [
        {
            "key": str(row["key"]),
            **{k: format_value(row["values"].get(k), "fraction") for k in SPLIT},
            "net": _signed(row["values"].get("net")),
            "scored": str(row["values"].get("count") or 0),
        }
        for row in result.breakdown or []
    ]
    if not rows:
        return "no data"
    text = table(rows, None, max_chars=2900)
    return text if slack else text.replace("```\n", "").replace("\n```", "")


def _has_data(result: KpiResult) -> bool:
    values = result.values
    if result.metric == "sentiment":
        return values.get("net") is not None
    if result.metric == "topics":
        return bool(values.get("count"))
    return bool(values.get("negative") or values.get("positive"))


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


def _scope(result: KpiResult, asked_by: str | None) -> str:
    parts = [result.period.label, ", ".join(result.channels) or "all channels"]
    return " · ".join(parts + ([f"asked by <@{asked_by}>"] if asked_by else []))


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
