"""Turn one received payload into a validated, normalised event ready to store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storage.events import CustomerEvent, EventError, MessageEvent, SurveyEvent, parse_event
from storage.settings import Settings

SURVEY_SCALES = {"csat": (1.0, 5.0), "nps": (0.0, 10.0)}


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


def decode(payload: Any) -> Any:
    """The JSON value of a payload given as text or bytes (dicts pass through)."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            raise EventError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    return payload


class Normaliser:
    """Validates payloads against EVENTS.md and applies the workspace's channel list and privacy rules."""

    def __init__(self, settings: Settings, pseudonymise: Callable[[str | None], str | None]):
        self._pseudonymise = pseudonymise
        self._known = set(settings.channels)
        self._aliases = {k.lower(): v for k, v in settings.channel_aliases.items()}
        self._ces_scale = tuple(float(v) for v in settings.ces_scale)

    def channel(self, raw: str) -> str:
        """The canonical channel name for `raw` (aliases applied), or EventError if unknown."""
        name = raw.strip().lower()
        name = self._aliases.get(name, name)
        if name not in self._known:
            raise EventError(f'"channel" {raw!r} is not a known channel ({", ".join(sorted(self._known))})')
        return name

    def __call__(self, position: int, payload: Any, default_source: str) -> Accepted:
        """The accepted event for `payload`, or EventError with the reason it is refused."""
        data = decode(payload)
        event = parse_event(data)
        changes: dict[str, Any] = {}
        if event.channel is not None:
            channel = self.channel(event.channel)
            if channel != event.channel:
                changes["channel"] = channel
        if isinstance(event, MessageEvent) and event.author.kind == "customer" and event.author.id:
            author = {"kind": "customer", "id": self._pseudonymise(event.author.id)}
            event.author = event.author.model_copy(update={"id": author["id"], "name": None})
            changes["author"] = author
        elif isinstance(event, CustomerEvent):
            changes["customer_id"] = self._pseudonymise(event.customer_id)
        elif isinstance(event, SurveyEvent):
            self._check_scale(event)
        for name, value in changes.items():
            if name != "author":
                setattr(event, name, value)
        source = event.source or default_source
        if changes:
            body = json.dumps({**data, **changes}, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(payload, str | bytes):
            body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
            body = body.strip()
        else:
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return Accepted(position, source, event, body)

    def _check_scale(self, event: SurveyEvent) -> None:
        low, high = SURVEY_SCALES.get(event.kind, self._ces_scale)
        if not low <= event.score <= high:
            raise EventError(
                f'"score" {event.score:g} is outside the {event.kind.upper()} scale {low:g}–{high:g}'
            )
