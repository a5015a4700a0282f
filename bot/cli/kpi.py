"""`kpibot kpi [words…]`: the terminal twin of `/kpi`, same grammar, same result object."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import typer

from bot.cli import heatmap
from bot.cli.context import (
    EXIT_USAGE,
    at_moment,
    console,
    db_option,
    empty_database_notice,
    errors,
    fail,
    load_settings,
    open_engine,
)

if TYPE_CHECKING:
    from storage.settings import Settings

_SLACK_MARKUP = re.compile(r"[*`]")
LIST_HELP = "Show the conversations behind the number instead (up to 10, worst first; with --json as JSON)."


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)
    app.command("sentiment")(_twin("sentiment", "/sentiment"))
    app.command("topics")(_twin("topics", "/topics"))


def kpi(
    words: list[str] = typer.Argument(None, help="What to ask, as in Slack: `frt twitter 30d by channel`."),
    at: str = typer.Option(None, "--at", help="Answer as of this ISO-8601 time (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (durations in seconds)."),
    out: str = typer.Option(None, "--out", help=heatmap.OUT_HELP, show_default=False),
    as_list: bool = typer.Option(False, "--list", help=LIST_HELP),
    db: str = db_option(),
) -> None:
    """Show a KPI (or the scorecard) for a period, vs the previous period and the benchmark; `kpibot kpi
    heatmap [volume|frt] [channel…] [period] [--out FILE.png]` shows the hour x weekday grid; `--list` the
    conversations behind the number.

    `kpibot kpi help` lists the metrics, periods and channels it knows.
    """
    text = " ".join(words or [])
    if text.lower().split()[:1] == ["heatmap"]:
        if as_list:
            fail("--list shows the conversations behind a KPI, not behind the heatmap")
        heatmap.answer_heatmap(text, at=at, as_json=as_json, out=out, db=db)
        return
    if out is not None:
        fail("--out writes the heatmap image: use it with `kpibot kpi heatmap …`")
    answer_question(text, at=at, as_json=as_json, db=db, as_list=as_list)


def _twin(metric: str, slash: str):
    def command(
        words: list[str] = typer.Argument(None, help="Channels, period, breakdown: `instagram 30d`."),
        at: str = typer.Option(None, "--at", help="Answer as of this ISO-8601 time (default: now)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        db: str = db_option(),
    ) -> None:
        answer_question(" ".join([metric, *(words or [])]), at=at, as_json=as_json, db=db)

    command.__doc__ = f"The terminal twin of {slash}, the same as `kpibot kpi {metric} …`."
    return command


def answer_question(
    text: str, *, at: str | None, as_json: bool, db: str | None, as_list: bool = False
) -> None:
    """Answers one question in `/kpi` grammar: the result on stdout (with `as_list`, the conversations
    behind it: commands.drill); a usage error — a metric without a list among them — is the error and
    one line pointing to help, exit 2; a database holding no events says so once, on stderr."""
    from commands.drill import conversations_behind
    from commands.engine import compute
    from commands.errors import UsageError
    from commands.parse import parse_command
    from commands.render_text import render
    from commands.subscribe import is_settings_command

    settings = load_settings(db)
    now = at_moment(at, settings.zone)
    if is_settings_command(text):
        kind = text.split()[0].lower()
        fail(f"in the terminal, {kind} settings have their own command: `kpibot {kind} --help`")
    if text.lower().split()[:1] == ["me"]:
        fail("in the terminal, name the agent: `kpibot me --agent AGENT_ID [channel…] [period]`")
    try:
        request = parse_command(text, settings, now)
        if request.metric == "help":
            typer.echo(plain_help(settings))
            return
        engine = open_engine(settings)
        with engine.connect() as conn:
            if as_list:
                answer = conversations_behind(conn, request, settings, now)
            else:
                answer = compute(conn, request, settings, now)
    except UsageError as exc:
        errors.print(f"error: {_plain(exc.message)}", markup=False, highlight=False)
        errors.print(
            "see `kpibot kpi help` for the metrics, periods and channels", markup=False, highlight=False
        )
        raise typer.Exit(EXIT_USAGE) from None
    notice = empty_database_notice(engine, settings)
    if notice:
        errors.print(f"note: {notice}", markup=False, highlight=False)
    if as_json:
        typer.echo(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
    elif as_list:
        from commands.render_drill import drill_renderable

        console.print(drill_renderable(answer))
    else:
        console.print(render(answer))


def plain_help(settings: Settings) -> str:
    """The help text as the terminal needs it (`kpibot kpi …`), without Slack's *bold* and `code` marks."""
    from commands.parse import help_text

    return _plain(help_text(settings, terminal=True))


def _plain(text: str) -> str:
    return _SLACK_MARKUP.sub("", text)
