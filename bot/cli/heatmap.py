"""`kpibot kpi heatmap [metric] [channel…] [period] [--out heatmap.png] [--json]`: the terminal twin of
`/kpi heatmap`, the same grid (commands.heatmap) as text, JSON or a PNG file.

Reached through `kpibot kpi` (bot/cli/kpi.py), whose words and options it shares; `--out` belongs to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bot.cli.context import (
    EXIT_STOPPED,
    EXIT_USAGE,
    at_moment,
    empty_database_notice,
    errors,
    fail,
    load_settings,
    open_engine,
)

OUT_HELP = "With `heatmap`: also write the grid as a PNG image to this file."


def answer_heatmap(text: str, *, at: str | None, as_json: bool, out: str | None, db: str | None) -> None:
    """Prints the heatmap `text` asks for (text grid and rush hours, or `--json`) and writes the PNG to
    `out`; a usage error is the error and a pointer to help, exit 2; an empty period writes no image."""
    from commands.errors import UsageError
    from commands.heatmap import compute_heatmap, parse_heatmap
    from commands.render_heatmap import heatmap_text

    settings = load_settings(db)
    now = at_moment(at, settings.zone)
    try:
        request = parse_heatmap(text, settings, now)
    except UsageError as exc:
        errors.print(f"error: {exc.message.replace('`', '')}", markup=False, highlight=False)
        errors.print("see `kpibot kpi help` for the periods and channels", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    if request is None:
        from bot.cli.kpi import plain_help

        typer.echo(plain_help(settings))
        return
    engine = open_engine(settings)
    with engine.connect() as conn:
        heatmap = compute_heatmap(conn, request, settings, now)
    notice = empty_database_notice(engine, settings)
    if notice:
        errors.print(f"note: {notice}", markup=False, highlight=False)
    if as_json:
        typer.echo(json.dumps(heatmap.to_json(), indent=2, ensure_ascii=False))
    else:
        typer.echo(heatmap_text(heatmap))
    if out is not None:
        _write_png(heatmap, Path(out))


def _write_png(heatmap, path: Path) -> None:
    from commands.heatmap_chart import render_heatmap_png

    if not heatmap.total:
        errors.print(
            f"note: nothing to draw in this period: {path} not written", markup=False, highlight=False
        )
        return
    try:
        path.write_bytes(render_heatmap_png(heatmap))
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}", code=EXIT_STOPPED)
    errors.print(f"heatmap image written to {path}", markup=False, highlight=False)
