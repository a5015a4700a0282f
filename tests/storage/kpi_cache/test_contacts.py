"""`contacts.by_customer` (storage/kpi_cache/contacts.py) orders a period's conversations by customer then
time, as np.lexsort would, however the days came (tests/commands/kpis/test_recontact.py checks a day's
cached row is in customer order)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from storage.kpi_cache import contacts

pieces = st.lists(
    st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 50)), max_size=12), min_size=1, max_size=5
)


@given(pieces=pieces, in_customer_order=st.booleans())
def test_by_customer_gives_lexsorts_order_whether_or_not_the_days_came_in_customer_order(
    pieces, in_customer_order
):
    # each piece a day (its times within the day); in customer order as the cache keeps them, or not (a
    # range read from the tables, keys by the handle alone)
    rows = []
    for day, piece in enumerate(pieces):
        found = [(key, day * 100 + minute) for key, minute in piece]
        rows += sorted(found) if in_customer_order else found
    key = np.array([k for k, _ in rows], dtype=np.int64)
    at = np.array([a for _, a in rows], dtype=np.int64)

    order = contacts.by_customer(key, at)

    assert np.array_equal(key[order], key[np.lexsort((at, key))])
    assert np.array_equal(at[order], at[np.lexsort((at, key))])
