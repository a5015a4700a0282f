"""`kpibot rejected list` and `kpibot rejected replay`: the payloads the bot refused, and their recovery."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.context import EXIT_PROBLEMS, console, db_option, errors, fail, load_settings, open_engine


def register(app: typer.Typer) -> None:
    rejected = typer.Typer(help="Events the bot refused: list them, replay them after a fix.")
    rejected.command("list")(list_command)
    rejected.command("replay")(replay_command)
    app.add_typer(rejected, name="rejected")


def list_command(
    limit: int = typer.Option(50, min=1, help="Show at most this many, newest first."),
    all_rows: bool = typer.Option(False, "--all", help="Include those already replayed."),
    db: str = db_option(),
) -> None:
    """List rejected events: id, source, position in its batch, when it arrived, and why it was refused."""
    from storage.db import session
    from storage.replay import list_rejected

    settings = load_settings(db)
    with session(open_engine(settings)) as database:
        rows = list_rejected(database, limit=limit, everything=all_rows)
    if not rows:
        console.print("no rejected events" + ("" if all_rows else " waiting for a replay"), highlight=False)
        return
    table = Table("id", "source", "position", "received (UTC)", "reason")
    for row in rows:
        replayed = f" [green](replayed {row.replayed_at:%Y-%m-%d %H:%M})[/green]" if row.replayed_at else ""
        table.add_row(
            str(row.id),
            row.source,
            "" if row.position is None else str(row.position),
            f"{row.received_at:%Y-%m-%d %H:%M:%S}",
            escape(row.reason) + replayed,
        )
    console.print(table)


def replay_command(
    ids: list[int] = typer.Option(None, "--id", help="Rejected event id (repeatable); default: all waiting."),
    db: str = db_option(),
) -> None:
    """Run rejected events through ingestion again. Exit code 0 if all were stored, 1 if some still fail."""
    from bot.adapters.chatwoot import SOURCE as CHATWOOT
    from bot.adapters.chatwoot import chatwoot_to_events
    from storage.ingest import Ingestor
    from storage.replay import replay_rejected

    adapters = {CHATWOOT: chatwoot_to_events}  # webhook payloads mapped again: a fixed adapter recovers them
    settings = load_settings(db)
    engine = open_engine(settings)
    result = replay_rejected(
        engine, Ingestor(engine, settings), ids or None, now=datetime.now(UTC), adapters=adapters
    )
    for row_id, reason in result.still_rejected:
        errors.print(f"rejected event {row_id}: {reason}", highlight=False, markup=False)
    console.print(
        f"replayed {len(result.replayed)}: imported {result.stored}, duplicates {result.duplicates}, "
        f"still rejected {len(result.still_rejected)}",
        highlight=False,
    )
    missing = sorted(set(ids or ()) - set(result.replayed) - {row_id for row_id, _ in result.still_rejected})
    if missing:
        fail(f"no rejected event with id {', '.join(map(str, missing))} (see `kpibot rejected list --all`)")
    if result.still_rejected:
        raise typer.Exit(EXIT_PROBLEMS)
