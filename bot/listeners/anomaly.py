"""The anomaly alert's button: what customers said in the hour and on the channels the alert is about —
the `voice` KPI over that window — answered ephemerally to whoever pressed it, beside the alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.listeners.actions import answer_privately
from bot.metrics import Metrics
from commands.anomaly import hour_label
from commands.anomaly_alert import VOICE_ACTION, voice_request
from commands.engine import measure
from commands.kpis import KPIS
from commands.periods import Period
from commands.render_blocks import answer_message
from storage.settings import Settings


def register(
    app: App, *, settings: Settings, engine: Engine, clock: Callable[[], datetime], metrics: Metrics
) -> None:
    """Adds the anomaly alert's button listener to `app`."""

    def show_voice(value: str) -> dict[str, Any]:
        window, channels = voice_request(value, settings)
        period = Period(*window, settings.zone, name=hour_label(window, settings.zone))
        with engine.connect() as conn:
            result = measure(conn, KPIS["voice"], settings, clock(), channels, period)
        return answer_message(result)

    answer_privately(app, VOICE_ACTION, show_voice, metrics)
