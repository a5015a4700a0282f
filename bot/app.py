"""The application factory: a fresh Bolt app per call, wired to a database, a Web API client and a clock.

Nothing happens at import. The Web API base URL comes from the settings (`SLACK_API_URL`), so tests
point a real `WebClient` at a local stand-in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.errors import error_handler
from bot.listeners import actions, anomaly, commands, events, intake
from bot.metrics import Metrics
from bot.slack_client import web_client
from bot.slack_requests import guard
from storage.db import make_engine
from storage.deliveries import first_delivery, forget_delivery
from storage.ingest import Ingestor
from storage.settings import Settings

# The bot scopes manifest.yml asks for, and why; tests check the manifest against this list.
BOT_SCOPES = {
    "commands": "the /kpi, /sentiment and /topics slash commands",
    "users:read": "users.info: whether whoever changes a digest or alert is an admin, and their time zone",
    "channels:read": "conversations.info: whether the bot is in the public channel a digest or alert goes to",
    "groups:read": "conversations.info for private channels",
    "chat:write": "chat.postMessage: digests and backlog alerts posted in the subscribed channels",
    "files:write": "files.getUploadURLExternal/completeUploadExternal: the digest chart, the heatmap image, "
    "the /kpi export file",
    "im:write": "conversations.open: the direct message a /kpi heatmap image or /kpi export file is sent to",
    "channels:history": "message events from public intake channels (a top-level post opens a conversation)",
    "groups:history": "message events from private intake channels",
    "reactions:read": "reaction_added/removed in intake channels: the resolve reaction",
}
# Every Events API subscription in manifest.yml, with the scopes it needs.
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "reaction_added": ("reactions:read",),
    "reaction_removed": ("reactions:read",),
}
# Every Web API method the bot calls, with the scopes that allow it (any one of them suffices).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "views.publish": (),
    "users.info": ("users:read",),
    "conversations.info": ("channels:read", "groups:read"),
    "chat.postMessage": ("chat:write",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "conversations.open": ("im:write",),
}


def _not_the_token_notice(record: logging.LogRecord) -> bool:
    # Bolt also reads SLACK_BOT_TOKEN and warns that the client's token wins; it is the same token,
    # and the notice would greet every operator who followed the README.
    return "`token` will be unused" not in record.getMessage()


def _no_request_bodies(record: logging.LogRecord) -> bool:
    # Bolt's RequestVerification logs a refused request's whole body (customer text, response URLs);
    # the HTTP server refuses those before Bolt sees them, and this keeps the line out if one gets here.
    return not str(record.msg).startswith("Invalid request signature detected")


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    client: WebClient | None = None,
    clock: Callable[[], datetime] | None = None,
    metrics: Metrics | None = None,
    executor: Executor | None = None,
) -> App:
    """A Bolt app answering kpibot's slash commands, App Home and actions from `engine`'s database.

    `clock` gives "now" (aware UTC) for every answer; `metrics` collects what `/metrics` shows;
    `executor` runs the answers after the ack (the server shuts it down to finish them on SIGTERM).
    """
    engine = engine or make_engine(settings.database_url)
    client = client or web_client(settings)
    clock = clock or _utc_now
    metrics = metrics or Metrics()
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    logger = logging.getLogger("kpibot.slack")
    for keep_out in (_not_the_token_notice, _no_request_bodies):  # the same functions each call: added once
        logger.addFilter(keep_out)
    app = App(
        name="kpibot",
        logger=logger,
        client=client,
        signing_secret=secret,
        # auth.test is called on the first request instead of here: building an app does no I/O.
        token_verification_enabled=False,
        # Listeners only ack; every answer is a lazy function on `executor`. Processing before the
        # response makes the ack run in the request's own thread, so it never queues behind answers.
        process_before_response=True,
        listener_executor=executor,
    )
    app.middleware(guard(tuple(settings.slack_response_origins)))
    app.middleware(_once_per_event(metrics, engine, clock))
    app.error(error_handler(lambda event_id: forget_delivery(engine, event_id)))
    for module in (commands, events, actions, anomaly):
        module.register(app, settings=settings, engine=engine, clock=clock, metrics=metrics)
    # Last: intake adds catch-all message/reaction listeners that must not shadow the ones above.
    intake.register(
        app, engine=engine, settings=settings, ingestor=Ingestor(engine, settings), metrics=metrics
    )
    return app


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _once_per_event(metrics: Metrics, engine: Engine, clock: Callable[[], datetime]):
    """Middleware: an Events API delivery whose event_id was already handled is acked and dropped.

    Slack retries an event (X-Slack-Retry-Num) when the first ack was slow or lost; a retry of an
    event never seen (the first delivery was lost) is handled normally, and so is the retry of one whose
    handling failed (the error handler forgets its id). Event ids are remembered in the database, so a
    retry reaching another bot process is recognised too.
    """

    def skip_redelivered_events(body, next, logger):
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id:
            try:
                repeated = not first_delivery(engine, event_id, clock())
            except Exception:  # noqa: BLE001 - handling an event twice beats dropping it
                metrics.database_error("slack_delivery")
                logger.exception("could not record delivery of event %s; handling it", event_id)
                repeated = False
            if repeated:
                logger.info("event %s already handled; acknowledging the redelivery only", event_id)
                return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})
            metrics.slack_event((body.get("event") or {}).get("type", "unknown"))
        return next()

    return skip_redelivered_events
