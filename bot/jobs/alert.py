"""The backlog alert job: every few minutes, read the backlog, decide (commands.alert) and post when it
matters. The state lives in the database (storage.outbox.AlertState) and every post goes through the
outbox, so two bot processes post each alert once.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.jobs.posting import post_alert
from commands.alert import alert_message, decide, read_backlog
from commands.format import format_duration
from storage import outbox
from storage.models import Subscription
from storage.settings import Settings

KIND = "alert"


def check_alert(
    engine: Engine, client: WebClient, settings: Settings, subscription: Subscription, now: datetime
) -> str:
    """What the alert check at `now` did: quiet (nothing to say), skipped (another process posts it), the
    post made (fire, worse, repeat, clear), or the failure recorded."""
    with engine.connect() as conn:
        reading = read_backlog(conn, settings, subscription, now)
    decision = decide(outbox.alert_state(engine, subscription.id), reading, subscription.threshold or 1, now)
    return post_alert(
        engine,
        client,
        subscription,
        decision,
        lambda decided: alert_message(decided, reading, subscription),
        kind=KIND,
        now=now,
        summary=f"{reading.over} over {format_duration(reading.max_age)}",
    )
