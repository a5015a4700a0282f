from commands.stats import ratio


def test_ratio_of_replied_to_opened():
    # 3 replied of 4 opened
    assert ratio(3, 4) == 0.75


def test_ratio_over_nothing_is_no_data_not_zero():
    assert ratio(0, 0) is None and ratio(None, 4) is None and ratio(2, None) is None
    assert ratio(0, 5) == 0.0
