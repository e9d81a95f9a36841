"""The suite's hypothesis profile: no test fails because a loaded machine was slow."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_the_loaded_profile_sets_no_deadline() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check


@given(st.integers())
def test_a_slow_example_does_not_fail(value: int) -> None:
    # far beyond hypothesis's default 200 ms deadline, on every example it draws
    import time

    time.sleep(0.25 if value == 0 else 0)
