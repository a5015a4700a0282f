"""Alembic migrations: the head equals the models, empty databases get the schema, old ones are refused."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel
from typer.testing import CliRunner

from bot.cli import app
from storage import schema
from storage.db import make_engine
from storage.models import UTCDateTime
from storage.schema import SchemaBehind, current, ensure_schema, head, include_object, upgrade
from tests.concurrently import at_once

HEAD = "0016"  # the newest revision in storage/migrations/versions


# The customer waits' table as revisions 0001-0008 had it (0009 replaced it by sla_clock's first/next clocks).
_OLD = sa.MetaData()
sa.Table("conversation", _OLD, sa.Column("id", sa.Integer, primary_key=True))
WAIT_TABLE = sa.Table(
    "wait",
    _OLD,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversation.id"), nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("start_at", UTCDateTime, nullable=False),
    sa.Column("end_at", UTCDateTime),
    sa.Column("seconds", sa.Float),
    sa.Column("agent", sa.String),
    sa.Index("ix_wait_conversation", "conversation_id"),
    sa.Index("ix_wait_end", "end_at", "channel", "seconds"),
)


def _differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        return compare_metadata(context, SQLModel.metadata)


def test_the_migration_head_builds_exactly_the_models_autogenerate_finds_no_difference(new_database_url):
    engine = make_engine(new_database_url(empty=True), create=False)
    assert upgrade(engine) == (None, head())
    assert _differences(engine) == []
    engine.dispose()


def test_tables_of_other_tools_in_the_database_are_left_alone_by_migrations(engine):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    store.start(None, "default")  # creates its table
    assert "apscheduler_jobs" in inspect(engine).get_table_names()
    assert _differences(engine) == []
    store.shutdown()


def test_opening_an_empty_database_migrates_it_to_the_head(new_database_url):
    engine = make_engine(new_database_url(empty=True))
    with engine.connect() as conn:
        assert current(conn) == head() == HEAD
        assert {"conversation", "message", "raw_event", "outbox"} <= set(inspect(conn).get_table_names())
    engine.dispose()


def test_a_database_built_before_migrations_is_recorded_as_the_initial_revision_and_keeps_its_rows(
    new_database_url,
):
    engine = make_engine(new_database_url(empty=True), create=False)
    # What kpibot did before migrations existed: create_all of the tables it had then (revision 0001's).
    later = {"slack_delivery", "kpi_slot", "kpi_change_note"}  # added by revisions 0002 and 0003 (0007)
    later |= {"sla_clock", "sla_policy", "sla_claim"}  # added by revision 0009
    later |= {"anomaly_post"}  # added by revision 0012
    tables = [table for name, table in SQLModel.metadata.tables.items() if name not in later]
    SQLModel.metadata.create_all(engine, tables=tables)
    with engine.begin() as conn:
        WAIT_TABLE.create(conn)  # revision 0009 folded it into sla_clock
        conn.execute(text("ALTER TABLE rejected_event DROP COLUMN pseudonymised"))  # added by revision 0006
        conn.execute(text("DROP INDEX uq_rejected_event_fingerprint"))  # added by revision 0008
        conn.execute(text("ALTER TABLE rejected_event DROP COLUMN fingerprint"))
        conn.execute(text("ALTER TABLE alert_state DROP COLUMN latest_deadline"))  # added by revision 0009
        conn.execute(text("ALTER TABLE subscription DROP COLUMN day"))  # added by revision 0010
        conn.execute(text("DROP INDEX ix_survey_conversation"))  # added by revision 0014
        conn.execute(text("DROP INDEX ix_conversation_team"))  # added by revision 0016, which also widened
        conn.execute(text("DROP INDEX ix_message_conversation"))
        conn.execute(text("CREATE INDEX ix_message_conversation ON message (conversation_id, at)"))
        conn.execute(text("INSERT INTO app_secret (name, value) VALUES ('kept', 'yes')"))

    with pytest.raises(SchemaBehind, match=f"at revision 0001 and this kpibot needs {HEAD}"):
        ensure_schema(engine)
    with engine.connect() as conn:
        assert current(conn) == schema.INITIAL_REVISION
    assert upgrade(engine) == ("0001", HEAD)

    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM app_secret WHERE name = 'kept'")).scalar_one() == "yes"
    assert _differences(engine) == []
    engine.dispose()


def test_a_database_at_an_older_revision_is_refused_until_db_upgrade_migrates_it_keeping_its_data(
    new_database_url, monkeypatch
):
    url = new_database_url(empty=True)
    engine = make_engine(url, create=False)
    upgrade(engine, "0001")  # as an earlier kpibot left it, with data
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO app_secret (name, value) VALUES ('kept', 'yes')"))
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()

    refused = runner.invoke(app, ["kpi", "frt"])
    with engine.connect() as conn:
        untouched = current(conn), "slack_delivery" in inspect(conn).get_table_names()
    upgraded = runner.invoke(app, ["db", "upgrade"])

    assert refused.exit_code == 2
    assert f"at revision 0001 and this kpibot needs {HEAD}: run `kpibot db upgrade`" in refused.output
    assert untouched == ("0001", False)
    assert (upgraded.exit_code, upgraded.output) == (0, f"upgraded revision 0001 → revision {HEAD}\n")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM app_secret WHERE name = 'kept'")).scalar_one() == "yes"
    assert _differences(engine) == []
    engine.dispose()


def test_a_database_from_a_newer_kpibot_is_refused_by_commands_with_exit_2(database_url, monkeypatch):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)

    outcome = CliRunner().invoke(app, ["kpi", "frt"])

    assert outcome.exit_code == 2
    assert (
        "revision f00d, which this kpibot doesn't know: it was migrated by a newer version" in outcome.output
    )
    assert "Traceback" not in outcome.output


def test_db_upgrade_creates_an_empty_database_then_says_it_is_up_to_date(new_database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", new_database_url(empty=True))
    runner = CliRunner()

    first, second = runner.invoke(app, ["db", "upgrade"]), runner.invoke(app, ["db", "upgrade"])
    shown = runner.invoke(app, ["db", "current"])

    assert (first.exit_code, first.output) == (0, f"upgraded empty database → revision {HEAD}\n")
    assert (second.exit_code, second.output) == (0, f"already at revision {HEAD} (newest)\n")
    assert shown.output == f"database: revision {HEAD} · this kpibot: revision {HEAD} · up to date\n"


def test_db_upgrade_of_an_unreachable_database_exits_2_without_showing_the_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://kpibot:s3cret@127.0.0.1:1/kpibot")

    outcome = CliRunner().invoke(app, ["db", "upgrade"])

    assert outcome.exit_code == 2
    assert (
        "upgrade of postgresql+psycopg://kpibot:***@127.0.0.1:1/kpibot failed, nothing changed"
        in outcome.output
    )
    assert "s3cret" not in outcome.output


def test_two_processes_opening_one_empty_database_at_once_both_get_the_schema(new_database_url):
    url = new_database_url(empty=True)

    outcomes = at_once(*[lambda: make_engine(url).dispose()] * 2)

    assert outcomes == [None, None]
    engine = make_engine(url, create=False)
    assert _differences(engine) == []
    engine.dispose()


def test_import_into_an_empty_database_creates_the_schema_first(new_database_url, monkeypatch):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "events.ndjson"
    url = new_database_url(empty=True)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("KPIBOT_PSEUDONYM_KEY", "test-key")

    outcome = CliRunner().invoke(app, ["import", str(example)])

    assert (outcome.exit_code, outcome.stdout.strip()) == (0, "imported 4, duplicates 0, rejected 0")
    engine = make_engine(url, create=False)
    with engine.connect() as conn:
        assert current(conn) == head()
    engine.dispose()


@pytest.mark.postgresql_only("a PostgreSQL planner setting")
def test_postgresql_connections_plan_each_query_for_its_own_date_range(engine):
    with engine.connect() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"


def _triggers(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = "SELECT DISTINCT trigger_name FROM information_schema.triggers"
    return {name for (name,) in conn.execute(text(query))}


def test_revision_0003_installs_the_kpi_day_triggers_and_its_downgrade_removes_them(new_database_url):
    engine = make_engine(new_database_url(empty=True), create=False)
    upgrade(engine, "0006")  # the last revision with kpi_day
    with engine.connect() as conn:
        installed = _triggers(conn)
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0002")
    with engine.connect() as conn:
        after_downgrade = _triggers(conn), "kpi_day" in inspect(conn).get_table_names()
    upgrade(engine)

    assert {"kpi_day_conversation_update", "kpi_day_wait_update"} <= installed
    events = ("insert", "delete", "update") if engine.dialect.name == "sqlite" else ("write", "update")
    tables = ("conversation", "wait")
    assert {name for name in installed if name.startswith("kpi_day")} == {
        f"kpi_day_{table}_{event}" for table in tables for event in events
    }
    assert after_downgrade == (set(), False)
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0004_notes_a_reassigned_conversation_of_a_closed_day_and_0003_did_not(new_database_url):
    engine = make_engine(new_database_url(empty=True), create=False)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversation (source, external_id, channel, opened_at, status, resolved, agent,"
                " reopen_count, transfer_count)"
                " VALUES ('t', 'c1', 'twitter', '2026-11-17 10:00:00', 'open', false, 'U1', 0, 0)"
            )
        )
        conn.execute(text("DELETE FROM kpi_day_stale"))

    def notes_after_reassigning(to: str) -> list[str]:
        with engine.begin() as conn:
            conn.execute(text("UPDATE conversation SET agent = :to"), {"to": to})
            days = [str(day)[:10] for (day,) in conn.execute(text("SELECT day FROM kpi_day_stale"))]
            conn.execute(text("DELETE FROM kpi_day_stale"))
        return days

    at_0006 = notes_after_reassigning("U2")
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0003")
    at_0003 = notes_after_reassigning("U3")
    upgrade(engine, "0006")

    assert (at_0006, at_0003) == (["2026-11-17"], [])
    assert notes_after_reassigning("U4") == ["2026-11-17"]
    engine.dispose()


def test_revision_0005_notes_the_hour_changed_todays_too_and_0004_noted_closed_days_only(new_database_url):
    engine = make_engine(new_database_url(empty=True), create=False)
    upgrade(engine, "0006")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    over, not_over = now - timedelta(hours=3), now + timedelta(hours=2)  # an hour that is over, one not yet
    with engine.begin() as conn:
        for name, opened in (("over", over), ("not-over", not_over)):
            conn.execute(
                text(
                    "INSERT INTO conversation (source, external_id, channel, opened_at, status, resolved,"
                    " agent, reopen_count, transfer_count)"
                    " VALUES ('t', :name, 'twitter', :opened, 'open', false, 'U1', 0, 0)"
                ),
                {"name": name, "opened": opened.isoformat(sep=" ")},
            )
        conn.execute(text("DELETE FROM kpi_day_stale"))

    def notes_after_reassigning(to: str, columns: str = "day, hour") -> list[tuple]:
        with engine.begin() as conn:
            conn.execute(text("UPDATE conversation SET agent = :to"), {"to": to})
            notes = conn.execute(text(f"SELECT {columns} FROM kpi_day_stale ORDER BY id")).all()
            conn.execute(text("DELETE FROM kpi_day_stale"))
        return [(str(day)[:10], *rest) for day, *rest in notes]

    at_0006 = notes_after_reassigning("U2")
    cached = {now.date(): "frt@01", now.date() - timedelta(days=10): "frt"}  # today's hour, an old day
    with engine.begin() as conn:
        for day, series in cached.items():
            conn.execute(
                text(
                    "INSERT INTO kpi_day (series, day, channel, seen, count, total, sorted_values)"
                    " VALUES (:series, :day, '', 0, 0, 0, :blob)"
                ),
                {"series": series, "day": day, "blob": b""},
            )
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0004")
    at_0004 = notes_after_reassigning("U3", columns="day")
    with engine.connect() as conn:
        kept = [str(day)[:10] for (day,) in conn.execute(text("SELECT day FROM kpi_day"))]
    upgrade(engine, "0006")

    assert at_0006 == [(over.date().isoformat(), over.hour)]  # by the hour, and never an hour not over
    # 0004 noted whole days that were over only: nothing for today's hours
    assert at_0004 == ([] if over.date() == now.date() else [(over.date().isoformat(),)])
    assert notes_after_reassigning("U4") == at_0006
    for agent in ("U5", "U6"):  # two changes to that hour, in two transactions
        with engine.begin() as conn:
            conn.execute(text("UPDATE conversation SET agent = :to"), {"to": agent})
    with engine.connect() as conn:
        notes = conn.execute(text("SELECT count(*) FROM kpi_day_stale")).scalar_one()
    # SQLite replaces the hour's note; PostgreSQL keeps one per transaction (writers never wait on a note)
    assert notes == (1 if engine.dialect.name == "sqlite" else 2)
    # 0004's triggers never note today: its cached hours are dropped by the downgrade, older days kept
    assert kept == [(now.date() - timedelta(days=10)).isoformat()]
    engine.dispose()


def test_revision_0007_notes_exactly_the_hours_0006_noted_under_the_new_names(new_database_url):
    """0007 writes the triggers out as plain SQL instead of assembling them: the same writes note the same
    hours."""
    engine = make_engine(new_database_url(empty=True), create=False)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    over, old, not_over = now - timedelta(hours=3), now - timedelta(days=2), now + timedelta(hours=2)
    conversation = (
        "INSERT INTO conversation (id, source, external_id, channel, opened_at, first_response_at, status,"
        " resolved, agent, reopen_count, transfer_count) VALUES (:id, 't', :name, 'twitter', :opened, :first,"
        " 'open', false, 'U1', 0, 0)"
    )
    writes = [
        (conversation, {"id": 1, "name": "c1", "opened": old, "first": None}),
        (conversation, {"id": 2, "name": "c2", "opened": not_over, "first": None}),  # live traffic: no note
        ("UPDATE conversation SET first_response_at = :at WHERE id = 1", {"at": over}),  # old hours, `over`
        ("UPDATE conversation SET agent = 'U2' WHERE id = 1", {}),  # a watched column: its hours
        ("UPDATE conversation SET status = 'pending' WHERE id = 1", {}),  # not watched: nothing
        ("UPDATE conversation SET opened_at = :at WHERE id = 2", {"at": over}),  # from not over into over
        (
            "INSERT INTO wait (conversation_id, channel, start_at, end_at, seconds)"
            " VALUES (1, 'twitter', :start, :end, 60)",
            {"start": old, "end": old + timedelta(minutes=1)},
        ),
        ("UPDATE wait SET seconds = 61", {}),
        ("UPDATE wait SET end_at = :at", {"at": over}),
        ("DELETE FROM wait", {}),
        ("DELETE FROM conversation", {}),
    ]

    def notes_of(table: str) -> list[set[tuple[str, int]]]:
        noted = []
        for statement, params in writes:
            with engine.begin() as conn:
                times = {k: str(v) for k, v in params.items() if isinstance(v, datetime)}
                conn.execute(text(statement), {**params, **times})
                rows = conn.execute(text(f"SELECT day, hour FROM {table}"))
                noted.append({(str(day)[:10], hour) for day, hour in rows})
                conn.execute(text(f"DELETE FROM {table}"))
        return noted

    upgrade(engine, "0006")
    at_0006 = notes_of("kpi_day_stale")
    upgrade(engine, "0007")
    with engine.connect() as conn:
        installed = {name for name in _triggers(conn) if name.startswith("kpi_")}
        tables = set(inspect(conn).get_table_names())
    at_0007 = notes_of("kpi_change_note")
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0006")
    back_at_0006 = notes_of("kpi_day_stale")
    upgrade(engine)

    hour = lambda at: (at.date().isoformat(), at.hour)  # noqa: E731
    assert at_0007 == at_0006 == back_at_0006
    both = {hour(old), hour(over)}
    assert at_0007[:6] == [{hour(old)}, set(), both, both, set(), {hour(over)}]
    assert at_0007[-2:] == [{hour(over)}, both]
    assert {"kpi_slot", "kpi_change_note"} <= tables and not {"kpi_day", "kpi_day_stale"} & tables
    assert installed and all(name.startswith("kpi_change") for name in installed)
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0008_gives_rows_kept_before_it_their_fingerprint_once_and_keeps_every_row(new_database_url):
    """A payload kept twice before 0008 stays twice (the older row identified); re-imported after the
    upgrade, it is not kept a third time."""
    from storage.ingest import Ingestor
    from storage.settings import Settings
    from tests.storage.builders import inbound

    url = new_database_url("before-0008", empty=True)
    engine = make_engine(url, create=False)
    upgrade(engine, "0007")
    ingestor = Ingestor(engine, Settings(database_url=url, pseudonym_key="test-key"), analyse_text=False)
    bad = json.dumps(inbound("m1", 0, channel="twiter"))
    kept = ingestor._kept("kpibot", 1, "old reason", bad, datetime.now(UTC))  # as ingestion keeps it
    insert = text(
        "INSERT INTO rejected_event (source, position, reason, payload, received_at, pseudonymised)"
        " VALUES ('kpibot', :position, 'old reason', :payload, '2026-12-01 10:00:00', :pseudonymised)"
    )
    with engine.begin() as conn:
        for position in (1, 4):  # the same payload kept twice: an import run twice (or the line moved)
            conn.execute(insert, {"position": position, "payload": kept["payload"], "pseudonymised": True})
        shape = "(not JSON: 4 characters, not kept)"
        conn.execute(insert, {"position": 2, "payload": shape, "pseudonymised": False})

    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, fingerprint FROM rejected_event ORDER BY id")).all()
    again = ingestor.ingest([(1, bad)])
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM rejected_event")).scalar_one()

    assert [row.id for row in rows] == [1, 2, 3]
    assert rows[0].fingerprint == kept["fingerprint"] and rows[1].fingerprint is None
    assert rows[2].fingerprint not in (None, kept["fingerprint"])
    assert (len(again.rejected), count) == (1, 3)
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0008_downgrade_drops_the_fingerprint_and_keeps_the_rows(new_database_url):
    engine = make_engine(new_database_url("at-0008", empty=True), create=False)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rejected_event (source, position, reason, payload, received_at, pseudonymised,"
                " fingerprint) VALUES ('kpibot', 1, 'why', '{}', '2026-12-01 10:00:00', false, 'f')"
            )
        )
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0007")
    with engine.connect() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("rejected_event")}
        count = conn.execute(text("SELECT count(*) FROM rejected_event")).scalar_one()
    upgrade(engine)

    assert "fingerprint" not in columns and count == 1
    assert _differences(engine) == []
    engine.dispose()


def test_the_head_known_without_alembic_is_alembic_s_head():
    assert schema.HEAD == ScriptDirectory.from_config(schema.alembic_config()).get_current_head() == HEAD


def test_opening_an_up_to_date_database_does_not_import_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    make_engine(url).dispose()  # created and migrated here
    code = (
        "import sys; from storage.db import make_engine; make_engine(sys.argv[1]).dispose(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'textblob', 'nltk')))"
    )
    root = Path(__file__).parents[2]
    loaded = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True, cwd=root
    )
    assert loaded.stdout.strip() == "[]"


def test_revision_0009_gives_stored_conversations_exactly_the_clocks_ingestion_projects(new_database_url):
    """Ingested at the head, taken down to 0008 (no clocks) and up again: the revision's replay gives the
    same clocks, and a later event notes its clocks' deadlines and end for the cache."""
    from storage.ingest import Ingestor
    from storage.settings import Settings
    from tests.storage.builders import inbound, reply, status

    url = new_database_url(empty=True)
    engine = make_engine(url)
    events = [
        inbound("a1", 0, conv="a"), reply("a2", 5, conv="a"), inbound("a3", 9, conv="a"),
        reply("a4", 20, conv="a"), status("a5", 30, "resolved", conv="a"),
        inbound("b1", 0, conv="b"),  # still open: a running first wait and resolution clock
        inbound("c1", 0, conv="c"), reply("c2", 3, conv="c"), status("c3", 10, "resolved", conv="c"),
        inbound("c4", 60, conv="c"), status("c5", 90, "closed", conv="c"),  # reopened, closed unanswered
    ]  # fmt: skip
    Ingestor(engine, Settings(database_url=url, pseudonym_key="k"), analyse_text=False).ingest(
        [(i, json.dumps(e)) for i, e in enumerate(events)]
    )
    clocks = "SELECT c.external_id, k.kind, k.seconds FROM sla_clock k JOIN conversation c"
    clocks += " ON c.id = k.conversation_id ORDER BY c.external_id, k.kind, k.start_at"

    def read():
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(clocks))]

    ingested = read()
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0008")
        gone = "sla_clock" not in inspect(conn).get_table_names()
        waits = tuple(conn.execute(text("SELECT count(*), count(end_at), sum(seconds) FROM wait")).one())
    upgrade(engine)
    filled = read()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM kpi_change_note"))
    late_reply = {**reply("b2", 0, conv="b"), "at": "2026-12-01T08:30:00Z"}
    Ingestor(engine, Settings(database_url=url, pseudonym_key="k"), analyse_text=False).ingest(
        [(99, json.dumps(late_reply))]
    )
    with engine.connect() as conn:
        noted = {
            (str(day)[:10], hour) for day, hour in conn.execute(text("SELECT day, hour FROM kpi_change_note"))
        }

    assert gone and filled == ingested
    # at 0008 the waits are back in `wait`: a's two, b's and c's first open or answered, c's unanswered open
    assert waits == (5, 3, 300.0 + 660.0 + 180.0)
    # b's clocks noted by ingestion itself: their deadlines (first response: the 3 h Twitter benchmark;
    # resolution: 24 h) and the reply ending the first
    assert {("2026-11-20", 12), ("2026-11-21", 9), ("2026-12-01", 8)} <= noted
    assert ingested == [
        ("a", "first", 300.0), ("a", "next", 660.0), ("a", "resolution", 1800.0),
        ("b", "first", None), ("b", "resolution", None),
        ("c", "first", 180.0), ("c", "next", None),  # unanswered: it ends at the close, with no length
        ("c", "resolution", 600.0), ("c", "resolution", 1800.0),
    ]  # fmt: skip
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0010_adds_the_digest_day_and_its_downgrade_drops_the_weekly_and_monthly_digests(
    new_database_url,
):
    """A daily digest made at 0009 keeps its row (no day); a weekly one made at 0010 goes on the way down,
    since an older kpibot could not schedule it."""
    engine = make_engine(new_database_url("at-0010", empty=True), create=False)
    upgrade(engine, "0009")
    row = "INSERT INTO subscription (kind, slack_channel, time, timezone, channels, created_by, created_at)"
    with engine.begin() as conn:
        conn.execute(text(row + " VALUES ('digest', 'C1', '09:00', 'UTC', '', 'U1', '2026-12-01 10:00:00')"))
    upgrade(engine)
    with engine.begin() as conn:
        kept = conn.execute(text("SELECT kind, day FROM subscription")).all()
        conn.execute(
            text(
                "INSERT INTO subscription (kind, slack_channel, time, timezone, channels, created_by,"
                " created_at, day) VALUES ('digest-weekly', 'C1', '09:00', 'UTC', '', 'U1',"
                " '2026-12-01 10:00:00', 0)"
            )
        )
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0009")
    with engine.connect() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("subscription")}
        left = conn.execute(text("SELECT kind, slack_channel FROM subscription")).all()
    upgrade(engine)

    assert [tuple(r) for r in kept] == [("digest", None)]
    assert "day" not in columns and [tuple(r) for r in left] == [("digest", "C1")]
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0011_gives_stored_reopenings_what_ingestion_gives_and_notes_their_hours(new_database_url):
    """Ingested at the head, taken down to 0010 (no reopening columns) and up again: the stored
    resolution clocks get exactly the `reopened_from` and `reopen_gap` ingestion gave them, and the hours
    of the reopenings are noted for the KPI cache."""
    from storage.ingest import Ingestor
    from storage.settings import Settings
    from tests.storage.builders import inbound, status

    url = new_database_url(empty=True)
    engine = make_engine(url)
    events = [
        inbound("a1", 0, conv="a"), status("a2", 10, "resolved", conv="a"),
        inbound("a3", 130, conv="a"), status("a4", 200, "closed", conv="a"),  # reopened 2 h after
        status("a5", 1500, "open", conv="a"),  # and again, by a status, 1300 min after the close
        inbound("b1", 0, conv="b"), status("b2", 10, "resolved", conv="b"),  # never reopened
    ]  # fmt: skip
    Ingestor(engine, Settings(database_url=url, pseudonym_key="k"), analyse_text=False).ingest(
        [(i, json.dumps(e)) for i, e in enumerate(events)]
    )
    clocks = "SELECT c.external_id, k.start_at, k.reopened_from, k.reopen_gap FROM sla_clock k"
    clocks += " JOIN conversation c ON c.id = k.conversation_id WHERE k.kind = 'resolution'"
    clocks += " ORDER BY c.external_id, k.start_at"

    def read():
        with engine.connect() as conn:
            return [
                (row[0], str(row[1])[:16], str(row[2])[:16], row[3]) for row in conn.execute(text(clocks))
            ]

    ingested = read()
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0010")
        gone = "reopened_from" not in {c["name"] for c in inspect(conn).get_columns("sla_clock")}
        conn.execute(text("DELETE FROM kpi_change_note"))
    upgrade(engine)
    filled = read()
    with engine.connect() as conn:
        noted = {
            (str(day)[:10], hour) for day, hour in conn.execute(text("SELECT day, hour FROM kpi_change_note"))
        }

    assert gone and filled == ingested
    assert ingested == [
        ("a", "2026-11-20 09:00", "None", None),
        ("a", "2026-11-20 11:10", "2026-11-20 09:10", 7200.0),
        ("a", "2026-11-21 10:00", "2026-11-20 12:20", 78000.0),
        ("b", "2026-11-20 09:00", "None", None),
    ]
    assert {("2026-11-20", 11), ("2026-11-21", 10)} <= noted
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0012_adds_the_anomaly_posts_and_its_downgrade_drops_them_and_the_anomaly_alerts(
    new_database_url,
):
    """An anomaly alert and its posts made at 0012 go on the way down (an older kpibot could not schedule
    it); the backlog alert beside it stays."""
    engine = make_engine(new_database_url("at-0012", empty=True), create=False)
    upgrade(engine)
    row = "INSERT INTO subscription (kind, slack_channel, channels, created_by, created_at)"
    with engine.begin() as conn:
        for kind in ("alert", "anomaly"):
            conn.execute(text(row + f" VALUES ('{kind}', 'C1', '', 'U1', '2026-12-01 10:00:00')"))
        conn.execute(
            text(
                "INSERT INTO anomaly_post (subscription_id, channel, signal, kind, episode, post,"
                " window_start, window_end, value, usual, scale, posted_at)"
                " VALUES (2, 'x', 'volume', 'fire', 1, 1, '2026-12-01 09:00:00', '2026-12-01 10:00:00',"
                " 142, 46, 4.6, '2026-12-01 10:00:00')"
            )
        )
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0011")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        left = conn.execute(text("SELECT kind FROM subscription")).scalars().all()
    upgrade(engine)
    with engine.connect() as conn:
        again = conn.execute(text("SELECT count(*) FROM anomaly_post")).scalar_one()

    assert "anomaly_post" not in tables and left == ["alert"]
    assert again == 0
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0013_notes_per_statement_exactly_the_hours_0012_noted_per_row(new_database_url):
    """The same writes to `conversation` (single rows, several rows in one statement, an update of a
    column no KPI reads, the bulk update an import makes) note the same hours before and after 0013, and
    after its downgrade. On PostgreSQL 0013 replaces the row triggers by statement-level ones."""
    from storage.bulk import bulk_update
    from storage.models import Conversation

    engine = make_engine(new_database_url(empty=True), create=False)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    over, old, older = now - timedelta(hours=3), now - timedelta(days=2), now - timedelta(days=5)
    not_over = now + timedelta(hours=2)
    row = "(:id{n}, 't', :name{n}, 'twitter', :opened{n}, :first{n}, 'open', false, 'U1', 0, 0)"
    head_sql = (
        "INSERT INTO conversation (id, source, external_id, channel, opened_at, first_response_at, status,"
        " resolved, agent, reopen_count, transfer_count) VALUES "
    )

    def rows(*specs):
        sql = head_sql + ", ".join(row.format(n=n) for n in range(len(specs)))
        params = {}
        for n, (cid, opened, first) in enumerate(specs):
            params.update({f"id{n}": cid, f"name{n}": f"c{cid}", f"opened{n}": opened, f"first{n}": first})
        return sql, params

    def bulk(conn):  # as an import's rebuild writes: one call, several rows, one of them unchanged
        table = Conversation.__table__
        bulk_update(
            conn,
            table,
            "id",
            [
                {"id": 1, "frt_seconds": 90.0, "first_response_at": over, "status": "open"},
                {"id": 3, "frt_seconds": None, "first_response_at": None, "status": "pending"},
                {"id": 4, "frt_seconds": 5, "first_response_at": old, "status": "open"},
            ],
        )

    writes = [
        rows((1, old, None)),
        rows((2, not_over, None)),  # live traffic: no note
        rows((3, older, None), (4, older, None), (5, old, older)),  # one statement, three rows
        ("UPDATE conversation SET first_response_at = :at WHERE id = 1", {"at": over}),
        ("UPDATE conversation SET agent = 'U2' WHERE id IN (1, 5)", {}),  # a watched column: their hours
        ("UPDATE conversation SET status = 'pending'", {}),  # not watched: nothing
        ("UPDATE conversation SET opened_at = :at WHERE id = 2", {"at": over}),  # from not over into over
        bulk,
        ("DELETE FROM conversation WHERE id IN (4, 5)", {}),
        ("DELETE FROM conversation", {}),
    ]

    def notes() -> list[set[tuple[str, int]]]:
        noted = []
        for write in writes:
            with engine.begin() as conn:
                if callable(write):
                    write(conn)
                else:
                    statement, params = write
                    texts = {k: str(v) for k, v in params.items() if isinstance(v, datetime)}
                    conn.execute(text(statement), {**params, **texts})
                found = conn.execute(text("SELECT day, hour FROM kpi_change_note"))
                noted.append({(str(day)[:10], hour) for day, hour in found})
                conn.execute(text("DELETE FROM kpi_change_note"))
        return noted

    upgrade(engine, "0012")
    at_0012 = notes()
    upgrade(engine, "0013")
    with engine.connect() as conn:
        installed = {name for name in _triggers(conn) if name.startswith("kpi_change_conversation")}
    at_0013 = notes()
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0012")
    back_at_0012 = notes()
    upgrade(engine)

    hour = lambda at: (at.date().isoformat(), at.hour)  # noqa: E731
    assert at_0013 == at_0012 == back_at_0012
    assert at_0013 == [
        {hour(old)},
        set(),
        {hour(older), hour(old)},
        {hour(old), hour(over)},
        {hour(old), hour(over), hour(older)},
        set(),
        {hour(over)},
        {hour(old), hour(over), hour(older)},  # 1 leaves `over`; 3 changes nothing watched; 4 gets `old`
        {hour(older), hour(old)},
        {hour(old), hour(over), hour(older)},
    ]
    if engine.dialect.name == "postgresql":
        assert installed == {f"kpi_change_conversation_{event}" for event in ("insert", "delete", "update")}
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0014_notes_a_changed_customer_and_a_new_owners_survey_answers_and_0013_did_not(
    new_database_url,
):
    """From 0014 a conversation whose customer changed notes its hours (the cached repeat contacts), and
    one whose owner changed notes the hours of its survey answers too (the cached CSAT per owner); at
    0013, and after 0014's downgrade, neither does (the owner change notes the conversation's own hours
    only)."""
    engine = make_engine(new_database_url(empty=True), create=False)
    upgrade(engine, "0013")
    opened = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=3)
    answered = opened + timedelta(days=1, hours=2)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw_event (id, source, external_id, type, event_at, received_at, body)"
                " VALUES (1, 't', 'v1', 'survey', :at, :at, '{}')"
            ),
            {"at": str(opened)},
        )
        conn.execute(
            text(
                "INSERT INTO conversation (id, source, external_id, channel, opened_at, status, resolved,"
                " customer, agent, reopen_count, transfer_count)"
                " VALUES (1, 't', 'c1', 'twitter', :at, 'open', false, 'a', 'U1', 0, 0)"
            ),
            {"at": str(opened)},
        )
        conn.execute(
            text(
                "INSERT INTO survey (raw_event_id, conversation_id, channel, kind, score, at)"
                " VALUES (1, 1, 'twitter', 'csat', 5, :at)"
            ),
            {"at": str(answered)},
        )
        conn.execute(text("DELETE FROM kpi_change_note"))

    def notes_after(column: str, value: str) -> set[tuple[str, int]]:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE conversation SET {column} = :value"), {"value": value})
            found = conn.execute(text("SELECT day, hour FROM kpi_change_note"))
            noted = {(str(day)[:10], hour) for day, hour in found}
            conn.execute(text("DELETE FROM kpi_change_note"))
        return noted

    hour = lambda at: (at.date().isoformat(), at.hour)  # noqa: E731
    at_0013 = notes_after("customer", "b"), notes_after("agent", "U2")
    upgrade(engine, "0014")
    at_0014 = notes_after("customer", "c"), notes_after("agent", "U3")
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0013")
    back_at_0013 = notes_after("customer", "d"), notes_after("agent", "U4")
    upgrade(engine)

    assert at_0013 == back_at_0013 == (set(), {hour(opened)})
    assert at_0014 == ({hour(opened)}, {hour(opened), hour(answered)})
    assert notes_after("first_responder", "U5") == {hour(opened), hour(answered)}
    engine.dispose()


def test_revision_0015_deletes_the_repeat_contacts_kept_in_table_order_and_nothing_else(new_database_url):
    """The cached contacts are kept in customer order from 0015 on; rows kept before are deleted (computed
    again when next asked), the other measures' rows stay."""
    engine = make_engine(new_database_url(empty=True), create=False)
    upgrade(engine, "0014")
    with engine.begin() as conn:
        for measure in ("contacts", "frt"):
            conn.execute(
                text(
                    "INSERT INTO kpi_slot (measure, day, hour, channel, seen, count, total, payload)"
                    " VALUES (:measure, '2026-11-19', -1, '', 0, 1, 0, :payload)"
                ),
                {"measure": measure, "payload": b"\x00" * 4},
            )
    upgrade(engine, "0015")
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT measure FROM kpi_slot")).scalars().all()

    assert kept == ["frt"]
    upgrade(engine)
    assert _differences(engine) == []
    engine.dispose()


def test_revision_0016_notes_the_hours_of_a_conversations_rows_when_its_team_changes(new_database_url):
    """From 0016 a new team notes the hours of the conversation's own times, its messages', its clocks' and
    its survey answers' (the cache's rows per team: storage.kpi_cache.labelled); at 0015, and after 0016's
    downgrade, a team change notes nothing."""
    engine = make_engine(new_database_url(empty=True), create=False)
    upgrade(engine, "0015")
    opened = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=5)
    said, answered, replied = (opened + timedelta(days=n, hours=n) for n in (1, 2, 3))
    times = {"opened": str(opened), "said": str(said), "answered": str(answered), "replied": str(replied)}
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO raw_event (id, source, external_id, type, event_at, received_at, body)"
            " VALUES (1, 't', 'v1', 'survey', :opened, :opened, '{}'),"
            " (2, 't', 'm1', 'message', :said, :said, '{}')",
            "INSERT INTO conversation (id, source, external_id, channel, opened_at, status, resolved,"
            " reopen_count, transfer_count) VALUES (1, 't', 'c1', 'twitter', :opened, 'open', false, 0, 0)",
            "INSERT INTO survey (raw_event_id, conversation_id, channel, kind, score, at)"
            " VALUES (1, 1, 'twitter', 'csat', 5, :answered)",
            "INSERT INTO message (raw_event_id, conversation_id, channel, direction, author_kind, private,"
            " at) VALUES (2, 1, 'twitter', 'inbound', 'customer', false, :said)",
            "INSERT INTO sla_clock (conversation_id, channel, kind, start_at, end_at)"
            " VALUES (1, 'twitter', 'first', :opened, :replied)",
        ):
            conn.execute(text(statement), times)
        conn.execute(text("DELETE FROM kpi_change_note"))

    def notes_after(team: str) -> set[tuple[str, int]]:
        with engine.begin() as conn:
            conn.execute(text("UPDATE conversation SET team = :team"), {"team": team})
            noted = {
                (str(day)[:10], hour)
                for day, hour in conn.execute(text("SELECT day, hour FROM kpi_change_note"))
            }
            conn.execute(text("DELETE FROM kpi_change_note"))
        return noted

    hour = lambda at: (at.date().isoformat(), at.hour)  # noqa: E731
    at_0015 = notes_after("t1")
    upgrade(engine, "0016")
    at_0016 = notes_after("t2")
    with schema.schema_change(engine) as conn:
        command.downgrade(schema.alembic_config(conn), "0015")
    back_at_0015 = notes_after("t3")
    upgrade(engine)

    assert at_0015 == back_at_0015 == set()
    assert at_0016 == {hour(opened), hour(said), hour(answered), hour(replied)}
    assert notes_after(None) == at_0016
    assert _differences(engine) == []
    engine.dispose()
