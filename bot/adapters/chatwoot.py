"""Chatwoot webhook payloads mapped onto kpibot's own events (docs/events.md).

Shapes follow Chatwoot's ``Message#webhook_data`` (message events; ``conversation``, ``account``,
``sender`` nested) and ``Conversations::EventDataPresenter`` (conversation events; ``id`` is the
conversation's per-account display id). Decisions:

- Ids come from Chatwoot data only, so a redelivered webhook maps to identical events (duplicates):
  ``msg-<message id>``, ``csat-<message id>``, ``status-<conversation>-<status>-<epoch>``,
  ``assign-<conversation>-<agent|none>-<team|none>-<epoch>``; the several webhooks Chatwoot sends for
  one status change share an id. ``message_updated`` maps like ``message_created`` (a duplicate unless
  the create webhook was lost), except deleted messages; an answered CSAT also yields a ``survey``.
- A change is timed by ``updated_at`` (the save that made it; else the one in ``changed_attributes``),
  else ``timestamp`` (last activity, older Chatwoot); times are cut to whole seconds so ``at`` and ids
  agree. Lacking ``changed_attributes``, ``conversation_updated`` reports the current assignee/team.
- Channels: Line -> chat and Sms/TwilioSms -> phone (kpibot's channels, docs/metrics.md, have neither);
  Twilio WhatsApp numbers -> whatsapp; Instagram DMs on a Facebook page -> instagram; Api -> chat unless
  the conversation's ``additional_attributes.channel`` is a kpibot channel. Unknown channel types are errors.
- Customers are ``@<screen_name>``, the contact's ``identifier`` or ``contact:<id>``, without names
  (personal data); agents ``chatwoot-user:<id>`` with their name; teams ``chatwoot-team:<id>``.
- A payload that cannot be mapped is kept as ``chatwoot_private.private_payload`` makes it: only the
  fields this adapter reads, each contact reduced to its id and pseudonym.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SOURCE = "chatwoot"
# fmt: off
CHANNEL_BY_TYPE = {
    "Channel::TwitterProfile": "twitter", "Channel::FacebookPage": "facebook", "Channel::Tiktok": "tiktok",
    "Channel::Instagram": "instagram", "Channel::Whatsapp": "whatsapp", "Channel::Telegram": "telegram",
    "Channel::Email": "email", "Channel::WebWidget": "chat", "Channel::Api": "chat", "Channel::Line": "chat",
    "Channel::Sms": "phone", "Channel::TwilioSms": "phone", "Channel::Voice": "phone",
}
# fmt: on
# kpibot's channel list (docs/metrics.md "Channels"): the ones Chatwoot maps to, plus those only an Api
# inbox can bring
KPIBOT_CHANNELS = frozenset(CHANNEL_BY_TYPE.values()) | {"viber", "linkedin", "youtube", "portal"}
STATUSES = {"open": "open", "resolved": "resolved", **dict.fromkeys(("pending", "snoozed", "bot"), "pending")}
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}


def chatwoot_to_events(payload: dict) -> list[dict]:
    """The kpibot events one Chatwoot webhook payload stands for; [] for what kpibot does not measure.

    Raises ValueError naming the field (``"conversation.id" is missing``) when it cannot be mapped.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"a Chatwoot webhook payload must be a JSON object, not {type(payload).__name__}")
    event = _required(payload, "event", "event")
    if event in ("message_created", "message_updated"):
        return _message_events(payload, updated=event == "message_updated")
    if event == "conversation_created":
        return _created_events(payload)
    if event in ("conversation_status_changed", "conversation_opened", "conversation_resolved"):
        return _status_events(payload, event)
    if event == "conversation_updated":
        return _updated_events(payload)
    return []


def _message_events(payload: dict, *, updated: bool) -> list[dict]:
    raw_type = payload.get("message_type")
    kind = MESSAGE_TYPES.get(raw_type, raw_type) if isinstance(raw_type, int | str) else raw_type
    attrs = _object(payload, "content_attributes", "content_attributes")
    if payload.get("private") or kind == "activity" or (updated and attrs.get("deleted")):
        return []
    if kind not in ("incoming", "outgoing", "template"):
        raise ValueError(f'"message_type" must be incoming, outgoing, activity or template, not {raw_type!r}')
    conversation = _required(payload, "conversation", "conversation")
    message_id = _key(_required(payload, "id", "id"), "id")
    common = _common(payload, conversation, "conversation.")
    # external_created_at is when the message really happened on the network (e.g. an imported tweet)
    created = attrs.get("external_created_at") or _required(payload, "created_at", "created_at")
    message = {"id": f"msg-{message_id}", "type": "message", "at": _iso(_time(created, "created_at"))}
    if kind == "incoming":
        message.update(common, direction="inbound", author=_customer(payload, conversation))
    else:
        message.update(common, direction="outbound", author=_outgoing_author(payload, kind))
    message["text"] = payload.get("content") or ""
    answer = _dig(attrs, "submitted_values", "csat_survey_response")
    if not isinstance(answer, dict):
        answer = {}  # no answer yet, or not one Chatwoot writes: the message alone
    if not (updated and payload.get("content_type") == "input_csat" and answer.get("rating") is not None):
        return [message]
    # saving the answer touches the conversation, so its updated_at is when the customer rated
    rated = _time(conversation.get("updated_at") or created, "conversation.updated_at")
    survey = {"id": f"csat-{message_id}", "type": "survey", "at": _iso(rated), **common}
    survey.update(kind="csat", score=answer["rating"])
    if answer.get("feedback_message"):
        survey["comment"] = answer["feedback_message"]
    return [message, survey]


def _customer(payload: dict, conversation: dict) -> dict:
    contact = payload.get("sender") or _dig(conversation, "meta", "sender") or {}
    if not isinstance(contact, dict):
        raise ValueError('"sender" must be a JSON object')
    return {"kind": "customer", "id": customer_id(contact)}


def customer_id(contact: dict) -> str:
    """Who a Chatwoot contact is to kpibot: ``@<screen_name>``, else its ``identifier``, else
    ``contact:<id>`` (ValueError when it has none of them)."""
    handle = str(_dig(contact, "additional_attributes", "screen_name") or "").lstrip("@")
    found = f"@{handle}" if handle else contact.get("identifier")
    if found:
        return str(found)
    return f"contact:{_key(_required(contact, 'id', 'sender.id'), 'sender.id')}"


def _outgoing_author(payload: dict, kind: str) -> dict:
    sender = _object(payload, "sender", "sender")
    # Chatwoot's own first-reply rule excludes automation rules and campaigns even when a user sent them
    rule = _dig(payload, "content_attributes", "automation_rule_id")
    campaign = _dig(payload, "additional_attributes", "campaign_id")
    if rule is not None or campaign is not None:
        origin = f"automation:{rule}" if rule is not None else f"campaign:{campaign}"
        return {"kind": "bot", "id": f"chatwoot-{origin}"}
    human = kind == "outgoing" and sender.get("type") == "user"
    if sender.get("id") is None and not human:
        return {"kind": "bot", "id": "chatwoot-system"}
    sender_id = (
        f"chatwoot-{sender.get('type') or 'bot'}:{_key(_required(sender, 'id', 'sender.id'), 'sender.id')}"
    )
    author = {"kind": "agent" if human else "bot", "id": sender_id}
    if sender.get("name"):
        author["name"] = sender["name"]
    return author


def _created_events(payload: dict) -> list[dict]:
    common = _common(payload, payload, "")
    # at creation the last activity (timestamp) is the creation time; older versions send only it
    created = _time(payload.get("created_at") or _required(payload, "timestamp", "created_at"), "created_at")
    events = [_status_event(common, _required(payload, "status", "status"), created)]
    agent, team = _dig(payload, "meta", "assignee", "id"), _dig(payload, "meta", "team", "id")
    if agent is not None or team is not None:
        events.append(_assignment_event(common, agent, team, created))
    return events


def _status_events(payload: dict, event: str) -> list[dict]:
    if event == "conversation_status_changed":
        status = _changes(payload).get("status") or _required(payload, "status", "status")
    else:
        status = "open" if event == "conversation_opened" else "resolved"
    return [_status_event(_common(payload, payload, ""), status, _change_time(payload))]


def _updated_events(payload: dict) -> list[dict]:
    common, changes, when = _common(payload, payload, ""), _changes(payload), _change_time(payload)
    events = []
    if changes.get("status"):
        events.append(_status_event(common, changes["status"], when))
    if "assignee_id" in changes or "team_id" in changes or "changed_attributes" not in payload:
        # the state after the change: a changed value wins over the meta snapshot
        meta = payload.get("meta") or {}
        agent = changes["assignee_id"] if "assignee_id" in changes else _dig(meta, "assignee", "id")
        team = changes["team_id"] if "team_id" in changes else _dig(meta, "team", "id")
        if agent is not None or team is not None:
            events.append(_assignment_event(common, agent, team, when))
    return events


def _status_event(common: dict, chatwoot_status: Any, when: datetime) -> dict:
    status = STATUSES.get(str(chatwoot_status).lower())
    if status is None:
        raise ValueError(f'"status" must be open, pending, snoozed or resolved, not {chatwoot_status!r}')
    event_id = f"status-{common['conversation_id']}-{status}-{int(when.timestamp())}"
    return {"id": event_id, "type": "status", "at": _iso(when), **common, "status": status}


def _assignment_event(common: dict, agent: Any, team: Any, when: datetime) -> dict:
    key = f"{'none' if agent is None else agent}-{'none' if team is None else team}"
    event_id = f"assign-{common['conversation_id']}-{key}-{int(when.timestamp())}"
    event = {"id": event_id, "type": "assignment", "at": _iso(when), **common}
    if agent is not None:
        event["agent"] = f"chatwoot-user:{agent}"
    if team is not None:
        event["team"] = f"chatwoot-team:{team}"
    return event


def _common(payload: dict, conversation: Any, where: str) -> dict:
    if not isinstance(conversation, dict):
        raise ValueError(f'"{where.rstrip(".")}" must be a JSON object')
    accounts = [_dig(payload, "account", "id"), conversation.get("account_id")]
    messages = conversation.get("messages") if isinstance(conversation.get("messages"), list) else []
    accounts += [m.get("account_id") for m in messages if isinstance(m, dict)]
    account = next((a for a in accounts if a not in (None, "")), None)
    if account is None:
        raise ValueError('"account.id" is missing')
    number = _key(conversation.get("display_id") or _required(conversation, "id", f"{where}id"), f"{where}id")
    account = _key(account, "account.id")
    channel = _channel(payload, conversation, where)
    return {"conversation_id": f"cw-{account}-{number}", "channel": channel, "source": SOURCE}


def _channel(payload: dict, conversation: dict, where: str) -> str:
    channel_type = conversation.get("channel") or _dig(payload, "inbox", "channel_type")
    if not channel_type:
        raise ValueError(f'"{where}channel" is missing')
    if not isinstance(channel_type, str):
        raise ValueError(f'"{where}channel" must be a string, not {type(channel_type).__name__}')
    attrs = _object(conversation, "additional_attributes", f"{where}additional_attributes")
    hint = str(attrs.get("channel") or "").strip().lower()
    source_id = str(_dig(conversation, "contact_inbox", "source_id") or "")
    if channel_type == "Channel::FacebookPage" and attrs.get("type") == "instagram_direct_message":
        return "instagram"
    if channel_type == "Channel::TwilioSms" and source_id.startswith("whatsapp:"):
        return "whatsapp"
    if channel_type == "Channel::Api" and hint in KPIBOT_CHANNELS:
        return hint
    if channel_type not in CHANNEL_BY_TYPE:
        raise ValueError(f'"{where}channel" {channel_type!r} is not a Chatwoot channel kpibot knows')
    return CHANNEL_BY_TYPE[channel_type]


def _changes(payload: dict) -> dict[str, Any]:
    """Chatwoot's ``changed_attributes`` ([{name: {previous_value, current_value}}]) as name -> new value."""
    changes: dict[str, Any] = {}
    items = payload.get("changed_attributes") or []
    if not isinstance(items, list):
        raise ValueError(f'"changed_attributes" must be a list, not {type(items).__name__}')
    for item in items:
        for name, change in item.items() if isinstance(item, dict) else ():
            if isinstance(change, dict):
                changes[name] = change.get("current_value")
    return changes


def _change_time(payload: dict) -> datetime:
    updated = payload.get("updated_at") or _changes(payload).get("updated_at")
    for name, value in (("updated_at", updated), ("timestamp", payload.get("timestamp"))):
        if value:
            return _time(value, name)
    raise ValueError('"updated_at" is missing (and so is "timestamp")')


def _time(value: Any, name: str) -> datetime:
    """The UTC instant (whole seconds) of a Chatwoot time: epoch seconds or an ISO-8601 string."""
    try:
        if isinstance(value, str):
            # Rails sends ...Z; Chatwoot's docs also show "2020-03-03 13:05:57 UTC"; naive means UTC
            parsed = datetime.fromisoformat(value.strip().removesuffix(" UTC"))
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, UTC)
        else:
            raise ValueError(value)
        return parsed.astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f'"{name}" is not a time (epoch seconds or ISO-8601): {value!r}') from None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _required(obj: Any, key: str, path: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None or value == "":
        raise ValueError(f'"{path}" is missing')
    return value


def _object(obj: dict, key: str, path: str) -> dict:
    """`obj[key]` when it is a JSON object, {} when absent or empty; ValueError for any other shape."""
    value = obj.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f'"{path}" must be a JSON object, not {type(value).__name__}')
    return value


def _key(value: Any, path: str) -> str | int:
    """An id as Chatwoot sends it (a number or a string); ValueError for an object, a list or a bool."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'"{path}" must be a number or a string, not {type(value).__name__}')
    return value


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj
