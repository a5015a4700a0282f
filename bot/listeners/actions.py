"""Interactive actions: the App Home tab's Refresh button and period picker; the SLA-risk alert's
buttons (Open, Snooze 30 min, I'm on it); an answer's "Show conversations" (commands.drill) and "Why?"
(commands.why), each answered to whoever pressed it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.errors import answer_unexpected_error
from bot.listeners.events import publish_home, publish_home_error
from bot.metrics import Metrics
from commands.drill import conversations_behind
from commands.errors import UsageError
from commands.render_blocks import notice_message
from commands.render_drill import DRILL_ACTION, asked_question, drill_message, drill_request
from commands.render_home import DEFAULT_HOME_PERIOD, PERIOD_ACTION, REFRESH_ACTION
from commands.render_why import WHY_ACTION, why_message
from commands.why import explain
from commands.why_items import WHY
from storage import sla_claims
from storage.settings import Settings

SLA_TAKEN = re.compile(r"^sla_(claim|snooze):\d+$")  # the alert's buttons, ending with the conversation
SLA_OPEN = re.compile(r"^sla_open:\d+$")
SNOOZE = timedelta(minutes=30)


def register(
    app: App, *, settings: Settings, engine: Engine, clock: Callable[[], datetime], metrics: Metrics
) -> None:
    """Adds the action listeners to `app`."""

    def show_period(body, client, logger) -> None:
        user_id = body["user"]["id"]
        try:
            period_word = _chosen_period(body["actions"][0])
            publish_home(client, user_id, period_word, settings=settings, engine=engine, now=clock())
        except Exception as error:  # noqa: BLE001 - logged, and the tab says so instead of going stale
            metrics.failed("home_tab", error)
            answer_unexpected_error(error, body, None, logger)
            publish_home_error(client, user_id, logger)

    for action_id in (REFRESH_ACTION, PERIOD_ACTION):
        app.action(action_id)(ack=_acknowledge, lazy=[show_period])

    def answer_sla_button(body, client, logger) -> None:
        try:
            what, conversation = body["actions"][0]["action_id"].split(":")
            user, now = body["user"]["id"], clock()
            if what == "sla_claim":
                sla_claims.claim(engine, int(conversation), user, now)
                note = f":raising_hand: <@{user}> is on it"
            else:
                until = now + SNOOZE
                sla_claims.snooze(engine, int(conversation), until)
                note = f":zzz: snoozed by <@{user}> until {until:%H:%M} UTC"
            message = body.get("message") or {}
            client.chat_update(
                channel=body["container"]["channel_id"],
                ts=body["container"]["message_ts"],
                text=message.get("text") or "SLA risk",
                blocks=answered(message.get("blocks") or [], conversation, note),
            )
        except Exception as error:  # noqa: BLE001 - logged; the button can be pressed again
            metrics.failed("answer", error)
            answer_unexpected_error(error, body, None, logger)

    app.action(SLA_TAKEN)(ack=_acknowledge, lazy=[answer_sla_button])
    app.action(SLA_OPEN)(_acknowledge)  # a link: Slack opens it, the bot has nothing to do

    def show_conversations(value: str) -> dict[str, Any]:
        request, now = drill_request(value, settings), clock()
        with engine.connect() as conn:
            return drill_message(conversations_behind(conn, request, settings, now))

    def explain_change(value: str) -> dict[str, Any]:
        request, now = replace(asked_question(value, settings, WHY), explain=True), clock()
        with engine.connect() as conn:
            return why_message(explain(conn, request, settings, now))

    answer_privately(app, DRILL_ACTION, show_conversations, metrics)
    answer_privately(app, WHY_ACTION, explain_change, metrics)


def answer_privately(
    app: App, action_id: str, answer: Callable[[str], dict[str, Any]], metrics: Metrics
) -> None:
    """Adds a button listener answering a press with `answer(value)` (the button's value), to whoever
    pressed it and beside the message (which may be the channel's): a UsageError as its message, any
    other failure logged and answered with an apology."""

    def respond_to_press(body, respond, context, logger) -> None:
        try:
            try:
                message = answer(body["actions"][0].get("value") or "")
            except UsageError as error:
                message = notice_message(error.message)
            respond(**message, response_type="ephemeral", replace_original=False)
        except Exception as error:  # noqa: BLE001 - logged and answered with an apology
            metrics.failed("answer", error)
            answer_unexpected_error(error, body, respond, logger, context=context)

    app.action(action_id)(ack=_acknowledge, lazy=[respond_to_press])


def answered(blocks: list[dict[str, Any]], conversation: str, note: str) -> list[dict[str, Any]]:
    """The alert's blocks with the buttons of one conversation replaced by what was done about it."""
    done = {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}
    return [
        done
        if block.get("type") == "actions"
        and any(e.get("action_id", "").endswith(f":{conversation}") for e in block.get("elements", []))
        else block
        for block in blocks
    ]


def _chosen_period(action: dict[str, Any]) -> str:
    """The period a Home tab control asks for: the select's choice, or the button's current period."""
    selected = action.get("selected_option") or {}
    return selected.get("value") or action.get("value") or DEFAULT_HOME_PERIOD


def _acknowledge(ack) -> None:
    ack()
