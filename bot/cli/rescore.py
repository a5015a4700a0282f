"""`kpibot rescore`: read stored customer messages again after a lexicon or taxonomy change
(storage.rescore does the work; this is its command line, with a progress bar)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.context import console, db_option, errors, fail, load_settings, open_engine

if TYPE_CHECKING:
    from storage.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("rescore")(rescore)


def rescore(
    since: str = typer.Option(
        None, help="Only messages sent from this date (YYYY-MM-DD, workspace time zone) or ISO time on."
    ),
    batch: int = typer.Option(5000, min=1, help="Messages per transaction."),
    db: str = db_option(),
) -> None:
    """Re-score stored customer messages (sentiment, language, topics) with the current lexicon and
    taxonomy; prints how many changed."""
    from storage.analysis import text_analyser
    from storage.rescore import rescore_messages

    settings = load_settings(db)
    start = _since(since, settings)
    try:
        analyser = text_analyser(settings)
    except ValueError as exc:
        fail(f"configuration error: {exc}")
    engine = open_engine(settings)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("rescoring messages", total=None)
        result = rescore_messages(
            engine,
            analyser,
            since=start,
            batch=batch,
            total=lambda n: progress.update(task, total=n),
            progress=lambda n: progress.advance(task, n),
        )
    scope = f" sent since {start:%Y-%m-%d %H:%M} UTC" if start is not None else ""
    console.print(
        f"rescored {result.read} messages{scope}: {result.changed} changed "
        f"(sentiment {result.sentiment}, language {result.lang}, topics {result.topics})",
        highlight=False,
    )


def _since(value: str | None, settings: Settings) -> datetime | None:
    """--since as an aware UTC instant: a date is its local midnight, a time without offset is local."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r} is not a date or ISO-8601 time (e.g. 2026-11-01 or 2026-11-01T09:00Z)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.astimezone(UTC)
