"""The Slack Web API client every part of the bot posts with: the bot token, at `SLACK_API_URL`.

Its own module so the app, the scheduler and the jobs import it without importing each other.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from storage.settings import Settings


def web_client(settings: Settings) -> WebClient:
    """A Web API client for the bot token at `SLACK_API_URL`, retrying rate limits and server errors."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )
