"""Customer outcome KPIs on surveys and customer changes ingested into a real SQLite file.

Times are minutes after 2026-11-20 09:00 UTC (T0); the asked period is [0, 1440) unless a test says
otherwise, and `now` is two days after T0. The source articles' worked examples are checked as
docs/metrics.md corrects them.
"""

from __future__ import annotations

import pytest

from commands.kpis import outcome as kpi
from tests.commands.kpis.events import DAY
from tests.storage.builders import at, inbound


def survey(eid: str, minutes: float, kind: str, score: float, channel: str = "twitter") -> dict:
    return {"id": eid, "type": "survey", "at": at(minutes), "channel": channel, "kind": kind, "score": score}


def customer(eid: str, minutes: float, who: str, change: str, revenue: float | None = None) -> dict:
    event = {"id": eid, "type": "customer", "at": at(minutes), "customer_id": who, "change": change}
    return event if revenue is None else {**event, "revenue": revenue}


def surveys(kind: str, scores: list[float], minutes: float = 60, channel: str = "twitter") -> list[dict]:
    return [
        survey(f"{kind}-{channel}-{minutes}-{n}", minutes + n, kind, s, channel) for n, s in enumerate(scores)
    ]


def test_csat_is_the_share_of_4_and_5_answers(feed, ask):
    feed(
        *surveys("csat", [5, 4, 3, 2, 5]),
        *surveys("csat", [1, 1], minutes=-100),  # answered the day before
        *surveys("csat", [1], channel="facebook"),
    )
    # article 003: answers 5, 4, 3, 2, 5 -> 3 satisfied of 5 = 60 %
    assert ask(kpi.csat, channels=["twitter"]) == {"score": 0.6, "responses": 5}
    # all channels add facebook's 1: 3 of 6
    assert ask(kpi.csat) == {"score": 0.5, "responses": 6}


def test_nps_is_percent_promoters_minus_percent_detractors(feed, ask):
    feed(*surveys("nps", [10, 9, 8, 7, 6, 0]))
    # article 003: promoters 10, 9; passives 8, 7; detractors 6, 0 -> 33.3 % - 33.3 % = 0
    assert ask(kpi.nps) == {"score": 0.0, "promoters": 2, "passives": 2, "detractors": 2, "responses": 6}


def test_nps_can_be_negative_and_counts_6_as_a_detractor(feed, ask):
    feed(*surveys("nps", [10, 6, 6, 3]))
    # 1 promoter, 3 detractors of 4 -> 25 % - 75 % = -50
    assert ask(kpi.nps)["score"] == -50.0


def test_ces_is_the_mean_effort_answer(feed, ask):
    feed(*surveys("ces", [2, 3, 7]), *surveys("ces", [1], minutes=DAY + 1))
    # (2 + 3 + 7) / 3 = 4; the answer on the next day is another period's
    assert ask(kpi.ces) == {"mean": 4.0, "responses": 3}


def test_survey_answers_after_now_are_not_counted(feed, ask):
    feed(*surveys("csat", [5, 1], minutes=60))
    # asked at minute 60.5: only the first answer (at 60) was in
    assert ask(kpi.csat, now=60.5) == {"score": 1.0, "responses": 1}


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (kpi.csat, {"score": None, "responses": 0}),
        (kpi.nps, {"score": None, "promoters": 0, "passives": 0, "detractors": 0, "responses": 0}),
        (kpi.ces, {"mean": None, "responses": 0}),
        (kpi.retention, {"rate": None, "start": 0, "end": 0, "new": 0}),
        (kpi.churn, {"rate": None, "lost": 0, "start": 0}),
    ],
)
def test_period_without_answers_or_customers_gives_none_not_zero(feed, ask, fn, expected):
    feed(
        *surveys("csat", [5]), *surveys("nps", [10]), *surveys("ces", [3]), customer("c1", 10, "@ana", "new")
    )
    assert ask(fn, start=-DAY, end=0) == expected


def test_churn_of_400_lost_out_of_2000_is_20_percent(feed, ask):
    feed(
        *[customer(f"n{n}", -DAY - n, f"@c{n}", "new") for n in range(2000)],
        *[customer(f"l{n}", 10 + n, f"@c{n}", "lost") for n in range(400)],
    )
    # the source article prints 2 %; 400 / 2000 is 20 % (docs/metrics.md, churn)
    assert ask(kpi.churn) == {"rate": 0.2, "lost": 400, "start": 2000}


def test_retention_of_1000_customers_with_100_new_and_1000_at_end_is_90_percent(feed, ask):
    feed(
        *[customer(f"n{n}", -DAY - n, f"@c{n}", "new") for n in range(1000)],
        *[customer(f"l{n}", 10 + n, f"@c{n}", "lost") for n in range(100)],
        *[customer(f"w{n}", 200 + n, f"@new{n}", "new") for n in range(100)],
    )
    # end = 1000 - 100 lost + 100 new = 1000; retention = (1000 - 100) / 1000 = 90 %
    assert ask(kpi.retention) == {"rate": 0.9, "start": 1000, "end": 1000, "new": 100}


def test_customers_at_start_are_those_whose_latest_change_before_it_is_new_or_active(feed, ask):
    feed(
        customer("a", -500, "@ana", "new"),
        customer("b1", -500, "@bo", "new"),
        customer("b2", -400, "@bo", "lost"),  # gone before the period
        customer("c1", -500, "@cy", "lost"),
        customer("c2", -400, "@cy", "active"),  # came back
        customer("d", -300, "@di", "active"),  # first seen active
        customer("e", 0, "@ed", "new"),  # new at the period's first instant: not at its start
        customer("f1", -200, "@flo", "new"),
        customer("f2", -200, "@flo", "lost"),  # a loss at the same instant wins
    )
    # at start: ana, cy, di -> 3; new in the period: ed
    assert ask(kpi.retention) == {"rate": 1.0, "start": 3, "end": 4, "new": 1}


def test_retention_and_churn_ignore_the_channel_filter(feed, ask):
    feed(
        customer("a", -10, "@ana", "new"), customer("b", -10, "@bo", "new"), customer("c", 10, "@bo", "lost")
    )
    assert ask(kpi.churn, channels=["viber"]) == ask(kpi.churn) == {"rate": 0.5, "lost": 1, "start": 2}


def test_social_impact_compares_customers_who_used_social_support_with_those_who_did_not(feed, ask):
    feed(
        *[customer(f"n-{who}", -DAY, who, "new") for who in ("@ana", "@bo", "@cy", "@di", "@ed", "@flo")],
        inbound("m1", 10, conv="tw-1", handle="@ana"),
        inbound("m2", 20, conv="tw-2", handle="@BO"),  # handles are matched case-insensitively
        inbound("m3", 30, conv="fb-1", channel="facebook", handle="@di"),
        inbound("m4", -100, conv="tw-0", handle="@ed"),  # before the period: not social in it
        customer("r1", 100, "@ana", "active", revenue=100.0),
        customer("r2", 110, "@bo", "lost"),
        customer("r3", 120, "@cy", "lost", revenue=30.0),
        customer("r4", DAY + 10, "@flo", "lost"),  # next period
    )
    twitter = ask(kpi.social_impact, channels=["twitter"])
    # social on twitter: ana, bo -> bo lost: churn 1/2; revenue 100 / 2 = 50
    assert twitter["social"] == {"customers": 2, "retention": 0.5, "churn": 0.5, "revenue_per_customer": 50.0}
    # non-social: cy, di, ed, flo -> cy lost: churn 1/4; revenue 30 / 4 = 7.5
    assert twitter["non_social"] == {
        "customers": 4,
        "retention": 0.75,
        "churn": 0.25,
        "revenue_per_customer": 7.5,
    }
    # on every channel di's facebook conversation makes them social too: ana, bo, di
    every = ask(kpi.social_impact)
    assert every["social"]["customers"] == 3
    assert every["social"]["churn"] == pytest.approx(1 / 3)
    assert every["non_social"]["customers"] == 3


def test_social_impact_groups_without_customers_have_no_rates(ask):
    empty = {"customers": 0, "retention": None, "churn": None, "revenue_per_customer": None}
    assert ask(kpi.social_impact) == {"social": empty, "non_social": empty}


def test_social_impact_revenue_is_none_when_no_change_carried_revenue(feed, ask):
    feed(customer("a", -10, "@ana", "new"), customer("b", 10, "@ana", "active"))
    assert ask(kpi.social_impact)["non_social"] == {
        "customers": 1,
        "retention": 1.0,
        "churn": 0.0,
        "revenue_per_customer": None,
    }


def test_every_outcome_kpi_is_described_for_the_engine():
    specs = {spec.key: spec for spec in kpi.SPECS}
    assert list(specs) == ["csat", "nps", "ces", "retention", "churn", "social-impact"]
    assert (specs["csat"].headline, specs["csat"].better) == ("score", "higher")
    assert (specs["ces"].headline, specs["ces"].better) == ("mean", "lower")
    assert specs["churn"].better == "lower" and specs["retention"].breakdowns == ()
