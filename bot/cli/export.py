"""`kpibot export conversations [channel…] [period] --out FILE`: the terminal twin of `/kpi export`, one
row per conversation opened in the period, as CSV or XLSX (docs/export.md). No row limit here."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.context import (
    EXIT_STOPPED,
    EXIT_USAGE,
    at_moment,
    console,
    db_option,
    errors,
    fail,
    load_settings,
    open_engine,
)

USAGE = "`kpibot export conversations [channel…] [period] --out FILE.csv|FILE.xlsx`"
_SLACK_MARKUP = re.compile(r"[*`]")


def register(app: typer.Typer) -> None:
    export = typer.Typer(help="Export data as files (CSV or XLSX).", no_args_is_help=True)
    export.command("conversations")(conversations)
    app.add_typer(export, name="export")


def conversations(
    words: list[str] = typer.Argument(
        None, help="Channels and a period, as in Slack: `twitter last-month` (default: all channels, 7d)."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="The file to write, .csv or .xlsx; replaced if it exists "
        "(default: ./kpibot-conversations-<first day>-<last day>.csv).",
        show_default=False,
    ),
    at: str = typer.Option(None, "--at", help="Read the period as of this ISO-8601 time (default: now)."),
    db: str = db_option(),
) -> None:
    """Export one row per conversation opened in the period: id, channel, opened, first response, FRT
    seconds, waits, resolved, resolution seconds, agent, team, CSAT, NPS, sentiment mean, topics,
    reopened, link.

    Times are ISO 8601 in the workspace time zone (KPIBOT_TZ), with their offset. Text that would start
    a formula (= + - @) gets a leading ' so spreadsheets show it as text. The file is written whole or
    not at all; a period without conversations writes the header row alone.
    """
    from commands.errors import UsageError
    from commands.export import export_conversations, export_format, export_help, file_name, parse_export

    settings = load_settings(db)
    now = at_moment(at, settings.zone)
    try:
        if out is not None:
            export_format(out)
    except UsageError as exc:
        fail(escape(exc.message))
    try:
        request = parse_export(" ".join(words or []), settings, now, usage=USAGE)
    except UsageError as exc:
        errors.print(f"error: {_SLACK_MARKUP.sub('', exc.message)}", markup=False, highlight=False)
        errors.print("see `kpibot kpi help` for the periods and channels", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    if request is None:
        typer.echo(_SLACK_MARKUP.sub("", export_help(USAGE)))
        return
    out = out if out is not None else Path(file_name(request))
    if not out.parent.is_dir():
        fail(escape(f"cannot write {out}: the folder {out.parent} does not exist"))
    if not os.access(out.parent, os.W_OK):
        fail(escape(f"cannot write {out}: the folder {out.parent} is not writable"))
    engine = open_engine(settings)
    with _progress() as progress, engine.connect() as conn:
        try:
            result = export_conversations(conn, request, settings, out, progress=progress)
        except OSError as exc:
            fail(escape(f"cannot write {out}: {exc.strerror or exc}; nothing was written"), EXIT_STOPPED)
    noun = "conversation" if result.rows == 1 else "conversations"
    console.print(f"exported {result.rows:,} {noun} to {out}", markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr while the export runs, gone once it is done; none when stderr is not a
    terminal (a script's log gets the closing line alone)."""
    if not errors.is_terminal:
        yield None
        return
    columns = (
        TextColumn("exporting conversations"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task("export", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
