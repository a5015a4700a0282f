"""frt's "still waiting" count from the KPI cache: the conversations never answered and still open are the
"unanswered" measure (by the day they opened), those answered only after the instant asked come from the
tables; the answer is what the tables alone give, and a late reply leaves the cached day.

Events are tests.storage.kpi_cache.test_cache's week: an unanswered instagram conversation a day.
"""

from __future__ import annotations

from datetime import timedelta

from tests.storage.builders import reply
from tests.storage.conftest import feed
from tests.storage.kpi_cache.test_cache import (
    DAY,
    END,
    ask,
    cached_days,
    week_of_conversations,
    without_cache,
)

WHOLE = ["2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]


def test_the_conversations_never_answered_are_counted_from_the_cached_days(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    expected = without_cache(engine, settings, "frt")

    first, again = ask(engine, settings, "frt"), ask(engine, settings, "frt")

    assert cached_days(engine, "unanswered") == WHOLE
    assert cached_days(engine, "unanswered", "instagram") == WHOLE
    # one unanswered instagram conversation a day opened in the period (the 13th's before its 18:00 start)
    assert (expected["still_waiting"], expected["oldest_waiting"]) == (7, 6 * 86400 + 2 * 3600)
    for answer in (first, again):
        assert (answer["still_waiting"], answer["oldest_waiting"]) == (7, 6 * 86400 + 2 * 3600)


def test_a_late_reply_to_a_cached_days_conversation_is_seen_by_the_next_question(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    before = ask(engine, settings, "frt")

    # Tuesday the 17th's instagram conversation gets its reply, late (another inbox's import, say)
    feed(ingestor, [reply("ig-late-r", -3 * DAY + 90, conv="ig--3", channel="instagram")])
    after = ask(engine, settings, "frt")

    assert after["still_waiting"] == before["still_waiting"] - 1
    assert after == without_cache(engine, settings, "frt")


def test_asked_as_of_before_a_reply_the_conversation_of_a_cached_hour_was_still_waiting(
    engine, settings, ingestor
):
    feed(ingestor, week_of_conversations())
    # Tuesday the 17th's instagram conversation (opened 10:00) is answered on Wednesday at 09:00
    feed(ingestor, [reply("ig-late-r", -2 * DAY, conv="ig--3", channel="instagram")])
    now = END - timedelta(days=3) + timedelta(hours=1)  # Tuesday 13:00: its 10:00 hour is cached
    period = {"start": now - timedelta(days=3), "end": now, "now": now}

    first, again = ask(engine, settings, "frt", **period), ask(engine, settings, "frt", **period)

    assert "2026-11-16" in cached_days(engine, "unanswered")
    assert "2026-11-17" in cached_days(engine, "unanswered@10")
    # the 15th's and 16th's, never answered, and the 17th's, answered only after the moment asked
    assert first["still_waiting"] == again["still_waiting"] == 3
    assert first == again == without_cache(engine, settings, "frt", **period)
