"""Pseudonymisation of customer handles with a keyed hash, and what is kept of a refused event."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from storage.dialect import insert_ignoring_conflicts
from storage.models import AppSecret
from storage.settings import Settings

_KEY_NAME = "pseudonym_key"


class Pseudonymiser:
    """Turns a customer handle into a stable pseudonym (`c_` + 16 hex chars of HMAC-SHA256)."""

    def __init__(self, key: bytes):
        self._key = key
        self._cache: dict[str, str] = {}

    def __call__(self, handle: str | None) -> str | None:
        if handle is None or handle == "":
            return None
        cached = self._cache.get(handle)
        if cached is None:
            # surrogatepass: a refused event's handle may hold a lone surrogate, and is pseudonymised too
            key = handle.strip().lower().encode("utf-8", "surrogatepass")
            digest = hmac.new(self._key, key, hashlib.sha256).hexdigest()
            cached = self._cache[handle] = "c_" + digest[:16]
            if len(self._cache) > 100_000:
                self._cache.clear()
        return cached


def private_event(data: Any, pseudonymise: Callable[[str | None], str | None]) -> Any | None:
    """What is kept of a refused event in kpibot's format (a decoded JSON object): the same with its
    customer handles pseudonymised and customer names dropped, as ingestion would have stored them; None
    when `data` is not an object (nothing to find the customer in)."""
    if not isinstance(data, dict):
        return None
    kept = dict(data)
    author = kept.get("author")
    if isinstance(author, dict) and author.get("kind") not in ("agent", "bot"):
        kept["author"] = {k: v for k, v in author.items() if k != "name"}
        if author.get("id") not in (None, ""):
            kept["author"]["id"] = pseudonymise(str(author["id"]))
    if kept.get("customer_id") not in (None, ""):
        kept["customer_id"] = pseudonymise(str(kept["customer_id"]))
    return kept


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?')  # every string in turn; a key is followed by a colon


def redacted(text: str) -> str:
    """What is kept of a refused payload that cannot be read as JSON (so no customer field can be found
    in it): its shape, with every string value replaced by "…" (keys, numbers and the place where the
    JSON breaks stay); text with no JSON string in it at all is not kept, only its length."""
    if '"' not in text:
        return f"(not JSON: {len(text)} characters, not kept)"
    return _STRING.sub(lambda found: found.group(0) if found.group(1) else '"…"', text)


def pseudonymiser(settings: Settings, engine: Engine) -> Pseudonymiser:
    """The workspace's pseudonymiser: the configured key, or one generated once and kept in the database."""
    if settings.pseudonym_key is not None:
        return Pseudonymiser(settings.pseudonym_key.get_secret_value().encode("utf-8"))
    table = AppSecret.__table__
    stored = select(table.c.value).where(table.c.name == _KEY_NAME)
    with engine.begin() as conn:
        # Two processes starting on a new database may both get here: the first key stored wins.
        offer = {"name": _KEY_NAME, "value": secrets.token_hex(32)}
        conn.execute(insert_ignoring_conflicts(conn, table, ["name"]).values(offer))
        return Pseudonymiser(bytes.fromhex(conn.execute(stored).scalar_one()))
