"""What every CLI command needs: settings, a database engine, and one way to fail with a clear message.

Kept light, like every module of bot.cli: `kpibot --help` imports them all, so the database, settings and
KPI code are imported inside the functions that use them (docs/performance.md: start-up time).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from storage.settings import Settings

# Exit codes: 0 success, 1 the work ran but found problems (e.g. rejected events), 2 usage/config error,
# 3 the work stopped on an error part-way (what was done is kept).
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Prints a problem the user can fix (no traceback) and exits with `code`."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


DB_HELP = "Database URL or SQLite file (default: DATABASE_URL, else ./kpibot.db)."


def db_option() -> typer.models.OptionInfo:
    """The `--db` option every command that opens the database takes (one way to name it everywhere)."""
    return typer.Option(None, "--db", help=DB_HELP, show_default=False)


def database_url(db: str | None) -> str | None:
    """`--db` as a database URL: a URL as given, a file name as SQLite; None when not given."""
    if db is None:
        return None
    return db if "://" in db else f"sqlite:///{db}"


def at_moment(at: str | None, zone: tzinfo) -> datetime:
    """`--at` as an aware UTC instant (a time without offset is read in `zone`); now when not given."""
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        fail(f"--at {at!r} is not an ISO-8601 time (e.g. 2026-11-20T09:00 or 2026-11-20T09:00:00Z)")
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def load_settings(db: str | None = None, **overrides) -> Settings:
    """The workspace settings (`db`: the `--db` option), or exit 2 naming the setting that is wrong."""
    from pydantic import ValidationError

    from storage.settings import Settings

    overrides["database_url"] = overrides.get("database_url") or database_url(db)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except (ValidationError, ValueError) as exc:
        fail(f"configuration error: {exc}")


def open_engine(settings: Settings) -> Engine:
    """The engine for the configured database (an empty one gets the schema), closed when the command ends."""
    from storage.db import make_engine
    from storage.schema import SchemaBehind, SchemaUnknown

    try:
        engine = make_engine(settings.database_url)
    except (SchemaBehind, SchemaUnknown) as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - any driver error becomes a readable message
        fail(f"cannot open database {safe_url(settings.database_url)}: {exc}")
    _opened.append(engine)
    restamp_changed_policies(engine, settings)
    return engine


def restamp_changed_policies(engine: Engine, settings: Settings) -> None:
    """Service-level deadlines follow a policy edited in the YAML since the clocks were stamped: says so
    (on stderr) when it stamped any again."""
    from storage.service_levels import ensure_stamped

    changed = ensure_stamped(engine, settings)
    if changed:
        errors.print(f"note: service levels changed for {', '.join(changed)}: deadlines stamped again")


_opened: list[Engine] = []


def close_engines() -> None:
    """Closes the database connections the command opened (the root command calls it when it ends)."""
    while _opened:
        _opened.pop().dispose()


def safe_url(url: str) -> str:
    """`url` with its password masked, for messages and logs."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def database_name(url: str) -> str:
    """The database as a user finds it: a SQLite file's absolute path, else the URL without its password."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database).resolve())
    return safe_url(url)


def empty_database_notice(engine: Engine, settings: Settings) -> str | None:
    """One line saying the database holds no events and what to do; None when it holds some."""
    from storage.health import holds_events

    if holds_events(engine):
        return None
    return (
        f"the database {database_name(settings.database_url)} holds no events yet: try `kpibot demo`, "
        "`kpibot import FILE`, or send webhooks to `kpibot serve`; for another database use --db or "
        "DATABASE_URL"
    )
