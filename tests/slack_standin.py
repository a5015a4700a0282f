"""A local stand-in for the Slack Web API, plus helpers that sign requests the way Slack does.

Tests point the real Bolt app and the real ``slack_sdk.WebClient`` at ``SlackStandIn.api_url``; every
request is recorded as a ``Call`` so tests can assert on what the app sent to Slack.
"""

import base64
import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from slack_sdk.signature import SignatureVerifier

TEAM_ID = "T123"
BOT_USER_ID = "UBOT"
SOCKET_PATH = "/socket"  # where apps.connections.open sends Socket Mode clients
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's handshake constant
BOT_ID = "B123"
APP_ID = "A123"
# WebClient sends these as JSON strings inside form bodies; decoded so tests can compare Python objects.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")


@dataclass(frozen=True)
class Call:
    """One request the stand-in received; `params` has JSON-string fields decoded, `raw_params` not."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    raw_params: dict[str, Any] = field(default_factory=dict)
    injected_failure: bool = False


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02, message: str = ""):
    """Return the first truthy value of `predicate()`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(interval)


def _parse_params(body: bytes, content_type: str, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if "application/json" in content_type and body:
        params.update(json.loads(body))
    elif "application/x-www-form-urlencoded" in content_type or (body and not content_type):
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


def _decoded(params: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(params)
    for key in _JSON_FIELDS:
        value = decoded.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            decoded[key] = json.loads(value)
    return decoded


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        if urlsplit(self.path).path == SOCKET_PATH:
            self._websocket()
        else:
            self._handle()

    def _websocket(self) -> None:
        """Socket Mode's WebSocket: the handshake (or a refusal), then the socket held open, silent, until
        the client closes it."""
        standin = self.server.standin
        with standin._lock:
            standin.socket_attempts += 1
            accepted = standin.sockets_accepted
        if not accepted:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while self.rfile.read(1):  # the client's pings, ignored
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; the recorded calls are the log."""

    def _handle(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, extra_headers, payload = self.server.standin._dispatch(url.path, url.query, headers, body)
        except Exception as exc:  # a stand-in bug must reach the test as an HTTP 500, not a hang
            status, extra_headers, payload = 500, {}, {"ok": False, "error": f"standin_error: {exc!r}"}
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        content_type = "text/plain" if isinstance(payload, str) else "application/json"
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: "SlackStandIn"


class SlackStandIn:
    """A real HTTP server on 127.0.0.1 that answers like the Slack Web API and records every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._responses: list[tuple[str, Any]] = []
        self._failures: dict[str, deque[tuple[int, int, str | None]]] = defaultdict(deque)
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._response_ids = itertools.count(2)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.sockets_accepted = True  # False: the Socket Mode WebSocket handshake is refused (HTTP 403)
        self.socket_attempts = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "SlackStandIn":
        """Return this stand-in, now listening on a free 127.0.0.1 port."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "SlackStandIn":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Return the server root, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("SlackStandIn is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """Return the Web API base URL to give ``WebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    @property
    def response_url(self) -> str:
        """Return a response_url on this server; what apps POST there lands in `responses`."""
        return f"{self.base_url}/response/1"

    def new_response_url(self) -> str:
        """Return a fresh, distinct response_url, for tests that tell several replies apart."""
        return f"{self.base_url}/response/{next(self._response_ids)}"

    # -- configuration ---------------------------------------------------------------------------
    def set_user(
        self, user_id: str, *, is_admin: bool = False, is_owner: bool = False, tz: str = "UTC", **extra: Any
    ) -> None:
        """Make users.info describe `user_id` with these admin/owner flags and time zone."""
        with self._lock:
            self._users[user_id] = {"is_admin": is_admin, "is_owner": is_owner, "tz": tz, **extra}

    def set_channel(
        self, channel_id: str, *, is_member: bool = True, name: str | None = None, **extra: Any
    ) -> None:
        """Make conversations.info report whether the bot is a member of `channel_id`."""
        with self._lock:
            self._channels[channel_id] = {"is_member": is_member, "name": name or channel_id.lower(), **extra}

    def fail_next(
        self, method: str, status: int = 429, retry_after: int = 1, error: str | None = None, times: int = 1
    ) -> None:
        """Make the next `times` calls to `method` fail: HTTP `status`, or ok=false `error` with HTTP 200."""
        with self._lock:
            self._failures[method].extend([(status, retry_after, error)] * times)

    # -- inspection ------------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Return a snapshot of every call received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    @property
    def responses(self) -> list[tuple[str, Any]]:
        """Return (path, JSON body) of every POST to a response_url, oldest first."""
        with self._lock:
            return list(self._responses)

    def calls_to(self, method: str) -> list[Call]:
        """Return the calls to one Web API method (e.g. "chat.postMessage"), oldest first."""
        return [call for call in self.calls if call.method == method]

    def wait_for_call(self, method: str, timeout: float = 5.0, count: int = 1) -> Call:
        """Return the `count`-th call to `method`, waiting up to `timeout` seconds for it."""
        wait_for(
            lambda: len(self.calls_to(method)) >= count,
            timeout,
            message=f"{count} call(s) to {method}; seen {[c.method for c in self.calls]}",
        )
        return self.calls_to(method)[count - 1]

    def wait_for_response(self, timeout: float = 5.0, count: int = 1) -> tuple[str, Any]:
        """Return the `count`-th (path, body) posted to a response_url, waiting up to `timeout` seconds."""
        wait_for(lambda: len(self.responses) >= count, timeout, message=f"{count} response_url POST(s)")
        return self.responses[count - 1]

    # -- request handling ------------------------------------------------------------------------
    def _dispatch(self, path: str, query: str, headers: dict[str, str], body: bytes):
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            raw = _parse_params(body, headers.get("content-type", ""), query)
        elif path.startswith("/upload/"):
            method, raw = "upload", {"file_id": path.rsplit("/", 1)[-1]}
        elif path.startswith("/response/"):
            method, raw = "response_url", json.loads(body or b"{}")
        else:
            return 404, {}, {"ok": False, "error": "unknown_path"}
        with self._lock:
            failure = self._failures[method].popleft() if self._failures[method] else None
            call = Call(method, _decoded(raw), headers, body, raw, injected_failure=failure is not None)
            self._calls.append(call)
            if failure is None:
                return 200, {}, self._answer(call, path)
        status, retry_after, error = failure
        if error is not None:
            return 200, {}, {"ok": False, "error": error}
        if status == 429:
            return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
        return status, {}, {"ok": False, "error": "fatal_error"}

    def _answer(self, call: Call, path: str) -> dict[str, Any] | str:
        """Return the payload for a successful call; the caller holds the lock."""
        if call.method == "response_url":
            self._responses.append((path, call.params))
            return "ok"
        if call.method == "upload":
            self.uploads[call.params["file_id"]] = call.body
            return f"OK - {len(call.body)}"
        # Slack method "chat.postMessage" is answered by `_api_chat_postMessage`.
        handler = getattr(self, "_api_" + call.method.replace(".", "_"), None)
        return handler(call.params) if handler else {"ok": True}

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts) * 100:06d}"

    def _api_auth_test(self, p):
        return {
            "ok": True,
            "url": "https://kpibot-test.slack.com/",
            "team": "kpibot test",
            "user": "kpibot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, p):
        return {"ok": True, "url": f"ws://{self.base_url.removeprefix('http://')}{SOCKET_PATH}"}

    def _api_chat_postMessage(self, p):
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": p.get("text", ""),
        }
        message.update({k: p[k] for k in ("blocks", "attachments", "thread_ts") if k in p})
        return {"ok": True, "channel": p.get("channel"), "ts": ts, "message": message}

    def _api_chat_postEphemeral(self, p):
        return {"ok": True, "message_ts": self._next_ts()}

    def _api_chat_update(self, p):
        message = {"text": p.get("text", ""), **({"blocks": p["blocks"]} if "blocks" in p else {})}
        return {
            "ok": True,
            "channel": p.get("channel"),
            "ts": p.get("ts"),
            "text": message["text"],
            "message": message,
        }

    def _api_users_info(self, p):
        user_id = p.get("user", "")
        settings = {"is_admin": False, "is_owner": False, "tz": "UTC", **self._users.get(user_id, {})}
        offset = datetime.now(ZoneInfo(settings["tz"])).utcoffset()
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": user_id.lower(),
            "real_name": user_id,
            "deleted": False,
            "is_bot": False,
            "is_primary_owner": False,
            "tz_offset": int(offset.total_seconds()),
            **settings,
        }
        return {"ok": True, "user": user}

    def _api_views_publish(self, p):
        view = p.get("view") if isinstance(p.get("view"), dict) else {}
        return {"ok": True, "view": {**view, "id": "V123", "team_id": TEAM_ID, "app_id": APP_ID}}

    def _api_conversations_info(self, p):
        channel_id = p.get("channel", "")
        settings = {"is_member": True, "name": channel_id.lower(), **self._channels.get(channel_id, {})}
        return {
            "ok": True,
            "channel": {"id": channel_id, "is_channel": True, "is_private": False, **settings},
        }

    def _api_conversations_join(self, p):
        channel_id = p.get("channel", "")
        self._channels.setdefault(channel_id, {"name": channel_id.lower()})["is_member"] = True
        return self._api_conversations_info(p)

    def _api_conversations_open(self, p):
        user_ids = str(p.get("users", ""))
        return {"ok": True, "channel": {"id": "D" + user_ids.replace(",", "").upper(), "is_im": True}}

    def _api_files_getUploadURLExternal(self, p):
        file_id = f"F{next(self._ids):05d}"
        self._files[file_id] = {
            "id": file_id,
            "name": p.get("filename"),
            "title": p.get("filename"),
            "size": int(p.get("length") or 0),
        }
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, p):
        files = []
        for item in p.get("files") or []:
            info = self._files.setdefault(item["id"], {"id": item["id"]})
            info.update({k: v for k, v in item.items() if k != "id"})
            files.append(dict(info))
        return {"ok": True, "files": files}

    def _api_files_info(self, p):
        file_id = p.get("file", "")
        return {"ok": True, "file": dict(self._files.get(file_id, {"id": file_id}))}


# -- signing: requests from Slack to the app -------------------------------------------------------
def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Return the X-Slack-Request-Timestamp and X-Slack-Signature headers Slack would send with `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def slash_command_body(
    command: str = "/kpi",
    text: str = "frt twitter",
    *,
    response_url: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    team_id: str = TEAM_ID,
    trigger_id: str = "1700000000.1.abc",
    user_name: str = "alice",
    channel_name: str = "support",
) -> str:
    """Return the form-encoded body Slack POSTs to the app for a slash command."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": team_id,
            "team_domain": "kpibot-test",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def event_body(
    event: dict[str, Any], event_id: str = "Ev1", team_id: str = TEAM_ID, event_time: int = 1700000000
) -> str:
    """Return the JSON body of an Events API `event_callback` envelope wrapping `event`."""
    authorization = {
        "enterprise_id": None,
        "team_id": team_id,
        "user_id": BOT_USER_ID,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    return json.dumps(
        {
            "token": "verification-token",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": event_time,
            "authorizations": [authorization],
            "is_ext_shared_channel": False,
            "event_context": "4-test",
        }
    )


def block_action_body(
    action_id: str = "kpi_refresh",
    value: str | None = None,
    *,
    user_id: str = "U1",
    team_id: str = TEAM_ID,
    channel_id: str = "C1",
    message_ts: str = "1700000000.000100",
    block_id: str = "kpi_block",
    response_url: str | None = None,
    view: dict[str, Any] | None = None,
    actions: list[dict[str, Any]] | None = None,
    trigger_id: str = "1700000000.1.abc",
    message: dict[str, Any] | None = None,
) -> str:
    """Return the form-encoded `payload=` body Slack POSTs for a block_actions interaction.

    With `view` the action comes from a view (e.g. App Home); otherwise from the message at `message_ts`.
    """
    action = {
        "action_id": action_id,
        "block_id": block_id,
        "type": "button",
        "action_ts": "1700000001.000001",
    }
    if value is not None:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "token": "verification-token",
        "api_app_id": APP_ID,
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "team": {"id": team_id, "domain": "kpibot-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": trigger_id,
        "actions": actions if actions is not None else [action],
    }
    if view is not None:
        view = {"id": "V123", "team_id": team_id, "app_id": APP_ID, **view}
        payload.update(view=view, container={"type": "view", "view_id": view["id"]})
    else:
        payload.update(
            container={
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            channel={"id": channel_id, "name": "support"},
            message={
                "type": "message",
                "ts": message_ts,
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": "",
                **(message or {}),  # the message the button is in: its text and blocks
            },
        )
    if response_url is not None:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)})
