"""`/kpi heatmap …` in Slack: the grid as Block Kit through the response_url, and the PNG as a file.

A response_url message cannot carry a file, so the image is uploaded with files_upload_v2: into the
channel the command was typed in when `public` was asked (the summary as its comment; the asker gets a
short confirmation), else into a direct message with the asker (conversations.open, scope im:write),
the ephemeral answer saying so. An upload Slack refuses is said in words beside the grid, which is
never lost; the details go to the log.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.jobs.posting import slack_error
from commands.heatmap import HeatmapRequest, compute_heatmap
from commands.heatmap_chart import render_heatmap_png
from commands.render_blocks import notice_message
from commands.render_heatmap import heatmap_message, heatmap_title, summary_lines
from commands.slack_text import inline
from storage.settings import Settings

SENT_TO_DM = "Heatmap image sent to you in a direct message."
POSTED = "Heatmap posted in this channel."
_log = logging.getLogger("kpibot.slack")


def answer_heatmap(
    request: HeatmapRequest,
    body: dict[str, Any],
    client: WebClient,
    settings: Settings,
    engine: Engine,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """The message answering `/kpi heatmap …` (always ephemeral: a public heatmap is the uploaded file
    itself), after uploading the image where it belongs; nothing is uploaded for an empty period."""
    with engine.connect() as conn:
        heatmap = compute_heatmap(conn, request, settings, now)
    if not heatmap.total:
        return heatmap_message(heatmap), False
    png = render_heatmap_png(heatmap)
    user = body["user_id"]
    summary = "\n".join(inline(line) for line in summary_lines(heatmap))
    comment = f"*{inline(heatmap_title(heatmap))}*\n{summary}"
    if request.public:
        failure = _upload(client, body["channel_id"], png, f"{comment}\nasked by <@{user}>", request)
        if failure is None:
            return notice_message(POSTED), False
        return heatmap_message(
            heatmap, note=f":warning: The image could not be posted here: {failure}"
        ), False
    try:
        direct = client.conversations_open(users=user)["channel"]["id"]
    except Exception as exc:  # noqa: BLE001 - the grid is still answered; the failure is said in words
        failure = _reason(exc, "conversations.open")
    else:
        failure = _upload(client, direct, png, comment, request)
    note = SENT_TO_DM if failure is None else f":warning: The image could not be sent to you: {failure}"
    return heatmap_message(heatmap, note=note), False


def _upload(client: WebClient, channel: str, png: bytes, comment: str, request: HeatmapRequest) -> str | None:
    """Uploads the PNG into `channel` with `comment`; None when done, else why not in words."""
    try:
        client.files_upload_v2(
            channel=channel,
            content=png,
            filename=f"kpibot-heatmap-{request.metric}-{request.period_word}.png",
            title=f"Heatmap: {request.metric}, {request.period_word}",
            initial_comment=comment,
        )
    except Exception as exc:  # noqa: BLE001 - the grid is still answered; the failure is said in words
        return _reason(exc, "files_upload_v2")
    return None


def _reason(exc: Exception, method: str) -> str:
    """A Slack refusal in words (with what to do, for the ones a person fixes); anything else as one
    line asking to try again, its details in the log only."""
    if isinstance(exc, SlackApiError):
        reason = slack_error(exc)[0]
        _log.warning("heatmap image not delivered (%s): %s", method, reason)
        return reason
    _log.warning("heatmap image not delivered (%s): %s", method, type(exc).__name__, exc_info=exc)
    return "Slack could not be reached; try again in a moment"
