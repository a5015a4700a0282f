"""The process `kpibot serve` runs: a Starlette app on uvicorn, plus a Socket Mode connection when configured.

Routes: `POST /slack/events` (slash commands, events and interactivity, signed by Slack; HTTP mode only,
verified before Bolt sees the body), `GET /healthz`
(the database answers; under `serve`, whether this process runs the scheduler), `GET /metrics`
(Prometheus) and the webhooks of `bot.webhooks` (`POST /events`, `POST /webhooks/chatwoot`). More routes
can be added with `create_http_app(..., routes=[...])`; they find the settings, engine and metrics on
`app.state`. `serve` also runs the scheduler (digests, alerts) when this process is the leader
(`bot.leader`: always on SQLite, one process of several on PostgreSQL).

With `SLACK_APP_TOKEN` set, Slack's requests arrive over Socket Mode (no public URL needed; the
connection is opened in the background by `bot.slack_link`) and the HTTP server still serves health,
metrics and webhooks; without any Slack setting it serves only those. On SIGTERM uvicorn stops accepting
requests, finishes those in flight, then the lifespan waits for answers still being computed.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import FrameType

import anyio
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import create_app
from bot.heap import bound_arenas, freeze_loaded, keep_released
from bot.leader import Leadership
from bot.metrics import Metrics
from bot.scheduler import start_cache_warmer, start_scheduler
from bot.slack_link import HTTP, SOCKET, SocketModeLink, slack_mode
from bot.slack_requests import MAX_BODY_BYTES as MAX_SLACK_BODY_BYTES
from bot.slack_requests import signed_by_slack
from bot.webhooks import webhook_routes
from storage.db import make_engine
from storage.health import write_refused
from storage.ingest import Ingestor
from storage.service_levels import ensure_stamped
from storage.settings import Settings

ANSWER_THREADS = 8
SLACK_THREADS = 8
HEALTH_THREADS = 2
HEALTH_SECONDS = 1.0
_log = logging.getLogger("kpibot.server")


def create_http_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    client: WebClient | None = None,
    clock: Callable[[], datetime] | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The bot's HTTP application: Slack requests, health, metrics, and any extra `routes`.

    `app.state` holds `settings`, `engine`, `metrics` and `bolt` (the Bolt app; None without Slack
    settings) for extra routes, and `socket_mode` (the SocketModeLink, once started; else None).
    """
    engine = engine or make_engine(settings.database_url)
    metrics = Metrics()
    executor = ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="kpibot-answer")
    mode = slack_mode(settings)
    bolt = (  # no Bolt app without Slack settings: it could neither verify nor answer anything
        create_app(settings, engine=engine, client=client, clock=clock, metrics=metrics, executor=executor)
        if mode is not None
        else None
    )

    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    # Threads of their own per kind of work, so that no slow database write (webhooks, intake events)
    # holds up a slash command's ack or /healthz: each answers within a second whatever the database does.
    threads = {
        "interactive": anyio.CapacityLimiter(SLACK_THREADS),  # commands, buttons: ack without the database
        "events": anyio.CapacityLimiter(SLACK_THREADS),  # Events API: intake messages are stored first
        "health": anyio.CapacityLimiter(HEALTH_THREADS),
    }

    async def slack_events(request: Request) -> Response:
        received_at = time.perf_counter()
        body = await _body_within(request, MAX_SLACK_BODY_BYTES)
        if body is None:
            return JSONResponse({"error": "the body is too large"}, status_code=413)
        # Verified before Bolt parses anything: an unverified body's response_url or event_id does nothing.
        if not signed_by_slack(request.headers, body, signing_secret, time.time()):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        bolt_request = to_bolt_request(request, body, {"received_at": received_at})
        kind = (
            "events"
            if request.headers.get("content-type", "").startswith("application/json")
            else "interactive"
        )
        # Bolt is synchronous: verify, ack and hand the answer to `executor` off the event loop.
        bolt_response = await anyio.to_thread.run_sync(bolt.dispatch, bolt_request, limiter=threads[kind])
        return to_starlette_response(bolt_response)

    async def healthz(request: Request) -> Response:
        health: dict = {"ok": await _within(HEALTH_SECONDS, threads["health"], database_answers, engine)}
        if not health["ok"]:
            metrics.database_error("health_check")
        if health["ok"] and metrics.failing_since is not None:  # writes failed: do they work again?
            refused = await _within(HEALTH_SECONDS, threads["health"], write_refused, engine)
            if refused is None:
                metrics.write_succeeded()
            else:
                since = datetime.fromtimestamp(metrics.failing_since, UTC).isoformat(timespec="seconds")
                health = {
                    "ok": False,
                    "writes": f"failing since {since}: {refused or 'no answer within 1 s'}",
                }
        leadership = getattr(request.app.state, "leadership", None)
        if leadership is not None:  # under `kpibot serve`: whether this process runs the scheduler
            health["scheduler"] = "leader" if leadership.leading else "standby"
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        link = None
        if mode == SOCKET:  # opened in the background: health, metrics and webhooks serve meanwhile
            link = SocketModeLink(bolt, settings.slack_app_token.get_secret_value())
            link.start()
        app.state.socket_mode = link
        try:
            yield
        finally:
            if link is not None:
                await run_in_threadpool(link.close)
            # Answers already acked must still reach Slack before the process exits.
            await run_in_threadpool(executor.shutdown, wait=True)
            _log.info("all answers in flight were sent; stopped")

    # Slack's HTTP requests only in HTTP mode: under Socket Mode they arrive over the socket, and a
    # route that verifies nothing (Bolt skips verification in Socket Mode) must not exist; without Slack
    # settings there is nothing to verify requests with.
    slack_routes = [Route("/slack/events", slack_events, methods=["POST"])] if mode == HTTP else []
    app = Starlette(
        routes=[
            *slack_routes,
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *webhook_routes(settings, engine, Ingestor(engine, settings), metrics=metrics),
            *routes,
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.bolt = bolt
    app.state.socket_mode = None
    return app


async def _within(seconds: float, limiter: anyio.CapacityLimiter, work: Callable, *args):
    """What `work(*args)` returns when it finishes on one of `limiter`'s threads within `seconds`;
    False otherwise (the thread is left to finish on its own)."""
    with anyio.move_on_after(seconds):
        return await anyio.to_thread.run_sync(work, *args, limiter=limiter, abandon_on_cancel=True)
    return False


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (counted as it arrives)."""
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def database_answers(engine: Engine) -> bool:
    """True when the database answers `SELECT 1`."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any driver error means "not healthy"
        _log.exception("health check: the database does not answer")
        return False
    return True


def serve(settings: Settings, *, host: str, port: int, engine: Engine | None = None) -> None:
    """Runs the bot until SIGTERM or Ctrl-C: uvicorn on `host:port`, Socket Mode too when configured.

    Without Slack settings it still serves webhooks, health and metrics, and fills the KPI cache; the
    digests and alerts (which post to Slack) are left to a bot that has Slack.
    """
    bound_arenas()  # before any thread allocates (bot/heap.py)
    app = create_http_app(settings, engine=engine)
    engine = app.state.engine
    if changed := ensure_stamped(engine, settings):  # the YAML's policies edited since the last start
        _log.info("service levels of %s changed: their deadlines are stamped again", ", ".join(changed))
    on_exit: Callable[[], None] = _nothing  # what to do the moment the process is told to stop
    if slack_mode(settings) is None:
        warmer = start_cache_warmer(settings, engine, metrics=app.state.metrics)
        stop_background = warmer.shutdown
    else:
        leadership = Leadership(
            engine,
            lambda: start_scheduler(settings, engine, metrics=app.state.metrics).shutdown,
            retry_seconds=settings.leader_retry_seconds,
        )
        app.state.leadership = leadership
        leadership.start()
        stop_background = leadership.stop
        on_exit = leadership.retire
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=25,
    )
    # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler it found; a
    # handler that ignores it lets the process end with exit code 0 once everything is finished.
    previous = {sig: signal.signal(sig, _already_stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    _log.debug("%d objects loaded at start set aside from garbage collection", freeze_loaded())
    releasing = keep_released()
    try:
        _Server(config, on_exit).run()
    finally:
        releasing.set()
        stop_background()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _nothing() -> None:
    pass


class _Server(uvicorn.Server):
    """uvicorn's server that also calls `on_exit` when told to stop, before its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def _already_stopped(signum: int, frame: object) -> None:
    _log.info("stopped on %s", signal.Signals(signum).name)
