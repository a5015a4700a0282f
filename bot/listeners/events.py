"""Events API listeners: the App Home tab shows a live scorecard when opened."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.errors import answer_unexpected_error
from bot.metrics import Metrics
from commands.engine import compute
from commands.parse import parse_command
from commands.render_home import DEFAULT_HOME_PERIOD, HOME_PERIODS, home_error_view, home_view
from storage.settings import Settings

# Bot events subscribed to; manifest.yml lists the same ones.
EVENTS = ("app_home_opened",)


def register(
    app: App, *, settings: Settings, engine: Engine, clock: Callable[[], datetime], metrics: Metrics
) -> None:
    """Adds the event listeners to `app`."""

    def open_home(body, event, client, logger) -> None:
        if event.get("tab", "home") != "home":
            return
        try:
            publish_home(
                client, event["user"], DEFAULT_HOME_PERIOD, settings=settings, engine=engine, now=clock()
            )
        except Exception as error:  # noqa: BLE001 - logged, and the tab says so instead of staying blank
            metrics.failed("home_tab", error)
            answer_unexpected_error(error, body, None, logger)
            publish_home_error(client, event["user"], logger)

    app.event("app_home_opened")(ack=_acknowledge, lazy=[open_home])


def publish_home(
    client: WebClient, user_id: str, period_word: str, *, settings: Settings, engine: Engine, now: datetime
) -> None:
    """Computes the scorecard for `period_word` (1d, 7d or 30d) and publishes it as `user_id`'s Home tab."""
    if period_word not in HOME_PERIODS:
        period_word = DEFAULT_HOME_PERIOD
    request = parse_command(period_word, settings, now)
    with engine.connect() as conn:
        scorecard = compute(conn, request, settings, now)
    client.views_publish(user_id=user_id, view=home_view(scorecard, period_word=period_word, updated_at=now))


def publish_home_error(client: WebClient, user_id: str, logger) -> None:
    """Publishes a Home tab saying the scorecard could not be computed (best effort)."""
    try:
        client.views_publish(
            user_id=user_id, view=home_error_view("Sorry, the scorecard could not be computed just now.")
        )
    except Exception:  # noqa: BLE001 - the original error is logged already
        logger.exception("could not publish the Home tab error view for %s", user_id)


def _acknowledge(ack) -> None:
    ack()
