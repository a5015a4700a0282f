"""HTTP webhooks: kpibot's own events at ``POST /events``, Chatwoot's at ``POST /webhooks/chatwoot``.

``POST /events`` takes one event (JSON object), a JSON array of events, or NDJSON (one event a line),
as ``application/json`` or ``application/x-ndjson``; events are stored under source ``kpibot`` unless
they name their own ``source``. A request authenticates in one of two ways:

- signed: ``X-Kpibot-Timestamp: <unix seconds>`` and ``X-Kpibot-Signature: sha256=<hex>``, the hex
  HMAC-SHA256 keyed with ``KPIBOT_WEBHOOK_SECRET`` of ``"<timestamp>.<raw body>"``. The timestamp is
  signed so a captured request cannot be replayed later: more than 5 minutes off the server's clock,
  either way, is refused.
- token, for tools that cannot sign: ``Authorization: Bearer <KPIBOT_WEBHOOK_TOKEN>`` (the webhook
  secret serves as the token when no token is set).

Chatwoot's webhook UI can neither sign nor set headers, so ``/webhooks/chatwoot`` takes the token as
``?token=`` (or ``X-Kpibot-Token`` / ``Authorization: Bearer``). A payload the adapter cannot map is
kept in the rejected events and answered 200 with the reason: Chatwoot would otherwise resend a payload
that can never succeed, and ``kpibot rejected replay`` recovers it after a fix.

Answers: 200 ``{"stored", "duplicates", "rejected": [{"index", "reason"}]}`` once the good events are
committed (``index`` is the 0-based position in the array, the 0-based line of the NDJSON body, or
the event's position among those one Chatwoot payload maps to); 401 when unsigned, badly signed,
stale or with a wrong token (nothing stored); 413 over 5 MB; 415 for other content types; 503 when
no secret is configured, and 503 with ``Retry-After`` when the database failed or too many requests are
waiting for it (nothing of the request stored: retry). Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.adapters.chatwoot import SOURCE as CHATWOOT
from bot.adapters.chatwoot import chatwoot_to_events
from bot.adapters.chatwoot_private import private_payload
from bot.metrics import Metrics
from bot.webhook_body import BadBody, body_items, body_text
from storage.group_commit import GroupCommit
from storage.ingest import Ingestor, IngestResult, Outcome
from storage.normalise import decode
from storage.privacy import redacted
from storage.replay import store_rejected
from storage.settings import Settings

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 300
SIGNATURE_HEADER = "x-kpibot-signature"
TIMESTAMP_HEADER = "x-kpibot-timestamp"
TOKEN_HEADER = "x-kpibot-token"
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is True, int("²") fails
_EVENT_TYPES = {"application/json": "json", "application/x-ndjson": "ndjson", "application/ndjson": "ndjson"}
_TOO_LARGE = f"the body is over {MAX_BODY_BYTES // (1024 * 1024)} MB; send smaller batches"
WEBHOOK_THREADS = 16
BUSY_RETRY_SECONDS = 5
_BUSY = "busy: too many requests are waiting for the database; nothing was stored, retry shortly"
_NOT_STORED = "the database could not store this request; nothing was stored, retry shortly"
_log = logging.getLogger("kpibot.webhooks")
_NOT_CONFIGURED = "webhooks are not configured: set KPIBOT_WEBHOOK_SECRET (or KPIBOT_WEBHOOK_TOKEN)"


def webhook_routes(
    settings: Settings,
    engine: Engine,
    ingestor: Ingestor,
    *,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Route]:
    """The webhook routes to mount on the bot's HTTP server: POST /events and POST /webhooks/chatwoot.

    `metrics` counts the events received (doors `webhook` and `chatwoot`) and failed writes; `clock`
    gives unix seconds.
    """
    hooks = _Webhooks(settings, engine, ingestor, clock, metrics)
    return [
        Route("/events", hooks.events, methods=["POST"]),
        Route("/webhooks/chatwoot", hooks.chatwoot, methods=["POST"]),
    ]


def signature(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The X-Kpibot-Signature header value for `body` sent at `timestamp` (unix seconds)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class _Refused(Exception):
    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


class _Webhooks:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        ingestor: Ingestor,
        clock: Callable[[], float],
        metrics: Metrics | None,
    ):
        self.engine, self.clock, self.metrics = engine, clock, metrics
        self.writer = GroupCommit(ingestor)
        # Requests waiting for the database get threads of their own (never the ones Slack's acks and
        # /healthz use), and at most `webhook_max_pending` wait: past that, 503 and Retry-After.
        self.threads = anyio.CapacityLimiter(WEBHOOK_THREADS)
        self.max_pending, self.pending = settings.webhook_max_pending, 0
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        token = settings.webhook_token.get_secret_value() if settings.webhook_token else secret
        self.secret, self.token = secret.encode(), token.encode()

    async def events(self, request: Request) -> JSONResponse:
        try:
            kind = self._content_kind(request, _EVENT_TYPES)
            body = await self._authenticated_body(request, signed=True)
            # parsing a 5 MB body takes tens of milliseconds: not on the event loop either
            result = await self._stored("webhook", lambda: self.writer.ingest(_payloads(body, kind)))
        except _Refused as refused:
            return _error(refused)
        return self._answer("webhook", result)

    async def chatwoot(self, request: Request) -> JSONResponse:
        try:
            self._content_kind(request, {"application/json": "json"})
            text = _decoded(await self._authenticated_body(request, signed=False))
            result = await self._stored(CHATWOOT, lambda: self._ingest_chatwoot(text))
        except _Refused as refused:
            return _error(refused)
        return self._answer(CHATWOOT, result)

    async def _stored(self, door: str, store: Callable[[], IngestResult]) -> IngestResult:
        """What `store` did, run on the webhooks' own threads; _Refused (503) when too many requests wait
        for the database, or when it failed (nothing of the request was stored: the sender retries)."""
        if self.pending >= self.max_pending:
            raise _Refused(503, _BUSY, retry_after=BUSY_RETRY_SECONDS)
        self.pending += 1  # on the event loop's thread: no lock needed
        try:
            result = await anyio.to_thread.run_sync(store, limiter=self.threads)
        except _Refused:  # about the request itself (an empty body): its own answer
            raise
        except Exception as exc:  # noqa: BLE001 - a failed write is the sender's retry, never a traceback
            if self.metrics is not None:
                self.metrics.write_failed("webhook_write")
            _log.error(
                "%s request not stored: the database failed (%s)", door, type(exc).__name__, exc_info=exc
            )
            raise _Refused(503, _NOT_STORED, retry_after=BUSY_RETRY_SECONDS) from None
        finally:
            self.pending -= 1
        if self.metrics is not None:
            self.metrics.write_succeeded()
        return result

    def _answer(self, door: str, result: IngestResult) -> JSONResponse:
        if self.metrics is not None:
            self.metrics.ingested(door, result)
        rejected = [{"index": outcome.position, "reason": outcome.reason} for outcome in result.rejected]
        return JSONResponse({"stored": result.stored, "duplicates": result.duplicates, "rejected": rejected})

    def _content_kind(self, request: Request, accepted: dict[str, str]) -> str:
        """How to read the body (json or ndjson); _Refused when webhooks are off or the type is wrong."""
        if not self.token:
            raise _Refused(503, _NOT_CONFIGURED)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in accepted:
            raise _Refused(415, f"content type must be {' or '.join(accepted)}, not {media or 'missing'!r}")
        return accepted[media]

    async def _authenticated_body(self, request: Request, *, signed: bool) -> bytes:
        """The raw body of a request whose credentials are right, or _Refused with the status to answer."""
        declared = request.headers.get("content-length", "")
        if _UNIX_SECONDS.fullmatch(declared) and int(declared) > MAX_BODY_BYTES:
            raise _Refused(413, _TOO_LARGE)
        has_signature = signed and SIGNATURE_HEADER in request.headers
        token = _bearer(request) if signed else _chatwoot_token(request)
        if not has_signature and token is None:
            hint = "sign the body (X-Kpibot-Signature) or send " if signed else "add ?token= or "
            raise _Refused(401, f"missing credentials: {hint}Authorization: Bearer <token>")
        body = await _read_limited(request)
        if has_signature:
            self._check_signature(request, body)
        elif not hmac.compare_digest(token.encode(), self.token):
            raise _Refused(401, "invalid token")
        return body

    def _check_signature(self, request: Request, body: bytes) -> None:
        if not self.secret:
            raise _Refused(401, "signed requests need KPIBOT_WEBHOOK_SECRET on the bot; use the token")
        stamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
        if not _UNIX_SECONDS.fullmatch(stamp):
            raise _Refused(401, f"{TIMESTAMP_HEADER} must be the unix time in seconds")
        if abs(self.clock() - int(stamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise _Refused(401, "stale request: the timestamp is more than 5 minutes from the bot's clock")
        given = request.headers[SIGNATURE_HEADER].strip()
        if not hmac.compare_digest(given.encode(), signature(self.secret, stamp, body).encode()):
            raise _Refused(401, "invalid signature")

    def _ingest_chatwoot(self, text: str) -> IngestResult:
        payload = None
        try:
            payload = decode(text)
            events = chatwoot_to_events(payload)
        except Exception as exc:  # noqa: BLE001 - any shape the adapter cannot map is answered 200 + rejected
            reason = (
                str(exc)
                if isinstance(exc, ValueError)
                else f"cannot read this payload ({type(exc).__name__})"
            )
            private = private_payload(payload, self.writer.ingestor.normalise.pseudonymise)
            kept = redacted(text) if private is None else json.dumps(private, ensure_ascii=False)
            now = datetime.now(UTC)
            store_rejected(
                self.engine,
                source=CHATWOOT,
                reason=reason,
                payload=kept,
                now=now,
                pseudonymised=private is not None,
            )
            return IngestResult(rejected=[Outcome(0, "rejected", reason)])
        return self.writer.ingest(list(enumerate(events)), source=CHATWOOT)


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _chatwoot_token(request: Request) -> str | None:
    return request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or _bearer(request)


async def _read_limited(request: Request) -> bytes:
    # Content-Length may be absent (chunked) or lie, so the real length is counted as it arrives
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Refused(413, _TOO_LARGE)
        parts.append(chunk)
    return b"".join(parts)


def _payloads(body: bytes, kind: str) -> list[tuple[int, Any]]:
    try:
        return body_items(body, kind)
    except BadBody as bad:
        raise _Refused(400, str(bad)) from None


def _decoded(body: bytes) -> str:
    try:
        return body_text(body)
    except BadBody as bad:
        raise _Refused(400, str(bad)) from None


def _error(refused: _Refused) -> JSONResponse:
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after is not None else None
    return JSONResponse({"error": str(refused)}, status_code=refused.status, headers=headers)
