"""A tally kept per UTC quarter hour (storage.kpi_cache.quarter_tallies): `sentiment by hour` and `by
weekday` take the customer messages per language of their hours from the cache, counted by hand here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from commands.kpis import KPIS
from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache import Scope, Slice
from tests.storage.conftest import feed

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 16, tzinfo=UTC)  # the 16th to the 19th are whole days cached; the 20th in hours
TEXTS = {
    "en": "Where is my parcel? It was due on Monday",  # scored
    "fr": "Ma commande n'est toujours pas arrivée, je suis très déçu",  # scored
    "pl": "Gdzie jest moja paczka? Miała być w poniedziałek",  # no lexicon: read, not scored
    "it": "Dov'è il mio pacco? Doveva arrivare lunedì",
}
# each day from the 16th to the 19th: (UTC time, language)
DAILY = (("09:05", "en"), ("09:20", "pl"), ("09:50", "it"), ("10:10", "pl"), ("14:00", "fr"))


def message(n: int, day: int, time: str, lang: str) -> dict:
    return {
        "id": f"m{n}",
        "type": "message",
        "at": f"2026-11-{day}T{time}:00Z",
        "conversation_id": f"c{n}",
        "channel": "twitter",
        "direction": "inbound",
        "author": {"kind": "customer", "id": f"@c{n}"},
        "text": TEXTS[lang],
    }


def history() -> list[dict]:
    found = [(day, time, lang) for day in range(16, 20) for time, lang in DAILY]
    found.append((20, "09:30", "pl"))  # today, an hour slot
    return [message(n, day, time, lang) for n, (day, time, lang) in enumerate(found)]


def hours(since: str, until: str) -> tuple[tuple[datetime, datetime], ...]:
    """The range from `since` to `until` (UTC, "HH:MM") of every day of the period, up to NOW."""
    ranges = []
    for day in range(5):
        midnight = START + timedelta(days=day)
        start = midnight + timedelta(hours=int(since[:2]), minutes=int(since[3:]))
        end = midnight + timedelta(hours=int(until[:2]), minutes=int(until[3:]))
        ranges.append((start, min(end, NOW)))
    return tuple(ranges)


def languages(conn, hours_asked, source: str = "auto") -> dict:
    scope = Scope(START, NOW, (), NOW, source=source, slice=Slice(hours=hours_asked))
    return kpi_cache.tally(conn, "languages", scope)


def test_the_messages_per_language_of_some_hours_come_from_the_days_kept_per_quarter_hour(engine, ingestor):
    feed(ingestor, history())
    nine = hours("09:00", "10:00")  # a local hour of a zone a whole number of hours from UTC
    kathmandu = hours("09:15", "10:15")  # one of a zone 45 minutes off: quarters of two UTC hours

    with engine.connect() as conn:
        languages(conn, nine)  # the first question computes the days' quartered rows
        statements: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        at_nine = languages(conn, nine)
        read_at_nine = [sql for sql in statements if "FROM message" in sql]
        statements.clear()
        at_quarter_past = languages(conn, kathmandu)
        read_at_quarter_past = [sql for sql in statements if "FROM message" in sql]

        # 09:00-10:00 on the 16th to the 19th: an English, a Polish and an Italian message each day;
        # 09:30 on the 20th, Polish (its hour slot, taken whole). {language: [messages, scored]}
        assert at_nine == {"en": [4, 4], "pl": [5, 0], "it": [4, 0]}
        # 09:15-10:15: Polish at 09:20 and 10:10, Italian at 09:50 each day; the 20th's 09:30 from the
        # tables (the range cuts its hours 09 and 10)
        assert at_quarter_past == {"pl": [9, 0], "it": [4, 0]}
        assert at_nine == languages(conn, nine, source="tables")
        assert at_quarter_past == languages(conn, kathmandu, source="tables")
    # the days came from the cache: no message of theirs was read again; only the 20th's hours 09 and
    # 10, which 09:15-10:15 cuts, each alone
    assert read_at_nine == []
    assert len(read_at_quarter_past) == 2
    assert all(sql.count("message.at >=") == 1 for sql in read_at_quarter_past)


def test_a_late_message_in_a_cached_day_is_counted_in_its_hour(engine, ingestor):
    feed(ingestor, history())
    nine = hours("09:00", "10:00")
    with engine.connect() as conn:
        assert languages(conn, nine)["it"] == [4, 0]
    feed(ingestor, [message(99, 17, "09:40", "it"), message(98, 17, "11:40", "it")])

    with engine.connect() as conn:
        assert languages(conn, nine)["it"] == [5, 0]  # 11:40 is another hour
        assert languages(conn, nine) == languages(conn, nine, source="tables")


def test_sentiment_by_hour_says_what_was_not_scored_per_language_in_that_hour(engine, settings, ingestor):
    feed(ingestor, history())
    query = Query(START, NOW, (), NOW, settings, hours=hours("09:00", "10:00"))

    with engine.connect() as conn:
        answer = KPIS["sentiment"].compute(conn, query)

    # scored: the four English messages; read but not scored: 5 Polish, 4 Italian
    assert (answer["count"], answer["unscored"]) == (4, 9)
    assert answer["unscored_languages"] == [{"language": "pl", "count": 5}, {"language": "it", "count": 4}]
    assert answer["scored_share"] == 4 / 13
