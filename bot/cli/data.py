"""Data commands: `kpibot import`, `kpibot purge`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.context import (
    EXIT_PROBLEMS,
    EXIT_STOPPED,
    console,
    db_option,
    errors,
    fail,
    load_settings,
    open_engine,
)

if TYPE_CHECKING:
    from storage.analysis_pool import AnalysisPool
    from storage.ingest import Ingestor, IngestResult


def register(app: typer.Typer) -> None:
    app.command("import")(import_files)
    app.command("purge")(purge)


def import_files(
    files: list[str] = typer.Argument(
        ..., help="NDJSON or CSV files (.csv by name; .gz decompressed); - reads NDJSON from stdin."
    ),
    source: str = typer.Option(
        "kpibot", help="Source name; (source, id) is what makes an event a duplicate."
    ),
    batch: int = typer.Option(5000, min=1, help="Events per transaction."),
    db: str = db_option(),
) -> None:
    """Import events (docs/events.md format) from files.

    A CSV file's header names event fields, in any case (author_kind, author_id, author_name for the
    author); other columns are left out, and said so once per file.

    Exit code 0 if nothing was rejected, 1 if some lines were (each is printed), 2 for a usage problem
    (no such file, a CSV header naming a field twice), 3 if the import stopped on an error (what was
    imported before it is kept: run the same command again to finish).
    """
    from storage.analysis_pool import import_pool
    from storage.ingest import Ingestor, IngestResult

    settings = load_settings(db)
    for name in files:
        if name != "-" and Path(name).is_dir():
            fail(f"{name}: is a directory; name the files in it")
        if name != "-" and not Path(name).is_file():
            fail(f"{name}: no such file")
    for name in files:
        _check_csv_header(name)
    engine = open_engine(settings)
    ingestor = Ingestor(engine, settings)
    total = IngestResult()
    with import_pool(settings) as pool:  # text analysis on the spare cores, started by the second batch
        for name in files:
            _import_file(ingestor, pool, name, files, source, batch, total)
    _summary(total)
    if total.rejected:
        raise typer.Exit(EXIT_PROBLEMS)


def _import_file(
    ingestor: Ingestor,
    pool: AnalysisPool,
    name: str,
    files: list[str],
    source: str,
    batch: int,
    total: IngestResult,
) -> None:
    """Imports one file with a progress bar, its rejections printed and its counts added to `total`;
    exits 3, saying what is kept, when the import stops on an error."""
    from storage.importer import import_items, open_binary, read_events
    from storage.ingest import IngestResult

    lines = None if name == "-" else _count_lines(name)
    done = IngestResult()
    try:
        with open_binary(name, sys.stdin.buffer) as stream, _progress() as progress:
            task = progress.add_task(f"importing {name}", total=lines)
            import_items(
                ingestor,
                read_events(stream, name),
                source=source,
                batch=batch,
                progress=lambda n, task=task: progress.advance(task, n),
                done=done,
                pool=pool,
            )
    except Exception as exc:  # noqa: BLE001 - stopped: say what is kept and how to finish
        _print_rejections(done, name, files)
        total.add(done)
        _summary(total)
        fail(
            f"{name}: the import stopped ({type(exc).__name__}: {_first_line(exc)}); the "
            f"{total.stored} events imported before it are kept; run the same command again to finish "
            "(what is already imported counts as duplicates)",
            EXIT_STOPPED,
        )
    _print_rejections(done, name, files)
    total.add(done)


def _check_csv_header(name: str) -> None:
    """Says once which columns of a CSV file are left out; exits 2 when its header names a field twice."""
    from storage.importer import CsvHeaderError, csv_header, is_csv, open_binary

    if name == "-" or not is_csv(name):
        return
    try:
        with open_binary(name, sys.stdin.buffer) as handle:
            columns = csv_header(handle)
    except CsvHeaderError as exc:
        fail(f"{name}: {exc}")
    except (OSError, EOFError):
        return  # a file that cannot be read: the import itself says why
    notice = columns.notice()
    if notice:
        errors.print(f"{name}: {notice}", highlight=False, markup=False)


def _print_rejections(result: IngestResult, name: str, files: list[str]) -> None:
    for outcome in result.rejected:
        errors.print(
            f"{_where(name, files)}line {outcome.position}: {outcome.reason}", highlight=False, markup=False
        )


def _summary(total: IngestResult) -> None:
    console.print(
        f"imported {total.stored}, duplicates {total.duplicates}, rejected {len(total.rejected)}",
        highlight=False,
    )


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:200] if text else "no message"


def purge(
    days: int = typer.Option(None, help="Retention in days (default: KPIBOT_TEXT_RETENTION_DAYS, 90)."),
    db: str = db_option(),
) -> None:
    """Delete message text (and rejected events) older than the retention period; derived numbers stay."""
    from storage.purge import purge_text

    settings = load_settings(db)
    retention = settings.text_retention_days if days is None else days
    if retention < 0:
        fail("--days must be 0 or more")
    result = purge_text(open_engine(settings), now=datetime.now(UTC), retention_days=retention)
    console.print(
        f"purged text of {result.messages} messages and {result.raw_events} raw events, and "
        f"{result.rejected} rejected events, older than {result.cutoff:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    )


def _count_lines(name: str) -> int | None:
    """Non-blank lines (less a CSV header): the progress bar's total; None when the file cannot be read
    (the import itself then says why)."""
    from storage.importer import is_csv, open_binary

    try:
        with open_binary(name, sys.stdin.buffer) as handle:
            count = sum(1 for line in handle if line.strip())
    except (OSError, EOFError):
        return None
    return count - (1 if is_csv(name) else 0)


def _where(name: str, files: list[str]) -> str:
    return f"{name}: " if len(files) > 1 else ""
