"""`kpibot digest|alert|intake list|add|off`: the terminal twins of the settings commands, on the same
tables Slack's commands change, so a whole setup can be scripted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_engine, session
from storage.intake import list_intakes
from storage.subscriptions import list_subscriptions


@pytest.fixture
def kpibot(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*words: str):
        return runner.invoke(app, list(words))

    return run


def stored(database_url: str):
    engine = make_engine(database_url)
    try:
        with session(engine) as db:
            return list_subscriptions(db), {i.slack_channel: i.channel for i in list_intakes(db)}
    finally:
        engine.dispose()


def test_a_digest_added_listed_and_turned_off_from_the_terminal(kpibot, database_url):
    empty = kpibot("digest", "list")
    added = kpibot("digest", "add", "c0123abcd", "9:05", "Europe/Paris", "x", "facebook")
    listed = kpibot("digest", "list")
    (subscription,), _ = stored(database_url)
    off = kpibot("digest", "off", "#C0123ABCD")

    assert " ".join(empty.stdout.split()) == (
        "No digests yet. An admin can add one with kpibot digest add C0123ABCD 09:00 "
        "(or weekly mon 09:00, monthly 1 09:00)."
    )
    assert added.exit_code == 0
    assert (
        added.stdout.strip() == "Done: daily digest in #C0123ABCD at 09:05 (Europe/Paris), twitter, facebook."
    )
    assert (subscription.kind, subscription.slack_channel, subscription.time, subscription.timezone) == (
        "digest",
        "C0123ABCD",
        "09:05",
        "Europe/Paris",
    )
    assert (subscription.channel_list, subscription.created_by) == (("twitter", "facebook"), "terminal")
    assert "(set from the terminal) — next " in " ".join(listed.stdout.split())
    assert off.stdout.strip() == "The daily digest in #C0123ABCD is off."
    assert stored(database_url)[0] == []


def test_a_weekly_and_a_monthly_digest_from_the_terminal_beside_the_daily_one(kpibot, database_url):
    kpibot("digest", "add", "C0123ABCD", "09:00", "Europe/Paris")
    weekly = kpibot("digest", "add", "C0123ABCD", "weekly", "fri", "17:00", "Europe/Paris", "x")
    monthly = kpibot("digest", "add", "C0123ABCD", "monthly", "1", "08:00", "UTC")
    stored_kinds = sorted((s.kind, s.day, s.time) for s in stored(database_url)[0])
    listed = " ".join(kpibot("digest", "list").stdout.split())
    daily_off = kpibot("digest", "off", "C0123ABCD")
    weekly_off = kpibot("digest", "off", "C0123ABCD", "weekly")

    assert weekly.exit_code == 0, weekly.output
    assert (
        weekly.stdout.strip()
        == "Done: weekly digest in #C0123ABCD, Fridays at 17:00 (Europe/Paris), twitter."
    )
    assert " ".join(monthly.stdout.split()) == (
        "Done: monthly digest in #C0123ABCD, on the 1st of each month at 08:00 (UTC), all channels."
    )
    assert stored_kinds == [
        ("digest", None, "09:00"),
        ("digest-monthly", 1, "08:00"),
        ("digest-weekly", 4, "17:00"),
    ]
    assert listed.startswith("Digests • daily digest in #C0123ABCD at 09:00")
    assert (
        "• weekly digest in #C0123ABCD, Fridays at 17:00 (Europe/Paris), twitter (set from the terminal)"
        in listed
    )
    assert daily_off.stdout.strip() == "The daily digest in #C0123ABCD is off."
    assert weekly_off.stdout.strip() == "The weekly digest in #C0123ABCD is off."
    assert [s.kind for s in stored(database_url)[0]] == ["digest-monthly"]


def test_a_digest_without_a_zone_takes_the_workspace_zone(kpibot, database_url, monkeypatch):
    monkeypatch.setenv("KPIBOT_TZ", "America/New_York")
    kpibot("digest", "add", "C0123ABCD", "08:00")
    (subscription,), _ = stored(database_url)
    assert subscription.timezone == "America/New_York"


def test_an_alert_added_from_the_terminal_has_its_threshold_and_age(kpibot, database_url):
    added = kpibot("alert", "add", "G0PRIVATE", "5", "4h", "instagram")
    (subscription,), _ = stored(database_url)

    assert added.exit_code == 0, added.output
    assert (subscription.kind, subscription.slack_channel, subscription.threshold) == (
        "alert",
        "G0PRIVATE",
        5,
    )
    assert (subscription.max_age_seconds, subscription.channel_list) == (4 * 3600, ("instagram",))
    assert "backlog alert in #G0PRIVATE when 5 or more" in " ".join(kpibot("alert", "list").stdout.split())


def test_an_intake_channel_added_and_turned_off_from_the_terminal(kpibot, database_url):
    added = kpibot("intake", "add", "C0SUPPORT", "ig")
    _, intakes = stored(database_url)
    listed = kpibot("intake", "list")
    off = kpibot("intake", "off", "C0SUPPORT")

    assert added.exit_code == 0 and added.stdout.startswith("Done: messages in #C0SUPPORT are now instagram")
    assert intakes == {"C0SUPPORT": "instagram"}
    assert "#C0SUPPORT → instagram" in listed.stdout
    assert off.stdout.startswith("#C0SUPPORT is no longer an intake channel")
    assert stored(database_url)[1] == {}


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (("digest", "add", "C0123ABCD", "25:00"), "error: 25:00 is not a time of day: use HH:MM"),
        (("digest", "add", "C0123ABCD", "09:00", "Mars/Base"), "error: unknown time zone Mars/Base"),
        (("alert", "add", "C0123ABCD", "0"), "error: the backlog size to alert on must be at least 1"),
        (("intake", "add", "C0123ABCD", "twiter"), "error: unknown channel twiter — did you mean twitter?"),
        (("digest", "add", "C0123ABCD", "09:00", "twiter"), "error: unknown word twiter in /kpi digest"),
        (
            ("digest", "add", "C0123ABCD", "monthly", "31", "09:00"),
            "error: 31: a monthly digest runs on a day",
        ),
        (
            ("digest", "add", "C0123ABCD", "weekly", "funday", "09:00"),
            "error: funday is not a day of the week",
        ),
        (("digest", "add", "C0123ABCD", "weekly", "mon"), "error: a weekly digest needs a time of day"),
    ],
)
def test_bad_settings_exit_2_with_the_reason_and_change_nothing(kpibot, database_url, words, message):
    result = kpibot(*words)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert stored(database_url) == ([], {})


def test_a_channel_that_is_not_a_slack_id_is_a_usage_error(kpibot, database_url):
    result = kpibot("digest", "add", "support-team", "09:00")
    assert result.exit_code == 2
    assert "'support-team' is not a Slack channel id" in " ".join(result.stderr.split())
    assert stored(database_url) == ([], {})


def test_digest_without_preview_or_action_says_what_exists(kpibot):
    result = kpibot("digest")
    assert result.exit_code == 2
    assert "kpibot digest --preview" in result.stderr and "kpibot digest list|add|off" in result.stderr
