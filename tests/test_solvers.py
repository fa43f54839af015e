"""Training beyond EM: CEM, mini-batch gradient training and partial_fit."""

import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._gradient import epoch_order
from skmoe._linear import RunningNormalEquations, fit_linear_experts, update_running
from skmoe._newton import _penalized_cross_entropy
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.exceptions import ExpertFitError
from skmoe.families import Gaussian

from test_validation import _State


@pytest.fixture(scope="module")
def regression():
    return make_moe_regression(
        n_samples=3000, n_features=2, n_experts=2, random_state=0
    )


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


def _gradient_regressor(**params):
    defaults = dict(solver="gradient", n_init=1, batch_size=100, random_state=0)
    return MixtureOfExpertsRegressor(**{**defaults, **params})


# ---- CEM


def test_cem_fits_experts_that_take_no_sample_weight():
    # Two branches y = sin(x) +- 3 mixed at random: one nearest-neighbours regressor
    # averages them, a mixture of two finds each.
    rng = np.random.RandomState(0)
    x = rng.uniform(-3, 3, size=(600, 1))
    branch = rng.randint(2, size=600)
    y = np.sin(x[:, 0]) + np.where(branch == 1, 3.0, -3.0) + 0.1 * rng.normal(size=600)
    expert = KNeighborsRegressor(n_neighbors=10)
    with pytest.raises(ValueError, match="solver='cem'"):
        MixtureOfExpertsRegressor(expert=expert).fit(x, y)

    moe = MixtureOfExpertsRegressor(
        expert=expert, solver="cem", gate_features=[], random_state=0
    ).fit(x, y)
    assert moe.converged_
    grid = np.linspace(-2.5, 2.5, 11)[:, None]
    curves = np.sort(moe.predict_experts(grid), axis=1)
    truth = np.sin(grid[:, 0])[:, None] + [-3.0, 3.0]
    np.testing.assert_allclose(curves, truth, atol=0.15)
    np.testing.assert_allclose(np.sqrt(moe.noise_variance_), 0.1, rtol=0.3)
    # Hard assignments: every row is explained by the expert of its branch.
    responsible = moe.posterior_proba(x, y).argmax(axis=1)
    assert abs(np.corrcoef(responsible, branch)[0, 1]) > 0.99


def test_cem_is_close_to_em_on_linear_experts(regression):
    X, y = regression
    em = MixtureOfExpertsRegressor(n_init=1, random_state=0).fit(X, y)
    cem = MixtureOfExpertsRegressor(solver="cem", n_init=1, random_state=0).fit(X, y)
    gap = (em.log_likelihood_ - cem.log_likelihood_) / abs(em.log_likelihood_)
    assert 0 <= gap < 0.03


def test_cem_refuses_weights_for_an_expert_without_sample_weight(regression):
    X, y = regression
    moe = MixtureOfExpertsRegressor(expert=KNeighborsRegressor(), solver="cem")
    with pytest.raises(ValueError, match="sample_weight needs an expert"):
        moe.fit(X, y, sample_weight=np.arange(len(y)) % 3)


# ---- the pieces of a mini-batch step


def test_gate_gradient_matches_finite_differences():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    targets = rng.dirichlet(np.ones(4), size=40)
    weights = rng.uniform(size=40)
    weights /= weights.sum()
    theta = rng.normal(size=4 * 4)

    def value(theta):
        return _penalized_cross_entropy(theta, X, targets, weights, 0.3)[0]

    _, grad, _ = _penalized_cross_entropy(theta, X, targets, weights, 0.3)
    numeric = approx_fprime(theta, value, 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("expert", [LinearRegression(), Ridge(alpha=2.0)], ids=repr)
def test_running_normal_equations_forget_with_step_one(expert):
    rng = np.random.RandomState(0)
    X = rng.normal(loc=3.0, size=(300, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=300)
    weights = rng.dirichlet(np.ones(2), size=300)
    online = [clone(expert) for _ in range(2)]
    runnings = [RunningNormalEquations(expert, X[:100]) for expert in online]

    def update(X, y, weights):
        batch_weight = weights.sum()
        update_running(runnings, online, X, y, list(weights.T), batch_weight, rho=1.0)

    update(X[:100] + 5.0, y[:100], weights[:100])
    update(X, y, weights)  # forgets the batch before
    reference = [clone(expert) for _ in range(2)]
    # One batch of all rows: Ridge's alpha is relative to the weight seen, 400 rows
    # here, where a fit on the 300 rows weighs it against 300.
    if isinstance(expert, Ridge):
        for fitted in reference:
            fitted.set_params(alpha=expert.alpha * 300 / 400)
    assert fit_linear_experts(reference, X, y, list(weights.T))[0] == []
    for fast, slow in zip(online, reference, strict=True):
        np.testing.assert_allclose(fast.coef_, slow.coef_, rtol=1e-9)
        np.testing.assert_allclose(fast.intercept_, slow.intercept_, rtol=1e-9)


def test_running_variance_with_step_one_is_the_weighted_variance():
    rng = np.random.RandomState(0)
    outputs = rng.normal(size=(50, 3))
    y = rng.normal(size=50)
    weights = rng.dirichlet(np.ones(3), size=50)
    family = Gaussian()
    online = family.start(y, np.ones(50)).partial_fit(outputs + 1, y, weights, 0.5)
    online.partial_fit(outputs, y, weights, rho=1.0)
    full = family.start(y, np.ones(50)).fit(outputs, y, weights)
    np.testing.assert_allclose(online.variance_, full.variance_, rtol=1e-12)


# ---- mini-batch training


def _batches_of_fit(moe, n_samples, batch_size):
    """The batches ``fit(solver="gradient")`` visits, in its order."""
    seed = check_random_state(moe.random_state).randint(np.iinfo(np.int32).max)
    rng = np.random.RandomState(seed)
    return [
        rows
        for _ in range(moe.max_iter)
        for rows in epoch_order(n_samples, batch_size, rng)
    ]


def _assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.gate_.coef_, b.gate_.coef_)
    np.testing.assert_array_equal(a.gate_.intercept_, b.gate_.intercept_)
    for expert_a, expert_b in zip(a.experts_, b.experts_, strict=True):
        np.testing.assert_array_equal(expert_a.coef_, expert_b.coef_)
        np.testing.assert_array_equal(expert_a.intercept_, expert_b.intercept_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize(
    "expert", [LinearRegression(), SGDRegressor(random_state=0)], ids=repr
)
def test_partial_fit_over_the_batches_of_fit_gives_the_same_model(regression, expert):
    X, y = regression
    X, y = X[:1000], y[:1000]
    weight = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    moe = _gradient_regressor(expert=expert, max_iter=3, tol=0)
    fitted = _quiet(clone(moe).fit, X, y, sample_weight=weight)
    streamed = clone(moe)
    for rows in _batches_of_fit(moe, len(y), 100):
        streamed.partial_fit(X[rows], y[rows], sample_weight=weight[rows])
    _assert_same_model(fitted, streamed, X)
    np.testing.assert_array_equal(fitted.noise_variance_, streamed.noise_variance_)


def test_gradient_reaches_the_log_likelihood_of_em(regression):
    X, y = regression
    em = MixtureOfExpertsRegressor(n_init=1, random_state=0).fit(X, y)
    moe = _quiet(_gradient_regressor(max_iter=20, tol=1e-4).fit, X, y)
    gap = (em.log_likelihood_ - moe.log_likelihood_) / abs(em.log_likelihood_)
    assert gap < 0.01
    # log_likelihood_ is the final model's, over all rows.
    np.testing.assert_allclose(moe.log_likelihood_, moe.score_samples(X, y).mean())
    assert moe.log_likelihood_curve_.shape == (moe.n_iter_,)


def test_gradient_fits_from_a_memmap_as_from_an_array(regression, tmp_path):
    X, y = regression
    stored = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float64, X.shape)
    stored[:] = X
    stored.flush()
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    moe = _gradient_regressor(max_iter=2)
    from_array = _quiet(clone(moe).fit, X, y)
    from_memmap = _quiet(clone(moe).fit, mapped, y)
    _assert_same_model(from_array, from_memmap, X)


def test_classifier_partial_fit_with_classes_declared_on_the_first_call():
    X, y = make_moe_classification(
        n_samples=3000, n_experts=2, n_classes=3, random_state=0
    )
    classes = np.unique(y)
    # The first chunk shows two of the three classes; the rest come in any order.
    rng = np.random.RandomState(0)
    two_classes = np.flatnonzero(y != classes[-1])[:200]
    order = np.concatenate(
        [two_classes, rng.permutation(np.setdiff1d(np.arange(len(y)), two_classes))]
    )
    X, y = X[order], y[order]
    moe = MixtureOfExpertsClassifier(
        expert=SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0),
        solver="gradient",
        batch_size=100,
        random_state=0,
    )
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clone(moe).partial_fit(X[:200], y[:200])
    moe.partial_fit(X[:200], y[:200], classes=classes)
    np.testing.assert_array_equal(moe.classes_, classes)
    for epoch in range(5):
        for start in rng.permutation(15) * 200 if epoch else range(200, 3000, 200):
            moe.partial_fit(X[start : start + 200], y[start : start + 200])
    assert moe.predict_proba(X[:5]).shape == (5, 3)
    em = MixtureOfExpertsClassifier(random_state=0).fit(X, y)
    assert moe.score(X, y) > em.score(X, y) - 0.03
    assert moe.score_samples(X, y).mean() > em.log_likelihood_ - 0.08


# ---- bad input


def test_partial_fit_needs_solver_gradient(regression):
    X, y = regression
    moe = MixtureOfExpertsRegressor()
    assert not hasattr(moe, "partial_fit")
    # The error itself says why, not only its chained cause.
    with pytest.raises(AttributeError, match="partial_fit only with solver='gradient'"):
        moe.partial_fit(X, y)


def test_gradient_refuses_an_expert_without_partial_fit(regression):
    X, y = regression
    moe = _gradient_regressor(expert=KNeighborsRegressor())
    with pytest.raises(ValueError, match=r"KNeighborsRegressor\(\).*partial_fit"):
        moe.fit(X, y)
    with pytest.raises(ValueError, match=r"KNeighborsRegressor\(\).*partial_fit"):
        moe.partial_fit(X, y)
    assert not hasattr(moe, "n_features_in_")


@pytest.mark.parametrize(
    "batch_size, error, match",
    [
        (5000, ValueError, "batch_size=5000 is larger than the number of samples"),
        (0, InvalidParameterError, "'batch_size' parameter"),
        (-3, InvalidParameterError, "'batch_size' parameter"),
        (1, ValueError, "batch_size=1 should be >= n_experts=2"),
    ],
)
def test_bad_batch_size_leaves_a_fitted_model_unchanged(
    regression, batch_size, error, match
):
    X, y = regression
    moe = _quiet(_gradient_regressor(max_iter=2).fit, X, y)
    moe.set_params(batch_size=batch_size)
    state = _State(moe, X)
    with pytest.raises(error, match=match):
        moe.fit(X, y)
    state.assert_unchanged(moe, X)


def test_partial_fit_with_other_features_leaves_the_model_unchanged(regression):
    X, y = regression
    moe = _gradient_regressor().partial_fit(X[:500], y[:500])
    state = _State(moe, X)
    with pytest.raises(ValueError, match="X has 3 features"):
        moe.partial_fit(np.column_stack([X[:100], X[:100, 0]]), y[:100])
    state.assert_unchanged(moe, X)


def test_partial_fit_with_new_classes_leaves_the_model_unchanged():
    X, y = make_moe_classification(n_samples=600, n_classes=3, random_state=0)
    moe = MixtureOfExpertsClassifier(
        expert=SGDClassifier(loss="log_loss", random_state=0),
        solver="gradient",
        random_state=0,
    ).partial_fit(X[:300], y[:300], classes=[0, 1, 2])
    state = _State(moe, X)
    with pytest.raises(ValueError, match=r"labels \[5\] that are not among"):
        moe.partial_fit(X[:3], [0, 5, 1])
    with pytest.raises(ValueError, match="classes"):
        moe.partial_fit(X[:3], [0, 2, 1], classes=[0, 1, 2, 3])
    state.assert_unchanged(moe, X)


def test_partial_fit_failing_in_an_expert_leaves_the_model_unchanged(regression):
    X, y = regression

    class FailingSGD(SGDRegressor):
        def partial_fit(self, X, y, sample_weight=None):
            if getattr(type(self), "fail", False):
                raise RuntimeError("expert failed")
            return super().partial_fit(X, y, sample_weight=sample_weight)

    moe = _gradient_regressor(expert=FailingSGD()).partial_fit(X[:300], y[:300])
    state = _State(moe, X)
    FailingSGD.fail = True
    with pytest.raises(ExpertFitError, match=r"expert 0 .* partial_fit") as raised:
        moe.partial_fit(X[300:600], y[300:600])
    assert str(raised.value.__cause__) == "expert failed"
    state.assert_unchanged(moe, X)


def test_partial_fit_with_zero_weights_leaves_the_model_unchanged(regression):
    X, y = regression
    moe = _gradient_regressor().partial_fit(X[:300], y[:300])
    state = _State(moe, X)
    with pytest.raises(ValueError, match=r"(non-zero|sums to zero)"):
        moe.partial_fit(X[:100], y[:100], sample_weight=np.zeros(100))
    state.assert_unchanged(moe, X)
