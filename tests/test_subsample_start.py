"""init_size: EM starts on a subsample of the rows, then runs on all of them."""

import numpy as np
import pytest

from skmoe import (
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
    _em,
)
from skmoe.datasets import make_moe_classification, make_moe_regression


@pytest.fixture
def em_runs(monkeypatch):
    """The data and start of every EM run of a fit, in order."""
    runs = []
    original = _em.run_em

    def recording_run_em(data, parts, resp, *args, **kwargs):
        runs.append((data, None if resp is None else resp.copy()))
        return original(data, parts, resp, *args, **kwargs)

    monkeypatch.setattr(_em, "run_em", recording_run_em)
    return runs


def test_em_runs_on_the_subsample_then_on_all_rows(em_runs):
    X, y = make_moe_regression(n_samples=2000, n_experts=3, random_state=0)
    moe = MixtureOfExpertsRegressor(
        n_experts=3, n_init=1, init_size=500, random_state=0
    ).fit(X, y)

    (sample, resp), (data, start) = em_runs
    assert sample.X_gate.shape == (500, X.shape[1]) and resp.shape == (500, 3)
    rows = np.flatnonzero(np.isin(X[:, 0], sample.X_gate[:, 0]))
    assert rows.size == 500
    np.testing.assert_array_equal(sample.y, y[rows])
    # All rows, from the model the subsample EM left: no responsibilities given.
    assert data.X_gate.shape[0] == 2000 and start is None
    assert moe.converged_ and moe.n_iter_ == len(moe.log_likelihood_curve_)


@pytest.mark.parametrize("init_size, n_runs", [(1001, 1), (1000, 2), (None, 1)])
def test_the_subsample_needs_twice_its_rows(em_runs, init_size, n_runs):
    X, y = make_moe_regression(n_samples=2000, random_state=0)
    MixtureOfExpertsRegressor(n_init=1, init_size=init_size, random_state=0).fit(X, y)
    assert len(em_runs) == n_runs
    assert em_runs[-1][0].X_gate.shape[0] == 2000


def test_default_starts_large_fits_on_ten_thousand_rows(em_runs):
    X, y = make_moe_regression(n_samples=20_000, random_state=0)
    MixtureOfExpertsRegressor(n_init=1, max_iter=2, tol=0, random_state=0).fit(X, y)
    assert [data.X_gate.shape[0] for data, _ in em_runs] == [10_000, 20_000]


def test_given_responsibilities_start_the_subsample_at_its_rows(em_runs):
    X, y = make_moe_regression(n_samples=2000, random_state=0)
    init = np.eye(2)[(X[:, 0] > 0).astype(int)]
    MixtureOfExpertsRegressor(n_init=1, init=init, init_size=400, random_state=0).fit(
        X, y
    )
    sample, resp = em_runs[0]
    np.testing.assert_array_equal(resp, np.eye(2)[(sample.X_gate[:, 0] > 0) * 1])


def test_rows_without_weight_are_never_drawn(em_runs):
    X, y = make_moe_regression(n_samples=2000, random_state=0)
    sample_weight = np.tile([0.0, 2.0], 1000)
    MixtureOfExpertsRegressor(n_init=1, init_size=500, random_state=0).fit(
        X, y, sample_weight=sample_weight
    )
    assert len(em_runs) == 2
    assert np.all(em_runs[0][0].sample_weight == 2.0)


def test_too_few_weighted_rows_for_the_subsample_fit_all_rows(em_runs):
    X, y = make_moe_regression(n_samples=2000, random_state=0)
    sample_weight = np.r_[np.ones(900), np.zeros(1100)]
    MixtureOfExpertsRegressor(n_init=1, init_size=500, random_state=0).fit(
        X, y, sample_weight=sample_weight
    )
    assert len(em_runs) == 1


def test_a_subsample_missing_a_class_is_not_used(em_runs):
    X, y = make_moe_classification(n_samples=2000, n_classes=2, random_state=0)
    y[np.argmax(X[:, 0])] = 2  # one row of a third class
    moe = MixtureOfExpertsClassifier(n_init=1, init_size=100, random_state=0)
    moe.fit(X, y)
    assert [data.X_gate.shape[0] for data, _ in em_runs] == [2000]
    assert moe.classes_.tolist() == [0, 1, 2]


def test_the_subsample_is_stratified_by_nothing_but_chance(em_runs):
    """With every class common, the subsample runs and holds every class."""
    X, y = make_moe_classification(n_samples=2000, n_classes=3, random_state=0)
    MixtureOfExpertsClassifier(n_init=1, init_size=100, random_state=0).fit(X, y)
    assert [data.X_gate.shape[0] for data, _ in em_runs] == [100, 2000]
    assert np.unique(em_runs[0][0].target).size == 3


def test_collapses_on_the_subsample_count_as_iteration_zero():
    X, y = make_moe_regression(n_samples=2000, n_experts=3, random_state=0)
    moe = MixtureOfExpertsRegressor(
        n_experts=3, n_init=1, init_size=500, collapse_threshold=0.5, random_state=0
    )
    with pytest.warns(UserWarning, match="collapse"):
        moe.fit(X, y)
    assert moe.n_experts_ == 1
    assert moe.collapsed_ and all(e["iteration"] == 0 for e in moe.collapsed_)


@pytest.mark.parametrize(
    "Estimator", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier]
)
def test_subsample_start_reaches_the_fit_on_all_rows(Estimator):
    """The hand-over to all rows loses nothing: both starts reach one optimum.

    From other seeds either start can end in another local optimum, the subsample
    start a little more often for the classifier (docs: core.rst).
    """
    make = (
        make_moe_regression
        if Estimator is MixtureOfExpertsRegressor
        else make_moe_classification
    )
    X, y = make(n_samples=4000, n_experts=2, random_state=0)
    fits = [
        Estimator(n_experts=2, n_init=1, init_size=size, tol=1e-8, random_state=1)
        .fit(X, y)
        .log_likelihood_
        for size in (None, 1000)
    ]
    np.testing.assert_allclose(fits[1], fits[0], rtol=0, atol=1e-6)


def test_gate_refit_on_new_data_starts_from_the_same_logits():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3))
    targets = np.eye(3)[rng.randint(3, size=500)]
    gate = SoftmaxGate().fit(X, targets)
    X_new = rng.normal(loc=2.0, scale=3.0, size=(300, 3))
    before = gate.decision_function(X_new)
    gate._fit(X_new, targets[:300], np.ones(300), max_iter=0)
    np.testing.assert_allclose(gate.decision_function(X_new), before, atol=1e-12)


def test_restarts_draw_their_subsamples_alike_in_any_number_of_jobs():
    X, y = make_moe_regression(n_samples=2000, random_state=0)
    fits = [
        MixtureOfExpertsRegressor(
            n_init=2, init_size=500, n_jobs=n_jobs, random_state=0
        ).fit(X, y)
        for n_jobs in (1, 2)
    ]
    assert fits[0].log_likelihood_ == fits[1].log_likelihood_
    np.testing.assert_array_equal(fits[0].gate_.coef_, fits[1].gate_.coef_)
