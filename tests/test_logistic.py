"""The fast path of LogisticRegression experts: Newton's method instead of fit."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skmoe import MixtureOfExpertsClassifier, SoftmaxGate
from skmoe._logistic import (
    fit_logistic_experts,
    has_logistic_fast_path,
    solve_logistic_experts,
)
from skmoe.datasets import make_moe_classification


def _weighted_problem(n_classes, seed=0, n_samples=2000):
    """Badly scaled, shifted columns, overlapping classes and uneven weights."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, 4)) * [1.0, 10.0, 0.1, 3.0] + [5, -2, 0, 1]
    signal = X @ [1.0, 0.1, 5.0, -0.3] + rng.standard_normal(n_samples)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))
    y = np.where(rng.uniform(size=n_samples) < 0.2, rng.randint(n_classes), y)
    weights = rng.uniform(size=n_samples) ** 2
    return X, np.array(["a", "b", "c", "d", "e"])[y], weights


def _objective(model, X, y, weights):
    """``sum_i w_i * log-loss_i + ||coef||^2 / (2 C)``: what fit minimises."""
    proba = model.predict_proba(X)[
        np.arange(len(y)), np.searchsorted(model.classes_, y)
    ]
    return -weights @ np.log(proba) + np.sum(model.coef_**2) / (2 * model.C)


def _fast_fit(expert, X, y, weights, last_solves=None):
    classes, target = np.unique(y, return_inverse=True)
    last_solves = [None] if last_solves is None else last_solves
    left, _, short = fit_logistic_experts(
        [expert], X, target, classes, [weights], last_solves
    )
    assert left == [] and short == []
    return expert


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fast_path_returns_the_fitted_experts_target_probabilities(
    n_classes, fit_intercept
):
    """What EM's E-step reads instead of calling predict_proba."""
    X, y, weights = _weighted_problem(n_classes)
    classes, target = np.unique(y, return_inverse=True)
    experts = [LogisticRegression(fit_intercept=fit_intercept) for _ in range(2)]
    _, target_proba, _ = fit_logistic_experts(
        experts, X, target, classes, [weights, weights[::-1].copy()], [None, None]
    )
    assert sorted(target_proba) == [0, 1]
    for j, expert in enumerate(experts):
        expected = expert.predict_proba(X)[np.arange(len(y)), target]
        np.testing.assert_allclose(target_proba[j], expected, rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_fast_path_matches_fit_at_a_tight_tolerance(n_classes, fit_intercept, C):
    X, y, weights = _weighted_problem(n_classes)
    params = {"C": C, "fit_intercept": fit_intercept}
    fast = _fast_fit(LogisticRegression(**params), X, y, weights)
    exact = LogisticRegression(
        **params, solver="newton-cholesky", tol=1e-14, max_iter=1000
    ).fit(X, y, sample_weight=weights)

    assert fast.coef_.shape == exact.coef_.shape
    assert fast.intercept_.shape == exact.intercept_.shape
    np.testing.assert_array_equal(fast.classes_, exact.classes_)
    scale = np.abs(exact.coef_).max()
    np.testing.assert_allclose(fast.coef_, exact.coef_, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(fast.intercept_, exact.intercept_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast.predict_proba(X), exact.predict_proba(X), atol=1e-7)
    objective = _objective(exact, X, y, weights)
    assert _objective(fast, X, y, weights) <= objective + 1e-12 * objective
    assert fast.n_iter_.shape == (1,)
    assert fast.n_features_in_ == 4


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fast_path_is_at_least_as_good_as_the_default_fit(n_classes):
    X, y, weights = _weighted_problem(n_classes, seed=1)
    fast = _fast_fit(LogisticRegression(), X, y, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = LogisticRegression().fit(X, y, sample_weight=weights)
    assert _objective(fast, X, y, weights) <= _objective(default, X, y, weights)


def test_warm_start_and_a_stale_hessian_reach_the_same_optimum():
    X, y, weights = _weighted_problem(3, seed=2)
    last_solves = [None]
    expert = _fast_fit(LogisticRegression(), X, y, weights, last_solves)
    assert last_solves[0] is not None
    # New weights, the previous coefficients, Hessian and probabilities as the
    # start: EM's case.
    new_weights = np.random.RandomState(3).uniform(size=weights.size)
    _fast_fit(expert, X, y, new_weights, last_solves)
    cold = _fast_fit(LogisticRegression(), X, y, new_weights)
    # The tolerance of the comparison with fit above: along the column of scale 0.1
    # the objective is flat enough that both solves end about 1e-7 from the optimum
    # (newton-cholesky with tol=1e-14), each on its own side.
    np.testing.assert_allclose(expert.coef_, cold.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(expert.intercept_, cold.intercept_, atol=1e-6)


def test_kept_probabilities_serve_only_the_coefficients_they_belong_to():
    X, y, weights = _weighted_problem(3, seed=4)
    last_solves = [None]
    expert = _fast_fit(LogisticRegression(), X, y, weights, last_solves)
    end = last_solves[0]
    assert end.proba_at(expert.coef_, expert.intercept_) is end.proba
    np.testing.assert_allclose(end.proba, expert.predict_proba(X), rtol=1e-12)
    # Refitted by anything else, the expert no longer matches them.
    expert.fit(X, y, sample_weight=weights[::-1])
    assert end.proba_at(expert.coef_, expert.intercept_) is None
    assert end.proba_at(expert.coef_[:1], expert.intercept_[:1]) is None


def test_a_class_without_weight_is_left_to_the_experts_own_fit():
    X, y, weights = _weighted_problem(3)
    weights[y == "b"] = 0.0
    classes, target = np.unique(y, return_inverse=True)
    experts = [LogisticRegression(), LogisticRegression()]
    other = np.ones_like(weights)
    left, _, _ = fit_logistic_experts(
        experts, X, target, classes, [weights, other], [None, None]
    )
    assert left == [0]
    assert not hasattr(experts[0], "coef_")
    assert experts[1].coef_.shape == (3, 4)


def test_a_class_fading_from_a_solved_expert_stays_on_newton():
    """EM drives the weight of a class an expert does not explain towards zero:
    once solved, the expert keeps its Newton solves at any share of that class
    (its own fit, from zero, used to undo them and make EM's likelihood fall)."""
    X, y, weights = _weighted_problem(3)
    classes, target = np.unique(y, return_inverse=True)
    expert, last_solves = LogisticRegression(), [None]
    _fast_fit(expert, X, y, weights, last_solves)
    for share in (1e-9, 1e-13, 0.0):
        faded = np.where(y == "b", share * weights, weights)
        left, _, _ = fit_logistic_experts(
            [expert], X, target, classes, [faded], last_solves
        )
        assert left == []
        assert np.all(np.isfinite(expert.coef_))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            own = LogisticRegression().fit(X, y, sample_weight=faded)
        assert _objective(expert, X, y, faded) <= _objective(own, X, y, faded)


@pytest.mark.parametrize(
    "expert",
    [
        LogisticRegression(class_weight="balanced"),
        LogisticRegression(l1_ratio=1.0, solver="saga"),
        LogisticRegression(C=np.inf),
        LogisticRegression(solver="liblinear"),
    ],
    ids=["class_weight", "l1", "unpenalised", "liblinear"],
)
def test_other_objectives_have_no_fast_path(expert):
    assert not has_logistic_fast_path(expert)
    assert has_logistic_fast_path(LogisticRegression(C=0.5, solver="newton-cg"))


def _count_fits(monkeypatch):
    calls = []
    original = LogisticRegression.fit

    def counting_fit(self, X, y, sample_weight=None):
        calls.append(1)
        return original(self, X, y, sample_weight=sample_weight)

    monkeypatch.setattr(LogisticRegression, "fit", counting_fit)
    return calls


def test_em_fits_logistic_experts_without_their_fit(monkeypatch):
    X, y = make_moe_classification(n_samples=600, n_classes=3, random_state=2)
    calls = _count_fits(monkeypatch)
    predictions = []
    original = LogisticRegression.predict_proba
    monkeypatch.setattr(
        LogisticRegression,
        "predict_proba",
        lambda self, X: predictions.append(1) or original(self, X),
    )
    # Every expert keeps weight on every class here: an expert without weight on
    # a class has its own fit (tested above).
    moe = MixtureOfExpertsClassifier(
        n_experts=2, n_init=1, init="random", random_state=0
    ).fit(X, y)
    assert calls == []
    assert moe.n_iter_ > 10
    # The E-steps read the probabilities of Newton's last pass, not predict_proba.
    assert len(predictions) < moe.n_iter_
    for expert in moe.experts_:
        assert type(expert) is LogisticRegression
        np.testing.assert_array_equal(expert.classes_, moe.classes_)
        assert expert.coef_.shape == (3, X.shape[1])


def test_experts_solved_in_threads_give_the_same_fit(monkeypatch):
    X, y = make_moe_classification(n_samples=600, n_classes=3, random_state=2)
    params = {"n_experts": 2, "n_init": 1, "init": "random", "random_state": 0}
    calls = _count_fits(monkeypatch)
    serial = MixtureOfExpertsClassifier(**params, n_jobs=1).fit(X, y)
    threaded = MixtureOfExpertsClassifier(**params, n_jobs=2).fit(X, y)
    assert calls == []
    np.testing.assert_array_equal(
        threaded.log_likelihood_curve_, serial.log_likelihood_curve_
    )
    for expert, expected in zip(threaded.experts_, serial.experts_, strict=True):
        np.testing.assert_array_equal(expert.coef_, expected.coef_)
        np.testing.assert_array_equal(expert.intercept_, expected.intercept_)


def test_em_with_the_fast_path_matches_em_with_tight_expert_fits(monkeypatch):
    X, y = make_moe_classification(n_samples=800, n_classes=3, random_state=1)
    # A fixed gate penalty: "auto"'s relaxation is a yes-or-no decision at a
    # threshold, which the two paths' 1e-9 differences may take an iteration apart.
    params = {
        "n_experts": 2,
        "n_init": 1,
        "random_state": 0,
        "tol": 1e-10,
        "gate": SoftmaxGate(alpha=1e-6),
    }
    expert = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000)
    _record_fast_path(monkeypatch, exact=True)  # solve, as the experts' fit does
    fast = MixtureOfExpertsClassifier(expert, **params).fit(X, y)

    calls = _count_fits(monkeypatch)
    monkeypatch.setattr("skmoe._updaters.has_logistic_fast_path", lambda expert: False)
    slow = MixtureOfExpertsClassifier(expert, **params).fit(X, y)
    assert len(calls) == 2 * slow.n_iter_

    assert fast.n_iter_ == slow.n_iter_
    np.testing.assert_allclose(fast.log_likelihood_, slow.log_likelihood_, rtol=1e-9)
    np.testing.assert_allclose(
        fast.predict_proba(X), slow.predict_proba(X), rtol=1e-6, atol=1e-9
    )


def _record_fast_path(monkeypatch, exact=False):
    """Each M-step's ``max_steps``, experts stopped short and weights."""
    calls = []
    original = solve_logistic_experts

    def recording(experts, rows, classes, weights, *args, **kwargs):
        if exact:
            kwargs["max_steps"] = None
        left, proba, short = original(experts, rows, classes, weights, *args, **kwargs)
        calls.append((kwargs["max_steps"], short, [w.copy() for w in weights]))
        return left, proba, short

    monkeypatch.setattr("skmoe._updaters.solve_logistic_experts", recording)
    return calls


def test_em_steps_experts_and_ends_on_an_m_step_that_solves_them(monkeypatch):
    """One Newton step per expert and M-step, as the gate takes; the last M-step
    solves every expert, so the fit ends where the experts' own fit would."""
    X, y = make_moe_classification(n_samples=3000, n_classes=3, random_state=1)
    params = {"n_experts": 2, "n_init": 1, "random_state": 0, "tol": 1e-10}
    calls = _record_fast_path(monkeypatch)
    stepped = MixtureOfExpertsClassifier(**params).fit(X, y)
    assert stepped.converged_
    assert all(max_steps == 1 for max_steps, _, _ in calls[:-1])
    assert sum(bool(short) for _, short, _ in calls) > 10
    # The last M-step left no expert short: a solving M-step, or a step that
    # reached every expert's tolerance.
    _, last_short, last_weights = calls[-1]
    assert last_short == []
    for expert, weights in zip(stepped.experts_, last_weights, strict=True):
        solved = _fast_fit(LogisticRegression(), X, y, weights)
        # Both solves end at the rounding level of the objective, where the
        # intercept of a class with little weight in the expert is flat (they
        # differ by 7e-5 here): compare the objectives and the coefficients.
        np.testing.assert_allclose(
            _objective(expert, X, y, weights),
            _objective(solved, X, y, weights),
            rtol=1e-13,
        )
        np.testing.assert_allclose(expert.coef_, solved.coef_, atol=1e-6)

    # EM that solves the experts at every M-step reaches the same fit, to the
    # experts' own tolerance: both runs end where no M-step moves them any more.
    _record_fast_path(monkeypatch, exact=True)
    solved = MixtureOfExpertsClassifier(**params).fit(X, y)
    np.testing.assert_allclose(
        stepped.log_likelihood_, solved.log_likelihood_, rtol=1e-7
    )
    np.testing.assert_allclose(
        stepped.predict_proba(X), solved.predict_proba(X), atol=1e-5
    )


def test_cem_keeps_the_experts_own_fit(monkeypatch):
    X, y = make_moe_classification(n_samples=400, n_classes=2, random_state=0)
    calls = _count_fits(monkeypatch)
    moe = MixtureOfExpertsClassifier(
        n_experts=2, n_init=1, solver="cem", init="random", random_state=0
    )
    moe.fit(X, y)
    assert len(calls) == 2 * moe.n_iter_


def test_kmeans_start_gives_every_expert_every_class(monkeypatch):
    """k-means clusters the inputs only: on ``[x, one-hot(y)]`` it split the rows by
    class, and each expert's first fit, on one class, was the expert's own."""
    X, y = make_moe_classification(
        n_samples=2000, n_features=10, n_experts=4, n_classes=3, random_state=0
    )
    calls = _count_fits(monkeypatch)
    moe = MixtureOfExpertsClassifier(
        n_experts=4, n_init=1, init="kmeans", max_iter=3, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        moe.fit(X, y)
    assert calls == []
