"""The daily digest job: claim the day's post, post the digest, upload the 14-day chart in its thread.

The day's key is the local date of the subscription's most recent scheduled time, so a digest due at
23:30 that only runs at 00:30 (the bot was down) is still that day's digest, and a retry the next
morning cannot post a second one under a new key. The digest covers the local day before that date.
A digest more than LATE_LIMIT behind its time is not retried: by then it is news from another day.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.jobs.posting import SKIPPED, record_failure, slack_error
from commands.chart import chart_title, daily_series, render_chart
from commands.digest import build_digest, digest_message
from storage import outbox
from storage.models import Subscription
from storage.settings import Settings

KIND = "digest"
LATE_LIMIT = timedelta(hours=3)
_log = logging.getLogger("kpibot.jobs")


def post_digest(
    engine: Engine, client: WebClient, settings: Settings, subscription: Subscription, now: datetime
) -> str:
    """What became of the subscription's digest due at `now` (also stored as its `last_result`):
    posted, skipped (already posted or in progress elsewhere), or the failure recorded."""
    tz = subscription_zone(subscription, settings)
    due = due_date(subscription, tz, now)
    held = outbox.claim(engine, subscription_id=subscription.id, kind=KIND, key=due.isoformat(), now=now)
    if held is None:
        return SKIPPED
    try:
        message, png = _content(engine, settings, subscription, tz, due - timedelta(days=1), now)
        ts = held.slack_ts
        if ts is None:  # a retry after the message went out only adds the chart
            ts = client.chat_postMessage(channel=subscription.slack_channel, **message)["ts"]
            outbox.set_slack_ts(engine, held, ts)
        note = _upload_chart(client, subscription.slack_channel, ts, png, due - timedelta(days=1))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded; the outbox decides on retries
        return record_failure(engine, held, subscription, exc, now)
    outbox.mark_sent(engine, held, now, slack_ts=ts, note=note)
    result = f"posted {now.astimezone(tz):%Y-%m-%d %H:%M %Z}" + (f" ({note})" if note else "")
    outbox.record_result(engine, subscription.id, result)
    return result


def subscription_zone(subscription: Subscription, settings: Settings) -> ZoneInfo:
    """The digest's time zone: its own, else the workspace's."""
    return ZoneInfo(subscription.timezone or settings.tz)


def due_date(subscription: Subscription, tz: ZoneInfo, now: datetime) -> date:
    """The local date of the subscription's most recent scheduled time at or before `now`."""
    return scheduled_at(subscription, tz, now).astimezone(tz).date()


def scheduled_at(subscription: Subscription, tz: ZoneInfo, now: datetime) -> datetime:
    """The subscription's most recent scheduled time at or before `now` (aware UTC)."""
    hour, minute = (int(part) for part in (subscription.time or "00:00").split(":"))
    day = now.astimezone(tz).date()
    for candidate in (day, day - timedelta(days=1)):
        moment = datetime.combine(candidate, time(hour, minute), tzinfo=tz).astimezone(UTC)
        if moment <= now:
            return moment
    raise AssertionError("a time of day is always reached within two days")


def _content(
    engine: Engine, settings: Settings, subscription: Subscription, tz: ZoneInfo, day: date, now: datetime
) -> tuple[dict, bytes]:
    channels = subscription.channel_list
    with engine.connect() as conn:
        digest = build_digest(conn, settings, day=day, tz=tz, channels=channels, now=now)
        series = daily_series(conn, settings, last_day=day, tz=tz, channels=channels, now=now)
    return digest_message(digest), render_chart(series, title=chart_title(day))


def _upload_chart(client: WebClient, channel: str, ts: str, png: bytes, day: date) -> str | None:
    """Uploads the chart into the digest's thread; a note when Slack refuses it for good (the digest
    itself is out, so that is no reason to post it again), and raises when a retry may succeed."""
    try:
        client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=png,
            filename=f"kpibot-digest-{day.isoformat()}.png",
            title=f"Conversations and first response, 14 days to {day.isoformat()}",
        )
    except SlackApiError as exc:
        reason, final = slack_error(exc)
        if not final:
            raise
        _log.warning("digest chart not uploaded to %s: %s", channel, reason)
        return f"chart not uploaded: {reason}"
    return None
