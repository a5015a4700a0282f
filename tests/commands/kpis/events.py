"""Events of the KPI tests, at minutes after T0, beside the common ones of tests.storage.builders."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.storage.builders import T0, at

DAY = 1440  # the asked period is [0, DAY) unless a test says otherwise
NOW = 2 * DAY  # asked two days after T0, so later replies and resolutions are known


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def escalation(eid, minutes, conv, to="phone", channel="twitter"):
    return {
        "id": eid,
        "type": "escalation",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "to_channel": to,
    }


def lead(eid, minutes, conv, converted=False, channel="twitter"):
    return {
        "id": eid,
        "type": "lead",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "converted": converted,
    }
