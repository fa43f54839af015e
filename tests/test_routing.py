"""Soft, hard and top-k routing; sparse training; BIC and AIC."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

import skmoe._fast_predict
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression


@pytest.fixture(scope="module")
def regression():
    X, y = make_moe_regression(n_samples=600, n_experts=4, random_state=0)
    moe = MixtureOfExpertsRegressor(n_experts=4, random_state=0).fit(X, y)
    return moe, X, y


@pytest.fixture(scope="module")
def classification():
    X, y = make_moe_classification(
        n_samples=600, n_experts=3, n_classes=3, random_state=0
    )
    moe = MixtureOfExpertsClassifier(n_experts=3, random_state=0).fit(X, y)
    return moe, X, y


def _predict(moe, X, **routing):
    saved = moe.get_params()
    moe.set_params(**routing)
    try:
        if isinstance(moe, MixtureOfExpertsClassifier):
            return moe.predict_proba(X)
        return moe.predict(X)
    finally:
        moe.set_params(routing=saved["routing"], top_k=saved["top_k"])


@pytest.mark.parametrize("case", ["regression", "classification"])
def test_top_k_equivalences(case, request):
    moe, X, _ = request.getfixturevalue(case)
    soft = _predict(moe, X, routing="soft")
    all_experts = _predict(moe, X, routing="top_k", top_k=moe.n_experts)
    np.testing.assert_array_equal(all_experts, soft)
    np.testing.assert_array_equal(
        _predict(moe, X, routing="top_k", top_k=1), _predict(moe, X, routing="hard")
    )


def test_hard_and_top_two_match_a_hand_computation(regression):
    moe, X, _ = regression
    gate = moe.predict_gate_proba(X)
    each = moe.predict_experts(X)
    rows = np.arange(len(X))

    best = np.argmax(gate, axis=1)
    np.testing.assert_array_equal(best, moe.predict_gate(X))
    np.testing.assert_allclose(_predict(moe, X, routing="hard"), each[rows, best])

    order = np.argsort(-gate, axis=1, kind="stable")[:, :2]
    weights = np.take_along_axis(gate, order, axis=1)
    weights /= weights.sum(axis=1, keepdims=True)
    expected = np.sum(weights * np.take_along_axis(each, order, axis=1), axis=1)
    np.testing.assert_allclose(
        _predict(moe, X, routing="top_k", top_k=2), expected, rtol=1e-12
    )


def test_classifier_predict_is_argmax_of_routed_proba(classification):
    moe, X, _ = classification
    moe.set_params(routing="hard")
    try:
        proba = moe.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(
            moe.predict(X), moe.classes_[np.argmax(proba, axis=1)]
        )
    finally:
        moe.set_params(routing="soft")


class _Recorder:
    """Wraps a fitted expert and records the rows it is asked to predict."""

    def __init__(self, expert):
        self.expert = expert
        self.calls = []

    def predict(self, X):
        self.calls.append(X.copy())
        return self.expert.predict(X)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_each_expert_predicts_only_its_own_rows(regression, k, monkeypatch):
    # The general path on both sides: the serving path's products round
    # differently (tests/test_fast_predict.py compares the two).
    monkeypatch.setattr(skmoe._fast_predict, "ENABLED", False)
    moe, X, _ = regression
    expected = _predict(moe, X, routing="top_k", top_k=k)
    selected = np.argsort(-moe.predict_gate_proba(X), axis=1, kind="stable")[:, :k]

    routed = clone(moe).set_params(routing="top_k", top_k=k)
    routed.__dict__.update(
        {key: value for key, value in vars(moe).items() if key.endswith("_")}
    )
    routed.experts_ = [_Recorder(expert) for expert in moe.experts_]
    np.testing.assert_array_equal(routed.predict(X), expected)

    for index, recorder in enumerate(routed.experts_):
        own_rows = np.flatnonzero((selected == index).any(axis=1))
        if own_rows.size == 0:
            assert recorder.calls == []
            continue
        assert len(recorder.calls) == 1
        np.testing.assert_array_equal(recorder.calls[0], X[own_rows])


def test_routing_keeps_row_order(regression):
    moe, X, _ = regression
    permutation = np.random.RandomState(0).permutation(len(X))
    for routing in [{"routing": "hard"}, {"routing": "top_k", "top_k": 2}]:
        np.testing.assert_array_equal(
            _predict(moe, X[permutation], **routing),
            _predict(moe, X, **routing)[permutation],
        )


def test_routing_errors_name_the_problem(regression):
    moe, X, y = regression
    routed = clone(moe)
    routed.__dict__.update(
        {key: value for key, value in vars(moe).items() if key.endswith("_")}
    )
    routed.set_params(routing="top_k", top_k=9)
    with pytest.raises(ValueError, match="top_k must be an integer between 1 and n"):
        routed.predict(X)
    routed.set_params(top_k=1.5)
    with pytest.raises(ValueError, match="top_k must be an integer"):
        routed.predict(X)
    routed.routing = "sparse"  # set_params validates nothing; predict must
    with pytest.raises(ValueError, match="routing must be one of"):
        routed.predict(X)
    with pytest.raises(ValueError, match="top_k must be an integer between 1 and"):
        MixtureOfExpertsRegressor(n_experts=2, routing="top_k", top_k=3).fit(X, y)
    with pytest.raises(ValueError, match="routing"):
        MixtureOfExpertsRegressor(routing="dense").fit(X, y)


class _RowCountingRegression(LinearRegression):
    def fit(self, X, y, sample_weight=None):
        self.n_fit_rows_ = len(X)
        return super().fit(X, y, sample_weight=sample_weight)


def test_sparse_training_fits_experts_on_their_share():
    X, y = make_moe_regression(n_samples=2000, n_experts=3, random_state=1)
    dense = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    sparse = MixtureOfExpertsRegressor(
        expert=_RowCountingRegression(),
        n_experts=3,
        responsibility_threshold=1e-3,
        random_state=0,
    ).fit(X, y)
    assert sum(e.n_fit_rows_ for e in sparse.experts_) < 1.5 * len(X)
    relative_gap = abs(sparse.log_likelihood_ - dense.log_likelihood_) / abs(
        dense.log_likelihood_
    )
    assert relative_gap < 1e-3


def test_parameter_count_of_linear_experts():
    X, y = make_moe_regression(n_samples=300, n_features=2, random_state=0)
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    # gate (2 + 1) * (3 - 1) + experts 3 * (2 + 1) + noise 3
    n_parameters = 6 + 9 + 3
    log_likelihood = moe.score_samples(X, y).sum()
    assert moe.bic(X, y) == pytest.approx(
        -2 * log_likelihood + n_parameters * np.log(300)
    )
    assert moe.aic(X, y) == pytest.approx(-2 * log_likelihood + 2 * n_parameters)


def test_parameter_count_of_multinomial_experts():
    X, y = make_moe_classification(n_samples=300, n_classes=3, random_state=0)
    moe = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(), gate_features=[0], random_state=0
    ).fit(X, y)
    # gate (1 + 1) * (2 - 1) + experts 2 * (3 - 1) * (2 + 1)
    assert moe.aic(X, y) == pytest.approx(
        -2 * moe.score_samples(X, y).sum() + 2 * (2 + 12)
    )


def test_criteria_refuse_experts_without_a_size():
    X, y = make_moe_regression(n_samples=200, random_state=0)
    moe = MixtureOfExpertsRegressor(
        expert=RandomForestRegressor(n_estimators=5, random_state=0),
        max_iter=3,
        n_init=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moe.fit(X, y)
    for criterion in (moe.bic, moe.aic):
        with pytest.raises(ValueError, match=r"RandomForestRegressor.*no coef_"):
            criterion(X, y)


def test_bic_prefers_the_true_number_of_experts():
    X, y = make_moe_regression(n_samples=1500, n_experts=3, random_state=4)
    bic = {
        k: MixtureOfExpertsRegressor(n_experts=k, random_state=0).fit(X, y).bic(X, y)
        for k in (1, 2, 3, 5)
    }
    assert min(bic, key=bic.get) == 3
