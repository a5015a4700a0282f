"""Interactive actions: the App Home tab's Refresh button and period picker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.errors import answer_unexpected_error
from bot.listeners.events import publish_home, publish_home_error
from bot.metrics import Metrics
from commands.render_home import DEFAULT_HOME_PERIOD, PERIOD_ACTION, REFRESH_ACTION
from storage.settings import Settings


def register(
    app: App, *, settings: Settings, engine: Engine, clock: Callable[[], datetime], metrics: Metrics
) -> None:
    """Adds the action listeners to `app`."""

    def show_period(body, client, logger) -> None:
        user_id = body["user"]["id"]
        try:
            period_word = _chosen_period(body["actions"][0])
            publish_home(client, user_id, period_word, settings=settings, engine=engine, now=clock())
        except Exception as error:  # noqa: BLE001 - logged, and the tab says so instead of going stale
            metrics.failed("home_tab", error)
            answer_unexpected_error(error, body, None, logger)
            publish_home_error(client, user_id, logger)

    for action_id in (REFRESH_ACTION, PERIOD_ACTION):
        app.action(action_id)(ack=_acknowledge, lazy=[show_period])


def _chosen_period(action: dict[str, Any]) -> str:
    """The period a Home tab control asks for: the select's choice, or the button's current period."""
    selected = action.get("selected_option") or {}
    return selected.get("value") or action.get("value") or DEFAULT_HOME_PERIOD


def _acknowledge(ack) -> None:
    ack()
