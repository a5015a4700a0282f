"""`/kpi me` in Slack: the asker's own numbers, for their eyes only (commands/me.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from commands.me import PRIVATE, UNKNOWN_AGENT, MeRequest, build_me, resolve_agent
from commands.render_blocks import notice_message
from commands.render_me import me_message
from commands.slack_text import inline
from storage.settings import Settings


def answer_me(
    question: MeRequest, body: dict[str, Any], settings: Settings, engine: Engine, now: datetime
) -> tuple[dict[str, Any], bool]:
    """The message for the Slack user who asked (`body["user_id"]`), never public: their numbers, or why
    not (asked `public`; not matched to an agent, and how to be)."""
    if question.public:
        return notice_message(PRIVATE), False
    user_id = body["user_id"]
    with engine.connect() as conn:
        agent = resolve_agent(conn, settings, user_id)
        if agent is None:
            return notice_message(UNKNOWN_AGENT.format(user=inline(user_id))), False
        report = build_me(conn, settings, agent, now, question.period, question.channels)
    return me_message(report), False
