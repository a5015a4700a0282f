"""The digest job, daily, weekly or monthly: claim the period's post, post the digest, upload the chart
(14 days, 12 weeks or 12 months) in its thread.

What is due is decided from the subscription's most recent scheduled time, so a digest due at 23:30 that
only runs at 00:30 (the bot was down) is still that day's digest. The digest covers the full local day,
week or month before that time's local date (commands.cadence). The outbox key says which post it is: the
daily digest's due date, a weekly or monthly digest's period start ("2026-11-30" for the week from Mon 30
Nov), so a retry, a restart or a second process can never post a period twice, even when an admin moves
the weekly digest from Monday to Wednesday in between.

Someone's own weekly digest (kind MY_DIGEST, `/kpi digest me weekly`) is their `/kpi me` for the week
before, sent by direct message (conversations.open with their user id), without a chart; while they are
matched to no agent it is not posted, and the week is not claimed.

A digest more than its LATE_LIMITS behind its time is not posted: a daily one after 3 hours is news from
another day; a weekly or monthly one is still the latest there is for a day (the next is a week or a month
away), so it is posted up to 24 hours late and not after: by then the team has moved on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.jobs.posting import SKIPPED, record_failure, slack_error
from commands.cadence import Cadence, period_title
from commands.chart import chart_title, period_series, render_chart
from commands.digest import CHART_PERIODS, build_digest, digest_message
from commands.me import build_me, resolve_agent
from commands.periods import Period
from commands.render_me import me_message
from storage import outbox
from storage.models import Subscription
from storage.settings import Settings
from storage.subscriptions import MY_DIGEST

KIND = "digest"  # the outbox kind of every digest, whatever its cadence
LATE_LIMITS = {"daily": timedelta(hours=3), "weekly": timedelta(hours=24), "monthly": timedelta(hours=24)}
LATE_LIMIT = LATE_LIMITS["daily"]
_log = logging.getLogger("kpibot.jobs")


@dataclass(frozen=True)
class Due:
    """The digest due: its scheduled time (aware UTC), the period it covers, its outbox key, and how late it
    may still be posted."""

    at: datetime
    period: Period
    key: str
    late_limit: timedelta


def post_digest(
    engine: Engine, client: WebClient, settings: Settings, subscription: Subscription, now: datetime
) -> str:
    """What became of the subscription's digest due at `now` (also stored as its `last_result`):
    posted, skipped (already posted or in progress elsewhere), or the failure recorded."""
    tz = subscription_zone(subscription, settings)
    due = due_digest(subscription, tz, now)
    if subscription.kind == MY_DIGEST and _agent(engine, settings, subscription) is None:
        result = f"not posted {now:%Y-%m-%d %H:%M} UTC: not matched to an agent (see `/kpi me`)"
        outbox.record_result(engine, subscription.id, result)
        return result
    held = outbox.claim(engine, subscription_id=subscription.id, kind=KIND, key=due.key, now=now)
    if held is None:
        return SKIPPED
    try:
        channel = subscription.slack_channel
        if subscription.kind == MY_DIGEST:  # a direct message: its channel id comes from Slack
            channel = client.conversations_open(users=subscription.slack_channel)["channel"]["id"]
        message, png = _content(engine, settings, subscription, due.period, now)
        ts = held.slack_ts
        if ts is None:  # a retry after the message went out only adds the chart
            ts = client.chat_postMessage(channel=channel, **message)["ts"]
            outbox.set_slack_ts(engine, held, ts)
        note = _upload_chart(client, channel, ts, png, due.period) if png is not None else None
    except Exception as exc:  # noqa: BLE001 - every failure is recorded; the outbox decides on retries
        return record_failure(engine, held, subscription, exc, now)
    outbox.mark_sent(engine, held, now, slack_ts=ts, note=note)
    result = f"posted {now.astimezone(tz):%Y-%m-%d %H:%M %Z}" + (f" ({note})" if note else "")
    outbox.record_result(engine, subscription.id, result)
    return result


def subscription_zone(subscription: Subscription, settings: Settings) -> ZoneInfo:
    """The digest's time zone: its own, else the workspace's."""
    return ZoneInfo(subscription.timezone or settings.tz)


def due_digest(subscription: Subscription, tz: ZoneInfo, now: datetime) -> Due:
    """The subscription's digest due at `now`: the one of its most recent scheduled time at or before
    `now`, whether or not it was posted."""
    cadence = Cadence.of(subscription)
    at = cadence.last_scheduled(subscription.time or "00:00", tz, now)
    day = at.astimezone(tz).date()
    period = cadence.covered(day, tz)
    key = day if cadence.name == "daily" else period.start.astimezone(tz).date()
    return Due(at, period, key.isoformat(), LATE_LIMITS[cadence.name])


def _content(
    engine: Engine, settings: Settings, subscription: Subscription, period: Period, now: datetime
) -> tuple[dict, bytes | None]:
    channels = subscription.channel_list
    if subscription.kind == MY_DIGEST:
        with engine.connect() as conn:
            agent = resolve_agent(conn, settings, subscription.slack_channel)
            report = build_me(conn, settings, agent, now, replace(period, name=period_title(period)))
        return me_message(report), None
    with engine.connect() as conn:
        digest = build_digest(conn, settings, period=period, channels=channels, now=now)
        series = period_series(conn, settings, last=period, channels=channels, now=now)
    return digest_message(digest), render_chart(series, title=chart_title(_last_day(period), period.unit))


def _agent(engine: Engine, settings: Settings, subscription: Subscription) -> str | None:
    with engine.connect() as conn:
        return resolve_agent(conn, settings, subscription.slack_channel)


def _last_day(period: Period) -> date:
    return period.end.astimezone(period.tz).date() - timedelta(days=1)


def _upload_chart(client: WebClient, channel: str, ts: str, png: bytes, period: Period) -> str | None:
    """Uploads the chart into the digest's thread; a note when Slack refuses it for good (the digest
    itself is out, so that is no reason to post it again), and raises when a retry may succeed."""
    last = f"{_last_day(period):%Y-%m}" if period.unit == "month" else _last_day(period).isoformat()
    try:
        client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=png,
            filename=f"kpibot-digest-{_file_name(period)}.png",
            title=f"Conversations and first response, {CHART_PERIODS[period.unit]} {period.unit}s to {last}",
        )
    except SlackApiError as exc:
        reason, final = slack_error(exc)
        if not final:
            raise
        _log.warning("digest chart not uploaded to %s: %s", channel, reason)
        return f"chart not uploaded: {reason}"
    return None


def _file_name(period: Period) -> str:
    """What the chart file is called after: "2026-11-19" (a day), "week-2026-11-30", "2026-11" (a month)."""
    first = period.start.astimezone(period.tz).date()
    return {"week": f"week-{first.isoformat()}", "month": f"{first:%Y-%m}"}.get(
        period.unit, first.isoformat()
    )
