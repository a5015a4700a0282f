"""`kpibot digest --preview [--weekly|--monthly]`: the digest the scheduler posts, shown in the terminal, and
its chart."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from bot.cli import setup
from bot.cli.context import at_moment, db_option, fail, load_settings, open_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from commands.periods import Period
    from storage.settings import Settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Digests (daily, weekly, monthly): preview one here (--preview), or list, add and turn off "
        "those posted in Slack.",
        invoke_without_command=True,
    )
    group.callback()(digest)
    setup.register(app, group)
    app.add_typer(group, name="digest")


def digest(
    context: typer.Context,
    preview: bool = typer.Option(False, "--preview", help="Show the digest here (the bot posts it itself)."),
    weekly: bool = typer.Option(
        False, "--weekly", help="The weekly digest: last full week (Monday to Sunday)."
    ),
    monthly: bool = typer.Option(False, "--monthly", help="The monthly digest: last full calendar month."),
    channel: list[str] = typer.Option(
        None, "--channel", help="Support channel(s), repeat or comma-separate."
    ),
    tz: str = typer.Option(None, "--tz", help="IANA time zone of the digest's day, e.g. Europe/Paris."),
    out: Path = typer.Option(
        Path("digest.png"), "--out", help="Where to write the chart (14 days, 12 weeks or 12 months; PNG)."
    ),
    at: str = typer.Option(
        None, "--at", help="As of this ISO-8601 time (default: now); shows the day, week or month before."
    ),
    db: str = db_option(),
) -> None:
    """Digests: `--preview` shows yesterday's (`--weekly`: last week's, `--monthly`: last month's) here and
    writes its chart; `list`, `add`, `off` set up those the bot posts in Slack."""
    if context.invoked_subcommand is not None:
        return
    if not preview:
        fail("use `kpibot digest --preview`, or `kpibot digest list|add|off` (see `kpibot digest --help`)")
    if weekly and monthly:
        fail("choose one of --weekly and --monthly")
    from commands.cadence import Cadence
    from commands.digest import build_digest, digest_text

    settings = load_settings(db)
    zone = _zone(tz or settings.tz)
    now = at_moment(at, zone)
    channels = _channels(channel or [], settings)
    cadence = Cadence("weekly" if weekly else "monthly" if monthly else "daily")
    period = cadence.covered(now.astimezone(zone).date(), zone)
    engine = open_engine(settings)
    with engine.connect() as conn:
        result = build_digest(conn, settings, period=period, channels=channels, now=now)
    typer.echo(digest_text(result), nl=False)
    written = write_digest_chart(engine, settings, now, out, tz=zone, channels=channels, period=period)
    typer.echo(f"chart written to {written}")


def write_digest_chart(
    engine: Engine,
    settings: Settings,
    now: datetime,
    out: Path,
    *,
    tz: ZoneInfo | None = None,
    channels: tuple[str, ...] = (),
    period: Period | None = None,
) -> Path:
    """Writes the digest chart of the local days, weeks or months up to `period` (default: yesterday at
    `now`) to `out`; returns the path written."""
    # Imported here so that `kpibot --help` and the other commands do not load matplotlib.
    from commands.chart import chart_title, period_series, render_chart
    from commands.digest import local_day

    zone = tz or settings.zone
    period = period or local_day(now.astimezone(zone).date() - timedelta(days=1), zone)
    last_day = period.end.astimezone(zone).date() - timedelta(days=1)
    with engine.connect() as conn:
        series = period_series(conn, settings, last=period, channels=channels, now=now)
    out.write_bytes(render_chart(series, title=chart_title(last_day, period.unit or "day")))
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
