"""The one place unexpected errors end: logged with what was asked, answered with a polite apology.

Bolt sends listener errors to `app.error(answer_unexpected_error)`; lazy listeners (whose errors Bolt
only logs) call it themselves. Users never see a traceback, and never silence.
"""

from __future__ import annotations

import logging
from typing import Any

APOLOGY = (
    ":warning: Sorry, something went wrong on my side while answering. "
    "It has been logged for the admins; please try again in a moment."
)


def answer_unexpected_error(error: Exception, body: dict[str, Any], respond, logger: logging.Logger) -> None:
    """Logs the error with its context and, when the request has a response_url, apologises ephemerally."""
    logger.error("unexpected error while handling %s", _what(body), exc_info=error)
    if respond is None or not _can_respond(body):
        return
    try:
        respond(text=APOLOGY, response_type="ephemeral", replace_original=False)
    except Exception:  # the apology is best effort: the error itself is already logged
        logger.exception("could not send the apology for %s", _what(body))


def _can_respond(body: dict[str, Any]) -> bool:
    return bool(body.get("response_url") or body.get("response_urls"))


def _what(body: dict[str, Any]) -> str:
    """A one-line description of the request: command and text, event type, or action, and who."""
    if "command" in body:
        who = f"from {body.get('user_id')} in {body.get('channel_id')}"
        return f"{body['command']} {body.get('text', '')!r} {who}"
    if "event" in body:
        event = body["event"] or {}
        return f"event {event.get('type')} ({body.get('event_id')}) from {event.get('user')}"
    actions = [action.get("action_id") for action in body.get("actions") or []]
    return f"{body.get('type', 'request')} {actions} from {(body.get('user') or {}).get('id')}"
