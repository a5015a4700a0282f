"""Slash commands `/kpi`, `/sentiment`, `/topics`: ack at once, then answer through the response_url.

The answer is ephemeral unless `public` was asked for. Settings commands (`/kpi digest …`,
`/kpi alert …`, `/kpi intake …`), `/kpi me` (always ephemeral) and `/kpi export` (a CSV file sent by
direct message) are routed before the KPI grammar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.errors import answer_unexpected_error
from bot.metrics import UNKNOWN, Metrics
from bot.settings_commands import answer_settings_command
from bot.slack_export import USAGE as EXPORT_USAGE
from bot.slack_export import answer_export
from bot.slack_heatmap import answer_heatmap
from bot.slack_me import answer_me
from commands.engine import compute
from commands.errors import UsageError
from commands.export import ExportRequest, is_export, parse_export
from commands.heatmap import HeatmapRequest, is_heatmap, parse_heatmap
from commands.me import MeRequest, is_me, parse_me
from commands.parse import KpiRequest, help_text, parse_command
from commands.render_blocks import answer_message, help_message, notice_message
from commands.subscribe import is_settings_command
from storage.settings import Settings

# Slash command -> the metric it answers when the text names none. manifest.yml lists the same commands.
COMMANDS = {"/kpi": "scorecard", "/sentiment": "sentiment", "/topics": "topics"}


def register(
    app: App, *, settings: Settings, engine: Engine, clock: Callable[[], datetime], metrics: Metrics
) -> None:
    """Adds the slash command listeners to `app`."""
    for command, default_metric in COMMANDS.items():
        app.command(command)(
            ack=acknowledge,
            lazy=[_answerer(default_metric, settings=settings, engine=engine, clock=clock, metrics=metrics)],
        )


def acknowledge(ack) -> None:
    """Acks with an empty body: Slack shows nothing until the answer arrives."""
    ack()


def _answerer(
    default_metric: str,
    *,
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime],
    metrics: Metrics,
):
    def answer_command(body, client, context, respond, logger) -> None:
        # The HTTP server stamps when the request arrived, so the latency includes the wait for a thread.
        started = context.get("received_at") or time.perf_counter()
        text = body.get("text") or ""
        metric, outcome = UNKNOWN, "answered"
        try:
            try:
                now = clock()
                question = _question(text, default_metric, settings, now)
                # what the command metrics count it as: a settings word, a view (heatmap, me, export), a KPI
                metric = question if isinstance(question, str) else question.metric
                if isinstance(question, HeatmapRequest):
                    metric = "heatmap"  # not the metric it draws: one label per kind of answer
                elif isinstance(question, KpiRequest) and question.explain:
                    metric = "why"
                message, public = _answer(question, body, client, settings, engine, now)
            except UsageError as error:
                outcome = "usage_error"
                message, public = help_message(help_text(settings), error=error), False
            respond(
                **message,
                response_type="in_channel" if public else "ephemeral",
                replace_original=False,
            )
        except Exception as error:  # noqa: BLE001 - the one place that turns any failure into an apology
            outcome = "error"
            metrics.failed("answer", error)
            answer_unexpected_error(error, body, respond, logger, context=context)
        metrics.command_served(body.get("command", "?"), metric, outcome, time.perf_counter() - started)

    return answer_command


Question = str | KpiRequest | MeRequest | HeatmapRequest | ExportRequest


def _question(text: str, default_metric: str, settings: Settings, now: datetime) -> Question:
    """What a command asks: the settings command's word (digest, alert, intake, sla-policy), the asker's
    own numbers (`me`), a heatmap, an export, or the KPI request.

    Raises UsageError when the KPI grammar cannot read the text.
    """
    if default_metric == "scorecard" and is_settings_command(text):
        word = text.split()[0].lower()
        return "sla-policy" if word == "sla" else word
    if default_metric == "scorecard" and is_export(text):
        words = " ".join(text.split()[1:])  # after `export`
        return parse_export(words, settings, now, usage=EXPORT_USAGE) or parse_command("help", settings, now)
    if default_metric == "scorecard" and is_me(text):
        return parse_me(text, settings, now)
    if default_metric == "scorecard" and is_heatmap(text):
        return parse_heatmap(text, settings, now) or parse_command("help", settings, now)
    return parse_command(text, settings, now, default_metric=default_metric)


def _answer(
    question: Question,
    body: dict[str, Any],
    client,
    settings: Settings,
    engine: Engine,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """The message answering one slash command, and whether it is posted for the whole channel."""
    if isinstance(question, str):
        reply = answer_settings_command(
            body.get("text") or "",
            user_id=body["user_id"],
            channel_id=body["channel_id"],
            client=client,
            settings=settings,
            engine=engine,
            now=now,
        )
        return notice_message(reply), False
    if isinstance(question, ExportRequest):
        return answer_export(question, body, client, settings, engine)
    if isinstance(question, MeRequest):
        return answer_me(question, body, settings, engine, now)
    if isinstance(question, HeatmapRequest):
        return answer_heatmap(question, body, client, settings, engine, now)
    if question.metric == "help":
        return help_message(help_text(settings)), False
    with engine.connect() as conn:
        answer = compute(conn, question, settings, now)
    asked_by = body.get("user_id") if question.public else None
    return answer_message(answer, asked_by=asked_by), question.public
