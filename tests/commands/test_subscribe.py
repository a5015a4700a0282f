"""The admin settings grammar: `/kpi digest …` and `/kpi alert …` read into SettingsRequest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.errors import UsageError
from commands.subscribe import SettingsRequest, is_settings_command, parse_settings
from storage.settings import Settings
from tests.fuzzing import FUZZ, odd_text


@pytest.fixture
def settings() -> Settings:
    return Settings(backlog_threshold_seconds=86400.0)


def parse(text: str, settings: Settings) -> SettingsRequest:
    return parse_settings(text, settings, here="C1")


def test_settings_words_are_told_apart_from_kpi_questions():
    assert [is_settings_command(t) for t in ("digest off", "Alert list", "intake", "frt", "")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_digest_here_with_time_zone_and_channel_aliases(settings):
    request = parse("digest here 9:05 Europe/Paris ig x", settings)

    assert request == SettingsRequest(
        "digest", "set", "C1", time="09:05", timezone="Europe/Paris", channels=("instagram", "twitter")
    )


def test_digest_for_a_linked_channel_without_zone_leaves_the_zone_to_the_admin(settings):
    request = parse("digest <#C0SUPPORT|support-leads> 18:30 twitter all", settings)

    # `all` wins over named channels: () means every channel
    assert request == SettingsRequest("digest", "set", "C0SUPPORT", time="18:30", timezone=None, channels=())


def test_alert_reads_count_and_age_and_defaults_to_one_conversation_past_the_backlog_threshold(settings):
    # 90m = 5,400 s; without an age the configured backlog threshold (24 h = 86,400 s) is used
    assert parse("alert backlog 12 90m here", settings) == SettingsRequest(
        "alert", "set", "C1", threshold=12, max_age_seconds=5400.0
    )
    assert parse("alert backlog", settings) == SettingsRequest(
        "alert", "set", "C1", threshold=1, max_age_seconds=86400.0
    )


def test_off_names_a_channel_and_list_is_workspace_wide(settings):
    assert parse("digest off <#C7>", settings) == SettingsRequest("digest", "off", "C7")
    assert parse("alert OFF", settings) == SettingsRequest("alert", "off", "C1")
    assert parse("digest list", settings).action == "list"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("digest here", "a digest needs a time of day, like `/kpi digest here 09:00 Europe/Paris`"),
        ("digest here 25:00", "`25:00` is not a time of day: use HH:MM, from 00:00 to 23:59"),
        (
            "digest here 09:00 Mars/Olympus",
            "unknown time zone `Mars/Olympus` — use a name like `Europe/Paris` or `UTC`",
        ),
        ("digest here 09:00 twiter", "unknown word `twiter` in `/kpi digest` — did you mean `twitter`?"),
        ("alert backlog 0", "the backlog size to alert on must be at least 1, like `/kpi alert backlog 5`"),
        ("alert backlog 0h", "the waiting time to alert on must be more than 0, like `4h`"),
        ("alert backlogg 5", "unknown word `backlogg` in `/kpi alert` — did you mean `backlog`?"),
        ("digest #support 09:00", "I can't read `#support` as a Slack channel"),
    ],
)
def test_unreadable_settings_commands_say_what_is_wrong(settings, text, message):
    with pytest.raises(UsageError) as raised:
        parse(text, settings)

    assert raised.value.message.startswith(message)


def test_weekly_and_monthly_digests_read_their_day(settings):
    assert parse("digest here weekly mon 09:00 Europe/Paris x", settings) == SettingsRequest(
        "digest-weekly", "set", "C1", time="09:00", timezone="Europe/Paris", channels=("twitter",), day=0
    )
    assert parse("digest weekly Friday 17:30", settings).day == 4
    assert parse("digest <#C7> monthly 28 8:00", settings) == SettingsRequest(
        "digest-monthly", "set", "C7", time="08:00", day=28
    )
    assert parse("digest here daily 09:00", settings) == SettingsRequest("digest", "set", "C1", time="09:00")


def test_off_names_the_cadence_and_without_one_turns_off_the_daily_digest(settings):
    assert parse("digest off weekly here", settings) == SettingsRequest("digest-weekly", "off", "C1")
    assert parse("digest off <#C7> monthly", settings) == SettingsRequest("digest-monthly", "off", "C7")
    assert parse("digest off here", settings) == SettingsRequest("digest", "off", "C1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "digest here weekly funday 09:00",
            "`funday` is not a day of the week: use mon, tue, wed, thu, fri, sat or sun",
        ),
        ("digest here weekly 09:00", "a weekly digest needs a day of the week, like"),
        ("digest here weekly", "a weekly digest needs a day of the week, like"),
        ("digest here weekly mo 09:00", "`mo` is not a day of the week"),
        (
            "digest here monthly 31 09:00",
            "`31`: a monthly digest runs on a day from 1 to 28, so that it comes every month (February has"
            " 28 days)",
        ),
        ("digest here monthly 29 09:00", "`29`: a monthly digest runs on a day from 1 to 28"),
        ("digest here monthly 0 09:00", "`0`: a monthly digest runs on a day from 1 to 28"),
        ("digest here monthly first 09:00", "a monthly digest needs a day of the month from 1 to 28"),
        ("digest here monthly 09:00", "a monthly digest needs a day of the month from 1 to 28"),
        ("digest here monthly ² 09:00", "a monthly digest needs a day of the month from 1 to 28"),
        (
            "digest here weekly mon",
            "a weekly digest needs a time of day, like `/kpi digest here weekly mon 09:00",
        ),
        (
            "digest here monthly 1",
            "a monthly digest needs a time of day, like `/kpi digest here monthly 1 09:00",
        ),
        ("digest here weekyl mon 09:00", "unknown word `weekyl` in `/kpi digest` — did you mean `weekly`?"),
    ],
)
def test_unreadable_cadences_say_what_is_wrong(settings, text, message):
    with pytest.raises(UsageError) as raised:
        parse(text, settings)

    assert raised.value.message.startswith(message)


def test_my_digest_is_weekly_on_monday_at_nine_unless_told(settings):
    # the Slack user it goes to is the asker, filled in by bot/settings_commands.py
    assert parse("digest me weekly", settings) == SettingsRequest(
        "digest-me", "set", "", time="09:00", timezone=None, day=0
    )
    assert parse("digest me weekly fri 17:30 Europe/Paris", settings) == SettingsRequest(
        "digest-me", "set", "", time="17:30", timezone="Europe/Paris", day=4
    )
    assert parse("digest me off", settings) == SettingsRequest("digest-me", "off", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("digest me", "your own digest is weekly: `/kpi digest me weekly [mon 09:00] [Europe/Paris]`"),
        ("digest me monthly 1 09:00", "your own digest is weekly"),
        ("digest me weekly funday", "unknown word `funday` in `/kpi digest me`"),
        ("digest me weekly 25:00", "unknown word `25:00` in `/kpi digest me`"),
    ],
)
def test_unreadable_my_digest_says_what_is_wrong(settings, text, message):
    with pytest.raises(UsageError) as raised:
        parse(text, settings)

    assert raised.value.message.startswith(message)


_WORDS = st.sampled_from(
    ["weekly", "monthly", "daily", "me", "off", "mon", "Friday", "1", "28", "29", "0", "09:00", "UTC", "here"]
)


@FUZZ
@given(st.lists(st.one_of(_WORDS, odd_text.filter(lambda word: word.strip() == word and word)), max_size=6))
def test_any_digest_words_are_read_or_refused_with_a_usage_error(words):
    # e.g. `monthly ²`: "²".isdigit() is true, yet int("²") raises ValueError
    try:
        request = parse_settings(" ".join(["digest", *words]), Settings(), here="C1")
    except UsageError:
        return
    assert request.kind.startswith("digest")
    assert request.day is None or 0 <= request.day <= 28


def test_a_backlog_size_in_other_digits_is_a_usage_error_not_a_crash(settings):
    # "²".isdigit() is true, yet int("²") raises ValueError: only ASCII digits are a count
    with pytest.raises(UsageError):
        parse("alert backlog ² here", settings)
    assert parse("alert backlog 12 here", settings).threshold == 12


@FUZZ
@given(st.lists(odd_text.filter(lambda word: word.strip() == word and word), max_size=5))
def test_any_alert_words_are_read_or_refused_with_a_usage_error(words):
    try:
        request = parse_settings(" ".join(["alert", "backlog", *words]), Settings(), here="C1")
    except UsageError:
        return
    assert request.kind == "alert" and (request.threshold is None or request.threshold >= 1)
