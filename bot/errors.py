"""The one place unexpected errors end: logged with what was asked, answered with a polite apology.

Bolt sends listener and middleware errors to `app.error(...)` (`error_handler`); lazy listeners (whose
errors Bolt only logs) call `answer_unexpected_error` themselves. Users never see a traceback, and never
silence. The apology goes only to a request that passed `bot.slack_requests.guard` (verified, answered on
Slack's own host, from the installed workspace): an error raised before that, or for a request the bot
refused, is logged and nothing is sent anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.slack_requests import GUARDED

APOLOGY = (
    ":warning: Sorry, something went wrong on my side while answering. "
    "It has been logged for the admins; please try again in a moment."
)


def error_handler(on_failed_event: Callable[[str], None]):
    """Bolt's global error handler: apologises (see `answer_unexpected_error`) and, for an Events API
    delivery that failed, calls `on_failed_event(event_id)` so Slack's retry of it is handled again."""

    def handle_unexpected_error(error, body, respond, context, logger) -> None:
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if isinstance(event_id, str) and event_id:
            try:
                on_failed_event(event_id)
            except Exception:  # noqa: BLE001 - the failure itself is what matters; logged below too
                logger.exception("could not forget delivery %s; Slack's retry will be skipped", event_id)
        answer_unexpected_error(error, body, respond, logger, context=context)

    return handle_unexpected_error


def answer_unexpected_error(
    error: Exception, body: dict[str, Any], respond, logger: logging.Logger, *, context=None
) -> None:
    """Logs the error with its context and, when the request was guarded and has a response_url,
    apologises ephemerally."""
    logger.error("unexpected error while handling %s", _what(body), exc_info=error)
    guarded = bool(context is not None and context.get(GUARDED))
    if respond is None or not guarded or not _can_respond(body):
        return
    try:
        respond(text=APOLOGY, response_type="ephemeral", replace_original=False)
    except Exception:  # the apology is best effort: the error itself is already logged
        logger.exception("could not send the apology for %s", _what(body))


def _can_respond(body: dict[str, Any]) -> bool:
    return isinstance(body, dict) and bool(body.get("response_url") or body.get("response_urls"))


def _what(body: Any) -> str:
    """A one-line description of the request: the command and its words (what was asked of the bot, cut
    at 80 characters) and who asked, the event type and id, or the action and who pressed it — never an
    event's text or author (an intake message's author is a customer)."""
    if not isinstance(body, dict):
        return "an unreadable request"
    if "command" in body:
        asked = str(body.get("text") or "")[:80]
        return f"{body['command']} {asked!r} from {body.get('user_id')} in {body.get('channel_id')}"
    if "event" in body:
        event = body["event"] if isinstance(body["event"], dict) else {}
        return f"event {event.get('type')} ({body.get('event_id')})"  # its author may be a customer
    actions = [action.get("action_id") for action in body.get("actions") or [] if isinstance(action, dict)]
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    return f"{body.get('type', 'request')} {actions} from {user.get('id')}"
