"""`labels.time_text`: a time read as text that numpy parses into the same instant, on SQLite and
PostgreSQL (`pytest --db postgresql`), to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select

from storage.db import raw_rows
from storage.kpi_cache.labels import time_text
from storage.models import Conversation
from tests.storage.conftest import feed
from tests.storage.kpi_cache.test_quarter_tallies import message

C = Conversation.__table__.c


def test_times_read_as_text_are_the_instants_stored_to_the_microsecond(engine, ingestor):
    events = [message(1, 16, "09:00", "en"), message(2, 16, "09:00", "en")]
    events[1]["at"] = "2026-11-16T23:59:59.123456+00:00"
    feed(ingestor, events)

    with engine.connect() as conn:
        found = [at for (at,) in raw_rows(conn, select(time_text(C.opened_at)).order_by(C.opened_at))]

    assert np.array(found, dtype="datetime64[us]").tolist() == [
        datetime(2026, 11, 16, 9, 0),
        datetime(2026, 11, 16, 23, 59, 59, 123456),
    ]
    assert all(isinstance(at, str) for at in found)  # text: no datetime object made per row
    assert datetime.fromisoformat(found[1]).replace(tzinfo=UTC) == datetime(
        2026, 11, 16, 23, 59, 59, 123456, tzinfo=UTC
    )
