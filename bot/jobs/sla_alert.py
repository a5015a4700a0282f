"""The SLA-risk alert job: every minute, read the clocks at risk (commands.sla_risk), decide and post when
it matters, through the outbox, so two bot processes post each alert once. Its state lives in
`alert_state` beside the backlog alert's.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.jobs.posting import SKIPPED, permanent, record_failure
from commands.sla_risk import DEFAULT_LEAD, at_risk, decide_risk, risk_message
from storage import outbox
from storage.models import Subscription
from storage.settings import Settings

KIND = "sla"


def check_sla_alert(
    engine: Engine, client: WebClient, settings: Settings, subscription: Subscription, now: datetime
) -> str:
    """What the check at `now` did: quiet, skipped (another process posts it), the post made (fire, new,
    repeat, clear), or the failure recorded."""
    lead = subscription.max_age_seconds or DEFAULT_LEAD
    with engine.connect() as conn:
        risks = at_risk(conn, now, channels=subscription.channel_list, lead=lead, queue=settings.sla_queue)
    decision = decide_risk(outbox.alert_state(engine, subscription.id), risks, now)
    if decision is None:
        return "quiet"
    held = outbox.claim(engine, subscription_id=subscription.id, kind=KIND, key=decision.key, now=now)
    if held is None:
        return SKIPPED
    try:
        message = risk_message(risks, now, lead, decision.kind)
        ts = client.chat_postMessage(channel=subscription.slack_channel, **message)["ts"]
    except Exception as exc:  # noqa: BLE001 - recorded; the next check decides again and retries
        result = record_failure(engine, held, subscription, exc, now)
        if permanent(exc):
            outbox.save_alert_state(engine, decision.state)
        return result
    outbox.mark_sent(engine, held, now, slack_ts=ts, alert_state=decision.state)
    result = f"{decision.kind} posted {now:%Y-%m-%d %H:%M} UTC ({len(risks)} at risk)"
    outbox.record_result(engine, subscription.id, result)
    return result
