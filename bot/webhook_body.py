"""Reading a webhook body into event payloads: one JSON object, a JSON array, or NDJSON.

A body that is not JSON is one bad payload (the ingestion core rejects and keeps it, naming where the
JSON breaks). An array with an element nested too deeply for Python's parser is still cut into its
elements, so that element alone is rejected and the others are stored.
"""

from __future__ import annotations

import json
from typing import Any


class BadBody(ValueError):
    """A body that holds no payload at all (empty, or not UTF-8): the request is answered 400."""


def body_text(body: bytes) -> str:
    """The body as text; BadBody when it is not UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 (byte {exc.start + 1})") from None


def body_items(body: bytes, kind: str) -> list[tuple[int, Any]]:
    """(index, payload) of every event in the body (`kind` "json" or "ndjson"); BadBody when empty."""
    text = body_text(body)
    if not text.strip():
        raise BadBody("the body is empty")
    if kind == "ndjson":
        return [(index, line) for index, line in enumerate(text.split("\n")) if line.strip()]
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [(0, text)]
    except RecursionError:  # some element is nested too deeply to read: the others still are
        elements = json_array_elements(text)
        return list(enumerate(elements)) if elements is not None else [(0, text)]
    return list(enumerate(data)) if isinstance(data, list) else [(0, data)]


def json_array_elements(text: str) -> list[str] | None:
    """The text of each element of the JSON array `text`, found without parsing them (an element may be
    too deep to parse: it is still cut out, and rejected on its own); None when `text` is not one
    complete array."""
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] != "[":
        return None
    elements, depth, in_string, escaped, begin = [], 0, False, False, start + 1
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                last = text[begin:index]
                if last.strip():
                    elements.append(last)
                return elements if not text[index + 1 :].strip() else None
        elif char == "," and depth == 1:
            elements.append(text[begin:index])
            begin = index + 1
    return None
