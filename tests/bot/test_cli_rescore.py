"""`kpibot rescore`: stored customer messages analysed again after a taxonomy or lexicon change."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from bot.cli import app
from commands.kpis.nlp import topics
from commands.query import Query
from storage.analysis import text_analyser
from storage.ingest import Ingestor
from storage.models import Message
from storage.rescore import RescoreResult, rescore_messages
from storage.settings import Settings
from tests.storage.builders import inbound, reply

M = Message.__table__.c
DAY = 1440
# Ingested with the default taxonomy, on Friday 2026-11-20 from 09:00 (minute 0) and the day before.
EVENTS = [
    inbound("old", -DAY, conv="tw-0", text="my battery icon is orange again"),  # Thursday: no default topic
    inbound("m1", 0, text="where is my parcel?"),  # delivery/late
    inbound("m2", 5, text="my screen saver is pink"),  # no default topic
    inbound("m3", 10, text="I love it"),  # praise/compliment, "love" 0.5 + 0.6 x lexicon 0.5 = +0.8
    inbound("fr", 15, text="Bonjour, mon colis est en retard"),  # French: delivery, -1.0
    reply("out", 20, text="is the screen broken?"),  # outbound: never analysed
    reply("note", 25, text="screen issue again", private=True),  # private note: never analysed
]
HARDWARE = {"hardware": {"screen": ["screen"], "battery": ["battery"]}, "praise": {"compliment": ["love"]}}


@pytest.fixture
def database(engine, settings, monkeypatch):
    """The shared test database holding EVENTS, named to the CLI by DATABASE_URL."""
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(EVENTS, 1)])
    assert not result.rejected
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return engine


def use_taxonomy(tmp_path, monkeypatch, topics) -> None:
    config = tmp_path / "kpibot.yml"
    config.write_text(yaml.safe_dump({"topics": topics}), encoding="utf-8")
    monkeypatch.setenv("KPIBOT_CONFIG", str(config))


def stored(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(M.text, M.sentiment, M.lang, M.topics)).all()
    return {text: (sentiment, lang, topics) for text, sentiment, lang, topics in rows}


def test_new_taxonomy_retags_stored_messages_and_reports_what_changed(database, tmp_path, monkeypatch):
    use_taxonomy(tmp_path, monkeypatch, HARDWARE)
    with database.begin() as conn:  # a score from an older lexicon: "I love it" is +0.8 now
        conn.execute(update(Message.__table__).where(M.text == "I love it").values(sentiment=0.1))

    result = CliRunner().invoke(app, ["rescore", "--batch", "2"])

    assert result.exit_code == 0, result.output
    # read: old, m1, m2, m3, fr = 5 (not the reply, not the note). Changed: old and m2 gain hardware
    # topics, m1 and fr lose delivery (no delivery topic any more), m3 gets its +0.8 back -> 5 changed:
    # sentiment 1, language 0, topics 4 (m3 keeps praise/compliment).
    assert "rescored 5 messages: 5 changed (sentiment 1, language 0, topics 4)" in result.stdout
    after = stored(database)
    assert after["my battery icon is orange again"][2] == "hardware/battery"
    assert after["my screen saver is pink"][2] == "hardware/screen"
    assert after["where is my parcel?"] == (pytest.approx(-0.075), "en", None)  # a question: -0.5 x 0.15
    assert after["I love it"] == (pytest.approx(0.8), "en", "praise/compliment")
    assert after["Bonjour, mon colis est en retard"] == (-1.0, "fr", None)
    assert after["is the screen broken?"] == after["screen issue again"] == (None, None, None)

    again = CliRunner().invoke(app, ["rescore"])
    assert "rescored 5 messages: 0 changed (sentiment 0, language 0, topics 0)" in again.stdout


def test_since_rescores_only_messages_sent_from_that_day(database, tmp_path, monkeypatch):
    use_taxonomy(tmp_path, monkeypatch, HARDWARE)

    result = CliRunner().invoke(app, ["rescore", "--since", "2026-11-20"])

    # Friday from 00:00 UTC: m1, m2, m3, fr = 4 read; m1, m2 and fr change; Thursday's message is kept
    assert result.exit_code == 0, result.output
    assert "rescored 4 messages sent since 2026-11-20 00:00 UTC: 3 changed" in result.stdout
    assert stored(database)["my battery icon is orange again"][2] is None


def test_progress_is_told_the_total_and_each_batch(database):
    totals, batches = [], []
    result = rescore_messages(
        database, text_analyser(Settings()), batch=2, total=totals.append, progress=batches.append
    )
    # 5 messages in batches of 2; nothing changed with the taxonomy they were scored with
    assert (totals, batches) == ([5], [2, 2, 1])
    assert result == RescoreResult(read=5, changed=0)


@pytest.mark.parametrize(
    ("args", "topics", "message"),
    [
        (["rescore", "--since", "last tuesday"], None, "--since 'last tuesday' is not a date"),
        (["rescore"], {"hardware": {"screen": ["!!!"]}}, "keyword '!!!' in 'hardware/screen' has no letters"),
    ],
    ids=["bad-since", "bad-taxonomy"],
)
def test_usage_errors_exit_2_without_touching_messages(
    database, tmp_path, monkeypatch, args, topics, message
):
    if topics is not None:
        use_taxonomy(tmp_path, monkeypatch, topics)
    before = stored(database)

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert stored(database) == before


def test_topics_of_cached_days_follow_a_rescore(database, settings, tmp_path, monkeypatch):
    # Wednesday 18th to Friday 20th 12:00 UTC: Wednesday and Thursday are whole days, kept in kpi_slot
    end = datetime(2026, 11, 20, 12, tzinfo=UTC)
    period = Query(datetime(2026, 11, 18, tzinfo=UTC), end, (), end, settings)
    with database.connect() as conn:
        before = topics(conn, period)
        assert conn.execute(text("SELECT count(*) FROM kpi_slot WHERE measure = 'topics'")).scalar_one() > 0
    use_taxonomy(tmp_path, monkeypatch, HARDWARE)

    assert CliRunner().invoke(app, ["rescore"]).exit_code == 0
    with database.connect() as conn:
        after = topics(conn, period)

    assert [row["topic"] for row in before["topics"]] == ["delivery", "praise"]
    # Thursday's "my battery icon is orange again" (a cached day) and Friday's "my screen saver is pink":
    # hardware
    hardware = {"topic": "hardware", "count": 2, "subtopics": [{"subtopic": "battery", "count": 1}]}
    assert {key: after["topics"][0][key] for key in ("topic", "count")} == {"topic": "hardware", "count": 2}
    assert after["topics"][0]["subtopics"] == hardware["subtopics"] + [{"subtopic": "screen", "count": 1}]
