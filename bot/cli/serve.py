"""`kpibot serve`: run the bot (Slack over HTTP or Socket Mode, or webhooks only without Slack settings)."""

from __future__ import annotations

import logging

import typer

from bot.cli.context import db_option, empty_database_notice, fail, load_settings, open_engine, safe_url


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    port: int = typer.Option(3000, envvar="PORT", min=0, max=65535, help="HTTP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)."),
    db: str = db_option(),
) -> None:
    """Run the bot: Slack (HTTP or Socket Mode), webhooks, /healthz, /metrics and the scheduler.

    Without any Slack setting it serves webhooks, /healthz and /metrics only.
    """
    # Imported here so `kpibot --help` does not load Bolt, Starlette and uvicorn.
    from bot.slack_link import SlackRefused, SlackUnreachable, check_tokens, missing_settings, slack_mode
    from storage.health import write_refused

    settings = load_settings(db)
    missing = missing_settings(settings)
    if missing:
        fail("missing " + " and ".join(missing) + " — see the README's Slack setup")
    engine = open_engine(settings)  # a database that cannot be opened is one line and exit 2
    refused = write_refused(engine)
    if refused is not None:
        fail(f"the database {safe_url(settings.database_url)} does not take writes ({refused})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("kpibot.server")
    mode = slack_mode(settings)
    if mode is None:
        log.info(
            "Slack is not configured (no SLACK_BOT_TOKEN): serving webhooks, /healthz and /metrics only; "
            "digests and alerts need Slack (see the README's Slack setup)"
        )
    else:
        try:
            log.info("Slack took the bot token: %s", check_tokens(settings))
        except SlackRefused as exc:
            fail(str(exc))
        except SlackUnreachable as exc:
            log.warning("%s; starting anyway: Slack's requests work once it is reachable", exc)
    notice = empty_database_notice(engine, settings)
    if notice:
        log.info("%s", notice)
    from bot.server import serve as run

    log.info("starting kpibot: Slack over %s, on %s:%s", mode or "nothing (not configured)", host, port)
    run(settings, host=host, port=port, engine=engine)
