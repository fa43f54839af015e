"""The softmax gate and its soft-target solver."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.special import softmax

from skmoe import SoftmaxGate
from skmoe._gate import standardize
from skmoe._newton import (
    _cross_entropy_hessian,
    _from_differences,
    _gradient_by_differences,
    _penalized_cross_entropy,
    _to_differences,
    minimize_cross_entropy,
)


def _soft_targets(rng, n_samples, coef, intercept):
    X = rng.standard_normal((n_samples, coef.shape[1]))
    return X, softmax(X @ coef.T + intercept, axis=1)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_gradient_matches_finite_differences(alpha):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 3))
    targets = rng.dirichlet(np.ones(4), size=60)
    weights = rng.uniform(size=60)
    weights /= weights.sum()
    theta = rng.standard_normal(4 * 4)

    _, grad, _ = _penalized_cross_entropy(theta, X, targets, weights, alpha)
    numeric = approx_fprime(
        theta,
        lambda t: _penalized_cross_entropy(t, X, targets, weights, alpha)[0],
        1e-7,
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_hessian_matches_finite_differences_of_the_gradient(alpha, monkeypatch):
    monkeypatch.setattr("skmoe._chunks._CHUNK_FLOATS", 112)  # several blocks
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 3))
    targets = rng.dirichlet(np.ones(4), size=60)
    targets[:5] *= 0.5
    weights = rng.uniform(size=60)
    weights /= weights.sum()
    theta = rng.standard_normal(4 * 4)

    _, _, proba = _penalized_cross_entropy(theta, X, targets, weights, alpha)
    hessian = _cross_entropy_hessian(X, proba, weights * targets.sum(axis=1), alpha)
    numeric = np.column_stack(
        [
            approx_fprime(
                theta,
                lambda t, j=j: _penalized_cross_entropy(t, X, targets, weights, alpha)[
                    1
                ][j],
                1e-7,
            )
            for j in range(theta.size)
        ]
    )
    np.testing.assert_allclose(hessian, numeric, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-15)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_hessian_by_differences_matches_finite_differences(alpha, monkeypatch):
    """In the coordinates of coefficients that sum to zero over the classes, each
    class's parameters less the last class's."""
    monkeypatch.setattr("skmoe._chunks._CHUNK_FLOATS", 112)
    rng = np.random.RandomState(1)
    n_classes = 4
    X = rng.standard_normal((60, 3))
    targets = rng.dirichlet(np.ones(n_classes), size=60)
    weights = rng.uniform(size=60)
    weights /= weights.sum()
    differences = rng.standard_normal((n_classes - 1) * 4)
    theta = _from_differences(differences, n_classes)
    np.testing.assert_allclose(
        theta.reshape(n_classes, 4)[:, :3].sum(axis=0), 0.0, atol=1e-15
    )
    np.testing.assert_allclose(_to_differences(theta, n_classes), differences)

    def gradient(u):
        theta = _from_differences(u, n_classes)
        grad = _penalized_cross_entropy(theta, X, targets, weights, alpha)[1]
        return _gradient_by_differences(grad, n_classes)

    _, _, proba = _penalized_cross_entropy(theta, X, targets, weights, alpha)
    row_weight = weights * targets.sum(axis=1)
    hessian = _cross_entropy_hessian(X, proba, row_weight, alpha, reference=True)
    numeric = np.column_stack(
        [
            approx_fprime(differences, lambda u, j=j: gradient(u)[j], 1e-7)
            for j in range(differences.size)
        ]
    )
    np.testing.assert_allclose(hessian, numeric, rtol=1e-5, atol=1e-6)


def test_newton_by_differences_takes_the_full_hessians_steps():
    rng = np.random.RandomState(2)
    X = rng.standard_normal((500, 3))
    targets = rng.dirichlet(np.ones(4), size=500)
    weights = np.full(500, 1 / 500)
    start = _from_differences(rng.standard_normal(3 * 4), 4)
    for max_iter in (1, 3):
        steps = [
            minimize_cross_entropy(
                start, X, targets, weights, 0.1, tol=0.0, max_iter=max_iter, **how
            )[0]
            for how in (
                {},
                {"reference": True},
                {"reference": True, "final_gradient": False},
            )
        ]
        np.testing.assert_allclose(steps[1], steps[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(steps[2], steps[1])


def test_recovers_softmax_parameters_from_exact_targets():
    """With alpha=0 and targets equal to a softmax, the minimiser is that softmax."""
    rng = np.random.RandomState(0)
    coef = np.array([[2.0, -1.0], [-0.5, 1.5], [0.0, 0.0]])
    intercept = np.array([0.5, -0.2, 0.0])
    X, targets = _soft_targets(rng, 2000, coef, intercept)
    gate = SoftmaxGate(alpha=0.0, tol=1e-10, max_iter=500).fit(X, targets)

    # Softmax parameters are defined up to a shift shared by all experts.
    np.testing.assert_allclose(gate.coef_, coef - coef.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(gate.intercept_, intercept - intercept.mean(), atol=1e-4)
    np.testing.assert_allclose(gate.predict_proba(X), targets, atol=1e-5)


def test_probabilities_do_not_depend_on_feature_scale():
    rng = np.random.RandomState(0)
    X, targets = _soft_targets(rng, 300, np.array([[1.0, 2.0], [-1.0, 0.5]]), 0.0)
    scaled = X * np.array([1e4, 1e-3]) + np.array([5e5, -3.0])
    gate = SoftmaxGate(alpha=1e-2, tol=1e-10).fit(X, targets)
    scaled_gate = SoftmaxGate(alpha=1e-2, tol=1e-10).fit(scaled, targets)
    np.testing.assert_allclose(
        gate.predict_proba(X), scaled_gate.predict_proba(scaled), atol=1e-6
    )


def test_stays_finite_on_separable_data():
    X = np.linspace(-3, 3, 200)[:, None]
    targets = np.column_stack([X[:, 0] < 0, X[:, 0] >= 0]).astype(float)
    gate = SoftmaxGate().fit(X, targets)
    assert np.all(np.isfinite(gate.coef_)) and np.all(np.isfinite(gate.intercept_))
    proba = gate.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert np.mean(np.argmax(proba, axis=1) == np.argmax(targets, axis=1)) == 1.0


def test_intercepts_only_is_the_weighted_mean_target():
    rng = np.random.RandomState(0)
    targets = rng.dirichlet(np.ones(3), size=100)
    weights = rng.uniform(size=100)
    gate = SoftmaxGate().fit(np.empty((100, 0)), targets, sample_weight=weights)
    expected = weights @ targets / weights.sum()
    np.testing.assert_allclose(gate.predict_proba(np.empty((4, 0))), [expected] * 4)


def test_single_expert_has_probability_one():
    X = np.random.RandomState(0).standard_normal((10, 2))
    gate = SoftmaxGate().fit(X, np.ones((10, 1)))
    np.testing.assert_array_equal(gate.predict_proba(X), np.ones((10, 1)))


def test_warm_start_reaches_the_fresh_optimum():
    rng = np.random.RandomState(0)
    X, targets = _soft_targets(rng, 500, rng.standard_normal((3, 2)), 0.0)
    fresh = SoftmaxGate(tol=1e-10).fit(X, targets)
    warm = SoftmaxGate(tol=1e-10).fit(X, rng.dirichlet(np.ones(3), size=500))
    warm.fit(X, targets)
    np.testing.assert_allclose(warm.coef_, fresh.coef_, atol=1e-5)


def test_em_steps_on_the_same_data_keep_the_standardisation():
    """EM's later M-steps reuse the scaling: the same steps as recomputing it."""
    rng = np.random.RandomState(0)
    X, targets = _soft_targets(rng, 300, rng.standard_normal((3, 2)), 0.0)
    X = 50.0 + 7.0 * X
    weights = rng.uniform(0.5, 2.0, size=300)
    kept, recomputed = SoftmaxGate(), SoftmaxGate()
    for step in range(3):
        new_targets = rng.dirichlet(np.ones(3), size=300) if step else targets
        kept._fit(X, new_targets, weights, max_iter=1, same_data=step > 0)
        recomputed._fit(X, new_targets, weights, max_iter=1)
        np.testing.assert_array_equal(kept.scale_, recomputed.scale_)
        np.testing.assert_allclose(kept.coef_, recomputed.coef_, rtol=1e-12)
        np.testing.assert_allclose(
            kept.intercept_, recomputed.intercept_, rtol=1e-12, atol=1e-12
        )


def test_integer_weights_equal_repeated_rows():
    rng = np.random.RandomState(0)
    X, targets = _soft_targets(rng, 80, rng.standard_normal((3, 2)), 0.0)
    weights = rng.randint(0, 4, size=80)
    weighted = SoftmaxGate(tol=1e-10).fit(X, targets, sample_weight=weights)
    repeated = SoftmaxGate(tol=1e-10).fit(
        np.repeat(X, weights, axis=0), np.repeat(targets, weights, axis=0)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-6)


def test_float32_inputs_are_standardised_in_float32():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 4)) * [1.0, 10.0, 0.1, 1e3] + [0.0, 5.0, -1.0, 1e4]
    weights = rng.uniform(size=3000)
    X32 = X.astype(np.float32)
    X_std, mean, scale = standardize(X32, weights)
    expected, expected_mean, expected_scale = standardize(
        X32.astype(np.float64), weights
    )
    assert X_std.dtype == np.float32
    assert mean.dtype == scale.dtype == np.float64
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-6)
    np.testing.assert_allclose(scale, expected_scale, rtol=1e-6)
    np.testing.assert_allclose(X_std, expected, atol=1e-5)


def test_a_gate_fitted_on_float32_matches_float64():
    rng = np.random.RandomState(0)
    X, targets = _soft_targets(rng, 2000, rng.standard_normal((3, 4)), np.zeros(3))
    X32 = X.astype(np.float32)
    single = SoftmaxGate().fit(X32, targets)
    double = SoftmaxGate().fit(X32.astype(np.float64), targets)
    np.testing.assert_allclose(single.coef_, double.coef_, atol=1e-5)
    logits = single.decision_function(X32)
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, double.decision_function(X32), atol=1e-5)


def test_bad_targets_raise():
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match="non-negative"):
        SoftmaxGate().fit(X, -np.ones((3, 2)))
    with pytest.raises(ValueError, match="targets has 2 rows but X has 3"):
        SoftmaxGate().fit(X, np.ones((2, 2)))
