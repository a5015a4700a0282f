import random

import numpy
import pytest

from commands.stats import mean, median, percentile, summary


def test_mean_of_durations():
    # (60 + 120 + 300 + 1200) / 4 = 420
    assert mean([60, 120, 300, 1200]) == 420.0


def test_mean_accepts_a_generator():
    assert mean(value for value in (1, 2, 3, 4)) == 2.5


def test_mean_does_not_lose_small_values_next_to_huge_ones():
    # Exact sum is 1.0, so the mean is 1/3; adding left to right in floats gives 0.0
    assert mean([1e16, 1.0, -1e16]) == pytest.approx(1 / 3)


def test_percentile_interpolates_between_closest_ranks():
    values = [10, 20, 30, 40]
    # rank = 0.9 * 3 = 2.7 -> 30 + 0.7 * (40 - 30) = 37
    assert percentile(values, 0.9) == pytest.approx(37.0)
    # rank = 0.5 * 3 = 1.5 -> 20 + 0.5 * 10 = 25
    assert percentile(values, 0.5) == 25.0
    assert percentile(values, 0.0) == 10.0
    assert percentile(values, 1.0) == 40.0


def test_percentile_of_a_single_value_is_that_value():
    assert percentile([42], 0.9) == 42.0


def test_percentile_q_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1, 2, 3], 90)


def test_median_sorts_its_input():
    assert median([30, 10, 20]) == 20.0
    assert median([40, 10, 30, 20]) == 25.0


def test_summary_of_four_first_response_times():
    # mean (10+20+30+40)/4 = 25, median 25, p90 = 37 (see above)
    result = summary([40, 10, 30, 20])
    assert result == {"mean": 25.0, "median": 25.0, "p90": pytest.approx(37.0), "count": 4}


def test_no_values_give_no_statistics_rather_than_zero():
    assert mean([]) is None
    assert median([]) is None
    assert percentile([], 0.9) is None
    assert summary([]) == {"mean": None, "median": None, "p90": None, "count": 0}


def test_percentile_matches_numpy_default_on_random_durations():
    rng = random.Random(2026)
    for size in (1, 2, 3, 7, 100, 1001):
        values = sorted(rng.expovariate(1 / 3600) for _ in range(size))
        for q in (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0):
            assert percentile(values, q) == pytest.approx(float(numpy.percentile(values, q * 100)), rel=1e-12)
