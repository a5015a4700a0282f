"""`/kpi digest …`, `/kpi alert …` and `/kpi intake …`: anyone may list them; only admins may change them.

Admins are the workspace's admins and owners (from `users.info`) and the user ids in `admin_user_ids`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.scheduler import schedule_note, subscriptions_changed
from commands import sla_policy
from commands.cadence import Cadence
from commands.errors import UsageError
from commands.format import format_duration
from commands.intake import intake_command
from commands.me import UNKNOWN_AGENT, resolve_agent
from commands.sla_policy import is_sla_setting
from commands.slack_text import inline
from commands.subscribe import SettingsRequest, parse_settings
from storage.db import session
from storage.models import Subscription
from storage.service_levels import policies, remove_policy, save_policy
from storage.settings import Settings
from storage.subscriptions import (
    DIGEST_KINDS,
    MY_DIGEST,
    add_subscription,
    list_subscriptions,
    remove_subscriptions,
)

SLA_ADMINS_ONLY = "Only workspace admins can change service levels. See what is set with `/kpi sla list`."
ADMINS_ONLY = (
    "Only workspace admins can change digests and alerts. Ask an admin to set this up, "
    "or see what is set with `/kpi digest list` and `/kpi alert list`."
)
_NAMES = {
    "digest": "daily digest",
    "digest-weekly": "weekly digest",
    "digest-monthly": "monthly digest",
    "digest-me": "own weekly digest",
    "alert": "backlog alert",
    "sla": "SLA-risk alert",
    "anomaly": "anomaly alert",
}
TERMINAL_USER = sla_policy.TERMINAL_USER  # created_by of what the CLI sets: no Slack user
_HOW_TO_ADD = {  # by whether the listing is for the terminal
    False: {
        "digest": "`/kpi digest here 09:00` (or `weekly mon 09:00`, `monthly 1 09:00`)",
        "alert": "`/kpi alert backlog 5 4h here`",
        "sla": "`/kpi alert sla here lead 30m`",
        "anomaly": "`/kpi alert anomalies here`",
    },
    True: {
        "digest": "`kpibot digest add C0123ABCD 09:00` (or `weekly mon 09:00`, `monthly 1 09:00`)",
        "alert": "`kpibot alert add C0123ABCD 5 4h`",
        "sla": "`kpibot alert sla-add C0123ABCD --lead 30m`",
        "anomaly": "`kpibot alert anomalies-add C0123ABCD`",
    },
}


@dataclass(frozen=True)
class Asker:
    """Who asks for a settings change, and what the bot can learn about them and the target channel."""

    user_id: str
    is_admin: Callable[[], bool]
    time_zone: Callable[[], str | None]  # for a digest typed without one
    can_post_in: Callable[[str], bool] | None = None  # None: cannot be checked from here

    @classmethod
    def slack_user(cls, client: WebClient, user_id: str, settings: Settings) -> Asker:
        """A Slack user: admin and time zone from `users.info` (asked once), membership checked."""
        user = cache(lambda: client.users_info(user=user_id)["user"])
        return cls(
            user_id,
            is_admin=lambda: is_admin(user(), settings),
            time_zone=lambda: user().get("tz"),
            can_post_in=lambda channel: _bot_is_member(client, channel),
        )


TERMINAL = Asker(TERMINAL_USER, is_admin=lambda: True, time_zone=lambda: None)  # whoever runs the CLI


def answer_settings_command(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    client: WebClient,
    settings: Settings,
    engine: Engine,
    now: datetime,
) -> str:
    """The reply to a settings command typed in Slack: the listing, the change made, or why it was refused.

    Raises UsageError for a command it cannot read.
    """
    asker = Asker.slack_user(client, user_id, settings)
    return settings_reply(text, here=channel_id, asker=asker, settings=settings, engine=engine, now=now)


def settings_reply(
    text: str, *, here: str, asker: Asker, settings: Settings, engine: Engine, now: datetime
) -> str:
    """The reply (Slack mrkdwn) to a settings command about the Slack channel `here`, from `asker`;
    the one place digests, alerts and intake channels are changed, from Slack or from the terminal.

    Raises UsageError for a command it cannot read.
    """
    if is_sla_setting(text.split()):
        return _sla_reply(text, asker=asker, settings=settings, engine=engine, now=now)
    if text.split()[0].lower() == "intake":
        return intake_command(
            text,
            user_id=asker.user_id,
            channel_id=here,
            settings=settings,
            engine=engine,
            now=now,
            is_admin=asker.is_admin,
        )
    request = parse_settings(text, settings, here=here)
    if request.kind == MY_DIGEST:
        return _my_digest_reply(request, asker=asker, settings=settings, engine=engine, now=now)
    with session(engine) as db:
        if request.action == "list":
            alerts = ("alert", "sla", "anomaly")
            kinds = alerts if request.kind in alerts else tuple(DIGEST_KINDS)
            subscriptions = [
                sub
                for kind in kinds
                for sub in list_subscriptions(db, kind=kind)
                if sub.kind != MY_DIGEST or sub.slack_channel == asker.user_id  # only yours
            ]
            return _listing(request.kind, subscriptions, settings, now, terminal=asker is TERMINAL)
        if not asker.is_admin():
            return ADMINS_ONLY
        if request.action == "off":
            removed = remove_subscriptions(db, kind=request.kind, slack_channel=request.slack_channel)
            subscriptions_changed()
            if not removed:
                return (
                    f"There was no {_NAMES[request.kind]} in <#{request.slack_channel}>; nothing to turn off."
                    + _other_digests(db, request)
                )
            return f"The {_NAMES[request.kind]} in <#{request.slack_channel}> is off."
        if request.kind in DIGEST_KINDS and request.timezone is None:
            request = replace(request, timezone=asker.time_zone() or settings.tz)
        saved = add_subscription(db, _subscription(request, asker.user_id, now))
        subscriptions_changed()
    reply = f"Done: {describe(saved)}."
    if asker.can_post_in is not None and not asker.can_post_in(saved.slack_channel):
        reply += (
            f"\n:warning: I am not in <#{saved.slack_channel}> yet, so I cannot post there: "
            "type `/invite @kpibot` in that channel."
        )
    return reply


def _my_digest_reply(
    request: SettingsRequest, *, asker: Asker, settings: Settings, engine: Engine, now: datetime
) -> str:
    """`/kpi digest me weekly …` or `… me off`: anyone's own weekly numbers by direct message (no admin
    needed: it concerns only them); refused until the asker is matched to an agent, as `/kpi me` is."""
    if asker is TERMINAL:
        raise UsageError("`digest me` is a Slack user's own digest: type `/kpi digest me weekly` in Slack")
    with session(engine) as db:
        if request.action == "off":
            if not remove_subscriptions(db, kind=MY_DIGEST, slack_channel=asker.user_id):
                return "You had no weekly digest of your own; nothing to turn off."
            subscriptions_changed()
            return f"Your {_NAMES[MY_DIGEST]} is off."
        with engine.connect() as conn:
            if resolve_agent(conn, settings, asker.user_id) is None:
                return UNKNOWN_AGENT.format(user=inline(asker.user_id))
        zone = request.timezone or asker.time_zone() or settings.tz
        mine = replace(request, slack_channel=asker.user_id, timezone=zone)
        saved = add_subscription(db, _subscription(mine, asker.user_id, now))
        subscriptions_changed()
    return f"Done: {describe(saved)}, with your numbers of the week before. `/kpi digest me off` stops it."


def _sla_reply(text: str, *, asker: Asker, settings: Settings, engine: Engine, now: datetime) -> str:
    """`/kpi sla list|set|reset`: the policies in force, or an admin's change to one."""
    request = sla_policy.parse_sla(text, settings)
    if request.action == "list":
        with engine.connect() as conn:
            known = policies(conn, settings)
        return "*Service levels*\n" + "\n".join(
            f"• {line}" for line in sla_policy.policy_listing(known, settings)
        )
    if not asker.is_admin():
        return SLA_ADMINS_ONLY
    name = request.channel or "default"
    if request.action == "reset":
        removed = remove_policy(engine, settings, request.channel)
        with engine.connect() as conn:
            now_in_force = policies(conn, settings)
        policy = now_in_force.default if request.channel == "" else now_in_force.of(request.channel)
        told = "" if removed else " (no admin policy was set)"
        return f"The {name} service levels are back to {sla_policy.describe_policy(policy)}{told}."
    save_policy(engine, settings, request.channel, request.policy, set_by=asker.user_id, now=now)
    return f"Done: {name} service levels are {sla_policy.describe_policy(request.policy)}."


def is_admin(user: dict[str, Any], settings: Settings) -> bool:
    """True when the Slack user (a `users.info` record) may change workspace settings."""
    if user.get("id") in settings.admin_user_ids:
        return True
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def describe(subscription: Subscription) -> str:
    """The subscription in words: where, when or on what condition, for which support channels."""
    scope = inline(", ".join(subscription.channel_list)) or "all channels"
    where = f"<#{subscription.slack_channel}>"
    if subscription.kind in DIGEST_KINDS:
        cadence = Cadence.of(subscription)
        when = "" if cadence.name == "daily" else f", {cadence.words()}"
        at = f"at {subscription.time} ({subscription.timezone})"
        if subscription.kind == MY_DIGEST:
            return f"your {_NAMES[MY_DIGEST]}{when} {at}, by direct message"
        return f"{_NAMES[subscription.kind]} in {where}{when} {at}, {scope}"
    if subscription.kind == "sla":
        lead = format_duration(subscription.max_age_seconds)
        return f"SLA-risk alert in {where} for breaches due within {lead}, checked every minute, {scope}"
    if subscription.kind == "anomaly":
        return (
            f"anomaly alert in {where} when volume, first response, negative sentiment or a topic is far "
            f"from the same hour of previous weeks, checked every minute, {scope}"
        )
    wait = format_duration(subscription.max_age_seconds)
    return (
        f"backlog alert in {where} when {subscription.threshold} or more open conversations "
        f"have waited longer than {wait}, {scope}"
    )


def _listing(
    kind: str, subscriptions: list[Subscription], settings: Settings, now: datetime, *, terminal: bool
) -> str:
    if not subscriptions:
        how = _HOW_TO_ADD[terminal][kind]
        return f"No {'digest' if kind == 'digest' else _NAMES[kind]}s yet. An admin can add one with {how}."
    lines = [
        f"• {describe(sub)} ({_set_by(sub)}) — {schedule_note(sub, settings, now)}" for sub in subscriptions
    ]
    several = "digest" if kind == "digest" else "alert"
    kinds = {sub.kind for sub in subscriptions}
    name = several if len(kinds) > 1 or MY_DIGEST in kinds else _NAMES[subscriptions[0].kind]
    return f"*{name[0].upper()}{name[1:]}s*\n" + "\n".join(lines)


def _set_by(subscription: Subscription) -> str:
    if subscription.created_by == TERMINAL_USER:
        return "set from the terminal"
    return f"set by <@{subscription.created_by}>"


def _subscription(request: SettingsRequest, user_id: str, now: datetime) -> Subscription:
    return Subscription(
        kind=request.kind,
        slack_channel=request.slack_channel,
        time=request.time,
        timezone=request.timezone,
        channels=",".join(request.channels),
        threshold=request.threshold,
        max_age_seconds=request.max_age_seconds,
        day=request.day,
        created_by=user_id,
        created_at=now,
    )


def _other_digests(db, request: SettingsRequest) -> str:
    """When `digest off` found no daily digest: the channel's weekly or monthly ones, which it leaves on."""
    if request.kind != "digest":
        return ""
    others = [
        sub.kind
        for sub in list_subscriptions(db)
        if sub.kind in DIGEST_KINDS
        and sub.kind != request.kind
        and sub.slack_channel == request.slack_channel
    ]
    return "".join(
        f" Its {_NAMES[kind]} stays on: `/kpi digest off {DIGEST_KINDS[kind]}` turns it off."
        for kind in others
    )


def _bot_is_member(client: WebClient, channel_id: str) -> bool:
    """True when the bot can post in the channel: a member of it, or it is the bot's own DM."""
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        if exc.response.get("error") == "channel_not_found":  # a private channel the bot is not in
            return False
        raise
    return bool(channel.get("is_member") or channel.get("is_im"))
