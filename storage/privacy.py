"""Pseudonymisation of customer handles with a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
            digest = hmac.new(self._key, handle.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()
            cached = self._cache[handle] = "c_" + digest[:16]
            if len(self._cache) > 100_000:
                self._cache.clear()
        return cached


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
