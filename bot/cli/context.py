"""What every CLI command needs: settings, a database engine, and one way to fail with a clear message."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import Engine

from storage.db import make_engine
from storage.settings import Settings

# Exit codes: 0 success, 1 the work ran but found problems (e.g. rejected events), 2 usage/config error.
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Prints a problem the user can fix (no traceback) and exits with `code`."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def load_settings(**overrides) -> Settings:
    """The workspace settings, or exit 2 naming the setting that is wrong."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except (ValidationError, ValueError) as exc:
        fail(f"configuration error: {exc}")


def open_engine(settings: Settings) -> Engine:
    """The engine for the configured database, schema created if missing."""
    try:
        return make_engine(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - any driver error becomes a readable message
        fail(f"cannot open database {settings.database_url!r}: {exc}")
