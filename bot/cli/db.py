"""`kpibot db upgrade` and `kpibot db current`: the database schema's migrations."""

from __future__ import annotations

import typer

from bot.cli.context import console, db_option, fail, load_settings, safe_url


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="The database schema: show its revision, migrate it to this kpibot's.")
    db.command("upgrade")(upgrade_command)
    db.command("current")(current_command)
    app.add_typer(db, name="db")


def upgrade_command(db: str = db_option()) -> None:
    """Migrate the database (--db or DATABASE_URL) to this kpibot's schema; creates it when empty.

    Back up a database holding data first. Safe to run again, and from several machines at once.
    """
    from storage.schema import upgrade

    settings = load_settings(db)
    engine = _engine(settings.database_url)
    try:
        before, after = upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - a failed migration is reported, the transaction rolled back
        fail(f"upgrade of {safe_url(settings.database_url)} failed, nothing changed: {exc}")
    finally:
        engine.dispose()
    if before == after:
        console.print(f"already at revision {after} (newest)", highlight=False)
    else:
        console.print(f"upgraded {_name(before)} → revision {after}", highlight=False)


def current_command(db: str = db_option()) -> None:
    """Print the database's schema revision and the one this kpibot needs."""
    from storage.schema import current, head

    settings = load_settings(db)
    engine = _engine(settings.database_url)
    try:
        with engine.connect() as conn:
            revision = current(conn)
    except Exception as exc:  # noqa: BLE001 - any driver error becomes a readable message
        fail(f"cannot read {safe_url(settings.database_url)}: {exc}")
    finally:
        engine.dispose()
    state = "up to date" if revision == head() else "run `kpibot db upgrade`"
    console.print(f"database: {_name(revision)} · this kpibot: revision {head()} · {state}", highlight=False)


def _engine(url: str):
    from storage.db import make_engine

    try:
        return make_engine(url, create=False)
    except Exception as exc:  # noqa: BLE001 - a malformed URL or missing driver
        fail(f"cannot open database {safe_url(url)}: {exc}")


def _name(revision: str | None) -> str:
    return "empty database" if revision is None else f"revision {revision}"
