"""What a request from Slack must prove before the bot acts on it, and where the bot may answer it.

Order matters: a request is verified (signature and timestamp) before its body is parsed, so nothing an
unverified body says (a `response_url`, an `event_id`) can make the bot do anything, not even apologise.
Verified requests then pass `guard`: their `response_url` must be on one of Slack's own hosts
(`Settings.slack_response_origins`) and they must come from the workspace the bot is installed in.
Only requests that pass it are marked `GUARDED` in their context; the apology path (`bot.errors`) answers
no other. SECURITY.md lists every door's checks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from slack_bolt import BoltResponse

MAX_CLOCK_SKEW_SECONDS = 300  # Slack's own rule: a request more than 5 minutes old may be a replay
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads (commands, events, block actions) are a few KB
GUARDED = "kpibot_guarded"  # context key: the request passed `guard`
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_log = logging.getLogger("kpibot.slack")


def signed_by_slack(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> bool:
    """True when `body` carries a valid Slack signature made within 5 minutes of `now` (unix seconds).

    Anything malformed (a timestamp that is not plain ASCII digits, a signature that is not `v0=` and
    64 hex digits, no secret configured) is simply not signed: this never raises.
    """
    timestamp = headers.get("x-slack-request-timestamp", "")
    given = headers.get("x-slack-signature", "")
    if not secret or not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(given):
        return False
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return False
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(("v0=" + mac.hexdigest()).encode(), given.encode())


def allowed_response_url(url: object, origins: Iterable[str]) -> bool:
    """True when `url` is on one of `origins` (scheme and host, e.g. "https://hooks.slack.com")."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
        origin = f"{parts.scheme}://{parts.netloc}".lower()
    except ValueError:
        return False
    return origin in {allowed.rstrip("/").lower() for allowed in origins}


def response_urls(body: object) -> list[object]:
    """Every response URL a Slack payload carries (commands, block actions, view submissions)."""
    if not isinstance(body, dict):
        return []
    urls = [body["response_url"]] if "response_url" in body else []
    for item in body.get("response_urls") or []:
        urls.append(item.get("response_url") if isinstance(item, dict) else item)
    return urls


def guard(origins: tuple[str, ...]):
    """Bolt middleware refusing verified requests the bot must not act on; marks the others GUARDED.

    - a response URL off Slack's hosts: 400, nothing sent anywhere;
    - another workspace than the one the bot token belongs to (`auth.test`): refused, answered in the ack
      itself (no outbound call), so members of a shared channel's other organisation see no KPIs.
    """

    def kpibot_guard(body, context, next):
        urls = response_urls(body)
        foreign = [url for url in urls if not allowed_response_url(url, origins)]
        if foreign:
            hosts = sorted({_host(url) for url in foreign})
            _log.warning("refused a Slack request whose response_url is not Slack's (host %s)", hosts)
            return BoltResponse(status=400, body="")
        installed = context.authorize_result
        if installed is not None and not _same_workspace(installed, context):
            _log.warning(
                "refused a Slack request from workspace %s (installed in %s)",
                context.team_id or context.enterprise_id,
                installed.team_id or installed.enterprise_id,
            )
            return BoltResponse(status=200, body="kpibot answers only the workspace it is installed in.")
        context[GUARDED] = True
        return next()

    return kpibot_guard


def _same_workspace(installed, context) -> bool:
    """Whether the request comes from the workspace of the bot token (an org-wide install: its org)."""
    if installed.team_id:
        return not context.team_id or context.team_id == installed.team_id
    if installed.enterprise_id:
        return context.enterprise_id == installed.enterprise_id
    return True


def _host(url: object) -> str:
    try:
        return urlsplit(str(url)).hostname or "?"
    except ValueError:
        return "?"
