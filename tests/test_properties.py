"""Property tests: random shapes, scales and degenerate data never give a NaN.

Each generated case draws a data set (tiny to a few hundred rows, 1 to 5 features,
X and y scaled by 1e-8 to 1e8, duplicated rows, constant columns, constant targets,
sample weights with zeros), a number of experts from 1 to ``min(20, n_samples)`` and
the fit's options, then checks that the fit ends (converged, or a
``ConvergenceWarning`` that says it did not) and that every output is finite and
every distribution sums to one. The cases are derandomized, so CI runs the same ones
each time; ``MAX_EXAMPLES`` is what the reliability page reports.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

MAX_EXAMPLES = {"regressor": 150, "classifier": 100}
# Each EM iteration of the classifier refits K LogisticRegression experts (about 5 ms
# each), so its runs are kept shorter.
MAX_ITER = {"regressor": 20, "classifier": 10}
SUM_TOL = 1e-9

_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


# ---- the generated cases


@dataclass(frozen=True)
class Case:
    """The parameters of one generated data set; ``data()`` builds the arrays.

    The arrays come from ``seed`` rather than from hypothesis itself: a failure then
    prints a short, readable case, and the shape parameters still shrink.
    """

    n_samples: int
    n_features: int
    n_experts: int
    n_classes: int  # 0 for regression
    log_x_scale: float
    log_x_shift: float | None  # X's offset, relative to its scale; None for none
    log_y_scale: float  # 0 for classification
    constant_columns: tuple
    duplicated_share: float
    duplicate_targets: bool  # False: copied rows keep their own target
    constant_target: bool
    weights: str  # "none", "positive" or "with_zeros"
    labels: str  # "range", "sparse_ints" or "strings" (classification)
    init: str
    collapse: str
    seed: int

    def data(self):
        """``(X, y, sample_weight)`` and ``(X_new, y_new)`` from the same source."""
        rng = np.random.default_rng(self.seed)
        Z = rng.standard_normal((self.n_samples + 20, self.n_features))
        Z[self.n_samples + 10 :] *= 10  # new rows, some far outside the training data
        Z[:, list(self.constant_columns)] = 1.0
        x_scale = 10.0**self.log_x_scale
        shift = 0.0 if self.log_x_shift is None else 10.0**self.log_x_shift
        X = x_scale * (Z + shift)
        if self.n_classes:
            y = self._labels(rng, Z)
        else:
            y = 10.0**self.log_y_scale * self._regression_target(rng, Z)
        X, X_new = X[: self.n_samples], X[self.n_samples :]
        y, y_new = y[: self.n_samples], y[self.n_samples :]
        n_copies = int(self.duplicated_share * self.n_samples)
        if n_copies:
            source = rng.integers(0, self.n_samples, size=n_copies)
            target = rng.choice(self.n_samples, size=n_copies, replace=False)
            X[target] = X[source]
            if self.duplicate_targets:
                y[target] = y[source]
        if self.n_classes:
            # Every class at least once, after the duplication.
            first_rows = rng.choice(self.n_samples, self.n_classes, replace=False)
            y[first_rows] = self._classes()
        sample_weight = self._sample_weight(rng, y)
        return X, y, sample_weight, X_new, y_new

    def _regression_target(self, rng, Z):
        if self.constant_target:
            return np.full(Z.shape[0], 1.0)
        coef = rng.standard_normal((2, self.n_features))
        regime = Z[:, 0] > 0
        signal = np.where(regime, Z @ coef[0], Z @ coef[1] + 1.0)
        return signal + 0.1 * rng.standard_normal(Z.shape[0])

    def _classes(self):
        if self.labels == "sparse_ints":
            return np.array([-3, 7, 100, 1000])[: self.n_classes]
        if self.labels == "strings":
            return np.array(["b", "a", "c", "zz"])[: self.n_classes]
        return np.arange(self.n_classes)

    def _labels(self, rng, Z):
        classes = self._classes()
        logits = Z @ rng.standard_normal((self.n_features, self.n_classes))
        noisy = logits + rng.gumbel(size=logits.shape)
        return classes[np.argmax(noisy, axis=1)]

    def _sample_weight(self, rng, y):
        if self.weights == "none":
            return None
        sample_weight = rng.uniform(0.1, 10.0, size=self.n_samples)
        if self.weights == "with_zeros":
            sample_weight[rng.uniform(size=self.n_samples) < 0.3] = 0.0
            if self.n_classes:
                # A class present only with zero weight is still a class of the fit;
                # keep one positive row per class so that the data is valid.
                for label in self._classes():
                    sample_weight[np.flatnonzero(y == label)[0]] = 1.0
            else:
                sample_weight[0] = 1.0
        return sample_weight


@st.composite
def cases(draw, classifier):
    n_classes = draw(st.integers(2, 4)) if classifier else 0
    size = draw(st.sampled_from(["tiny", "small", "medium"]))
    # Half the cases with the few experts of most uses, half with up to 20.
    n_experts = draw(st.integers(1, 4) | st.integers(1, 20))
    smallest = max(n_experts, n_classes)
    largest = {"tiny": smallest, "small": smallest + 10, "medium": 300}[size]
    n_samples = draw(st.integers(smallest, max(largest, smallest)))
    n_experts = min(n_experts, n_samples)
    n_features = draw(st.integers(1, 5))
    n_constant = draw(st.integers(0, n_features))
    return Case(
        n_samples=n_samples,
        n_features=n_features,
        n_experts=n_experts,
        n_classes=n_classes,
        log_x_scale=draw(st.floats(-8, 8)),
        log_x_shift=draw(st.none() | st.floats(-2, 4)),
        log_y_scale=0.0 if classifier else draw(st.floats(-8, 8)),
        constant_columns=tuple(range(n_constant)),
        duplicated_share=draw(st.sampled_from([0.0, 0.0, 0.3, 0.9])),
        duplicate_targets=draw(st.booleans()),
        constant_target=False if classifier else draw(st.booleans()),
        weights=draw(st.sampled_from(["none", "positive", "with_zeros"])),
        labels=draw(st.sampled_from(["range", "sparse_ints", "strings"]))
        if classifier
        else "range",
        init=draw(st.sampled_from(["auto", "random"])),
        collapse=draw(st.sampled_from(["drop", "reseed"])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


# ---- the checks


def _fit(moe, X, y, sample_weight):
    """Fit, and check that EM ended: converged, or warned that it did not."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        moe.fit(X, y, sample_weight=sample_weight)
    not_converged = [
        w
        for w in caught
        if issubclass(w.category, ConvergenceWarning)
        and "EM did not converge" in str(w.message)
    ]
    assert moe.converged_ != bool(not_converged), (moe.converged_, not_converged)
    assert 1 <= moe.n_iter_ <= moe.max_iter
    assert 1 <= moe.n_experts_ <= moe.n_experts
    assert np.isfinite(moe.log_likelihood_)
    assert np.all(np.isfinite(moe.log_likelihood_curve_))
    return moe


def _assert_distribution(proba, n_rows, n_columns, name):
    assert proba.shape == (n_rows, n_columns), name
    assert np.all(np.isfinite(proba)), name
    assert np.all(proba >= 0) and np.all(proba <= 1 + SUM_TOL), name
    np.testing.assert_allclose(
        proba.sum(axis=1), 1.0, rtol=0, atol=SUM_TOL, err_msg=name
    )


def _check_outputs(moe, X, y):
    """Every output of a fitted model on ``(X, y)`` is finite and normalised."""
    n, K = X.shape[0], moe.n_experts_
    _assert_distribution(moe.predict_gate_proba(X), n, K, "predict_gate_proba")
    _assert_distribution(moe.posterior_proba(X, y), n, K, "posterior_proba")
    log_prob = moe.score_samples(X, y)
    assert log_prob.shape == (n,) and np.all(np.isfinite(log_prob))
    experts = moe.predict_experts(X)
    assert np.all(np.isfinite(experts)), "predict_experts"
    if hasattr(moe, "classes_"):
        assert experts.shape == (n, K, moe.classes_.size)
        np.testing.assert_allclose(experts.sum(axis=2), 1.0, rtol=0, atol=SUM_TOL)
    else:
        assert experts.shape == (n, K)
    for routing, top_k in [("soft", 1), ("hard", 1), ("top_k", max(1, K - 1))]:
        moe.set_params(routing=routing, top_k=top_k)
        y_pred = moe.predict(X)
        assert y_pred.shape == (n,)
        if hasattr(moe, "classes_"):
            n_classes = moe.classes_.size
            proba = moe.predict_proba(X)
            _assert_distribution(proba, n, n_classes, f"predict_proba, {routing}")
            assert np.all(np.isin(y_pred, moe.classes_))
        else:
            assert np.all(np.isfinite(y_pred)), routing
    moe.set_params(routing="soft")


def _check_case(estimator, case):
    X, y, sample_weight, X_new, y_new = case.data()
    kind = "classifier" if case.n_classes else "regressor"
    moe = estimator(
        n_experts=case.n_experts,
        init=case.init,
        collapse=case.collapse,
        n_init=1,
        max_iter=MAX_ITER[kind],
        random_state=0,
    )
    _fit(moe, X, y, sample_weight)
    _check_outputs(moe, X, y)
    # The fitted log-likelihood is the model's own on its training data.
    log_likelihood = np.average(moe.score_samples(X, y), weights=sample_weight)
    np.testing.assert_allclose(
        log_likelihood, moe.log_likelihood_, rtol=1e-9, atol=1e-9
    )
    _check_outputs(moe, X_new, y_new)


# ---- the tests


@settings(max_examples=MAX_EXAMPLES["regressor"], **_SETTINGS)
@given(cases(classifier=False))
def test_regressor_on_random_data(case):
    _check_case(MixtureOfExpertsRegressor, case)


@settings(max_examples=MAX_EXAMPLES["classifier"], **_SETTINGS)
@given(cases(classifier=True))
def test_classifier_on_random_data(case):
    _check_case(MixtureOfExpertsClassifier, case)


# ---- huge n: too slow to generate many, so a few fixed cases


@pytest.mark.parametrize(
    "estimator, n_experts, log_scale",
    [
        (MixtureOfExpertsRegressor, 20, 0),
        (MixtureOfExpertsRegressor, 3, 8),
        (MixtureOfExpertsRegressor, 3, -8),
        (MixtureOfExpertsClassifier, 4, 0),
    ],
)
def test_huge_n(estimator, n_experts, log_scale):
    """200,000 rows with duplicated rows and a constant column: finite outputs."""
    rng = np.random.RandomState(0)
    n_samples = 200_000
    X = rng.normal(size=(n_samples, 3)) * 10.0**log_scale
    X[:, 2] = 10.0**log_scale  # constant column
    X[n_samples // 2 :] = X[: n_samples // 2]  # every row twice
    if estimator is MixtureOfExpertsClassifier:
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    else:
        noise = rng.normal(size=n_samples) * 0.1 * 10.0**log_scale
        y = np.where(X[:, 0] > 0, X[:, 1], -X[:, 1]) + noise
    moe = estimator(n_experts=n_experts, n_init=1, max_iter=3, random_state=0)
    _fit(moe, X, y, None)
    _check_outputs(moe, X[:5000], y[:5000])
