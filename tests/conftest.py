"""Suite-wide settings: the hypothesis profiles and strict numerics.

Profiles are chosen by the HYPOTHESIS_PROFILE environment variable (or the
plugin's own `--hypothesis-profile` option, which wins):

    default   about 30 examples per property; the everyday run
    thorough  1000 examples per property; before a release
    ci        derandomized, so a CI run is reproducible from the commit alone

Properties that train a whole job per example (tests/helpers.END_TO_END) run a
sixth of these, at least 5. A failing example that hypothesis finds is kept
as an explicit `@example` or a regression test beside the property.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# no deadline: the first example of a test pays for pyarrow's lazy imports, and
# a CI machine under load is slower than a laptop; speed is watched elsewhere
settings.register_profile("default", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def strict_numerics():
    """Floating-point warnings (overflow, invalid, divide) raise instead."""
    with np.errstate(all="raise"):
        yield


@pytest.fixture(params=["streaming", "ranges"])
def csv_parse(request, monkeypatch):
    """A test using it runs twice: CSV files parsed by pyarrow's streaming
    reader (the files are too small to cut), then by byte ranges in threads
    (`readers.csv_parallel`), cut every 64 bytes so that small files are."""
    from streamgd.readers import csv_parallel

    if request.param == "ranges":
        monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 64)
    return request.param
