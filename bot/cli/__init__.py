"""The `kpibot` command line: one Typer app; each module adds its commands with `register(app)`."""

from __future__ import annotations

from importlib.metadata import version as package_version

import typer

from bot.cli import data, db, demo, digest, export, kpi, me, rejected, rescore, serve
from bot.cli.context import close_engines

app = typer.Typer(
    name="kpibot",
    help="Social customer-support KPIs in Slack and in your terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"kpibot {package_version('kpibot')}")
        raise typer.Exit()


for module in (data, demo, serve, rejected, kpi, me, digest, export, rescore, db):
    module.register(app)


@app.callback()
def _root(
    context: typer.Context,
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print kpibot's version and exit."
    ),
) -> None:
    context.call_on_close(close_engines)


def main() -> None:
    """Entry point of the `kpibot` console script."""
    app()
