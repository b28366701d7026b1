"""Learning-rate schedules follow their formulas at every step."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamgd.optim import Schedule


@given(update=st.integers(1, 10**7), epoch=st.integers(0, 100),
       rate=st.floats(1e-6, 10), power=st.floats(0, 2))
def test_schedule_invscaling_matches_formula(update, epoch, rate, power):
    """invscaling gives lr / t**power_t at update t."""
    schedule = Schedule("invscaling", rate, power_t=power)
    assert schedule(update, epoch) == pytest.approx(rate / update**power)


@given(update=st.integers(1, 10**7), epoch=st.integers(0, 60),
       decay=st.floats(0.01, 1.0))
def test_schedule_epoch_decay_matches_formula(update, epoch, decay):
    """epoch_decay gives lr * decay**epoch, whatever the update count."""
    assert Schedule("epoch_decay", 0.5, decay=decay)(update, epoch) == pytest.approx(
        0.5 * decay**epoch)


def test_schedule_invscaling_power_one_starts_at_t_one():
    """With power_t 1 the first update uses t=1 (0.1) and the tenth 0.01."""
    schedule = Schedule("invscaling", 0.1, power_t=1.0)
    assert schedule(1, 0) == 0.1
    assert schedule(10, 0) == pytest.approx(0.01)


def test_schedule_rejects_update_zero_and_bad_rate():
    """Update 0 and a non-positive rate are refused, naming the problem."""
    with pytest.raises(ValueError, match="count from 1"):
        Schedule("invscaling", 0.1)(0, 0)
    with pytest.raises(ValueError, match="must be > 0"):
        Schedule("constant", 0.0)
