"""`kpibot demo`: a database full of realistic sample traffic, then what it shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import func, select

from bot.cli.context import console, database_url, errors, fail, load_settings, open_engine
from bot.cli.digest import write_digest_chart
from bot.demo import generate_demo_events
from commands.engine import measure, scorecard
from commands.kpis import KPIS
from commands.periods import DEFAULT_PERIOD, resolve_period
from commands.render_text import render
from storage.importer import import_items
from storage.ingest import Ingestor
from storage.models import Conversation

DEMO_DB = "kpibot-demo.db"
CHART = "kpibot-demo-digest.png"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    conversations: int = typer.Option(3000, min=1, help="How many conversations to generate."),
    days: int = typer.Option(30, min=1, help="How many days of traffic, ending now."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same data."),
    db: str = typer.Option(None, help=f"Database URL or SQLite file (default: a fresh ./{DEMO_DB})."),
) -> None:
    """Generate sample traffic (no Slack needed) and show the product working on it."""
    url = _database_url(db)
    settings = load_settings(database_url=url)
    engine = open_engine(settings)
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(Conversation)).scalar_one():
            fail(f"{url} already holds conversations; pass --db with a new file to keep them apart")
    now = datetime.now(UTC).replace(microsecond=0)
    events = generate_demo_events(now=now, days=days, conversations=conversations, seed=seed)
    items = ((n, json.dumps(event)) for n, event in enumerate(events, 1))
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=errors, transient=True
    ) as progress:
        task = progress.add_task("generating demo traffic", total=None)
        result = import_items(
            Ingestor(engine, settings), items, source="demo", progress=lambda n: progress.advance(task, n)
        )
    console.print(f"demo data in {url}: {result.stored} events", highlight=False)
    period = resolve_period(DEFAULT_PERIOD, now, settings.zone)
    with engine.connect() as conn:
        console.print(render(scorecard(conn, settings, now, (), period)))
        console.print(render(measure(conn, KPIS["topics"], settings, now, (), period)))
    chart = write_digest_chart(engine, settings, now, Path(CHART))
    console.print(f"digest chart for yesterday written to {chart}", highlight=False)
    console.print(
        f"next: [bold]export DATABASE_URL={url}[/bold] then try [bold]kpibot kpi frt twitter 30d[/bold], "
        "[bold]kpibot kpi backlog[/bold], [bold]kpibot digest --preview[/bold] "
        "or [bold]kpibot kpi help[/bold]"
    )


def _database_url(db: str | None) -> str:
    if db is None:
        path = Path(DEMO_DB)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return database_url(db)
