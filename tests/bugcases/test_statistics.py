"""Numerics cases of the statistics and scaling (b12, b13, b18, b21, b23).

Small versions of cases of `../shared/bugcases`, checked against their
`expected.json`. The classes: running sums that overflow though every value is
finite, constant columns whose computed variance is not exactly zero, merges of
partial statistics of very different sizes, rows scaled with the statistics seen
so far, and one huge but finite value.
"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamgd
from tests.helpers import job, least_squares


def test_b12_sums_that_would_overflow_leave_the_statistics_finite(tmp_path):
    """b12: a constant 1.5e305 column over chunks whose sum overflows keeps mean
    1.5e305 and variance 0; it is constant, scaled to 0 and its weight is 0."""
    rng = np.random.default_rng(12)
    x1 = rng.normal(size=4000)
    pq.write_table(pa.table({"x1": x1, "x_big": np.full(4000, 1.5e305),
                             "y": 3 * x1 + 2}),
                   tmp_path / "big.parquet", row_group_size=1000)
    result = streamgd.train(job([tmp_path / "big.parquet"], ["x1", "x_big"],
                                tmp_path / "out", optimizer__max_epochs=20,
                                optimizer__tol=0.0))
    model = result.model
    assert model.stats.mean[1] == 1.5e305 and model.stats.variance[1] == 0.0
    assert (model.stats.minimum[1], model.stats.maximum[1]) == (1.5e305, 1.5e305)
    assert model.stats.constant.tolist() == [False, True]
    assert model.scaler.transform(np.array([[0.0, 1.5e305]]))[0, 1] == 0.0
    assert model.stats.mean[0] == pytest.approx(x1.mean(), abs=1e-14)
    assert model.stats.variance[0] == pytest.approx(x1.var(), rel=1e-12)
    weights, intercept = model.original_coefficients()
    assert weights[1] == 0.0
    assert weights[0] == pytest.approx(3.0, abs=1e-3)
    assert intercept == pytest.approx(2.0, abs=1e-3)


def test_b13_constant_columns_have_zero_variance_and_zero_weight(tmp_path):
    """b13: 14.62 (numpy's variance 1e-29) and 1e8 + 0.1 (naive variance 2.0)
    repeated 1,000 times are constant: variance exactly 0, scaled to 0, weight 0."""
    rng = np.random.default_rng(13)
    x1 = rng.uniform(-10, 10, 1000)
    c1, c2 = np.full(1000, 14.62), np.full(1000, 1e8 + 0.1)
    assert c1.var() > 0 and np.mean(c2 * c2) - np.mean(c2) ** 2 != 0
    path = tmp_path / "constants.csv"
    path.write_text("x1,c1,c2,y\n" + "".join(
        f"{a!r},{b!r},{c!r},{3 * a + 2!r}\n"
        for a, b, c in zip(x1.tolist(), c1.tolist(), c2.tolist())))
    result = streamgd.train(job([path], ["x1", "c1", "c2"], tmp_path / "out",
                                optimizer__max_epochs=30, optimizer__tol=0.0,
                                optimizer__learning_rate=0.1))
    model = result.model
    assert model.stats.constant.tolist() == [False, True, True]
    assert model.stats.variance[1:].tolist() == [0.0, 0.0]
    assert model.stats.mean[1:].tolist() == [14.62, 1e8 + 0.1]
    scaled = model.scaler.transform(np.array([[0.0, 14.62, 1e8 + 0.1]]))
    assert scaled[0, 1:].tolist() == [0.0, 0.0]
    weights, intercept = model.original_coefficients()
    assert weights[1:].tolist() == [0.0, 0.0]
    assert weights[0] == pytest.approx(3.0, abs=1e-3)
    assert intercept == pytest.approx(2.0, abs=1e-2)


def test_b18_merged_statistics_weigh_parts_by_their_row_counts(tmp_path):
    """b18: files of 10 zeros and 990 ones give mean 0.99 and variance 0.0099
    (not 0.5, as a merge ignoring the counts would), and the least-squares fit.

    The fit is SGD's, within its noise: trained all 40 epochs (with tol 0 a
    noisy epoch cost could stop it after 4), job seeds 0-11 ended 0.001-0.037
    from least squares with either generator of the rows' order inside chunks,
    and this file order 0.053: the 10 rows at x = 0 make the slope noisy. A
    merge that ignored the counts would be off by far more (the intercept is
    taken back to original units with the mean)."""
    rng = np.random.default_rng(18)
    xa, xb = np.zeros(10), np.ones(990)
    ya = 2 * xa + 1 + rng.normal(0, 0.1, 10)
    yb = 2 * xb + 1 + rng.normal(0, 0.1, 990)
    pq.write_table(pa.table({"x1": xa, "y": ya}), tmp_path / "small.parquet")
    pq.write_table(pa.table({"x1": xb, "y": yb}), tmp_path / "large.parquet")
    result = streamgd.train(job([tmp_path], ["x1"], tmp_path / "out",
                                optimizer__max_epochs=40, optimizer__tol=0.0,
                                optimizer__n_iter_no_change=40))
    stats = result.model.stats
    assert stats.mean[0] == pytest.approx(0.99, rel=1e-15)
    assert stats.variance[0] == pytest.approx(0.0099, rel=1e-13)
    assert (stats.minimum[0], stats.maximum[0]) == (0.0, 1.0)
    weights, intercept, _ = least_squares(np.r_[xa, xb][:, None], np.r_[ya, yb])
    fitted, fitted_intercept = result.model.original_coefficients()
    assert fitted[0] == pytest.approx(weights[0], abs=0.1)
    assert fitted_intercept == pytest.approx(intercept, abs=0.1)


def test_b23_a_huge_float32_value_is_handled_in_float64(tmp_path):
    """b23: 2**64 in a float32 column (its float32 square is inf) is read as
    float64: finite statistics and weights, a loss that falls from epoch one."""
    rng = np.random.default_rng(23)
    x1 = np.round(rng.normal(size=1000) * 64) / 64
    x_huge = np.zeros(1000)
    x_huge[0] = 2.0**64
    pq.write_table(pa.table({"x1": pa.array(x1, pa.float32()),
                             "x_huge": pa.array(x_huge, pa.float32()),
                             "y": pa.array(2 * x1 + 1, pa.float32())}),
                   tmp_path / "huge.parquet")
    result = streamgd.train(job([tmp_path / "huge.parquet"], ["x1", "x_huge"],
                                tmp_path / "out", optimizer__max_epochs=20,
                                optimizer__tol=0.0))
    model = result.model
    assert model.stats.mean[1] == pytest.approx(2.0**64 / 1000, rel=1e-12)
    assert model.stats.variance[1] == pytest.approx(x_huge.var(), rel=1e-12)
    weights, intercept = model.original_coefficients()
    assert np.isfinite(model.params.weights).all()
    costs = model.training["epoch_costs"]
    assert costs[1] < costs[0]
    assert weights[0] == pytest.approx(2.0, abs=1e-2)
    assert abs(weights[1]) < 1e-15
    assert intercept == pytest.approx(1.0, abs=1e-2)
