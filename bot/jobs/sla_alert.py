"""The SLA-risk alert job: every minute, read the clocks at risk (commands.sla_risk), decide and post when
it matters, through the outbox, so two bot processes post each alert once. Its state lives in
`alert_state` beside the backlog alert's.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.jobs.posting import post_alert
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
    return post_alert(
        engine,
        client,
        subscription,
        decision,
        lambda decided: risk_message(risks, now, lead, decided.kind),
        kind=KIND,
        now=now,
        summary=f"{len(risks)} at risk",
    )
