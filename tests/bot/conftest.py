"""Fixtures for the bot tests: one shared in-thread uvicorn server per test module."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn

from storage.settings import Settings
from tests.slack_standin import wait_for


class Swappable:
    """An ASGI app forwarding to `app`, so one uvicorn server serves each test's own app."""

    app = None

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Swappable, str]]:
    """One uvicorn server on a free 127.0.0.1 port for the module, in a thread; yields it and its URL."""
    target = Swappable()
    config = uvicorn.Config(
        target, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_for(lambda: uv.started or not thread.is_alive(), timeout=10, message="uvicorn to start")
    yield target, f"http://127.0.0.1:{uv.servers[0].sockets[0].getsockname()[1]}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def slack_settings(database_url, slack_api) -> Settings:
    """Settings on this test's database with a bot token and the Web API pointed at the stand-in."""
    return Settings(
        database_url=database_url,
        pseudonym_key="test-key",
        slack_bot_token="xoxb-test",
        slack_api_url=slack_api.api_url,
        slack_response_origins=[slack_api.base_url],
    )
