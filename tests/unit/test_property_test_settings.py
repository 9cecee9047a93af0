"""Property tests hold behaviour only: an example that runs slowly on a loaded machine does not fail."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=2, database=None)
@given(st.integers())
def test_a_slow_example_is_not_a_failure(number: int) -> None:
    time.sleep(0.25)  # over Hypothesis' default deadline of 200 ms, as a busy CI machine can make any example
    assert isinstance(number, int)
