"""The `kpibot` command line: one Typer app; each module adds its commands with `register(app)`."""

from __future__ import annotations

import typer

from bot.cli import data, db, demo, digest, kpi, rejected, rescore, serve
from bot.cli.context import close_engines

app = typer.Typer(
    name="kpibot",
    help="Social customer-support KPIs in Slack and in your terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (data, demo, serve, rejected, kpi, digest, rescore, db):
    module.register(app)


@app.callback()
def _root(context: typer.Context) -> None:
    context.call_on_close(close_engines)


def main() -> None:
    """Entry point of the `kpibot` console script."""
    app()
