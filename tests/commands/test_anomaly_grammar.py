"""`/kpi alert anomalies …`: where the alert posts and which support channels it watches, read like the
other alerts' words; anything else is a usage error naming the word."""

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
    return Settings(
        database_url="sqlite://", channels=["twitter", "instagram"], channel_aliases={"x": "twitter"}
    )


def test_anomalies_here_in_a_linked_channel_for_some_support_channels(settings):
    assert is_settings_command("alert anomalies here")
    assert parse_settings("alert anomalies here", settings, here="C1") == SettingsRequest(
        "anomaly", "set", "C1"
    )
    assert parse_settings("alert anomaly <#C9|support> x instagram", settings, here="C1") == SettingsRequest(
        "anomaly", "set", "C9", channels=("twitter", "instagram")
    )
    assert parse_settings("alert Anomalies instagram all", settings, here="C1").channels == ()


def test_off_names_the_channel_and_list_lists_every_alert(settings):
    assert parse_settings("alert anomalies off <#C9>", settings, here="C1") == SettingsRequest(
        "anomaly", "off", "C9"
    )
    assert parse_settings("alert anomalies off", settings, here="C1").slack_channel == "C1"
    assert parse_settings("alert anomalies list", settings, here="C1").action == "list"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "alert anomalies here instagrm",
            "unknown word `instagrm` in `/kpi alert` — did you mean `instagram`?",
        ),
        ("alert anomalies #support", "I can't read `#support` as a Slack channel"),
        ("alert anomalies 5", "unknown word `5` in `/kpi alert`"),
        ("alert anomalis", "unknown word `anomalis` in `/kpi alert` — did you mean `anomalies`?"),
    ],
)
def test_unreadable_anomaly_alerts_say_what_is_wrong(settings, text, message):
    with pytest.raises(UsageError) as error:
        parse_settings(text, settings, here="C1")
    assert message in error.value.message


@FUZZ
@given(st.lists(odd_text.filter(lambda word: word.strip() == word and word), max_size=5))
def test_any_anomaly_alert_words_are_read_or_refused_with_a_usage_error(words):
    settings = Settings(database_url="sqlite://", channels=["twitter", "instagram"])
    try:
        request = parse_settings(" ".join(["alert", "anomalies", *words]), settings, here="C1")
    except UsageError:
        return
    assert request.kind == "anomaly" and set(request.channels) <= {"twitter", "instagram"}
    assert request.action in ("set", "off", "list")
