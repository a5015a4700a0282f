"""Customer outcome KPIs (docs/metrics.md): `csat`, `nps`, `ces`, `retention`, `churn`, `social-impact`.

Surveys count by when they were answered and are filtered by the survey's channel. Customers are not
per channel (one customer uses several), so retention and churn ignore the channel filter; in
social-impact the channels only decide which conversations make a customer "social". Nothing after
`query.now` counts.

The customer base at an instant is every customer whose latest change before it is `new` or `active`
(a `lost` at the same instant as another change wins). Over a period: `new` and `lost` count customers
with such a change in it, end = start - lost + new, retention = (end - new) / start, churn = lost / start.
Rates are fractions; scores and rates are None when nothing was answered or nobody was a customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION, MONEY, NPS, SCORE
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from commands.stats import ratio
from storage import kpi_cache
from storage.kpi_cache.measures import SATISFIED
from storage.models import Conversation, CustomerChange, Survey

C = Conversation.__table__.c
S = Survey.__table__.c
CC = CustomerChange.__table__.c
PROMOTER = 9  # NPS 9-10
DETRACTOR_BELOW = 7  # NPS 0-6; answers arrive as numbers, so 6.5 is a detractor too
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # stands for "never lost" when comparing change times


def csat(conn: Connection, query: Query) -> dict[str, Any]:
    """Share (0-1) of CSAT answers given in the period that were 4 or 5, and the number of answers."""
    scores = kpi_cache.sample(conn, "csat", query.until_now().scope())
    responses, satisfied = scores.count, scores.count - scores.below(SATISFIED)
    return {"score": ratio(satisfied, responses), "responses": responses}


def nps(conn: Connection, query: Query) -> dict[str, Any]:
    """Net Promoter Score of the period's answers (% promoters - % detractors, -100 to +100) and the
    count of promoters (9-10), passives (7-8), detractors (0-6) and answers."""
    scores = kpi_cache.sample(conn, "nps", query.until_now().scope())
    responses, promoters = scores.count, scores.count - scores.below(PROMOTER)
    detractors = scores.below(DETRACTOR_BELOW)
    score = (promoters - detractors) * 100.0 / responses if responses else None
    passives = responses - promoters - detractors
    return {
        "score": score,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "responses": responses,
    }


def ces(conn: Connection, query: Query) -> dict[str, Any]:
    """Mean Customer Effort Score of the period's answers (on the configured scale; lower is less effort)
    and the number of answers."""
    scores = kpi_cache.sample(conn, "ces", query.until_now().scope())
    return {"mean": scores.mean(), "responses": scores.count}


def retention(conn: Connection, query: Query) -> dict[str, Any]:
    """Share (0-1) of the customers at the period's start still customers at its end: (end - new) / start,
    with the customers at start and end and the new ones."""
    start, new, lost = _flow(conn, query.until_now())
    end = start - lost + new
    return {"rate": ratio(end - new, start), "start": start, "end": end, "new": new}


def churn(conn: Connection, query: Query) -> dict[str, Any]:
    """Share (0-1) of the customers at the period's start lost during it, with the lost and start counts."""
    start, _, lost = _flow(conn, query.until_now())
    return {"rate": ratio(lost, start), "lost": lost, "start": start}


def social_impact(conn: Connection, query: Query) -> dict[str, Any]:
    """Customers at the period's start split into `social` (a conversation on the asked channels opened
    in the period) and `non_social`; for each: how many, retention and churn over the period (0-1), and
    revenue per customer (revenue on their customer changes in the period ÷ customers in the group).

    Within a group only its own members can be lost, so retention is 1 - churn.
    """
    q = query.until_now()
    base = _base_at(q.start).subquery()
    changes = (
        select(
            CC.customer,
            func.max(case((CC.change == "lost", 1), else_=0)).label("lost"),
            func.sum(CC.revenue).label("revenue"),
        )
        .where(q.in_period(CC.at))
        .group_by(CC.customer)
        .subquery()
    )
    talked = (
        select(C.customer)
        .where(q.in_period(C.opened_at), q.in_channels(C.channel), C.customer.is_not(None))
        .distinct()
        .subquery()
    )
    group = talked.c.customer.is_not(None)
    joined = base.outerjoin(changes, changes.c.customer == base.c.customer).outerjoin(
        talked, talked.c.customer == base.c.customer
    )
    totals = (
        select(group, func.count(), func.coalesce(func.sum(changes.c.lost), 0), func.sum(changes.c.revenue))
        .select_from(joined)
        .group_by(group)
    )
    found = {bool(social): (n, lost, revenue) for social, n, lost, revenue in conn.execute(totals)}
    return {
        "social": _group(*found.get(True, (0, 0, None))),
        "non_social": _group(*found.get(False, (0, 0, None))),
    }


def _group(customers: int, lost: int, revenue: float | None) -> dict[str, Any]:
    churned = ratio(lost, customers)
    return {
        "customers": customers,
        "retention": None if churned is None else 1.0 - churned,
        "churn": churned,
        "revenue_per_customer": None if revenue is None else ratio(float(revenue), customers),
    }


def _flow(conn: Connection, q: Query) -> tuple[int, int, int]:
    """(customers at the period's start, customers new in it, customers lost in it)."""
    start = conn.execute(select(func.count()).select_from(_base_at(q.start).subquery())).scalar_one()
    new, lost = conn.execute(
        select(_customers_with("new"), _customers_with("lost")).where(q.in_period(CC.at))
    ).one()
    return start, new, lost


def _base_at(instant: datetime) -> Select:
    """Customers whose latest change before `instant` is `new` or `active`."""
    last_lost = func.max(case((CC.change == "lost", CC.at)))
    last_kept = func.max(case((CC.change != "lost", CC.at)))
    return (
        select(CC.customer)
        .where(CC.at < instant)
        .group_by(CC.customer)
        .having(last_kept > func.coalesce(last_lost, NEVER))  # NULL (never kept) compares false
    )


def _customers_with(change: str):
    return func.count(case((CC.change == change, CC.customer)).distinct())


CUSTOMERS = "no customers at the start of this period"
# survey answers are credited to no agent, but to their conversation's team and topics
SURVEYED = ("channel", "day", "team", "topic", "hour", "weekday")
_GROUP = rows(customers=COUNT, retention=FRACTION, churn=FRACTION, revenue_per_customer=MONEY)
SPECS = (
    KpiSpec(
        "csat",
        "CSAT",
        csat,
        {"score": FRACTION, "responses": COUNT},
        "score",
        "higher",
        "no CSAT answers in this period",
        SURVEYED,
        synonyms=("satisfaction",),
    ),
    KpiSpec(
        "nps",
        "Net Promoter Score",
        nps,
        {"score": NPS, "promoters": COUNT, "passives": COUNT, "detractors": COUNT, "responses": COUNT},
        "score",
        "higher",
        "no NPS answers in this period",
        SURVEYED,
    ),
    KpiSpec(
        "ces",
        "Customer Effort Score",
        ces,
        {"mean": SCORE, "responses": COUNT},
        "mean",
        "lower",
        "no CES answers in this period",
        SURVEYED,
    ),
    KpiSpec(
        "retention",
        "Customer retention rate",
        retention,
        {"rate": FRACTION, "start": COUNT, "end": COUNT, "new": COUNT},
        "rate",
        "higher",
        CUSTOMERS,
        (),
    ),
    KpiSpec(
        "churn",
        "Churn rate",
        churn,
        {"rate": FRACTION, "lost": COUNT, "start": COUNT},
        "rate",
        "lower",
        CUSTOMERS,
        (),
    ),
    KpiSpec(
        "social-impact",
        "Social vs non-social",
        social_impact,
        {"social": _GROUP, "non_social": _GROUP},
        None,
        None,
        CUSTOMERS,
        (),
    ),
)
