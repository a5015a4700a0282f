"""`kpibot demo`: a database full of realistic sample traffic, then what it shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.cli.context import (
    at_moment,
    console,
    database_url,
    errors,
    fail,
    load_settings,
    open_engine,
    safe_url,
)
from bot.cli.digest import write_digest_chart
from bot.demo import DAYS, generate_demo_events

if TYPE_CHECKING:
    pass

DEMO_DB = "kpibot-demo.db"
CHART = "kpibot-demo-digest.png"
# What to ask next, beside `kpibot kpi help`: each answers with data on the demo's database, against a
# previous period with data too (tests/bot/test_cli_demo.py asks them).
NEXT = ("kpi frt twitter 30d", "kpi backlog", "digest --preview")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    conversations: int = typer.Option(3000, min=1, help="How many conversations to generate."),
    days: int = typer.Option(
        DAYS, min=1, help="How many days of traffic, ending now (enough for 30d to have a previous period)."
    ),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same data."),
    db: str = typer.Option(None, help=f"Database URL or SQLite file (default: a fresh ./{DEMO_DB})."),
    at: str = typer.Option(
        None,
        "--at",
        help="End the traffic at this ISO-8601 time instead of now (the same seed and --at, the same data).",
    ),
) -> None:
    """Generate sample traffic (no Slack needed) and show the product working on it."""
    from sqlalchemy import func, select

    from commands.engine import measure, scorecard
    from commands.kpis import KPIS
    from commands.periods import DEFAULT_PERIOD, resolve_period
    from commands.render_text import render
    from storage.importer import import_items
    from storage.ingest import Ingestor
    from storage.models import Conversation

    url = _database_url(db)
    settings = load_settings(database_url=url)
    engine = open_engine(settings)
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(Conversation)).scalar_one():
            fail(f"{safe_url(url)} already holds conversations; pass --db with a new file to keep them apart")
    now = at_moment(at, settings.zone).replace(microsecond=0)  # to the second, as events are
    events = generate_demo_events(now=now, days=days, conversations=conversations, seed=seed)
    items = ((n, json.dumps(event)) for n, event in enumerate(events, 1))
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=errors, transient=True
    ) as progress:
        task = progress.add_task("generating demo traffic", total=None)
        result = import_items(
            Ingestor(engine, settings), items, source="demo", progress=lambda n: progress.advance(task, n)
        )
    console.print(f"demo data in {safe_url(url)}: {result.stored} events", highlight=False)
    period = resolve_period(DEFAULT_PERIOD, now, settings.zone)
    with engine.connect() as conn:
        console.print(render(scorecard(conn, settings, now, (), period)))
        console.print(render(measure(conn, KPIS["topics"], settings, now, (), period)))
    chart = write_digest_chart(engine, settings, now, Path(CHART))
    console.print(f"digest chart for yesterday written to {chart}", highlight=False)
    console.print(_next_steps(url, at), highlight=False)


def _next_steps(url: str, at: str | None) -> str:
    """The hint after the demo: the database to point at (its password masked) and what to ask; with
    `--at`, each question is asked as of the same instant, since "now" would be past the demo's data."""
    asked_at = f" --at {at}" if at is not None else ""
    tries = ", ".join(f"[bold]kpibot {words}{asked_at}[/bold]" for words in NEXT)
    return (
        f"next: [bold]export DATABASE_URL={safe_url(url)}[/bold] then try {tries} "
        "or [bold]kpibot kpi help[/bold]"
    )


def _database_url(db: str | None) -> str:
    if db is None:
        path = Path(DEMO_DB)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return database_url(db)
