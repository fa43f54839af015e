"""Bad input: each error names the problem, comes before any work, and leaves the
model as it was."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.exceptions import ExpertFitError

# ---- experts that count (or refuse) their fits
#
# Experts are cloned, so the counter lives on the class, not on an instance.


class CountingRegressor(LinearRegression):
    """LinearRegression that counts its fits and raises after ``fail_after`` of them."""

    n_fits = 0
    fail_after = None

    def fit(self, X, y, sample_weight=None):
        type(self).n_fits += 1
        if self.fail_after is not None and type(self).n_fits > self.fail_after:
            raise RuntimeError(f"expert fit number {type(self).n_fits} failed")
        return super().fit(X, y, sample_weight=sample_weight)


class CountingClassifier(LogisticRegression):
    """LogisticRegression that counts its fits."""

    n_fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).n_fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture(autouse=True)
def _reset_counters():
    CountingRegressor.n_fits = 0
    CountingRegressor.fail_after = None
    CountingClassifier.n_fits = 0
    yield
    CountingRegressor.fail_after = None


@pytest.fixture(scope="module")
def regression():
    return make_moe_regression(n_samples=200, n_experts=2, random_state=0)


@pytest.fixture(scope="module")
def classification():
    return make_moe_classification(n_samples=200, random_state=0)


def _regressor(**params):
    return MixtureOfExpertsRegressor(
        expert=CountingRegressor(), n_init=1, random_state=0, **params
    )


def _classifier(**params):
    return MixtureOfExpertsClassifier(
        expert=CountingClassifier(), n_init=1, random_state=0, **params
    )


def _assert_raises_before_work(moe, X, y, exception, match, **fit_params):
    with pytest.raises(exception, match=match):
        moe.fit(X, y, **fit_params)
    assert type(moe.expert).n_fits == 0, "the error came after experts were fitted"


# ---- comparing a model's whole state


def _snapshot(obj):
    """A deep copy of ``obj``'s data, with objects turned into (type, vars) pairs."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list | tuple):
        return type(obj)(_snapshot(value) for value in obj)
    if isinstance(obj, dict):
        return {key: _snapshot(value) for key, value in obj.items()}
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return (type(obj), _snapshot(vars(obj)))
    return obj


def _assert_same(before, after, path="model"):
    if isinstance(before, np.ndarray):
        assert isinstance(after, np.ndarray), path
        np.testing.assert_array_equal(after, before, err_msg=path)
    elif isinstance(before, dict):
        assert isinstance(after, dict), path
        assert after.keys() == before.keys(), (
            f"{path}: keys {sorted(after.keys() ^ before.keys())} differ"
        )
        for key in before:
            _assert_same(before[key], after[key], f"{path}.{key}")
    elif isinstance(before, list | tuple):
        assert type(after) is type(before) and len(after) == len(before), path
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            _assert_same(b, a, f"{path}[{i}]")
    else:
        assert type(after) is type(before), path
        assert after == before, path


class _State:
    """A model's ``vars`` and predictions, to compare across a failed fit."""

    def __init__(self, moe, X):
        self.keys = set(vars(moe))
        self.state = _snapshot(vars(moe))
        self.identities = {key: id(value) for key, value in vars(moe).items()}
        self.fitted = hasattr(moe, "experts_")
        self.outputs = _outputs(moe, X) if self.fitted else None

    def assert_unchanged(self, moe, X):
        assert set(vars(moe)) == self.keys
        assert {key: id(value) for key, value in vars(moe).items()} == self.identities
        _assert_same(self.state, _snapshot(vars(moe)))
        if not self.fitted:
            with pytest.raises(NotFittedError):
                check_is_fitted(moe)
            return
        after = _outputs(moe, X)
        for name, value in self.outputs.items():
            np.testing.assert_array_equal(after[name], value, err_msg=name)


def _outputs(moe, X):
    outputs = {"predict": moe.predict(X), "gate": moe.predict_gate_proba(X)}
    if hasattr(moe, "predict_proba"):
        outputs["predict_proba"] = moe.predict_proba(X)
    return outputs


# ---- X and y


@pytest.mark.parametrize(
    "value, match", [(np.nan, "Input X contains NaN"), (np.inf, "X contains infinity")]
)
def test_non_finite_X(regression, value, match):
    X, y = regression
    X = X.copy()
    X[3, 1] = value
    _assert_raises_before_work(_regressor(), X, y, ValueError, match)


def test_nan_in_y(regression):
    X, y = regression
    y = y.copy()
    y[4] = np.nan
    _assert_raises_before_work(_regressor(), X, y, ValueError, "Input y contains NaN")


def test_one_dimensional_X(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(), X[:, 0], y, ValueError, "Expected 2D array, got 1D array"
    )


_NEEDS_Y = {"score_samples", "posterior_proba", "bic", "aic"}


@pytest.mark.parametrize(
    "method",
    [
        "predict",
        "predict_gate_proba",
        "predict_gate",
        "predict_experts",
        "score_samples",
        "posterior_proba",
        "bic",
        "aic",
    ],
)
def test_wrong_number_of_features_after_fit(regression, method):
    X, y = regression
    moe = _regressor().fit(X, y)
    X_wide = np.column_stack([X, X[:, 0]])
    args = (X_wide, y) if method in _NEEDS_Y else (X_wide,)
    with pytest.raises(ValueError, match=r"X has 3 features, but .* is expecting 2"):
        getattr(moe, method)(*args)


def test_wrong_number_of_features_after_fit_classifier(classification):
    X, y = classification
    moe = _classifier().fit(X, y)
    X_wide = np.column_stack([X, X[:, 0]])
    for method in ["predict", "predict_proba", "predict_gate_proba"]:
        with pytest.raises(ValueError, match=r"X has 3 features, but .* is expecting"):
            getattr(moe, method)(X_wide)
    for method in ["score_samples", "posterior_proba"]:
        with pytest.raises(ValueError, match=r"X has 3 features, but .* is expecting"):
            getattr(moe, method)(X_wide, y)


def test_fewer_samples_than_experts(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(n_experts=3),
        X[:2],
        y[:2],
        ValueError,
        r"n_samples=2 should be >= n_experts=3",
    )


def test_classifier_needs_two_classes(classification):
    X, _ = classification
    _assert_raises_before_work(
        _classifier(), X, np.zeros(X.shape[0]), ValueError, "only one class"
    )


def test_classifier_refuses_a_continuous_target(classification, regression):
    X, _ = classification
    _, y = regression
    _assert_raises_before_work(
        _classifier(), X, y, ValueError, "Unknown label type: continuous"
    )


# ---- parameters


def test_unknown_init_string(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(init="kmean"), X, y, ValueError, "'init' parameter .* Got 'kmean'"
    )


def test_unknown_solver(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(solver="lbfgs"), X, y, ValueError, "'solver' parameter .* 'lbfgs'"
    )


@pytest.mark.parametrize(
    "make_init, match",
    [
        (lambda n: np.full((n, 3), 1 / 3), r"shape \(n_samples, n_experts\)"),
        (lambda n: np.full((n // 2, 2), 1 / 2), r"got shape \(100, 2\)"),
        (lambda n: np.tile([1.5, -0.5], (n, 1)), "non-negative"),
        (lambda n: np.full((n, 2), 0.4), "rows summing to 1"),
    ],
    ids=["n_experts", "n_samples", "negative", "row_sums"],
)
def test_bad_init_array(regression, make_init, match):
    X, y = regression
    moe = _regressor(init=make_init(X.shape[0]))
    _assert_raises_before_work(moe, X, y, ValueError, match)


# ---- sample_weight


def test_negative_sample_weight(regression):
    X, y = regression
    sample_weight = np.ones(X.shape[0])
    sample_weight[5] = -1
    _assert_raises_before_work(
        _regressor(),
        X,
        y,
        ValueError,
        "Negative values in data passed to `sample_weight`",
        sample_weight=sample_weight,
    )


def test_all_zero_sample_weight(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(),
        X,
        y,
        ValueError,
        "[Ss]ample[ _]weights? .*(non-zero|sums to zero)",
        sample_weight=np.zeros(X.shape[0]),
    )


def test_sample_weight_of_wrong_length(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(),
        X,
        y,
        ValueError,
        r"sample_weight.shape == \(199,\), expected \(200,\)",
        sample_weight=np.ones(X.shape[0] - 1),
    )


# ---- feature selections


@pytest.mark.parametrize(
    "gate_features, match",
    [
        ([0, 2], r"gate_features has column indices \[2\] outside \[0, 2\)"),
        ([-1], r"gate_features has column indices \[-1\] outside"),
        ([0, 0], "gate_features lists a column more than once"),
        (["x1"], "gate_features names columns, but X has no column names"),
    ],
    ids=["too_large", "negative", "duplicate", "names_without_dataframe"],
)
def test_bad_gate_features(regression, gate_features, match):
    X, y = regression
    moe = _regressor(gate_features=gate_features)
    _assert_raises_before_work(moe, X, y, ValueError, match)


@pytest.mark.parametrize(
    "gate_features, match",
    [
        (["x3"], r"gate_features names unknown columns: \['x3'\]"),
        (["x1", "x1"], "gate_features lists a column more than once"),
    ],
    ids=["unknown_name", "duplicate_name"],
)
def test_bad_gate_feature_names(regression, gate_features, match):
    X, y = regression
    df = pd.DataFrame(X, columns=["x1", "x2"])
    moe = _regressor(gate_features=gate_features)
    _assert_raises_before_work(moe, df, y, ValueError, match)


def test_empty_expert_features(regression):
    X, y = regression
    _assert_raises_before_work(
        _regressor(expert_features=[]),
        X,
        y,
        ValueError,
        "expert_features selects no column",
    )


# ---- experts


def test_expert_without_sample_weight(regression):
    X, y = regression
    moe = MixtureOfExpertsRegressor(expert=KNeighborsRegressor())
    with pytest.raises(ValueError, match=r"KNeighborsRegressor\(\).*sample_weight"):
        moe.fit(X, y)


@pytest.mark.parametrize("expert", [SVC(), LinearSVC()], ids=["SVC", "LinearSVC"])
def test_classifier_expert_without_predict_proba(classification, expert):
    X, y = classification
    name = type(expert).__name__
    moe = MixtureOfExpertsClassifier(expert=expert)
    with pytest.raises(ValueError, match=rf"^{name}\(\).*predict_proba"):
        moe.fit(X, y)


# ---- after fit


@pytest.mark.parametrize("method", ["posterior_proba", "score_samples"])
def test_labels_never_seen_in_fit(classification, method):
    X, y = classification
    moe = _classifier().fit(X, y)
    with pytest.raises(ValueError, match=r"labels never seen in fit: \[7\]"):
        getattr(moe, method)(X[:4], [0, 1, 7, 1])


def test_warm_start_after_changing_n_experts(regression):
    X, y = regression
    moe = _regressor(warm_start=True).fit(X, y)
    moe.set_params(n_experts=3)
    state = _State(moe, X)
    CountingRegressor.n_fits = 0
    with pytest.raises(ValueError, match=r"warm_start=True .* same n_experts"):
        moe.fit(X, y)
    assert CountingRegressor.n_fits == 0
    state.assert_unchanged(moe, X)


def test_routing_is_checked_against_the_fitted_experts(regression):
    # routing and top_k are read at predict time; n_experts changed without a refit
    # must not change what the fitted model accepts.
    X, y = regression
    moe = _regressor().fit(X, y)
    moe.set_params(n_experts=3, routing="top_k", top_k=3)
    with pytest.raises(ValueError, match="top_k must be an integer between 1 and"):
        moe.predict(X)
    moe.set_params(n_experts=1, top_k=2)
    np.testing.assert_allclose(
        moe.predict(X), moe.set_params(routing="soft").predict(X)
    )


def test_warm_start_after_changing_the_features(regression):
    X, y = regression
    moe = _regressor(warm_start=True).fit(X, y)
    moe.set_params(gate_features=[0])
    state = _State(moe, X)
    with pytest.raises(ValueError, match=r"warm_start=True .* features"):
        moe.fit(X, y)
    state.assert_unchanged(moe, X)


# ---- a failed refit leaves a fitted model as it was


# Each breaks a fitted model's next fit: returns the (X, y, fit_params) to refit with.


def _nan_in_X(moe, X, y):
    X = X.copy()
    X[0, 0] = np.nan
    return X, y, {}


def _fewer_samples_than_experts(moe, X, y):
    moe.set_params(n_experts=3)
    return X[:2], y[:2], {}


def _bad_gate_features(moe, X, y):
    moe.set_params(gate_features=[0, 5])
    return X, y, {}


def _expert_without_sample_weight(moe, X, y):
    moe.set_params(expert=KNeighborsRegressor())
    return X, y, {}


def _zero_sample_weight(moe, X, y):
    return X, y, {"sample_weight": np.zeros(len(y))}


def _unknown_init(moe, X, y):
    moe.set_params(init="kmean")
    return X, y, {}


@pytest.mark.parametrize(
    "break_fit, match",
    [
        (_nan_in_X, "NaN"),
        (_fewer_samples_than_experts, "n_samples=2 should be >= n_experts=3"),
        (_bad_gate_features, "gate_features has column indices"),
        (_expert_without_sample_weight, "KNeighborsRegressor.*sample_weight"),
        (_zero_sample_weight, "non-zero|sums to zero"),
        (_unknown_init, "'init' parameter"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_failed_refit_leaves_the_model_unchanged(regression, break_fit, match):
    X, y = regression
    moe = _regressor().fit(X, y)
    X_bad, y_bad, fit_params = break_fit(moe, X, y)
    state = _State(moe, X)
    with pytest.raises(ValueError, match=match):
        moe.fit(X_bad, y_bad, **fit_params)
    state.assert_unchanged(moe, X)


def test_failed_refit_leaves_a_classifier_unchanged(classification):
    X, y = classification
    moe = _classifier().fit(X, y)
    state = _State(moe, X)
    with pytest.raises(ValueError, match="only one class"):
        moe.fit(X, np.ones(X.shape[0]))
    state.assert_unchanged(moe, X)
    moe.set_params(expert=SVC())
    state = _State(moe, X)
    with pytest.raises(ValueError, match="predict_proba"):
        moe.fit(X, y)
    state.assert_unchanged(moe, X)


@pytest.mark.parametrize("n_init", [1, 3])
def test_expert_raising_inside_fit_leaves_a_fitted_model_unchanged(regression, n_init):
    X, y = regression
    moe = _regressor(n_experts=3).fit(X, y)
    moe.set_params(n_init=n_init)
    state = _State(moe, X)
    CountingRegressor.n_fits = 0
    # Three fits per EM iteration: the eighth is expert 1's at iteration 3.
    CountingRegressor.fail_after = 7
    with pytest.raises(ExpertFitError, match=r"expert 1 .* iteration 3") as raised:
        moe.fit(X, y)
    assert CountingRegressor.n_fits == 8
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert "expert fit number 8 failed" in str(raised.value.__cause__)
    state.assert_unchanged(moe, X)


def test_cem_classifier_expert_given_one_class_names_the_way_out():
    """CEM hands LogisticRegression experts the rows of one class, which it refuses."""
    X, y = make_classification(
        500,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    moe = MixtureOfExpertsClassifier(n_experts=3, solver="cem", random_state=0)
    with pytest.raises(ExpertFitError, match=r"single class.*solver='em'"):
        moe.fit(X, y)
    # The two ways out the message names.
    MixtureOfExpertsClassifier(n_experts=3, random_state=0).fit(X, y)
    moe.set_params(expert=DecisionTreeClassifier(max_depth=3, random_state=0))
    moe.fit(X, y)


def test_expert_raising_in_a_thread_leaves_a_fitted_model_unchanged(regression):
    X, y = regression
    moe = _regressor(n_experts=3).fit(X, y)
    moe.set_params(n_jobs=2)  # one restart: the experts are fitted in threads
    state = _State(moe, X)
    CountingRegressor.n_fits = 0
    CountingRegressor.fail_after = 7
    with pytest.raises(ExpertFitError, match="iteration 3") as raised:
        moe.fit(X, y)
    assert "failed" in str(raised.value.__cause__)
    state.assert_unchanged(moe, X)


def test_expert_raising_inside_fit_leaves_an_unfitted_model_unfitted(regression):
    X, y = regression
    moe = _regressor()
    state = _State(moe, X)
    CountingRegressor.fail_after = 2
    with pytest.raises(RuntimeError, match="expert fit number 3 failed"):
        moe.fit(X, y)
    state.assert_unchanged(moe, X)
    with pytest.raises(NotFittedError):
        moe.predict(X)


def test_expert_raising_during_a_warm_start_leaves_the_model_unchanged(regression):
    # Warm start continues from the fitted experts themselves, so a failure must not
    # leave them half refitted.
    X, y = regression
    moe = _regressor(warm_start=True).fit(X, y)
    state = _State(moe, X)
    CountingRegressor.n_fits = 0
    CountingRegressor.fail_after = 2
    with pytest.raises(RuntimeError, match="expert fit number 3 failed"):
        moe.fit(X + 0.1, y)
    state.assert_unchanged(moe, X)
