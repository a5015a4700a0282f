"""`/kpi me` read two ways from one MeReport: Block Kit for Slack (`me_message`) and plain text for the
terminal (`me_text`). Agent names, conversation ids, channels and links come from events, so Slack gets
them escaped (commands/slack_text.py)."""

from __future__ import annotations

from typing import Any

from commands.format import format_duration, format_value
from commands.me import Figure, MeReport
from commands.me_figures import Waiting
from commands.render_blocks import MAX_SECTION
from commands.slack_text import inline, link

TITLE = "Your numbers"
NO_ACTIVITY = "No activity of yours in this period: no replies, first responses, resolutions or CSAT answers."
NOBODY_WAITING = "Nobody is waiting on you."


def me_message(report: MeReport) -> dict[str, Any]:
    """The Slack message: who, each figure beside the team median and the previous period, and the
    conversations waiting on the agent, oldest first."""
    who = (
        f"*{inline(report.name)}* (`{inline(report.agent)}`)" if report.name else f"`{inline(report.agent)}`"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{TITLE}: {report.period.label}"[:150]}},
        _section(f"{who} · {_scope(report, inline)}"),
    ]
    if report.active:
        blocks.append(_section("\n".join(_figure_line(f, bold=True) for f in report.figures)))
    else:
        blocks.append(_section(f"_{NO_ACTIVITY}_"))
    blocks.append({"type": "divider"})
    blocks.append(_section(_waiting_slack(report.waiting)))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{_footnote(report)} Only you see this."}],
        }
    )
    return {"text": f"{TITLE}: {report.period.label} ({_scope(report, inline)})", "blocks": blocks}


def me_text(report: MeReport) -> str:
    """The terminal's plain text: the same lines as Slack, without its markup."""
    who = f"{report.name} ({report.agent})" if report.name else report.agent
    lines = [f"{TITLE}: {report.period.label}", f"{who} · {_scope(report, str)}", ""]
    if report.active:
        lines += [_figure_line(f, bold=False) for f in report.figures]
    else:
        lines.append(NO_ACTIVITY)
    lines.append("")
    if report.waiting:
        lines.append(f"Waiting on you ({len(report.waiting)}, oldest first):")
        lines += [
            f"  {w.conversation} · {w.channel} · waiting {format_duration(w.age)}"
            + (f" · {w.link}" if w.link else "")
            for w in report.waiting
        ]
    else:
        lines.append(NOBODY_WAITING)
    lines += ["", _footnote(report)]
    return "\n".join(lines)


def _figure_line(figure: Figure, *, bold: bool) -> str:
    """`FRT mean: 2m · team median 5m · previous 3m`."""
    label = f"*{figure.label}*" if bold else figure.label
    value = format_value(figure.value, figure.unit)
    team = format_value(figure.team, figure.unit)
    previous = format_value(figure.previous, figure.unit)
    return f"{label}: {value} · team median {team} · previous {previous}"


def _waiting_slack(waiting: list[Waiting]) -> str:
    if not waiting:
        return NOBODY_WAITING
    lines = [f"*Waiting on you* ({len(waiting)}, oldest first)"]
    for shown, w in enumerate(waiting):
        name = link(w.link, w.conversation) if w.link else inline(w.conversation)
        line = f"• {name} · {inline(w.channel)} · waiting {format_duration(w.age)}"
        if sum(len(kept) + 1 for kept in lines) + len(line) > MAX_SECTION - 40:  # never cut inside a link
            lines.append(f"…and {len(waiting) - shown} more")
            break
        lines.append(line)
    return "\n".join(lines)


def _scope(report: MeReport, escape) -> str:
    return escape(", ".join(report.channels)) if report.channels else "all channels"


def _footnote(report: MeReport) -> str:
    return (
        f"Team median: over the {report.team_agents} agents active in this period. Previous period: "
        f"{report.previous_period.label}."
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}
