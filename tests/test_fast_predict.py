"""The serving path (``skmoe._fast_predict``) against the general path.

Every routing, with and without intercepts, ``Ridge`` and ``LinearRegression``
experts, binary and multiclass classifiers, column subsets, every input type the
estimators accept and batches of several row blocks: the two paths agree to
1e-12. A model the serving path does not qualify (an expert subclass, a family
that transforms the expert's output, an expert that saw fewer classes) takes the
general path; bad inputs raise the same errors on both; an edited or refitted
expert is seen at once.
"""

import contextlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

import skmoe._fast_predict
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._fast_predict import fast_prediction
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.families import Gaussian

ROUTINGS = [
    {"routing": "soft"},
    {"routing": "hard"},
    {"routing": "top_k", "top_k": 1},
    {"routing": "top_k", "top_k": 2},
    {"routing": "top_k", "top_k": 3},
]
TOLERANCE = {"rtol": 1e-12, "atol": 1e-12}


@contextlib.contextmanager
def general_path():
    """Send predictions through the general path (the private switch)."""
    skmoe._fast_predict.ENABLED = False
    try:
        yield
    finally:
        skmoe._fast_predict.ENABLED = True


def _method(moe):
    return moe.predict_proba if hasattr(moe, "classes_") else moe.predict


def _assert_paths_agree(moe, X, serving=True):
    """Both paths' predictions agree, and the serving path is (or is not) taken."""
    assert (fast_prediction(moe, X) is not None) is serving
    fast = _method(moe)(X)
    with general_path():
        general = _method(moe)(X)
    assert fast.shape == general.shape
    assert fast.dtype == general.dtype
    np.testing.assert_allclose(fast, general, **TOLERANCE)
    if hasattr(moe, "classes_"):
        labels = moe.predict(X)
        with general_path():
            np.testing.assert_array_equal(labels, moe.predict(X))
    return fast


def _regressor(expert=None, n_features=3, **params):
    X, y = make_moe_regression(
        400,
        n_features=n_features,
        n_experts=4,
        family="poisson" if params.get("family") == "poisson" else "gaussian",
        random_state=0,
    )
    moe = MixtureOfExpertsRegressor(expert, n_experts=4, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moe.fit(X, y), X, y


def _classifier(n_classes, expert=None, **params):
    X, y = make_moe_classification(
        400, n_features=3, n_experts=3, n_classes=n_classes, random_state=0
    )
    moe = MixtureOfExpertsClassifier(expert, n_experts=3, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moe.fit(X, y), X, y


@pytest.fixture(scope="module")
def regressor():
    return _regressor()


@pytest.fixture(scope="module")
def binary():
    return _classifier(2)


@pytest.fixture(scope="module")
def multiclass():
    return _classifier(3)


@pytest.mark.parametrize("routing", ROUTINGS, ids=lambda r: str(r.get("top_k", "")))
@pytest.mark.parametrize(
    "expert",
    [
        LinearRegression(),
        LinearRegression(fit_intercept=False),
        Ridge(alpha=1.0),
        Ridge(alpha=1.0, fit_intercept=False),
    ],
    ids=repr,
)
def test_regressor_routings_agree(expert, routing):
    moe, X, _ = _regressor(expert)
    moe.set_params(**routing)
    _assert_paths_agree(moe, X)
    _assert_paths_agree(moe, X[:1])


@pytest.mark.parametrize("routing", ROUTINGS, ids=lambda r: str(r.get("top_k", "")))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_routings_agree(n_classes, fit_intercept, routing):
    routing = {**routing, "top_k": min(routing.get("top_k", 2), 3)}
    expert = LogisticRegression(fit_intercept=fit_intercept)
    moe, X, _ = _classifier(n_classes, expert)
    moe.set_params(**routing)
    proba = _assert_paths_agree(moe, X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    _assert_paths_agree(moe, X[:1])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_experts_fitted_by_their_own_fit_agree(n_classes):
    # class_weight: fitted by LogisticRegression.fit, not by skmoe's Newton solve.
    moe, X, _ = _classifier(n_classes, LogisticRegression(class_weight="balanced"))
    for routing in ROUTINGS:
        _assert_paths_agree(moe.set_params(**routing), X)


def test_one_versus_rest_experts_take_the_general_path():
    # scikit-learn < 1.8 normalises one-versus-rest sigmoids for three classes,
    # and gives a binary multinomial model the softmax of (-d, d).
    for n_classes, multi_class in [(3, "ovr"), (2, "multinomial")]:
        moe, X, _ = _classifier(n_classes)
        moe.experts_[1].multi_class = multi_class
        assert fast_prediction(moe, X) is None


@pytest.mark.parametrize(
    "columns",
    [
        {"gate_features": [0], "expert_features": [1, 2]},
        {"gate_features": [2, 0], "expert_features": [1, 0]},
        {"gate_features": [], "expert_features": [0, 1, 2]},
        {"expert_features": [True, False, True]},
    ],
    ids=["disjoint", "permuted", "constant gate", "mask"],
)
def test_column_subsets_agree(columns):
    moe, X, _ = _regressor(**columns)
    for routing in ROUTINGS:
        _assert_paths_agree(moe.set_params(**routing), X)
    clf, Xc, _ = _classifier(3, **columns)
    for routing in ROUTINGS:
        _assert_paths_agree(clf.set_params(**routing), Xc)


def test_every_accepted_input_agrees(regressor):
    moe, X, _ = regressor
    for X_in in [
        X,
        np.asfortranarray(X),
        X[::2],
        X[:, ::1].astype(np.float32),
        X.tolist(),
        X.astype(int),
        pd.DataFrame(X),
    ]:
        _assert_paths_agree(moe, X_in)


def test_a_model_fitted_on_a_dataframe_agrees():
    X, y = make_moe_regression(300, n_features=3, n_experts=2, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    moe = MixtureOfExpertsRegressor(gate_features=["a"], random_state=0)
    moe.fit(frame, y)
    _assert_paths_agree(moe, frame)
    # A plain array: the same warning about the missing names on both paths.
    for path in (contextlib.nullcontext, general_path):
        with path(), pytest.warns(UserWarning, match="does not have valid feature"):
            moe.predict(X)


def test_batches_of_several_row_blocks_agree(regressor, binary, multiclass):
    for moe, X, _ in (regressor, binary, multiclass):
        rows = np.random.RandomState(0).randint(len(X), size=20_000)
        for routing in ROUTINGS:
            _assert_paths_agree(moe.set_params(**routing), X[rows])


def test_a_family_reading_the_expert_output_agrees():
    moe, X, _ = _regressor(family="student_t")
    _assert_paths_agree(moe, X)


class ExpGaussian(Gaussian):
    """A family whose prediction transforms the expert's output."""

    def predict(self, expert, X):
        return np.exp(np.ravel(expert.predict(X)))


class SubLinearRegression(LinearRegression):
    """A subclass: it could override ``predict``."""


def test_non_qualifying_models_take_the_general_path():
    moe, X, _ = _regressor(SubLinearRegression())
    _assert_paths_agree(moe, X, serving=False)

    moe, X, _ = _regressor(family=ExpGaussian())
    _assert_paths_agree(moe, X, serving=False)
    expected = moe.predict_gate_proba(X) * np.exp(moe.predict_experts(X))
    np.testing.assert_allclose(moe.predict(X), expected.sum(axis=1), rtol=1e-12)

    moe, X, _ = _regressor(family="poisson")
    _assert_paths_agree(moe, X, serving=False)  # PoissonRegressor experts


def test_an_expert_that_saw_fewer_classes_takes_the_general_path():
    moe, X, y = _classifier(3)
    two = y < 2
    moe.experts_[0] = LogisticRegression().fit(X[two], y[two])
    _assert_paths_agree(moe, X, serving=False)


def test_float32_fits_agree():
    X, y = make_moe_regression(400, n_features=3, n_experts=4, random_state=0)
    for solver in ("em", "cem"):
        moe = MixtureOfExpertsRegressor(n_experts=4, solver=solver, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            moe.fit(X.astype(np.float32), y)
        serving = all(e.coef_.dtype == np.float64 for e in moe.experts_)
        _assert_paths_agree(moe, X.astype(np.float32), serving=serving)


def test_an_unfitted_expert_fails_as_before():
    moe, X, _ = _regressor()
    moe.experts_[3] = LinearRegression()
    assert fast_prediction(moe, X) is None
    with pytest.raises(NotFittedError):
        moe.predict(X)


def test_edited_and_refitted_parts_are_seen():
    moe, X, y = _regressor()
    before = moe.predict(X[:3])
    moe.experts_[1].coef_ *= 2.0  # in place
    moe.experts_[2].fit(X[:50], y[:50])  # a refit: new arrays
    moe.gate_.fit(X, moe.predict_gate_proba(X)[:, ::-1])
    after = _assert_paths_agree(moe, X[:3])
    assert not np.allclose(before, after)


def _bad_inputs(X):
    with np.errstate(over="ignore"):
        overflowing = X * 1e308
    return {
        "wrong n_features": np.column_stack([X, X[:, 0]]),
        "nan": np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X),
        "inf": np.where(np.arange(X.size).reshape(X.shape) == 4, np.inf, X),
        "1-D": X[:, 0],
        "3-D": X[:, :, None],
        "empty": X[:0],
        "no columns": X[:, :0],
        "sparse": sp.csr_matrix(X),
        "strings": np.array([["a"] * X.shape[1]]),
        "complex": X + 1j,
        "huge values": X * 1e150,
        "overflowing values": overflowing,
    }


@pytest.mark.parametrize("case", ["regressor", "binary", "multiclass"])
def test_validation_errors_are_unchanged(case, request):
    moe, X, _ = request.getfixturevalue(case)
    for name, bad in _bad_inputs(X).items():
        outcomes = []
        for path in (contextlib.nullcontext, general_path):
            with path(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    outcomes.append(("returned", np.asarray(_method(moe)(bad))))
                except Exception as error:
                    outcomes.append((type(error), str(error)))
        (fast_kind, fast), (general_kind, general) = outcomes
        assert fast_kind is general_kind, name
        if fast_kind == "returned":
            np.testing.assert_allclose(fast, general, err_msg=name, **TOLERANCE)
        else:
            assert fast == general, name


def test_invalid_routing_and_unfitted_model_raise_as_before(regressor):
    moe, X, _ = regressor
    routed = clone(moe)
    with pytest.raises(NotFittedError):
        routed.predict(X)
    routed.__dict__.update(
        {key: value for key, value in vars(moe).items() if key[-1] == "_"}
    )
    for params, match in [
        ({"routing": "top_k", "top_k": 9}, "top_k must be an integer between"),
        ({"routing": "top_k", "top_k": True}, "top_k must be an integer"),
        ({"routing": "best"}, re.escape("routing must be one of")),
    ]:
        routed.set_params(**params)
        with pytest.raises(ValueError, match=match):
            routed.predict(X)
        # The input's error comes first, as on the general path.
        with pytest.raises(ValueError, match="features"):
            routed.predict(np.column_stack([X, X]))


def test_the_switch_is_honoured(regressor):
    moe, X, _ = regressor
    assert fast_prediction(moe, X) is not None
    with general_path():
        assert fast_prediction(moe, X) is None
