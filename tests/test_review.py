"""What a new user and an adversarial review of skmoe tripped on (issue 24).

One test per finding: each failed on the code before its fix. The bad inputs that
are refused up front are in the bad-input catalogue instead
(``test_bad_input_catalogue.py``).
"""

import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor


@pytest.fixture(scope="module")
def two_regimes():
    """A V-shaped target on one feature: the gate must split at zero."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 1))
    y = np.where(X[:, 0] > 0, 3 * X[:, 0], 2 - 3 * X[:, 0])
    return X, y + 0.05 * rng.normal(size=300)


# ---- silent wrong answers


@pytest.mark.parametrize("factor", [1e-12, 1e-100, 1e25])
def test_the_units_of_a_feature_do_not_switch_the_gate_off(two_regimes, factor):
    X, y = two_regimes
    reference = MixtureOfExpertsRegressor(random_state=0).fit(X, y).score(X, y)
    scaled = MixtureOfExpertsRegressor(random_state=0).fit(X * factor, y)
    assert scaled.score(X * factor, y) == pytest.approx(reference, abs=1e-6)
    assert scaled.gate_.scale_[0] == pytest.approx(factor * X.std(), rel=1e-6)


def test_float32_features_near_1e25_keep_a_finite_gate(two_regimes):
    X, y = two_regimes
    reference = MixtureOfExpertsRegressor(random_state=0).fit(X, y).score(X, y)
    X32 = (X * 1e25).astype(np.float32)
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X32, y)
    assert np.all(np.isfinite(moe.gate_.scale_))
    assert moe.score(X32, y) == pytest.approx(reference, abs=1e-4)


def test_a_column_constant_on_the_weighted_rows_keeps_scale_one():
    from skmoe._gate import standardize

    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 7.0]])
    weights = np.array([1.0, 1.0, 0.0])
    _, _, scale = standardize(X, weights)
    assert scale[1] == 1.0
    assert scale[0] == pytest.approx(0.5)
