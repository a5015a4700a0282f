"""Slack intake channels: messages in a watched channel become conversations (docs/events.md, door 2).

A channel is watched when `intake_channels` in the settings or an admin (`/kpi intake here twitter`)
maps it to a kpibot channel. In it:

- a top-level message opens a conversation ``slack-<channel id>-<message ts>``: an inbound customer
  message, whoever posted it (usually an integration relaying a mention);
- a reply in its thread by a workspace member is an outbound agent message; by a bot, a bot message;
- the configured reaction (default ``white_check_mark``) on the top-level message resolves the
  conversation, and removing it reopens it (status ``open``);
- deleting the top-level message closes the conversation (a removed mention needs no answer and must
  not sit in the backlog); deleting a reply changes nothing, as the reply was still given;
- edits are ignored: the times KPIs read do not change, and stored events are never rewritten.

Ids come from Slack's own keys (message ``ts``, reaction ``event_id``), so a redelivered event
(``X-Slack-Retry-Num``) is a duplicate. Times are the Slack ``ts`` (epoch seconds, microseconds). A
reaction or deletion is ignored unless its conversation is stored, so reacting to a reply or to a
message older than the intake does not invent a conversation. The event is stored before Slack gets
its 200 (the app processes before responding), so an acknowledged message is durable.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.metrics import Metrics
from storage.db import session
from storage.ingest import Ingestor
from storage.intake import (
    has_conversation,
    intake_for,
)
from storage.settings import Settings

SOURCE = "slack"
DOOR = "intake"  # its name in the metrics, beside the webhooks' doors
# Subtypes that are someone saying something; the rest (joins, topic changes, edits…) are not messages
_SPOKEN = {None, "bot_message", "thread_broadcast", "file_share", "me_message"}
_log = logging.getLogger("kpibot.intake")


def register(
    app: App, *, engine: Engine, settings: Settings, ingestor: Ingestor, metrics: Metrics | None = None
) -> None:
    """Adds the intake listeners to `app`: messages, and the resolving reaction, in intake channels.

    Register them after any other `message` or `reaction_*` listener: they ack those events everywhere.
    """

    def channel_of(slack_channel: str | None) -> str | None:
        if not slack_channel:
            return None
        with session(engine) as db:
            return intake_for(db, slack_channel) or settings.intake_channels.get(slack_channel)

    def in_intake(event) -> bool:
        item = event.get("item") or {}
        return channel_of(event.get("channel") or item.get("channel")) is not None

    def store(events: list[dict]) -> None:
        with session(engine) as db:
            events = [e for e in events if e["type"] != "status" or _known(db, e["conversation_id"])]
        if not events:
            return
        try:
            result = ingestor.ingest(list(enumerate(events)), source=SOURCE, now=datetime.now(UTC))
        except Exception:  # Slack's retry brings it again (the error handler forgets the delivery)
            if metrics is not None:
                metrics.write_failed("intake_write")
            raise
        if metrics is not None:
            metrics.write_succeeded()
            metrics.ingested(DOOR, result)
        if result.rejected:  # the reasons are in `kpibot rejected`; logs carry counts, not what was said
            _log.warning("%d intake event(s) refused; see `kpibot rejected list`", len(result.rejected))

    def on_message(event) -> None:
        store(message_events(event, channel_of(event.get("channel"))))

    def on_reaction(body, event) -> None:
        channel = channel_of((event.get("item") or {}).get("channel"))
        store(reaction_events(event, body.get("event_id"), channel, settings.intake_reaction))

    app.event("message", matchers=[in_intake])(on_message)
    for kind in ("reaction_added", "reaction_removed"):
        app.event(kind, matchers=[in_intake])(on_reaction)
    # Subscribing to messages brings those of every channel the bot is in; they are acked, not stored
    # (an unhandled event would get a 404, and Slack disables apps that keep failing events).
    for kind in ("message", "reaction_added", "reaction_removed"):
        app.event(kind)(_not_an_intake)


def _not_an_intake() -> None:
    """Acks an event outside intake channels."""


def message_events(event: dict[str, Any], channel: str | None) -> list[dict]:
    """The kpibot events a Slack `message` event in an intake channel for `channel` stands for."""
    subtype = event.get("subtype")
    if channel is None:
        return []
    if subtype == "message_deleted":
        return _deletion(event, channel)
    if subtype not in _SPOKEN or event.get("hidden") or not event.get("ts"):
        return []
    ts, slack_channel = event["ts"], event["channel"]
    thread = event.get("thread_ts") or ts
    message = {
        "id": f"slack-{slack_channel}-{ts}",
        "type": "message",
        "at": _iso(ts),
        "conversation_id": f"slack-{slack_channel}-{thread}",
        "channel": channel,
        "source": SOURCE,
        "text": event.get("text") or "",
    }
    bot = event.get("bot_id") or subtype == "bot_message"
    if thread == ts:
        poster = event.get("user") or event.get("username") or (event.get("bot_profile") or {}).get("name")
        author = {"kind": "customer", "id": poster or event.get("bot_id") or "unknown"}
        return [{**message, "direction": "inbound", "author": author}]
    if bot:
        author = {"kind": "bot", "id": event.get("bot_id") or event.get("username") or "bot"}
    else:
        author = {"kind": "agent", "id": event.get("user") or "unknown"}
    return [{**message, "direction": "outbound", "author": author}]


def reaction_events(
    event: dict[str, Any], event_id: str | None, channel: str | None, reaction: str
) -> list[dict]:
    """A `resolved` (reaction added) or `open` (removed) status when it is the configured reaction."""
    item = event.get("item") or {}
    name = str(event.get("reaction") or "").split("::")[0]  # "white_check_mark::skin-tone-2"
    if channel is None or name != reaction or item.get("type") != "message" or not item.get("ts"):
        return []
    status = "resolved" if event.get("type") == "reaction_added" else "open"
    at = event.get("event_ts") or item["ts"]
    conversation = f"slack-{item.get('channel')}-{item['ts']}"
    event_key = event_id or f"{conversation}-{status}-{at}"
    return [_status(f"slack-{event_key}", at, conversation, channel, status)]


def _deletion(event: dict[str, Any], channel: str) -> list[dict]:
    deleted = event.get("deleted_ts")
    previous = event.get("previous_message") or {}
    if not deleted or previous.get("thread_ts") not in (None, deleted):
        return []
    conversation = f"slack-{event['channel']}-{deleted}"
    at = event.get("event_ts") or event.get("ts") or deleted
    return [_status(f"{conversation}-deleted", at, conversation, channel, "closed")]


def _status(event_id: str, ts: str, conversation: str, channel: str, status: str) -> dict:
    return {
        "id": event_id,
        "type": "status",
        "at": _iso(ts),
        "conversation_id": conversation,
        "channel": channel,
        "source": SOURCE,
        "status": status,
    }


def _known(db, conversation_id: str) -> bool:
    return has_conversation(db, source=SOURCE, external_id=conversation_id)


def _iso(ts: str) -> str:
    """A Slack ts ("1700000000.000100") as an ISO time, exact to the microsecond (no float rounding); a
    ts that is no time at all is passed on as it is, for validation to reject with its reason."""
    seconds, _, fraction = str(ts).partition(".")
    try:
        moment = datetime.fromtimestamp(int(seconds), UTC) + timedelta(
            microseconds=int(fraction.ljust(6, "0")[:6])
        )
    except (ValueError, OverflowError, OSError):
        return str(ts)
    return moment.isoformat().replace("+00:00", "Z")
