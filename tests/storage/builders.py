"""Event builders for tests: short calls that produce docs/events.md dicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    """ISO time `minutes` after 2026-11-20 09:00 UTC."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def inbound(
    eid: str,
    minutes: float,
    conv: str = "tw-1",
    channel: str = "twitter",
    text: str = "hello",
    handle: str = "@ana",
) -> dict:
    return {
        "id": eid,
        "type": "message",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "direction": "inbound",
        "author": {"kind": "customer", "id": handle},
        "text": text,
    }


def reply(
    eid: str,
    minutes: float,
    conv: str = "tw-1",
    channel: str = "twitter",
    agent: str = "U1",
    kind: str = "agent",
    name: str = "Bo",
    **extra,
) -> dict:
    return {
        "id": eid,
        "type": "message",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "direction": "outbound",
        "author": {"kind": kind, "id": agent, "name": name},
        "text": "on it",
        **extra,
    }


def status(eid: str, minutes: float, value: str, conv: str = "tw-1", channel: str = "twitter") -> dict:
    return {
        "id": eid,
        "type": "status",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "status": value,
    }


def assignment(eid: str, minutes: float, conv: str = "tw-1", channel: str = "twitter", **who) -> dict:
    return {
        "id": eid,
        "type": "assignment",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        **who,
    }
