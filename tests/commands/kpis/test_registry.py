"""The KPI registry (commands.kpis): every value a KPI returns is declared with its unit, and the three
renderings — terminal text, Block Kit, JSON — show each value in that unit. Measured on two weeks of the
demo's traffic, so every KPI has something to say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.demo import generate_demo_events
from commands.engine import change, compute
from commands.format import POINTS, UNITS, format_change, format_value
from commands.kpis import KPIS, NAMES, SCORECARD, SYNONYMS
from commands.parse import METRIC_NAMES, METRICS, parse_command
from commands.render_blocks import answer_message
from commands.render_nlp import NLP_METRICS
from commands.render_text import to_text
from commands.result import KpiResult
from storage.ingest import Ingestor

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def answers(engine, settings):
    """Every KPI over the last 7 days of two weeks of demo traffic (a daily cost configured)."""
    settings = settings.model_copy(update={"support_cost_per_day": 1200.0})
    events = generate_demo_events(now=NOW, days=14, conversations=300)
    Ingestor(engine, settings).ingest(list(enumerate(events)), now=NOW)
    with engine.connect() as conn:
        return {key: compute(conn, parse_command(f"{key} 7d", settings, NOW), settings, NOW) for key in KPIS}


def scalars(spec, values: dict):
    """(key, value, unit) of every value with a unit of its own (not a table)."""
    return [
        (key, value, spec.unit_of(key)) for key, value in values.items() if isinstance(spec.unit_of(key), str)
    ]


def test_every_value_a_kpi_returns_is_declared_with_a_unit(answers):
    for key, answer in answers.items():
        spec = KPIS[key]
        assert set(answer.values) == set(spec.values), key
        for name, unit in spec.values.items():
            columns = unit if isinstance(unit, dict) else {name: unit}
            assert all(u in UNITS or isinstance(u, dict) for u in columns.values()), (key, name)
            value = answer.values[name]
            found = (
                value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
            )
            for row in (item for item in found if isinstance(item, dict)):
                assert set(row) <= set(unit), (key, name, set(row) - set(unit))


def test_each_value_reads_in_its_unit_in_the_terminal_and_in_slack(answers):
    for key, answer in answers.items():
        if key in NLP_METRICS:  # sentiment, topics and voice have renderings of their own (below)
            continue
        spec = KPIS[key]
        text, message = to_text(answer, width=200), str(answer_message(answer))
        for name, value, unit in scalars(spec, answer.values):
            if value is None:
                continue
            shown = format_value(value, unit)
            assert shown in text, (key, name, shown)
            if name != spec.headline:  # the headline is in the header, as the figure
                assert shown in message, (key, name, shown)


def test_json_keeps_raw_numbers_in_their_unit(answers):
    for key, answer in answers.items():
        values = answer.to_json()["values"]
        for name, value, unit in scalars(KPIS[key], answer.values):
            assert values[name] == value
            if unit == "fraction" and value is not None:  # shares 0-1; net sentiment -1 to +1
                assert -1.0 <= value <= 1.0, (key, name, value)


def test_social_impact_shows_customers_as_counts_and_revenue_as_money(answers):
    answer = answers["social-impact"]
    social = answer.values["social"]
    text, message = to_text(answer, width=200), str(answer_message(answer))

    customers, revenue = f"{social['customers']:,}", f"{social['revenue_per_customer']:,.2f}"
    assert f"customers {customers} ·" in text and f"revenue per customer {revenue}" in text.lower()
    assert "%" not in text.split("customers", 1)[1].split("·", 1)[0]  # a count, not a share
    assert f"customers {customers} ·" in message and f"revenue per customer {revenue}" in message
    assert answer.to_json()["values"]["social"]["customers"] == social["customers"]


def test_sentiment_reads_in_shares_and_scores(answers):
    answer = answers["sentiment"]
    text = to_text(answer, width=200)
    assert format_value(answer.values["positive"], "fraction") in text


def test_an_nps_move_is_read_in_points_like_a_rate():
    assert "nps" in POINTS and "fraction" in POINTS
    moved = change(25.0, 20.0, "nps", "higher")
    assert moved == {"absolute": 5.0, "relative": None, "direction": "up", "good": True}
    assert format_change(moved, "nps") == "▲ 5 pt"
    assert change(25.0, 20.0, "count", "higher")["relative"] == 0.25  # a count moves by a share of itself


def test_the_grammar_and_the_scorecard_come_from_the_registry():
    assert tuple(KPIS) == METRICS and METRIC_NAMES == NAMES
    assert all(SYNONYMS[word] == key for key, spec in KPIS.items() for word in spec.synonyms)
    assert set(SCORECARD) <= set(KPIS) and NAMES["nps"] == KPIS["nps"].name == "Net Promoter Score"


def test_every_kpi_has_a_result_the_renderings_accept(answers):
    assert all(isinstance(answer, KpiResult) for answer in answers.values())
