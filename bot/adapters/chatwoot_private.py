"""What kpibot keeps of a Chatwoot payload its adapter could not map (for `kpibot rejected replay`): only
the fields the adapter reads, each contact reduced to its id and a pseudonym (no name, e-mail, phone,
bio or avatar), so that a replay after a fix maps it to the same pseudonymised customer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.adapters.chatwoot import customer_id

# The fields the adapter reads, as a tree: True keeps a value, a dict keeps those keys of an object, a
# one-item list applies its item to every element; "contact" is reduced by `_private_contact`.
_CONVERSATION: dict[str, Any] = {
    "id": True, "display_id": True, "account_id": True, "channel": True, "status": True,
    "updated_at": True, "timestamp": True, "created_at": True,
    "additional_attributes": {"type": True, "channel": True},
    "contact_inbox": {"source_id": "source_id"},
    "messages": [{"account_id": True}],
    "meta": {"sender": "contact", "assignee": {"id": True}, "team": {"id": True}},
}  # fmt: skip
_KEPT: dict[str, Any] = {
    **_CONVERSATION,
    "event": True, "message_type": True, "private": True, "content": True, "content_type": True,
    "changed_attributes": "changes",
    "content_attributes": {
        "deleted": True, "external_created_at": True, "automation_rule_id": True,
        "submitted_values": {"csat_survey_response": {"rating": True, "feedback_message": True}},
    },
    "additional_attributes": {"campaign_id": True, "type": True, "channel": True},
    "account": {"id": True},
    "inbox": {"channel_type": True},
    "sender": "contact",
    "conversation": _CONVERSATION,
}  # fmt: skip


_CHANGES = ("status", "assignee_id", "team_id", "updated_at")


def private_payload(payload: Any, pseudonymise: Callable[[str | None], str | None]) -> dict | None:
    """What kpibot keeps of a Chatwoot payload it could not map: only the fields it reads, each contact
    reduced to ``{id, type, identifier: <pseudonym>}`` (so a replay maps it to the same pseudonymised
    customer); None when the payload is not an object."""
    if not isinstance(payload, dict):
        return None
    return _kept(payload, _KEPT, pseudonymise)


def _kept(value: Any, spec: Any, pseudonymise: Callable[[str | None], str | None]) -> Any:
    if spec is True:
        return value
    if spec == "contact":
        return _private_contact(value, pseudonymise) if isinstance(value, dict) else None
    if spec == "changes":  # only the changes mapped: a contact's custom attributes stay out
        items = value if isinstance(value, list) else []
        return [{k: v for k, v in i.items() if k in _CHANGES} for i in items if isinstance(i, dict)]
    if spec == "source_id":  # "whatsapp:+33…" tells the channel; the number itself is personal
        prefix, colon, rest = str(value).partition(":")
        return f"{prefix}:{pseudonymise(rest)}" if colon else pseudonymise(str(value))
    if isinstance(spec, list):
        return [_kept(item, spec[0], pseudonymise) for item in value] if isinstance(value, list) else None
    if not isinstance(value, dict):
        return None
    return {key: _kept(value[key], spec[key], pseudonymise) for key in spec if key in value}


def _private_contact(sender: dict, pseudonymise: Callable[[str | None], str | None]) -> dict:
    if sender.get("type") in ("user", "agent_bot"):  # an agent or a bot: names the team's own
        return {key: sender[key] for key in ("id", "type", "name") if key in sender}
    try:
        customer = customer_id(sender)
    except ValueError:
        customer = None
    private = {key: sender[key] for key in ("id", "type") if key in sender}
    if customer is not None:
        private["identifier"] = pseudonymise(customer)
    return private
