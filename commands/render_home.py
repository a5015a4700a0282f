"""The App Home tab: a live scorecard with a Refresh button and a period picker, as a Block Kit view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands.render_blocks import scorecard_sections
from commands.result import Scorecard
from commands.slack_text import inline

HOME_PERIODS = {"1d": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT_HOME_PERIOD = "7d"
REFRESH_ACTION = "home_refresh"
PERIOD_ACTION = "home_period"
_MAX_HOME_BLOCKS = 100


def home_view(scorecard: Scorecard, *, period_word: str, updated_at: datetime) -> dict[str, Any]:
    """The Home tab view for one period: title, controls, the scorecard, and when it was computed.

    The Refresh button's value is the period shown, so a refresh keeps it.
    """
    options = {word: _option(word) for word in HOME_PERIODS}
    controls = {
        "type": "actions",
        "block_id": "home_controls",
        "elements": [
            {
                "type": "button",
                "action_id": REFRESH_ACTION,
                "text": {"type": "plain_text", "text": "Refresh", "emoji": True},
                "value": period_word,
            },
            {
                "type": "static_select",
                "action_id": PERIOD_ACTION,
                "placeholder": {"type": "plain_text", "text": "Period"},
                "options": list(options.values()),
                "initial_option": options.get(period_word, options[DEFAULT_HOME_PERIOD]),
            },
        ],
    }
    updated = (
        f"Updated {updated_at.astimezone(scorecard.period.tz):%Y-%m-%d %H:%M} ({scorecard.period.tz.key})"
    )
    scope = inline(", ".join(scorecard.channels)) if scorecard.channels else "all channels"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Scorecard: {scorecard.period.label}"}},
        controls,
        {"type": "divider"},
        *scorecard_sections(scorecard),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{scope} · {updated}"}]},
    ]
    return {"type": "home", "blocks": blocks[:_MAX_HOME_BLOCKS]}


def home_error_view(message: str) -> dict[str, Any]:
    """A Home tab that says the scorecard could not be shown, with a Refresh button to try again."""
    return {
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {message}"}},
            {
                "type": "actions",
                "block_id": "home_controls",
                "elements": [
                    {
                        "type": "button",
                        "action_id": REFRESH_ACTION,
                        "text": {"type": "plain_text", "text": "Try again"},
                        "value": DEFAULT_HOME_PERIOD,
                    }
                ],
            },
        ],
    }


def _option(word: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": HOME_PERIODS[word]}, "value": word}
