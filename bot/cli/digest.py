"""`kpibot digest --preview`: the daily digest the scheduler posts, shown in the terminal, and its chart."""

from __future__ import annotations

import difflib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from bot.cli import setup
from bot.cli.context import at_moment, db_option, fail, load_settings, open_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from storage.settings import Settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Daily digests: preview one here (--preview), or list, add and turn off those posted in Slack.",
        invoke_without_command=True,
    )
    group.callback()(digest)
    setup.register(app, group)
    app.add_typer(group, name="digest")


def digest(
    context: typer.Context,
    preview: bool = typer.Option(False, "--preview", help="Show the digest here (the bot posts it itself)."),
    channel: list[str] = typer.Option(
        None, "--channel", help="Support channel(s), repeat or comma-separate."
    ),
    tz: str = typer.Option(None, "--tz", help="IANA time zone of the digest's day, e.g. Europe/Paris."),
    out: Path = typer.Option(Path("digest.png"), "--out", help="Where to write the 14-day chart (PNG)."),
    at: str = typer.Option(
        None, "--at", help="As of this ISO-8601 time (default: now); shows the day before."
    ),
    db: str = db_option(),
) -> None:
    """Daily digests: `--preview` shows yesterday's here and writes its chart; `list`, `add`, `off` set up
    those the bot posts in Slack."""
    if context.invoked_subcommand is not None:
        return
    if not preview:
        fail("use `kpibot digest --preview`, or `kpibot digest list|add|off` (see `kpibot digest --help`)")
    from commands.digest import build_digest, digest_text

    settings = load_settings(db)
    zone = _zone(tz or settings.tz)
    now = at_moment(at, zone)
    channels = _channels(channel or [], settings)
    day = now.astimezone(zone).date() - timedelta(days=1)
    engine = open_engine(settings)
    with engine.connect() as conn:
        result = build_digest(conn, settings, day=day, tz=zone, channels=channels, now=now)
    typer.echo(digest_text(result), nl=False)
    written = write_digest_chart(engine, settings, now, out, tz=zone, channels=channels, day=day)
    typer.echo(f"chart written to {written}")


def write_digest_chart(
    engine: Engine,
    settings: Settings,
    now: datetime,
    out: Path,
    *,
    tz: ZoneInfo | None = None,
    channels: tuple[str, ...] = (),
    day: date | None = None,
) -> Path:
    """Writes the digest chart of the 14 local days up to `day` (default: yesterday at `now`) to `out`;
    returns the path written."""
    # Imported here so that `kpibot --help` and the other commands do not load matplotlib.
    from commands.chart import chart_title, daily_series, render_chart

    zone = tz or settings.zone
    day = day or now.astimezone(zone).date() - timedelta(days=1)
    with engine.connect() as conn:
        series = daily_series(conn, settings, last_day=day, tz=zone, channels=channels, now=now)
    out.write_bytes(render_chart(series, title=chart_title(day)))
    return out


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris")


def _channels(words: list[str], settings: Settings) -> tuple[str, ...]:
    """The support channels named (aliases allowed), () for all; exits 2 naming an unknown one."""
    known = settings.channel_words()
    chosen: list[str] = []
    for word in (part.strip().lower() for text in words for part in text.split(",")):
        if not word:
            continue
        if word == "all":
            return ()
        if word not in known:
            close = difflib.get_close_matches(word, list(known), n=1)
            fail(f"unknown channel {word!r}" + (f" — did you mean {close[0]!r}?" if close else ""))
        if known[word] not in chosen:
            chosen.append(known[word])
    return tuple(chosen)
