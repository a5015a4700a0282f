"""`/kpi intake here <channel>`, `/kpi intake off`, `/kpi intake [list]`: which Slack channels are intake
channels (the listeners that read them are bot.listeners.intake). Anyone may list them; only admins may
change them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from commands.errors import UsageError
from commands.slack_text import inline
from storage.db import session
from storage.intake import add_intake, list_intakes, remove_intake
from storage.settings import Settings


def intake_command(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    settings: Settings,
    engine: Engine,
    now: datetime,
    is_admin: Callable[[], bool],
) -> str:
    """The reply to `/kpi intake here <channel>`, `/kpi intake off` or `/kpi intake [list]`.

    `text` is the command text (a leading `intake` is skipped); `is_admin` is asked only for changes.
    Raises UsageError for what it cannot read.
    """
    words = text.split()
    if words and words[0].lower() == "intake":
        words = words[1:]
    action = words[0].lower() if words else "list"
    with session(engine) as db:
        if action == "list" and len(words) <= 1:
            return _listing({i.slack_channel: i.channel for i in list_intakes(db)}, settings)
        if action not in ("here", "off") or len(words) != (2 if action == "here" else 1):
            raise UsageError(
                "use `/kpi intake here <channel>` (e.g. twitter), `/kpi intake off` or `/kpi intake list`"
            )
        if not is_admin():
            return "Only workspace admins can change intake channels. See them with `/kpi intake list`."
        if action == "off":
            if remove_intake(db, channel_id):
                return f"<#{channel_id}> is no longer an intake channel; conversations stored so far stay."
            if channel_id in settings.intake_channels:
                return f"<#{channel_id}> is an intake channel in the kpibot config file (`intake_channels`)."
            return f"<#{channel_id}> was not an intake channel; nothing to turn off."
        channel = settings.channel_words().get(words[1].lower())
        if channel is None:
            known = ", ".join(sorted(set(settings.channel_words().values())))
            close = difflib.get_close_matches(words[1].lower(), list(settings.channel_words()), n=1)
            hint = f" — did you mean `{close[0]}`?" if close else f"; use one of {known}"
            raise UsageError(f"unknown channel `{words[1]}`{hint}", close)
        add_intake(db, channel_id, channel, user=user_id, now=now)
    return (
        f"Done: messages in <#{channel_id}> are now *{inline(channel)}* conversations. Top-level messages "
        f"open them, thread replies by members are agent replies, :{settings.intake_reaction}: resolves.\n"
        "I need to be in this channel to see them: type `/invite @kpibot` if I am not here yet."
    )


def _listing(added: dict[str, str], settings: Settings) -> str:
    intakes = {**settings.intake_channels, **added}
    if not intakes:
        return "No intake channels yet. An admin can type `/kpi intake here twitter` in the channel to watch."
    lines = [f"• <#{inline(slack)}> → {inline(channel)}" for slack, channel in sorted(intakes.items())]
    return "*Intake channels*\n" + "\n".join(lines)
