"""Turn one received payload into a validated, normalised event ready to store.

Everything an event must satisfy is checked here, before any transaction: so one bad event is rejected
alone, with its reason, and never fails the batch (or the group commit) it arrived with. Beyond the format
(storage/events.py): valid Unicode without NUL characters in every string (PostgreSQL stores neither), at
most MAX_DEPTH levels of nesting and MAX_EVENT_CHARS of text, a time inside the plausible window
(`event_time_min` … `event_time_max_ahead_seconds` past the bot's clock), and a `source` that is not
owned by another door (OWNED_SOURCES).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.events import CustomerEvent, EventError, MessageEvent, SurveyEvent, parse_event
from storage.settings import Settings

SURVEY_SCALES = {"csat": (1.0, 5.0), "nps": (0.0, 10.0)}
MAX_EVENT_CHARS = 1024 * 1024  # one event's text, in characters; a CSV cell may be as long
MAX_DEPTH = 32
# Sources written by one door only: an event arriving through another door may not claim them, or it
# could pre-empt the real event (same source and id) and have it counted as a duplicate.
OWNED_SOURCES = {"chatwoot": "the Chatwoot webhook", "slack": "Slack intake channels"}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Accepted:
    """A valid event: its model (channel canonical, handles pseudonymised) and the body to store."""

    position: int
    source: str
    event: Any
    body: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.event.id)


@dataclass(frozen=True)
class Unreadable:
    """What a reader yields for input it could not read as an event (an undecodable line, a CSV row over
    the field limit): rejected with `reason`, keeping `raw` for inspection."""

    reason: str
    raw: str


def decode(payload: Any) -> Any:
    """The JSON value of a payload given as text or bytes (dicts pass through); EventError when it is
    not UTF-8, not JSON (NaN and Infinity are not JSON), or nested too deeply to read."""
    if isinstance(payload, Unreadable):
        raise EventError(payload.reason)
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"not UTF-8 (byte {exc.start + 1} is 0x{payload[exc.start]:02x})") from None
    if isinstance(payload, str):
        if len(payload) > MAX_EVENT_CHARS:
            raise EventError(f"the event is over {MAX_EVENT_CHARS // 1024} KB; events must be smaller")
        if payload.startswith("\ufeff"):  # as json.loads refuses it (the decoder alone says less)
            raise EventError("not valid JSON (a byte-order mark before it at column 1)")
        try:
            return _JSON.decode(payload)
        except json.JSONDecodeError as exc:
            raise EventError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise EventError(f"the event is nested more than {MAX_DEPTH} levels deep") from None
    return payload


def _not_json(constant: str) -> Any:
    raise EventError(f"not valid JSON ({constant} is not a JSON number)")


# One decoder and one encoder for every event: json.loads and json.dumps given options build a new one
# at each call, ~10 % of validating an event (docs/performance.md, "The ceiling on this machine").
_JSON = json.JSONDecoder(parse_constant=_not_json)
_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def check_storable(data: Any) -> None:
    """EventError unless every string in `data` (keys too) is valid Unicode without NUL, the whole holds
    at most MAX_EVENT_CHARS characters of text and MAX_DEPTH levels of nesting."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    chars = 0
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise EventError(f"the event is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                named = f"{path}.{key}" if path else str(key)
                _check_text(key if isinstance(key, str) else str(key), named)
                stack.append((item, depth + 1, named))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}[{n}]") for n, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)
            chars += len(value)
            if chars > MAX_EVENT_CHARS:
                raise EventError(f"the event is over {MAX_EVENT_CHARS // 1024} KB; events must be smaller")


def _plainly_storable(payload: Any) -> bool:
    """True for JSON text that cannot hold what `check_storable` looks for: no \\u escape (the way a lone
    surrogate or NUL gets into decoded JSON), no raw NUL or surrogate, too few brackets to nest 32 deep.
    Most events are such text and skip the walk (docs/performance.md, "The cost of hardening the doors")."""
    if isinstance(payload, bytes):  # decoded as UTF-8 already, which holds no surrogate: NUL is left
        if b"\\u" in payload or b"\x00" in payload:
            return False
        return payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH
    if not isinstance(payload, str) or "\\u" in payload or _UNSTORABLE.search(payload):
        return False
    return payload.count("[") + payload.count("{") <= MAX_DEPTH


def _check_text(text: str, path: str) -> None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    name = _safe_name(path)
    if found.group() == "\x00":
        raise EventError(f'"{name}" contains a NUL character, which cannot be stored')
    raise EventError(f'"{name}" is not valid Unicode (a lone surrogate, {found.group()!a})')


def _safe_name(path: str) -> str:
    """A field path fit to quote in a reason: control characters and lone surrogates escaped (a NUL in a
    key must not reach the stored reason), at most 60 characters."""
    escaped = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in path)
    return escaped if len(escaped) <= 60 else escaped[:57] + "…"


class Normaliser:
    """Validates payloads against docs/events.md and applies the workspace's channels, time window and
    privacy rules."""

    def __init__(self, settings: Settings, pseudonymise: Callable[[str | None], str | None]):
        self.pseudonymise = pseudonymise
        self._known = sorted(set(settings.channels))
        self._words = settings.channel_words()
        self._ces_scale = tuple(float(v) for v in settings.ces_scale)
        self._earliest = settings.event_time_min
        self._ahead = timedelta(seconds=settings.event_time_max_ahead_seconds)

    def channel(self, raw: str) -> str:
        """The canonical channel name for `raw` (aliases applied), or EventError if unknown."""
        word = raw.strip().lower()
        name = self._words.get(word)
        if name is None:
            close = difflib.get_close_matches(word, list(self._words), n=1)  # as `kpibot digest` suggests
            raise EventError(
                f'"channel" {raw!r} is not a known channel ({", ".join(self._known)})'
                + (f" — did you mean {close[0]!r}?" if close else "")
            )
        return name

    def __call__(
        self,
        position: int,
        payload: Any,
        default_source: str,
        *,
        now: datetime | None = None,
        pseudonymised: bool = False,
    ) -> Accepted:
        """The accepted event for `payload`, or EventError with the reason it is refused.

        `now` is the bot's clock (the time window's reference); `pseudonymised` says the customer ids in
        `payload` are pseudonyms already (a rejected event kept privately, being replayed).
        """
        data = decode(payload)
        if not _plainly_storable(payload):
            check_storable(data)
        event = parse_event(data)
        self._check_time(event.at, now or datetime.now(UTC))
        source = event.source or default_source
        self._check_source(source, default_source)
        pseudonymise = (lambda handle: handle) if pseudonymised else self.pseudonymise
        changes: dict[str, Any] = {}
        if event.channel is not None:
            channel = self.channel(event.channel)
            if channel != event.channel:
                changes["channel"] = channel
        if isinstance(event, MessageEvent) and event.author.kind == "customer" and event.author.id:
            author = {"kind": "customer", "id": pseudonymise(event.author.id)}
            # the author was made by this validation, nothing else holds it: changed in place (a copy
            # costs more than the rest of the pseudonymisation)
            event.author.id, event.author.name = author["id"], None
            changes["author"] = author
        elif isinstance(event, CustomerEvent):
            changes["customer_id"] = pseudonymise(event.customer_id)
        elif isinstance(event, SurveyEvent):
            self._check_scale(event)
        for name, value in changes.items():
            if name != "author":
                setattr(event, name, value)
        if changes:
            body = _BODY.encode({**data, **changes})
        elif isinstance(payload, str | bytes):
            body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
            body = body.strip()
        else:
            body = _BODY.encode(data)
        return Accepted(position, source, event, body)

    def _check_time(self, at: datetime, now: datetime) -> None:
        if at < self._earliest:
            raise EventError(
                f'"at" {at.isoformat()} is before {self._earliest:%Y-%m-%d}, the earliest time kpibot '
                "accepts (setting event_time_min)"
            )
        if at > now + self._ahead:
            raise EventError(
                f'"at" {at.isoformat()} is more than {_duration(self._ahead)} ahead of the bot\'s clock '
                f"({now.astimezone(UTC):%Y-%m-%d %H:%M} UTC; setting event_time_max_ahead_seconds)"
            )

    @staticmethod
    def _check_source(source: str, default_source: str) -> None:
        owner = OWNED_SOURCES.get(source.strip().lower())
        if owner is not None and source != default_source:
            raise EventError(f'"source" {source!r} is written by {owner} only; choose another source name')

    def _check_scale(self, event: SurveyEvent) -> None:
        low, high = SURVEY_SCALES.get(event.kind, self._ces_scale)
        if not low <= event.score <= high:
            raise EventError(
                f'"score" {event.score:g} is outside the {event.kind.upper()} scale {low:g}–{high:g}'
            )


def _duration(span: timedelta) -> str:
    """ "1 day", "6 hours", "1 minute": the span in its largest whole unit (seconds otherwise)."""
    seconds = span.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"
