"""Hypothesis strategies for the doors' fuzz tests: odd JSON values, events with fields gone wrong, and
Chatwoot payloads mutated at random paths. Example counts stay small (2 cores): see FUZZ and FUZZ_DB."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.storage.builders import inbound

FIXTURES = Path(__file__).parent / "fixtures" / "chatwoot"
# Pure functions: quick examples. Through a database: fewer, each a real transaction.
FUZZ = settings(max_examples=150, deadline=None)
FUZZ_DB = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any code point, lone surrogates included (what a JSON "\ud83d" escape decodes to), plus the usual suspects.
odd_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.sampled_from(
        ["", " ", "\x00", "\ud83d", "a\udc00b", "²", "١٢", "NaN", "1e309", "x" * 300, "<!channel>", "```"]
    ),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=offsets).map(
        datetime.isoformat
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(datetime.isoformat),
    odd_text,
    numbers,
)
FIELDS = [
    "id", "type", "at", "conversation_id", "channel", "direction", "author", "text", "quick_reply",
    "handle_seconds", "private", "status", "agent", "team", "to_channel", "kind", "score", "comment",
    "value", "converted", "customer_id", "change", "revenue", "link", "source",
]  # fmt: skip


def good_event(event_id: str) -> dict[str, Any]:
    """A valid inbound message in a conversation of its own."""
    return inbound(event_id, 0, conv=f"tw-{event_id}")


@st.composite
def odd_events(draw, event_id: str = "fuzz") -> Any:
    """An event with some fields replaced by odd values, some dropped, some added; sometimes not an
    object at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    event = good_event(event_id)
    event["type"] = draw(st.sampled_from(["message", "status", "assignment", "escalation", "survey",
                                          "lead", "conversion", "customer", "other"]))  # fmt: skip
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
        event[name] = draw(times if name == "at" else json_values)
    for name in draw(st.lists(st.sampled_from(sorted(event)), max_size=2, unique=True)):
        event.pop(name, None)
    if draw(st.booleans()):
        event[draw(odd_text)] = draw(json_values)
    return event


def as_json_text(value: Any) -> str:
    """`value` as JSON text (NaN and Infinity written as Python does; lone surrogates escaped)."""
    return json.dumps(value)


def chatwoot_fixtures() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_chatwoot(draw) -> Any:
    """A real Chatwoot payload (one of the fixtures) with one to three values, at any depth, replaced by
    odd values or removed."""
    payload = copy.deepcopy(draw(st.sampled_from(chatwoot_fixtures())))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values)
    return payload
