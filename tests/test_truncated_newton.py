"""Truncated Newton (Newton-CG) for many classes and features: the same optimum
as the factored Newton step, by Hessian-vector products."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skmoe import MixtureOfExpertsClassifier, SoftmaxGate, _newton
from skmoe._gate import AUTO_ALPHA
from skmoe._logistic import fit_logistic_experts
from skmoe._newton import (
    _cross_entropy_hessian,
    _from_differences,
    _penalized_cross_entropy,
    minimize_cross_entropy,
    relaxation_gain,
)
from skmoe._truncated_newton import HessianProducts
from skmoe.datasets import make_moe_classification


@pytest.fixture
def truncated(monkeypatch):
    """Every problem takes the conjugate-gradient step, whatever its size."""
    monkeypatch.setattr(_newton, "TRUNCATED_ABOVE", 0)


def _soft_problem(seed=0, n_samples=600, n_features=5, n_classes=4):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features)) * rng.uniform(0.2, 3, n_features)
    targets = rng.dirichlet(np.ones(n_classes), size=n_samples)
    weights = rng.uniform(size=n_samples)
    return X, targets, weights / weights.sum()


def _proba_at(theta, X, targets, weights, alpha):
    return _penalized_cross_entropy(theta, X, targets, weights, alpha)[2]


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_products_and_diagonal_are_the_dense_hessians(alpha):
    X, targets, weights = _soft_problem()
    theta = np.random.RandomState(1).standard_normal(4 * 6)
    proba = _proba_at(theta, X, targets, weights, alpha)
    curvature = HessianProducts(X, proba, weights, alpha)
    dense = _cross_entropy_hessian(X, proba, weights, alpha)
    direction = np.random.RandomState(2).standard_normal(theta.size)
    np.testing.assert_allclose(
        curvature.product(direction), dense @ direction, rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(curvature.diagonal(), np.diag(dense), rtol=1e-12)
    other = curvature.product(direction, alpha=2.0)
    coefficients = np.tile(np.arange(6) < 5, 4)
    shift = np.where(coefficients, (2.0 - alpha) * direction, 0.0)
    np.testing.assert_allclose(other, dense @ direction + shift, rtol=1e-12)


@pytest.mark.parametrize("how", [{}, {"reference": True}])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_truncated_steps_reach_the_factored_steps_optimum(how, alpha, monkeypatch):
    X, targets, weights = _soft_problem(seed=3)
    start = _from_differences(np.random.RandomState(4).standard_normal(3 * 6), 4)
    dense = minimize_cross_entropy(
        start, X, targets, weights, alpha, tol=1e-11, max_iter=100, **how
    )
    monkeypatch.setattr(_newton, "TRUNCATED_ABOVE", 0)
    cg = minimize_cross_entropy(
        start, X, targets, weights, alpha, tol=1e-11, max_iter=100, **how
    )
    assert dense[2] and cg[2]
    assert isinstance(cg[3], HessianProducts)
    if how:
        params = cg[0].reshape(4, 6)
        np.testing.assert_allclose(params[:, :-1].sum(axis=0), 0.0, atol=1e-12)
    # Both stop on the rounding-level decrease, a gradient about 1e-8 from the
    # optimum of this flat objective: equal values, probabilities near.
    values = [
        _penalized_cross_entropy(end[0], X, targets, weights, alpha)[0]
        for end in (dense, cg)
    ]
    np.testing.assert_allclose(values[1], values[0], rtol=1e-14)
    np.testing.assert_allclose(
        _proba_at(cg[0], X, targets, weights, alpha),
        _proba_at(dense[0], X, targets, weights, alpha),
        atol=1e-6,
    )


def test_the_objective_never_increases_and_stays_finite_on_separable_data(truncated):
    """Separable classes: no optimum without a penalty, the coefficients grow."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 30))
    labels = np.argmax(X[:, :8], axis=1)
    targets = np.eye(8)[labels]
    weights = np.full(300, 1 / 300)
    start = np.zeros(8 * 31)
    values = []
    for max_iter in range(1, 25):
        theta, *_ = minimize_cross_entropy(
            start, X, targets, weights, 0.0, tol=1e-12, max_iter=max_iter
        )
        assert np.all(np.isfinite(theta))
        values.append(_penalized_cross_entropy(theta, X, targets, weights, 0.0)[0])
    assert np.all(np.diff(values) <= 0.0)
    assert values[-1] < 1e-3 * values[0]


@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_experts_match_fit_at_a_tight_tolerance(
    n_classes, fit_intercept, truncated
):
    X, y = make_moe_classification(
        n_samples=1500, n_features=12, n_classes=n_classes, random_state=0
    )
    weights = np.random.RandomState(0).uniform(size=y.size)
    classes, target = np.unique(y, return_inverse=True)
    expert = LogisticRegression(C=0.5, fit_intercept=fit_intercept)
    last_solves = [None]
    left, _, short = fit_logistic_experts(
        [expert], X, target, classes, [weights], last_solves
    )
    assert left == [] and short == []
    assert last_solves[0].hessian is None  # no reference to the rows kept
    exact = LogisticRegression(
        C=0.5,
        fit_intercept=fit_intercept,
        solver="newton-cholesky",
        tol=1e-14,
        max_iter=1000,
    ).fit(X, y, sample_weight=weights)
    scale = np.abs(exact.coef_).max()
    np.testing.assert_allclose(expert.coef_, exact.coef_, atol=1e-7 * scale)
    np.testing.assert_allclose(expert.intercept_, exact.intercept_, atol=1e-7)


def test_relaxation_gain_by_products_is_the_factored_gain():
    X, targets, weights = _soft_problem(seed=5)
    gate = SoftmaxGate(alpha=0.5, tol=1e-12, max_iter=200).fit(
        X, targets, sample_weight=weights
    )
    X_std = (X - gate.mean_) / gate.scale_
    theta = np.column_stack([gate._coef_std, gate._intercept_std]).ravel()
    proba = _proba_at(theta, X_std, targets, weights, 0.5)
    dense = _cross_entropy_hessian(X_std, proba, weights, 0.5, reference=True)
    products = HessianProducts(X_std, proba, weights, 0.5, zero_sum=True)
    expected = relaxation_gain(dense, 0.5, gate._coef_std, 0.5, 0.05)
    assert expected > 0
    got = relaxation_gain(products, 0.5, gate._coef_std, 0.5, 0.05)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_em_with_truncated_steps_reaches_the_same_fit(monkeypatch):
    X, y = make_moe_classification(
        n_samples=1200, n_features=6, n_classes=4, n_experts=2, random_state=2
    )
    params = {"n_experts": 2, "random_state": 0, "tol": 1e-8, "max_iter": 500}
    dense = MixtureOfExpertsClassifier(**params).fit(X, y)
    monkeypatch.setattr(_newton, "TRUNCATED_ABOVE", 0)
    cg = MixtureOfExpertsClassifier(**params).fit(X, y)
    assert dense.converged_ and cg.converged_
    np.testing.assert_allclose(cg.log_likelihood_, dense.log_likelihood_, rtol=1e-6)
    np.testing.assert_allclose(cg.predict_proba(X), dense.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("kronecker", [False, True])
@pytest.mark.parametrize(
    "mask", ["all", "binary", "no intercept", "zero sum", "ragged"]
)
def test_conjugate_gradients_solve_the_newton_system(kronecker, mask):
    """Either preconditioner, every mask EM uses (and one it does not, which
    falls back to Jacobi): the solve is the pseudo-inverse's, on the free entries."""
    n_classes = 2 if mask == "binary" else 4
    X, targets, weights = _soft_problem(seed=6, n_classes=n_classes)
    alpha = 0.05
    theta = np.random.RandomState(7).standard_normal(n_classes * 6)
    proba = _proba_at(theta, X, targets, weights, alpha)
    free = np.ones((n_classes, 6), dtype=bool)
    if mask == "binary":
        free[0] = False
    elif mask == "no intercept":
        free[:, -1] = False
    elif mask == "ragged":
        free[1, 2] = False
    free = free.ravel()
    zero_sum = mask == "zero sum"
    curvature = HessianProducts(X, proba, weights, alpha, zero_sum)
    rhs = np.where(free, np.random.RandomState(8).standard_normal(free.size), 0.0)
    dense = _cross_entropy_hessian(X, proba, weights, alpha)
    if mask in ("all", "ragged"):  # no component along equal intercepts, as a
        rhs.reshape(4, 6)[:, -1] -= rhs.reshape(4, 6)[:, -1].mean()  # gradient
    if zero_sum:
        rhs = (rhs.reshape(4, 6) - rhs.reshape(4, 6).mean(axis=0)).ravel()
        basis = np.kron(np.eye(4) - 0.25, np.eye(6))  # the zero-sum subspace
        expected = basis @ np.linalg.pinv(basis @ dense @ basis) @ basis @ rhs
    else:
        expected = np.zeros_like(rhs)
        expected[free] = np.linalg.pinv(dense[np.ix_(free, free)]) @ rhs[free]
    got = curvature.solve(rhs, free, 1e-12, kronecker=kronecker)
    np.testing.assert_allclose(
        got, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max()
    )
    assert np.all(got[~free] == 0.0)


def test_a_wide_gate_relaxes_its_penalty_and_keeps_no_rows(monkeypatch):
    """Past TRUNCATED_ABOVE the gate's last step is products over its rows:
    they serve the penalty's relaxation as the dense Hessian does, and the
    fitted gate drops them."""
    rng = np.random.RandomState(9)
    X = rng.standard_normal((600, 70))
    logits = X[:, :4] @ (3.0 * rng.standard_normal((4, 4)))
    targets = np.exp(logits - logits.max(axis=1, keepdims=True))
    targets /= targets.sum(axis=1, keepdims=True)
    assert 4 * 71 > _newton.TRUNCATED_ABOVE
    gate = SoftmaxGate(tol=1e-8).fit(X, targets)
    assert gate.alpha_ < AUTO_ALPHA  # relaxed
    assert gate._curvature is None
    monkeypatch.setattr(_newton, "TRUNCATED_ABOVE", 10**9)
    dense = SoftmaxGate(tol=1e-8).fit(X, targets)
    assert dense.alpha_ == gate.alpha_
    np.testing.assert_allclose(gate.predict_proba(X), dense.predict_proba(X), atol=1e-6)
