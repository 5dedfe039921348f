"""mmext.utils.validation: the shared count check of config values."""
import pytest

from mmext.utils.validation import is_int_at_least


@pytest.mark.parametrize('value, minimum, expected', [
    (1, 1, True), (5, 1, True), (0, 0, True), (0, 1, False), (-3, 0, False),
    (True, 1, False), (False, 0, False), (2.0, 1, False), ('2', 1, False),
    (None, 0, False),
])
def test_ints_at_least_the_minimum_and_never_bools(value, minimum, expected):
    assert is_int_at_least(value, minimum) is expected
