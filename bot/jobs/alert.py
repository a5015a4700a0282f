"""The backlog alert job: every few minutes, read the backlog, decide (commands.alert) and post when it
matters. The state lives in the database (storage.outbox.AlertState) and every post goes through the
outbox, so two bot processes post each alert once.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.jobs.posting import SKIPPED, permanent, record_failure
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
    if decision is None:
        return "quiet"
    held = outbox.claim(engine, subscription_id=subscription.id, kind=KIND, key=decision.key, now=now)
    if held is None:
        return SKIPPED
    try:
        message = alert_message(decision, reading, subscription)
        ts = client.chat_postMessage(channel=subscription.slack_channel, **message)["ts"]
    except Exception as exc:  # noqa: BLE001 - recorded; the next check decides again and retries
        result = record_failure(engine, held, subscription, exc, now)
        if permanent(exc):  # move on, so the next alert tries again once someone fixed the channel
            outbox.save_alert_state(engine, decision.state)
        return result
    outbox.mark_sent(engine, held, now, slack_ts=ts, alert_state=decision.state)
    over = f"{reading.over} over {format_duration(reading.max_age)}"
    result = f"{decision.kind} posted {now:%Y-%m-%d %H:%M} UTC ({over})"
    outbox.record_result(engine, subscription.id, result)
    return result
