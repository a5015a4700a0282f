"""The anomaly alert's button: what customers said in the hour and on the channels the alert is about —
the `voice` KPI over that window — answered ephemerally to whoever pressed it, beside the alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.errors import answer_unexpected_error
from bot.metrics import Metrics
from commands.anomaly import hour_label
from commands.anomaly_alert import VOICE_ACTION, voice_request
from commands.engine import measure
from commands.errors import UsageError
from commands.kpis import KPIS
from commands.periods import Period
from commands.render_blocks import answer_message, notice_message
from storage.settings import Settings


def register(
    app: App, *, settings: Settings, engine: Engine, clock: Callable[[], datetime], metrics: Metrics
) -> None:
    """Adds the anomaly alert's button listener to `app`."""

    def show_voice(body, respond, context, logger) -> None:
        try:
            try:
                window, channels = voice_request(body["actions"][0].get("value") or "", settings)
                period = Period(*window, settings.zone, name=hour_label(window, settings.zone))
                with engine.connect() as conn:
                    result = measure(conn, KPIS["voice"], settings, clock(), channels, period)
                message = answer_message(result)
            except UsageError as error:
                message = notice_message(error.message)
            respond(**message, response_type="ephemeral", replace_original=False)
        except Exception as error:  # noqa: BLE001 - logged and answered with an apology
            metrics.failed("answer", error)
            answer_unexpected_error(error, body, respond, logger, context=context)

    app.action(VOICE_ACTION)(ack=_acknowledge, lazy=[show_voice])


def _acknowledge(ack) -> None:
    ack()
