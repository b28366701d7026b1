"""The state codec: frozen dataclasses of arrays and numbers round-trip exactly."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamgd.checkpoint.codec import CodecError, decode, encode
from streamgd.optim import SGDState


@dataclass(frozen=True)
class MomentState:
    """Shaped like the state of an Adam-type optimizer, for the codec's sake."""

    update_count: int
    first_moment: np.ndarray
    second_moment: np.ndarray
    beta: float
    bias: np.float64
    history: tuple[float, ...]
    inner: SGDState | None


def _round_trip(value):
    arrays = {}
    text = json.dumps(encode(value, "state", arrays))
    stored = {name: np.copy(array) for name, array in arrays.items()}
    return decode(json.loads(text), stored)


def test_codec_round_trips_sgd_state():
    """SGDState comes back equal, of the same class, its count an int."""
    restored = _round_trip(SGDState(update_count=12345))
    assert restored == SGDState(12345) and type(restored.update_count) is int


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=5), elements=floats),
    hnp.arrays(np.int64, st.integers(0, 4)),
    floats, st.lists(floats, max_size=3),
)
def test_codec_round_trips_any_frozen_dataclass_bitwise(first, second, beta, history):
    """Arrays keep dtype, shape and every bit (NaN, inf, -0.0 too); floats too."""
    state = MomentState(7, first, second, beta, np.float64(beta), tuple(history),
                        SGDState(3))
    restored = _round_trip(state)

    assert restored.first_moment.dtype == first.dtype
    assert restored.first_moment.shape == first.shape
    assert restored.first_moment.tobytes() == first.tobytes()
    assert restored.second_moment.tobytes() == second.tobytes()
    assert np.float64(restored.beta).tobytes() == np.float64(beta).tobytes()
    assert type(restored.bias) is np.float64
    assert restored.bias.tobytes() == np.float64(beta).tobytes()
    assert np.array(restored.history).tobytes() == np.array(history).tobytes()
    assert isinstance(restored.history, tuple) and restored.inner == SGDState(3)


def test_codec_round_trips_a_generator_state():
    """The numpy bit generator's state (big ints in a dict) comes back equal."""
    rng = np.random.default_rng(4)
    rng.random(3)
    restored = np.random.default_rng()
    restored.bit_generator.state = _round_trip(rng.bit_generator.state)
    assert restored.random(5).tobytes() == rng.random(5).tobytes()


def test_codec_refuses_what_it_cannot_store():
    """A value of another type is refused, naming where it sits."""
    with pytest.raises(CodecError, match=r"state.inner: cannot store a set"):
        encode(MomentState(1, np.zeros(1), np.zeros(1), 0.1, np.float64(0), (),
                           {1, 2}), "state", {})


def test_codec_refuses_unknown_classes_and_changed_fields():
    """A class outside streamgd that is not loaded, or whose fields changed, is
    refused rather than guessed at."""
    with pytest.raises(CodecError, match="unknown class"):
        decode({"dataclass": "nowhere.module:Thing", "fields": {}}, {})
    with pytest.raises(CodecError, match="written by another version"):
        decode({"dataclass": "streamgd.optim.sgd:SGDState",
                "fields": {"update_count": 1, "velocity": 2}}, {})


def test_codec_keeps_the_bits_of_a_nan_float():
    """A NaN float with its sign bit set comes back with the same bits."""
    negative_nan = float(np.uint64(0xFFF8000000000001).view(np.float64))
    restored = _round_trip(MomentState(1, np.zeros(1), np.zeros(1), negative_nan,
                                       np.float64(0), (negative_nan,), None))
    for value in (restored.beta, restored.history[0]):
        assert np.float64(value).view(np.uint64) == np.uint64(0xFFF8000000000001)


def test_codec_fills_a_field_added_later_with_its_default():
    """A state stored before a field with a default existed decodes with that
    default (a checkpoint of the previous version still resumes); a missing
    field without a default is still refused."""
    from streamgd.validate.baseline import TargetSums

    old = {"dataclass": "streamgd.validate.baseline:TargetSums",
           "fields": {"weight": 3.0, "y": 1.5, "y2": 2.0}}
    assert decode(old, {}) == TargetSums(3.0, 1.5, 2.0, n_rows=0)
    with pytest.raises(CodecError, match="written by another version"):
        decode({"dataclass": f"{__name__}:MomentState", "fields": {}}, {})
