"""The statistics every duration KPI reads (storage.kpi_cache.Sample), hand-computed."""

import random

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.kpi_cache import Sample


def sample(values) -> Sample:
    return Sample(numpy.asarray(values, dtype=float), float(sum(values)))


def test_summary_of_four_first_response_times():
    # mean (10+20+30+40)/4 = 25; median: rank 0.5 x 3 = 1.5 -> 20 + 0.5 x 10 = 25;
    # p90: rank 0.9 x 3 = 2.7 -> 30 + 0.7 x (40 - 30) = 37
    assert sample([40, 10, 30, 20]).summary() == {"mean": 25.0, "median": 25.0, "p90": 37.0, "count": 4}


def test_percentiles_at_the_ends_and_of_a_single_value():
    assert sample([10, 20, 30, 40]).percentiles(0.0, 1.0) == [10.0, 40.0]
    assert sample([42]).percentiles(0.5, 0.9) == [42.0, 42.0]


def test_one_hour_and_two_give_a_p90_of_1h_54m():
    # 3600 + 0.9 x 3600 = 6840 s, exactly (the README's FRT example)
    assert sample([3600, 7200]).percentiles(0.9) == [6840.0]


def test_no_values_give_no_statistics_rather_than_zero():
    assert sample([]).summary() == {"mean": None, "median": None, "p90": None, "count": 0}


def test_the_mean_keeps_small_values_beside_huge_ones():
    # the exact sum is 1.0: adding left to right in floats gives 0.0
    values = numpy.asarray([1e16, 1.0, -1e16])
    assert Sample(values, 1.0).mean() == pytest.approx(1 / 3)


def test_at_most_counts_a_value_at_the_limit_and_below_does_not():
    responses = sample([900, 3600, 3601])
    assert (responses.at_most(3600), responses.below(3600)) == (2, 1)


def test_percentiles_match_numpy_on_random_durations():
    rng = random.Random(4)
    for n in (1, 2, 3, 10, 101, 1000):
        values = [rng.uniform(0, 86400) for _ in range(n)]
        got = sample(values).percentiles(0.5, 0.9)
        assert got == pytest.approx(list(numpy.percentile(values, [50, 90])), rel=1e-12)


@given(
    values=st.lists(st.integers(0, 40), min_size=1, max_size=300),
    qs=st.lists(st.sampled_from([0.0, 0.05, 0.5, 0.9, 0.95, 0.99, 1.0]), min_size=1, max_size=4),
    as_float=st.booleans(),
)
def test_percentiles_are_the_interpolated_ranks_of_the_sorted_values_and_leave_them_as_they_were(
    values, qs, as_float
):
    # ties and repeated ranks: each rank is selected apart, the next one as the smallest above it
    array = numpy.array(values, dtype="<f8" if as_float else "<i4")
    given_order = array.copy()
    ranked = sorted(values)
    expected = []
    for q in qs:
        rank = q * (len(values) - 1)
        below = int(rank)
        low, high = ranked[below], ranked[min(below + 1, len(values) - 1)]
        expected.append(low + (high - low) * (rank - below))

    assert Sample(array, float(sum(values))).percentiles(*qs) == expected
    assert array.tolist() == given_order.tolist()


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        # few ids beside the largest (3 x 128 < 1,000,000): sorted, counted where they change
        ([[5, 1_000_000], [5]], 2),
        # many beside the largest: marked in a bitmap
        ([[1, 2, 3], [3, 2, 9]], 4),
        ([[], [7]], 1),
        ([[], []], 0),
    ],
)
def test_distinct_ids_over_several_days_count_a_repeated_id_once(arrays, expected):
    from storage.kpi_cache.sample import distinct_count

    assert distinct_count([numpy.asarray(ids, dtype=numpy.int32) for ids in arrays]) == expected


def test_both_ways_of_counting_distinct_ids_agree():
    from storage.kpi_cache.sample import distinct_count

    rng = random.Random(7)
    for size in (1, 10, 1_000, 20_000):
        arrays = [
            numpy.asarray([rng.randrange(2_000_000) for _ in range(size)], dtype=numpy.int32)
            for _ in range(3)
        ]
        expected = len(set(numpy.concatenate(arrays).tolist()))
        assert distinct_count(arrays) == expected
