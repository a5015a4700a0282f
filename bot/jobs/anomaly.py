"""The anomaly alert job: every minute, judge every signal (commands.anomaly_read), decide what is due
(commands.anomaly_alert) and post it through the outbox, so two bot processes post each message once.
Each signal's state is the latest row it has in `anomaly_post`, written with the outbox row it was posted
under (storage.anomalies)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.jobs.posting import SKIPPED, permanent, record_failure
from commands.anomaly_alert import Post, SignalState, decide, new_phrase, post_message, scope_channels
from commands.anomaly_read import evaluate
from storage import anomalies, outbox
from storage.models import Subscription
from storage.settings import Settings

KIND = "anomaly"


def check_anomalies(
    engine: Engine, client: WebClient, settings: Settings, subscription: Subscription, now: datetime
) -> str:
    """What the check at `now` did: quiet, or what became of each post due (posted, skipped because
    another process posts it, or the failure recorded)."""
    with engine.connect() as conn:
        findings = evaluate(conn, settings, subscription.channel_list, now)
        states = {(p.channel, p.signal): _state(p) for p in anomalies.latest(conn, subscription.id)}
    posts = decide(states, findings, now)
    if not posts:
        return "quiet"
    results = [_post(engine, client, settings, subscription, post, now) for post in posts]
    result = "; ".join(results)
    outbox.record_result(engine, subscription.id, result)
    return result


def _post(
    engine: Engine,
    client: WebClient,
    settings: Settings,
    subscription: Subscription,
    post: Post,
    now: datetime,
) -> str:
    held = outbox.claim(engine, subscription_id=subscription.id, kind=KIND, key=post.key, now=now)
    if held is None:
        return SKIPPED
    rows = [_row(subscription.id, step, now) for step in post.steps]
    try:
        phrase = None
        if not post.clear:
            scope = scope_channels(post.channel)
            with engine.connect() as conn:
                phrase = new_phrase(conn, settings, scope, post.steps[0].finding.window, now)
        message = post_message(post, settings, phrase=phrase)
        ts = client.chat_postMessage(channel=subscription.slack_channel, **message)["ts"]
    except Exception as exc:  # noqa: BLE001 - recorded; the next check decides again and retries
        result = record_failure(engine, held, subscription, exc, now)
        if permanent(exc):
            anomalies.record_unposted(engine, rows)
        return result
    anomalies.record_posted(engine, held, now, ts, rows)
    what = "all-clear" if post.clear else "+".join(sorted({step.kind for step in post.steps}))
    signals = ", ".join(step.finding.signal for step in post.steps)
    return f"{what} posted {now:%Y-%m-%d %H:%M} UTC ({post.channel or 'all'}: {signals})"


def _state(posted: anomalies.Posted) -> SignalState:
    return SignalState(
        active=posted.kind != "clear",
        episode=posted.episode,
        post=posted.post,
        value=posted.value,
        usual=posted.usual,
        posted_at=posted.posted_at,
    )


def _row(subscription_id: int, step, now: datetime) -> dict:
    finding = step.finding
    return {
        "subscription_id": subscription_id,
        "channel": finding.channel,
        "signal": finding.signal,
        "kind": step.kind,
        "episode": step.episode,
        "post": step.post,
        "window_start": finding.window[0],
        "window_end": finding.window[1],
        "value": finding.verdict.value,
        "usual": finding.verdict.usual,
        "scale": finding.verdict.scale,
        "posted_at": now,
    }
