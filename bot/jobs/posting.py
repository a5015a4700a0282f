"""Posting a scheduled message through the outbox, and telling Slack errors worth retrying from the rest.

The Web API client retries rate limits (429 with Retry-After), 5xx and network errors itself (slack_sdk
retry handlers, see bot.slack_client.web_client). What still fails here is recorded in the outbox and in the
subscription's `last_result`: a permanent error (the channel is gone, the bot is not in it, the token is
revoked) is never retried; anything else is, after a backoff, a few times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from commands.alert import Decision
from storage import outbox
from storage.models import Subscription

SKIPPED = "skipped: already posted, or being posted by another process"
# Slack errors that another try cannot fix: a person has to act (invite the bot, reinstall the app).
PERMANENT = {
    "channel_not_found": "the channel is gone or private: invite me with `/invite @kpibot` in it",
    "not_in_channel": "I am not in the channel: type `/invite @kpibot` there",
    "is_archived": "the channel is archived: set the digest or alert again in another channel",
    "invalid_auth": "the bot token is not valid: reinstall the app or fix SLACK_BOT_TOKEN",
    "not_authed": "no bot token is configured: set SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked: reinstall the app",
    "account_inactive": "the bot account is deactivated: reinstall the app",
    "missing_scope": "the app lacks a permission: reinstall it from manifest.yml",
    "restricted_action": "the workspace does not let me post there",
    "invalid_blocks": "Slack refused the message layout",
}
_log = logging.getLogger("kpibot.jobs")


def slack_error(exc: BaseException) -> tuple[str, bool]:
    """A failure in words for `last_result`, and whether retrying can never help."""
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if code in PERMANENT:
            return f"{code} — {PERMANENT[code]}", True
        return f"Slack said {code}", False
    return f"{type(exc).__name__}: {exc}", False


def permanent(exc: BaseException) -> bool:
    """True when `exc` is a Slack error another try cannot fix."""
    return slack_error(exc)[1]


def record_failure(
    engine: Engine, held: outbox.Claim, subscription: Subscription, exc: BaseException, now: datetime
) -> str:
    """Records a failed post in the outbox and the subscription; returns the `last_result` text."""
    reason, final = slack_error(exc)
    retried = outbox.mark_failed(engine, held, reason, permanent=final)
    when = f"{now:%Y-%m-%d %H:%M} UTC"
    text = (
        f"failed {when} (attempt {held.attempts}, will retry): {reason}"
        if retried
        else f"failed {when}, not retried: {reason}"
    )
    if final:
        _log.warning("%s %s in %s: %s", held.kind, held.key, subscription.slack_channel, reason)
    else:
        _log.warning(
            "%s %s in %s failed, will retry", held.kind, held.key, subscription.slack_channel, exc_info=exc
        )
    outbox.record_result(engine, subscription.id, text)
    return text


def post_alert(
    engine: Engine,
    client: WebClient,
    subscription: Subscription,
    decision: Decision | None,
    message: Callable[[Decision], dict],
    *,
    kind: str,
    now: datetime,
    summary: str,
) -> str:
    """Posts an alert's `decision` through the outbox (exactly once across processes) and saves the
    alert's state with it; returns what became of it: quiet, skipped, "<kind> posted … (summary)", or the
    failure recorded (a permanent one still moves the state on, so the next alert tries again)."""
    if decision is None:
        return "quiet"
    held = outbox.claim(engine, subscription_id=subscription.id, kind=kind, key=decision.key, now=now)
    if held is None:
        return SKIPPED
    try:
        ts = client.chat_postMessage(channel=subscription.slack_channel, **message(decision))["ts"]
    except Exception as exc:  # noqa: BLE001 - recorded; the next check decides again and retries
        result = record_failure(engine, held, subscription, exc, now)
        if permanent(exc):
            outbox.save_alert_state(engine, decision.state)
        return result
    outbox.mark_sent(engine, held, now, slack_ts=ts, alert_state=decision.state)
    result = f"{decision.kind} posted {now:%Y-%m-%d %H:%M} UTC ({summary})"
    outbox.record_result(engine, subscription.id, result)
    return result
