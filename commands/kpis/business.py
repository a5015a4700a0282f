"""What support costs and brings (docs/metrics.md): `cost` per conversation handled and `leads`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION, MONEY, PER_DAY
from commands.kpis.spec import KpiSpec
from commands.query import Query
from commands.stats import ratio
from storage import kpi_cache
from storage.models import Lead

L = Lead.__table__.c


def cost(conn: Connection, query: Query) -> dict[str, Any]:
    """Support cost per conversation handled (given a human reply) in the period, the conversations
    handled, and the cost of the period (`total`); None when no cost is configured.

    A configured daily cost is the whole team's: per contact it is the same on every channel, and a
    channel's `total` is its share by conversations handled. An hourly agent cost is multiplied by the
    handle time of the period's replies (None when no reply carried handle time).
    """
    q = query.until_now()
    settings = q.settings
    handled = kpi_cache.distinct(conn, "handled", q.scope())
    if settings.support_cost_per_day is not None:
        handled_all = (
            kpi_cache.distinct(conn, "handled", replace(q, channels=()).scope()) if q.channels else handled
        )
        whole = settings.support_cost_per_day * q.days
        per_contact = ratio(whole, handled_all)
        total = whole if not q.channels else ratio(whole * handled, handled_all)
    elif settings.hourly_agent_cost is not None:
        replies = kpi_cache.sample(conn, "reply_handle", q.scope())
        total = settings.hourly_agent_cost * replies.total / 3600.0 if replies.count else None
        per_contact = ratio(total, handled)
    else:
        per_contact = total = None
    return {"per_contact": per_contact, "handled": handled, "total": total}


def leads(conn: Connection, query: Query) -> dict[str, Any]:
    """Leads captured in the period, per day, and how many of them converted by `now` (count and share)."""
    q = query.until_now()
    converted_by_now = and_(L.converted_at.is_not(None), L.converted_at < q.now)
    captured, converted = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((converted_by_now, 1), else_=0)), 0)).where(
            q.in_period(L.at), q.in_channels(L.channel)
        )
    ).one()
    return {
        "per_day": captured / q.days if captured and q.days else None,
        "leads": captured,
        "conversions": converted,
        "conversion_rate": ratio(converted, captured),
    }


NO_COST = "no cost configured (set support_cost_per_day or hourly_agent_cost) or no conversations handled"
SPECS = (
    KpiSpec(
        "cost",
        "Cost per contact",
        cost,
        {"per_contact": MONEY, "handled": COUNT, "total": MONEY},
        "per_contact",
        "lower",
        NO_COST,
        ("channel", "day"),
    ),
    KpiSpec(
        "leads",
        "Leads and conversion",
        leads,
        {"per_day": PER_DAY, "leads": COUNT, "conversions": COUNT, "conversion_rate": FRACTION},
        "conversion_rate",
        "higher",
        "no leads captured in this period",
    ),
)
