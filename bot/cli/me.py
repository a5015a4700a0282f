"""`kpibot me --agent ID [channel…] [period]`: the terminal twin of `/kpi me`. The terminal has no Slack user,
so the agent is named, by the id the events give it."""

from __future__ import annotations

import json

import typer

from bot.cli.context import EXIT_USAGE, at_moment, db_option, errors, load_settings, open_engine


def register(app: typer.Typer) -> None:
    app.command("me")(me)


def me(
    words: list[str] = typer.Argument(None, help="Channels and a period, as in Slack: `twitter 30d`."),
    agent: str = typer.Option(..., "--agent", help="The agent's id, as the events name them."),
    at: str = typer.Option(None, "--at", help="Answer as of this ISO-8601 time (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (durations in seconds)."),
    db: str = db_option(),
) -> None:
    """An agent's own numbers beside the team median and their previous period, and the conversations
    waiting on them.

    An agent id that no reply, assignment or `agents:` entry names is an error (exit 2). A known agent
    without activity in the period gets the report, saying so (exit 0).
    """
    from commands.errors import UsageError
    from commands.me import build_me, is_known_agent, parse_me
    from commands.render_me import me_text

    settings = load_settings(db)
    now = at_moment(at, settings.zone)
    try:
        request = parse_me(" ".join(["me", *(words or [])]), settings, now)
        if request.public:
            raise UsageError("`public` is for Slack; the terminal shows the numbers to you alone")
    except UsageError as exc:
        _usage_error(exc.message)
    engine = open_engine(settings)
    with engine.connect() as conn:
        if not is_known_agent(conn, settings, agent):
            _usage_error(f"no agent `{agent}` in the events or the `agents:` map: check the id")
        report = build_me(conn, settings, agent, now, request.period, request.channels)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        typer.echo(me_text(report))


def _usage_error(message: str) -> None:
    errors.print(f"error: {message.replace('`', '')}", markup=False, highlight=False)
    errors.print("usage: kpibot me --agent ID [channel…] [period] [--json] [--at ISO]", markup=False)
    raise typer.Exit(EXIT_USAGE)
