"""`kpibot kpi [words…]`: the terminal twin of `/kpi`, same grammar, same result object."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import typer

from bot.cli.context import EXIT_USAGE, console, errors, fail, load_settings, open_engine
from commands.engine import compute
from commands.errors import UsageError
from commands.parse import help_text, parse_command
from commands.render_text import render
from storage.settings import Settings

_SLACK_MARKUP = re.compile(r"[*`]")


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)


def kpi(
    words: list[str] = typer.Argument(None, help="What to ask, as in Slack: `frt twitter 30d by channel`."),
    at: str = typer.Option(None, "--at", help="Answer as of this ISO-8601 time (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (durations in seconds)."),
) -> None:
    """Show a KPI (or the scorecard) for a period, vs the previous period and the benchmark."""
    settings = load_settings()
    now = _moment(at, settings)
    try:
        request = parse_command(" ".join(words or []), settings, now)
        if request.metric == "help":
            typer.echo(plain_help(settings))
            return
        with open_engine(settings).connect() as conn:
            answer = compute(conn, request, settings, now)
    except UsageError as exc:
        errors.print(f"error: {exc.message}", markup=False, highlight=False)
        errors.print(plain_help(settings), markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        typer.echo(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
    else:
        console.print(render(answer))


def plain_help(settings: Settings) -> str:
    """The `/kpi help` text without Slack's *bold* and `code` marks."""
    return _SLACK_MARKUP.sub("", help_text(settings))


def _moment(at: str | None, settings: Settings) -> datetime:
    """`--at` as an aware UTC instant (a time without offset is read in the workspace time zone)."""
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        fail(f"--at {at!r} is not an ISO-8601 time (e.g. 2026-11-20T09:00 or 2026-11-20T09:00:00Z)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.astimezone(UTC)
