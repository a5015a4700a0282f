from datetime import UTC, datetime

import pytest

from commands.errors import UsageError
from commands.parse import METRIC_NAMES, METRICS, KpiRequest, help_text, parse_command
from commands.periods import resolve_period
from storage.settings import BusinessHours, Settings

# Wednesday 2026-11-18, 11:30 in Paris
NOW = datetime(2026, 11, 18, 10, 30, tzinfo=UTC)
OPEN_WEEKDAYS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def settings(monkeypatch):
    monkeypatch.delenv("KPIBOT_CONFIG", raising=False)
    return Settings(_env_file=None, tz="Europe/Paris")


def parse(text, settings, **kwargs) -> KpiRequest:
    return parse_command(text, settings, NOW, **kwargs)


def usage_error(text, settings, **kwargs) -> UsageError:
    with pytest.raises(UsageError) as caught:
        parse(text, settings, **kwargs)
    return caught.value


def test_empty_command_is_the_seven_day_scorecard_for_all_channels(settings):
    request = parse("   ", settings)
    assert request == KpiRequest(
        "scorecard", (), resolve_period("7d", NOW, settings.zone), "7d", None, False, False
    )


def test_metric_then_channel(settings):
    request = parse("frt twitter", settings)
    assert (request.metric, request.channels, request.period_word) == ("frt", ("twitter",), "7d")


def test_words_after_the_metric_may_come_in_any_order(settings):
    one = parse(
        "frt 30d by channel public twitter bh",
        settings.model_copy(update={"business_hours": BusinessHours(hours=OPEN_WEEKDAYS)}),
    )
    other = parse(
        "FRT Twitter BH public By Channel 30D",
        settings.model_copy(update={"business_hours": BusinessHours(hours=OPEN_WEEKDAYS)}),
    )
    assert one == other
    assert (one.metric, one.channels, one.period_word, one.by, one.business_hours, one.public) == (
        "frt",
        ("twitter",),
        "30d",
        "channel",
        True,
        True,
    )


def test_aliases_name_their_channels_and_duplicates_collapse(settings):
    # x -> twitter, fb and messenger -> facebook (once), ig -> instagram, wa -> whatsapp
    request = parse("volume x fb ig messenger wa twitter", settings)
    assert request.channels == ("twitter", "facebook", "instagram", "whatsapp")


def test_channels_may_be_separated_by_commas(settings):
    assert parse("frt twitter,facebook", settings).channels == ("twitter", "facebook")


def test_aliases_and_channels_come_from_settings(settings):
    custom = settings.model_copy(
        update={"channels": ["twitter", "chat"], "channel_aliases": {"tw": "twitter"}}
    )
    assert parse("frt tw chat", custom).channels == ("twitter", "chat")
    assert usage_error("frt facebook", custom).message == "unknown word `facebook`"


def test_all_means_every_channel_even_beside_a_named_one(settings):
    assert parse("frt all", settings).channels == ()
    assert parse("frt twitter all", settings).channels == ()


def test_a_command_starting_with_a_channel_gets_the_default_metric(settings):
    assert parse("twitter", settings).metric == "scorecard"
    sentiment = parse("instagram 30d", settings, default_metric="sentiment")
    assert (sentiment.metric, sentiment.channels, sentiment.period_word) == (
        "sentiment",
        ("instagram",),
        "30d",
    )


def test_a_metric_after_a_channel_is_still_understood(settings):
    assert parse("twitter frt", settings).metric == "frt"


def test_metric_synonyms_map_to_their_key(settings):
    assert parse("response-time ig", settings).metric == "frt"
    assert parse("satisfaction", settings).metric == "csat"


@pytest.mark.parametrize("metric", [*METRICS, "scorecard"])
def test_every_metric_key_is_accepted(settings, metric):
    assert parse(metric, settings).metric == metric


@pytest.mark.parametrize(
    "word",
    [
        "today",
        "yesterday",
        "7d",
        "30d",
        "90d",
        "14d",
        "36h",
        "this-week",
        "last-week",
        "this-month",
        "last-month",
        "2026-11-01..2026-11-15",
    ],
)
def test_every_period_form_resolves_in_the_workspace_time_zone(settings, word):
    request = parse(f"frt {word}", settings)
    assert (request.period_word, request.period) == (word, resolve_period(word, NOW, settings.zone))


def test_a_date_range_includes_both_days(settings):
    # 2026-11-01 00:00 Paris = 10-31 23:00 UTC; end is 2026-11-16 00:00 Paris = 11-15 23:00 UTC
    period = parse("csat 2026-11-01..2026-11-15", settings).period
    assert (period.start, period.end) == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 11, 15, 23, tzinfo=UTC),
    )


def test_an_invalid_period_is_a_usage_error(settings):
    assert "empty period" in usage_error("frt 0d", settings).message


def test_two_different_periods_are_refused(settings):
    error = usage_error("frt 7d twitter 30d", settings)
    assert error.message == "two periods `7d` and `30d` — pick one"
    assert parse("frt 7d 7D", settings).period_word == "7d"


def test_two_different_metrics_are_refused(settings):
    assert usage_error("frt csat", settings).message == "two metrics `frt` and `csat` — ask for one at a time"


def test_channel_typo_suggests_the_channel(settings):
    error = usage_error("frt twiter", settings)
    assert error.message == "unknown channel `twiter` — did you mean `twitter`?"
    assert error.suggestions[0] == "twitter"


def test_metric_typo_suggests_the_metric(settings):
    error = usage_error("frtt", settings)
    assert error.message == "unknown metric `frtt` — did you mean `frt`?"
    assert error.suggestions[0] == "frt"


def test_period_typo_suggests_the_period(settings):
    assert (
        usage_error("frt lastweek", settings).message == "unknown word `lastweek` — did you mean `last-week`?"
    )


def test_a_word_like_nothing_known_gets_a_plain_message(settings):
    error = usage_error("frt foo", settings)
    assert (error.message, error.suggestions) == ("unknown word `foo`", [])


@pytest.mark.parametrize(("word", "dimension"), [("agent", "agent"), ("channels", "channel"), ("DAY", "day")])
def test_by_takes_a_breakdown_dimension(settings, word, dimension):
    assert parse(f"frt by {word}", settings).by == dimension


def test_by_without_a_dimension_is_refused(settings):
    assert usage_error("frt by", settings).message.startswith("`by` needs a breakdown")
    error = usage_error("frt by agnet", settings)
    assert error.message.startswith("unknown breakdown `by agnet` — did you mean `by agent`?")
    assert "unknown breakdown `by week`" in usage_error("frt by week", settings).message
    assert "two breakdowns" in usage_error("frt by day by agent", settings).message


def test_bh_without_business_hours_configured_is_refused(settings):
    assert usage_error("wait ig bh", settings).message.startswith("business hours are not configured")


def test_bh_with_broken_business_hours_says_they_are_misconfigured(settings):
    broken = settings.model_copy(update={"business_hours": BusinessHours(hours={"mon": ["9-18"]})})
    assert usage_error("wait bh", broken).message.startswith("business hours are misconfigured")


def test_bh_with_business_hours_configured_asks_for_business_time(settings):
    configured = settings.model_copy(update={"business_hours": BusinessHours(hours=OPEN_WEEKDAYS)})
    assert parse("wait ig last-week bh", configured).business_hours is True
    assert parse("wait ig last-week", configured).business_hours is False


def test_help_anywhere_asks_for_help(settings):
    assert parse("help", settings).metric == "help"
    assert parse("frt HELP twiter", settings).metric == "help"


def test_unknown_default_metric_is_a_programming_error(settings):
    with pytest.raises(ValueError, match="unknown default metric"):
        parse("", settings, default_metric="nope")


def test_every_metric_has_a_human_name():
    assert set(METRIC_NAMES) == {*METRICS, "scorecard"}
    assert METRIC_NAMES["frt"] == "First response time"


def test_help_text_lists_grammar_examples_metrics_and_channels_in_one_slack_section(settings):
    text = help_text(settings)
    assert len(text) < 3000  # one section of Block Kit holds 3,000 characters
    for example in (
        "`/kpi frt twitter`",
        "`/kpi backlog`",
        "`/kpi csat 30d by channel`",
        "`/kpi wait ig last-week bh`",
        "`/sentiment instagram 30d`",
        "`/topics`",
    ):
        assert example in text
    for key in METRICS:
        assert f"`{key}` {METRIC_NAMES[key]}" in text
    assert "twitter (x)" in text and "facebook (fb, messenger)" in text
    assert "business hours (not configured)" in text


def test_help_text_offers_bh_when_business_hours_are_configured(settings):
    configured = settings.model_copy(update={"business_hours": BusinessHours(hours=OPEN_WEEKDAYS)})
    assert "`bh` durations in business hours" in help_text(configured)


def test_help_names_the_views_in_each_syntax_and_typos_of_them_get_a_suggestion(settings):
    slack, terminal = help_text(settings), help_text(settings, terminal=True)
    for view in ("`/kpi more`", "`/kpi heatmap", "`/kpi me ", "`/kpi export PERIOD", "Show conversations"):
        assert view in slack
    for view in ("`kpibot kpi heatmap", "`kpibot me --agent ID", "`kpibot export conversations", "`--list`"):
        assert view in terminal
    assert len(slack) < 3000 and len(terminal) < 3000
    with pytest.raises(UsageError) as raised:
        parse_command("heatmp", settings, NOW)
    assert raised.value.message == "unknown word `heatmp` — did you mean `heatmap`?"
