"""EM against the math: recovery, monotonicity, special cases, the NPreg benchmark."""

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import softmax
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression

from skmoe import (
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
    _em,
)
from skmoe.datasets import make_moe_classification, make_moe_regression, make_npreg


def _match(fitted, true):
    """Permutation of fitted experts that best matches the true ones (rows)."""
    cost = ((fitted[:, None, :] - true[None, :, :]) ** 2).sum(axis=2)
    fitted_index, true_index = linear_sum_assignment(cost)
    return fitted_index[np.argsort(true_index)]


def _true_regression_log_likelihood(X, y, params):
    gate = softmax(X @ params.gate_coef.T + params.gate_intercept, axis=1)
    means = X @ params.coef.T + params.intercept
    density = gate * norm.pdf(y[:, None], means, params.noise_std)
    return np.log(density.sum(axis=1)).mean(), gate


def test_regressor_recovers_a_known_mixture():
    X, y, params = make_moe_regression(
        n_samples=3000,
        n_features=2,
        n_experts=3,
        noise=0.5,
        random_state=0,
        return_params=True,
    )
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    assert moe.converged_

    fitted = np.array([np.append(e.coef_, e.intercept_) for e in moe.experts_])
    true = np.column_stack([params.coef, params.intercept])
    order = _match(fitted, true)
    np.testing.assert_allclose(fitted[order], true, atol=0.1)
    np.testing.assert_allclose(np.sqrt(moe.noise_variance_[order]), 0.5, atol=0.03)

    true_ll, true_gate = _true_regression_log_likelihood(X, y, params)
    gate = moe.predict_gate_proba(X)[:, order]
    assert np.mean(np.abs(gate - true_gate)) < 0.03
    # The MLE is at least as likely as the truth, and only a little more
    # (about n_parameters / (2 n) by the usual chi-square argument).
    assert true_ll - 1e-4 <= moe.log_likelihood_ <= true_ll + 0.01


def test_classifier_recovers_a_known_mixture():
    X, y, params = make_moe_classification(
        n_samples=4000, n_experts=2, n_classes=3, random_state=1, return_params=True
    )
    moe = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(C=1e4), random_state=0
    ).fit(X, y)

    gate = softmax(X @ params.gate_coef.T + params.gate_intercept, axis=1)
    logits = np.einsum("ij,kcj->ikc", X, params.coef) + params.intercept
    true_proba = np.einsum("ik,ikc->ic", gate, softmax(logits, axis=2))
    true_ll = np.log(true_proba[np.arange(y.size), y]).mean()

    assert np.mean(np.abs(moe.predict_proba(X) - true_proba)) < 0.03
    assert true_ll - 1e-3 <= moe.log_likelihood_ <= true_ll + 0.01


def _penalised_objective(moe):
    return moe.log_likelihood_ - moe.gate_.penalty_


@pytest.mark.parametrize("alpha", [0.0, 1e-4, 1e-1])
def test_log_likelihood_never_decreases(alpha):
    """Stepped one iteration at a time, EM never lowers its objective.

    The objective is the log-likelihood less the gate's penalty; with ``alpha=0``
    that is the plain log-likelihood.
    """
    X, y = make_moe_regression(n_samples=400, n_experts=3, random_state=2)
    moe = MixtureOfExpertsRegressor(
        n_experts=3,
        gate=SoftmaxGate(alpha=alpha, tol=1e-10),
        init="random",
        n_init=1,
        max_iter=1,
        warm_start=True,
        random_state=0,
    )
    objectives = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(40):
            objectives.append(_penalised_objective(moe.fit(X, y)))
    steps = np.diff(objectives)
    assert np.all(steps >= -1e-9), steps.min()
    assert objectives[-1] > objectives[0] + 0.1  # EM did real work


@pytest.mark.parametrize("sample_weight", [None, "random"])
def test_one_expert_is_the_plain_linear_regression(sample_weight):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.standard_normal(200)
    weights = rng.uniform(0.1, 2, size=200) if sample_weight else None
    moe = MixtureOfExpertsRegressor(n_experts=1).fit(X, y, sample_weight=weights)
    plain = LinearRegression().fit(X, y, sample_weight=weights)

    np.testing.assert_allclose(moe.experts_[0].coef_, plain.coef_, rtol=1e-12)
    np.testing.assert_allclose(moe.predict(X), plain.predict(X), rtol=1e-12)
    residual_variance = np.average((y - plain.predict(X)) ** 2, weights=weights)
    np.testing.assert_allclose(moe.noise_variance_, [residual_variance], rtol=1e-10)
    np.testing.assert_allclose(
        moe.score_samples(X, y),
        norm.logpdf(y, plain.predict(X), np.sqrt(residual_variance)),
        rtol=1e-10,
    )


def test_one_expert_is_the_plain_logistic_regression():
    X, y = make_moe_classification(n_samples=300, n_classes=3, random_state=0)
    moe = MixtureOfExpertsClassifier(n_experts=1).fit(X, y)
    # The expert is fitted to its optimum (the logistic fast path), which
    # LogisticRegression's own solvers reach only with a tight tolerance.
    plain = LogisticRegression(solver="newton-cholesky", tol=1e-14).fit(X, y)
    np.testing.assert_allclose(moe.experts_[0].coef_, plain.coef_, rtol=1e-7)
    np.testing.assert_allclose(moe.predict_proba(X), plain.predict_proba(X), rtol=1e-6)
    np.testing.assert_array_equal(moe.predict(X), plain.predict(X))


def _npreg_design(X):
    return np.column_stack([X[:, 0], X[:, 0] ** 2])


@pytest.mark.parametrize("seed", range(5))
def test_npreg_reaches_the_generating_model(seed):
    """flexmix's NPreg: experts on [x, x^2], gate on [x], two crossing curves."""
    X, y, params = make_npreg(random_state=seed, return_params=True)
    Z = _npreg_design(X)
    moe = MixtureOfExpertsRegressor(
        n_experts=2, gate_features=[0], expert_features=[0, 1], random_state=seed
    ).fit(Z, y)

    density = params.priors * norm.pdf(y[:, None], params.curves(X), params.noise_std)
    true_ll = np.log(density.sum(axis=1)).mean()
    assert moe.log_likelihood_ >= true_ll

    # Where the curves cross no assignment can be sure; the generating model's own
    # posterior sets the accuracy to expect.
    bayes_accuracy = np.mean(density.argmax(axis=1) == params.labels)
    assigned = moe.posterior_proba(Z, y).argmax(axis=1)
    accuracy = max(
        np.mean(assigned == params.labels), np.mean(assigned != params.labels)
    )
    assert accuracy >= bayes_accuracy - 0.03


@pytest.mark.parametrize(
    "Estimator", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier]
)
def test_integer_weights_equal_repeated_rows(Estimator):
    """With a fixed start, a weight of w is the row repeated w times."""
    if Estimator is MixtureOfExpertsRegressor:
        X, y = make_moe_regression(n_samples=150, n_experts=2, random_state=3)
    else:
        X, y = make_moe_classification(n_samples=150, random_state=3)
    rng = np.random.RandomState(0)
    weights = rng.randint(0, 4, size=150)
    init = rng.dirichlet(np.ones(2), size=150)
    gate = SoftmaxGate(tol=1e-12)
    weighted = Estimator(n_experts=2, gate=gate, init=init, tol=1e-10, max_iter=30)
    repeated = Estimator(
        n_experts=2,
        gate=gate,
        init=np.repeat(init, weights, axis=0),
        tol=1e-10,
        max_iter=30,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted.fit(X, y, sample_weight=weights)
        repeated.fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.log_likelihood_, repeated.log_likelihood_)
    np.testing.assert_allclose(
        weighted.predict_gate_proba(X), repeated.predict_gate_proba(X), atol=1e-6
    )


def test_same_random_state_gives_identical_fits():
    X, y = make_moe_regression(n_samples=500, random_state=0)
    first = MixtureOfExpertsRegressor(n_experts=3, random_state=7).fit(X, y)
    second = MixtureOfExpertsRegressor(n_experts=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(
        first.log_likelihood_curve_, second.log_likelihood_curve_
    )
    np.testing.assert_array_equal(first.predict(X), second.predict(X))


def test_fitted_model_agrees_with_its_fit():
    """The stored log-likelihood and curve are those of the returned parameters."""
    X, y = make_moe_classification(n_samples=400, n_classes=3, random_state=0)
    weights = np.random.RandomState(0).uniform(0.5, 1.5, size=400)
    moe = MixtureOfExpertsClassifier(n_experts=2, random_state=0)
    moe.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(
        np.average(moe.score_samples(X, y), weights=weights),
        moe.log_likelihood_,
        rtol=1e-12,
    )
    assert moe.log_likelihood_curve_[-1] == moe.log_likelihood_
    assert len(moe.log_likelihood_curve_) == moe.n_iter_
    posterior = moe.posterior_proba(X, y)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0)
    np.testing.assert_allclose(moe.predict_gate_proba(X).sum(axis=1), 1.0)


def test_not_converging_warns_and_says_so():
    X, y = make_moe_regression(n_samples=300, random_state=0)
    moe = MixtureOfExpertsRegressor(n_experts=3, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=2"):
        moe.fit(X, y)
    assert not moe.converged_ and moe.n_iter_ == 2


def test_warm_start_continues_the_previous_fit():
    X, y = make_moe_regression(n_samples=300, random_state=0)
    moe = MixtureOfExpertsRegressor(
        n_experts=3, init="random", n_init=1, max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = moe.fit(X, y).log_likelihood_
        moe.set_params(warm_start=True, max_iter=200)
        moe.fit(X, y)
    assert moe.converged_ and moe.log_likelihood_ > first


def test_empty_gate_features_give_a_mixture_of_regressions():
    """Two lines through the same inputs, mixed 30/70 whatever x is."""
    rng = np.random.RandomState(0)
    x = rng.uniform(-3, 3, size=2000)
    line = rng.uniform(size=2000) < 0.3
    y = np.where(line, 2 * x + 1, -x - 2) + 0.3 * rng.standard_normal(2000)
    moe = MixtureOfExpertsRegressor(n_experts=2, gate_features=[], random_state=0)
    moe.fit(x[:, None], y)

    gate = moe.predict_gate_proba(x[:, None])
    np.testing.assert_allclose(gate, np.broadcast_to(gate[0], gate.shape))
    slopes = sorted(e.coef_[0] for e in moe.experts_)
    np.testing.assert_allclose(slopes, [-1.0, 2.0], atol=0.05)
    weight_of_line = gate[0][np.argmax([e.coef_[0] for e in moe.experts_])]
    assert abs(weight_of_line - line.mean()) < 0.03


def test_gate_and_experts_see_different_columns():
    """The gate routes on column 0; the experts regress on column 1 only."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1500, 2))
    y = np.where(X[:, 0] > 0, 3 * X[:, 1], -2 * X[:, 1]) + 0.1 * rng.standard_normal(
        1500
    )
    moe = MixtureOfExpertsRegressor(
        n_experts=2, gate_features=[0], expert_features=[1], random_state=0
    ).fit(X, y)
    assert all(e.n_features_in_ == 1 for e in moe.experts_)
    assert moe.gate_.coef_.shape == (2, 1)
    assert moe.score(X, y) > 0.99


def _make_data(Estimator, **params):
    """A data set of ``skmoe.datasets`` for the regressor or the classifier."""
    if Estimator is MixtureOfExpertsRegressor:
        return make_moe_regression(**params)
    return make_moe_classification(**params)


@pytest.mark.parametrize(
    "Estimator", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier]
)
def test_posterior_is_the_last_e_step_of_the_fit(Estimator, monkeypatch):
    X, y = _make_data(Estimator, n_samples=300, random_state=0)
    e_steps = []
    original = _em.e_step

    def recording_e_step(parts, data, outputs=None):
        log_prob, resp = original(parts, data, outputs)
        e_steps.append(resp.copy())
        return log_prob, resp

    monkeypatch.setattr(_em, "e_step", recording_e_step)
    moe = Estimator(n_experts=2, n_init=1, random_state=0).fit(X, y)
    monkeypatch.undo()
    np.testing.assert_allclose(
        moe.posterior_proba(X, y), e_steps[-1], rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(
    "Estimator", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier]
)
def test_float32_input_fits_like_float64(Estimator):
    X, y = _make_data(Estimator, n_samples=400, random_state=0)
    X32 = X.astype(np.float32)
    single = Estimator(n_experts=2, n_init=1, random_state=0).fit(X32, y)
    double = Estimator(n_experts=2, n_init=1, random_state=0).fit(
        X32.astype(np.float64), y
    )
    assert np.isfinite(single.log_likelihood_)
    np.testing.assert_allclose(
        single.log_likelihood_, double.log_likelihood_, rtol=1e-4
    )
    np.testing.assert_allclose(
        single.predict_gate_proba(X32), double.predict_gate_proba(X32), atol=1e-4
    )


@pytest.mark.parametrize(
    "Estimator", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier]
)
def test_float32_input_is_not_copied_to_float64(Estimator):
    X, y = _make_data(Estimator, n_samples=200_000, n_features=10, random_state=0)
    moe = Estimator(
        n_experts=2, n_init=1, max_iter=2, init="random", init_size=None, random_state=0
    )

    def peak_bytes(X):
        tracemalloc.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clone(moe).fit(X, y)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # The gate's standardised copy, the logistic experts' centred one: in float32
    # they take half the bytes. A float64 copy of X would add X.nbytes instead.
    saved = peak_bytes(X) - peak_bytes(X.astype(np.float32))
    assert saved > 0.2 * X.nbytes
