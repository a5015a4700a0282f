"""`kpibot serve`: run the Slack bot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)."""

from __future__ import annotations

import logging

import typer

from bot.cli.context import fail, load_settings, open_engine, safe_url
from storage.health import write_refused


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    port: int = typer.Option(3000, envvar="PORT", min=0, max=65535, help="HTTP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)."),
) -> None:
    """Run the bot: Slack's requests on POST /slack/events (or over Socket Mode), /healthz and /metrics."""
    settings = load_settings()
    missing = [] if settings.slack_bot_token else ["SLACK_BOT_TOKEN (Bot User OAuth Token, xoxb-…)"]
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET (Basic Information > Signing Secret), or SLACK_APP_TOKEN")
    if missing:
        fail("missing " + " and ".join(missing) + " — see the README's Slack setup")
    engine = open_engine(settings)  # a database that cannot be opened is one line and exit 2
    refused = write_refused(engine)
    if refused is not None:
        fail(f"the database {safe_url(settings.database_url)} does not take writes ({refused})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Imported here so `kpibot --help` does not load Bolt, Starlette and uvicorn.
    from bot.server import serve as run

    mode = "Socket Mode" if settings.slack_app_token else "HTTP (POST /slack/events)"
    logging.getLogger("kpibot.server").info("starting kpibot: Slack over %s, on %s:%s", mode, host, port)
    run(settings, host=host, port=port, engine=engine)
