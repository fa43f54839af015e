"""The estimators inside scikit-learn: pipelines, searches, cloning, pickling,
DataFrames, logging and the fit callbacks of scikit-learn >= 1.9."""

import logging
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, SoftmaxGate
from skmoe.datasets import make_moe_classification, make_moe_regression


@pytest.fixture(scope="module")
def regression():
    return make_moe_regression(n_samples=300, n_experts=2, random_state=0)


@pytest.fixture(scope="module")
def classification():
    return make_moe_classification(n_samples=300, random_state=0)


@pytest.fixture(scope="module")
def fitted_regressor(regression):
    X, y = regression
    return MixtureOfExpertsRegressor(random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def fitted_classifier(classification):
    X, y = classification
    return MixtureOfExpertsClassifier(random_state=0).fit(X, y)


# ---- pipelines and model selection


def test_pipeline_with_a_scaler(regression):
    X, y = regression
    X = 100.0 * X + 5.0
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("moe", MixtureOfExpertsRegressor(random_state=0)),
        ]
    ).fit(X, y)
    by_hand = MixtureOfExpertsRegressor(random_state=0).fit(
        StandardScaler().fit_transform(X), y
    )
    np.testing.assert_allclose(
        pipe.predict(X), by_hand.predict(StandardScaler().fit(X).transform(X))
    )
    assert pipe.score(X, y) > LinearRegression().fit(X, y).score(X, y)
    assert pipe.named_steps["moe"].predict_gate_proba(pipe[:-1].transform(X)).shape == (
        X.shape[0],
        2,
    )


def test_grid_search_over_experts_and_gate_alpha(regression):
    X, y = regression
    search = GridSearchCV(
        MixtureOfExpertsRegressor(random_state=0),
        param_grid={"n_experts": [1, 2, 3], "gate__alpha": [1e-4, 1e-2]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_["n_experts"] >= 2
    best = search.best_estimator_
    alpha = search.best_params_["gate__alpha"]
    assert isinstance(best.gate, SoftmaxGate)
    assert best.gate.alpha == alpha
    assert best.gate_.alpha == alpha
    assert best.n_experts == search.best_params_["n_experts"]
    assert len(best.experts_) == best.n_experts
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_nested_gate_parameters_while_gate_is_none():
    moe = MixtureOfExpertsRegressor(random_state=0)
    assert moe.gate is None
    assert "gate__alpha" not in moe.get_params(deep=True)

    moe.set_params(gate__alpha=1e-2, gate__max_iter=50)
    assert isinstance(moe.gate, SoftmaxGate)
    assert (moe.gate.alpha, moe.gate.max_iter) == (1e-2, 50)
    params = moe.get_params(deep=True)
    assert params["gate__alpha"] == 1e-2
    assert params["gate__max_iter"] == 50

    copy = clone(moe)
    assert copy.gate is not moe.gate
    assert isinstance(copy.gate, SoftmaxGate)
    assert copy.gate.alpha == 1e-2
    assert copy.get_params(deep=True)["gate__alpha"] == 1e-2


def test_nested_expert_parameters_while_expert_is_none(regression):
    X, y = regression
    moe = MixtureOfExpertsRegressor(random_state=0, n_init=1)
    moe.set_params(expert__fit_intercept=False)
    assert isinstance(moe.expert, LinearRegression)
    assert moe.get_params(deep=True)["expert__fit_intercept"] is False
    moe.fit(X, y)
    assert all(expert.intercept_ == 0.0 for expert in moe.experts_)

    classifier = MixtureOfExpertsClassifier().set_params(expert__C=0.5)
    assert isinstance(classifier.expert, LogisticRegression)
    assert classifier.expert.C == 0.5


def test_explicit_gate_wins_over_the_default(regression):
    moe = MixtureOfExpertsRegressor().set_params(
        gate=SoftmaxGate(max_iter=7), gate__alpha=1e-3
    )
    assert (moe.gate.alpha, moe.gate.max_iter) == (1e-3, 7)


def test_cross_val_score_regressor(regression):
    X, y = regression
    scores = cross_val_score(MixtureOfExpertsRegressor(random_state=0), X, y, cv=3)
    linear = cross_val_score(LinearRegression(), X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > linear.mean()


def test_cross_val_score_classifier(classification):
    X, y = classification
    scores = cross_val_score(MixtureOfExpertsClassifier(random_state=0), X, y, cv=3)
    linear = cross_val_score(LogisticRegression(), X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > linear.mean()


# ---- clone and pickle


@pytest.mark.parametrize("name", ["fitted_regressor", "fitted_classifier"])
def test_clone_keeps_parameters_and_drops_fitted_state(name, request):
    moe = request.getfixturevalue(name)
    moe = clone(moe).set_params(
        n_experts=3, gate=SoftmaxGate(alpha=1e-3), routing="top_k", top_k=2
    )
    copy = clone(moe)
    assert copy.get_params(deep=False).keys() == moe.get_params(deep=False).keys()
    for key, value in moe.get_params(deep=True).items():
        if hasattr(value, "get_params"):
            assert type(copy.get_params()[key]) is type(value)
            assert copy.get_params()[key] is not value
        else:
            assert copy.get_params()[key] == value, key
    assert not any(key.endswith("_") for key in vars(copy))
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)

    fitted = request.getfixturevalue(name)
    fresh = clone(fitted)
    assert not hasattr(fresh, "experts_")
    with pytest.raises(NotFittedError):
        fresh.predict(np.zeros((2, 2)))


def _outputs(moe, X, y):
    outputs = {
        "predict": moe.predict(X),
        "predict_gate_proba": moe.predict_gate_proba(X),
        "predict_experts": moe.predict_experts(X),
        "score_samples": moe.score_samples(X, y),
        "posterior_proba": moe.posterior_proba(X, y),
    }
    if hasattr(moe, "predict_proba"):
        outputs["predict_proba"] = moe.predict_proba(X)
    return outputs


@pytest.mark.parametrize(
    "name, data",
    [("fitted_regressor", "regression"), ("fitted_classifier", "classification")],
)
def test_pickle_round_trip(name, data, request):
    moe = request.getfixturevalue(name)
    X, y = request.getfixturevalue(data)
    restored = pickle.loads(pickle.dumps(moe))
    before, after = _outputs(moe, X, y), _outputs(restored, X, y)
    for method in before:
        np.testing.assert_array_equal(after[method], before[method], err_msg=method)
    assert restored.get_params().keys() == moe.get_params().keys()


# ---- column selections


def test_dataframe_with_named_gate_features(regression):
    X, y = regression
    df = pd.DataFrame(X, columns=["x1", "x2"])
    named = MixtureOfExpertsRegressor(gate_features=["x1"], random_state=0).fit(df, y)
    np.testing.assert_array_equal(named.feature_names_in_, ["x1", "x2"])
    np.testing.assert_array_equal(named.gate_features_, [0])
    np.testing.assert_array_equal(named.expert_features_, [0, 1])
    assert named.gate_.coef_.shape == (2, 1)

    by_index = MixtureOfExpertsRegressor(gate_features=[0], random_state=0).fit(X, y)
    assert not hasattr(by_index, "feature_names_in_")
    np.testing.assert_allclose(named.predict(df), by_index.predict(X))
    np.testing.assert_allclose(
        named.predict_gate_proba(df), by_index.predict_gate_proba(X)
    )
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        named.predict(X)
    with pytest.raises(ValueError, match="feature names"):
        named.predict(df[["x2", "x1"]])


def test_dataframe_with_named_expert_features(regression):
    X, y = regression
    df = pd.DataFrame(np.column_stack([X, X[:, 0] ** 2]), columns=["a", "b", "c"])
    moe = MixtureOfExpertsRegressor(
        gate_features=["c"], expert_features=["a", "b"], n_init=1, random_state=0
    ).fit(df, y)
    np.testing.assert_array_equal(moe.gate_features_, [2])
    np.testing.assert_array_equal(moe.expert_features_, [0, 1])
    assert all(expert.coef_.shape == (2,) for expert in moe.experts_)


def test_boolean_masks_select_columns(regression):
    X, y = regression
    X3 = np.column_stack([X, X[:, 0] - X[:, 1]])
    masked = MixtureOfExpertsRegressor(
        gate_features=[True, False, True],
        expert_features=np.array([True, True, False]),
        random_state=0,
    ).fit(X3, y)
    indexed = MixtureOfExpertsRegressor(
        gate_features=[0, 2], expert_features=[0, 1], random_state=0
    ).fit(X3, y)
    np.testing.assert_array_equal(masked.gate_features_, [0, 2])
    np.testing.assert_array_equal(masked.expert_features_, [0, 1])
    np.testing.assert_allclose(masked.predict(X3), indexed.predict(X3))
    with pytest.raises(ValueError, match="boolean mask of length 2"):
        clone(masked).set_params(gate_features=[True, False]).fit(X3, y)


def test_empty_gate_features_give_constant_gate_probabilities(regression):
    X, y = regression
    moe = MixtureOfExpertsRegressor(gate_features=[], random_state=0).fit(X, y)
    gate = moe.predict_gate_proba(X)
    assert gate.shape == (X.shape[0], 2)
    np.testing.assert_array_equal(gate, np.broadcast_to(gate[0], gate.shape))
    assert moe.gate_.coef_.shape == (2, 0)
    # The intercept-only gate is the mean responsibility (at EM's fixed point).
    np.testing.assert_allclose(
        gate[0], moe.posterior_proba(X, y).mean(axis=0), atol=1e-4
    )


def test_empty_gate_features_with_a_dataframe(regression):
    X, y = regression
    df = pd.DataFrame(X, columns=["x1", "x2"])
    moe = MixtureOfExpertsRegressor(gate_features=[], n_init=1, random_state=0)
    gate = moe.fit(df, y).predict_gate_proba(df)
    assert np.ptp(gate, axis=0).max() == 0.0


# ---- verbose logging


def _skmoe_messages(caplog):
    return [record for record in caplog.records if record.name == "skmoe"]


def test_verbose_0_logs_nothing(regression, caplog):
    X, y = regression
    MixtureOfExpertsRegressor(n_init=2, random_state=0).fit(X, y)
    assert _skmoe_messages(caplog) == []


def test_verbose_1_logs_each_restart(regression, caplog):
    X, y = regression
    moe = MixtureOfExpertsRegressor(n_init=2, verbose=1, random_state=0).fit(X, y)
    records = _skmoe_messages(caplog)
    restarts = [r for r in records if "restart" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in restarts] == [
        "restart 1/2",
        "restart 2/2",
    ]
    assert all(r.levelno == logging.INFO for r in restarts)
    assert not any("iteration " in r.getMessage() for r in records)
    assert any(f"after {moe.n_iter_} iterations" in r.getMessage() for r in restarts)
    assert logging.getLogger("skmoe").level == logging.NOTSET


def test_verbose_2_logs_each_iteration(regression, caplog):
    X, y = regression
    moe = MixtureOfExpertsRegressor(n_init=1, verbose=2, random_state=0).fit(X, y)
    messages = [r.getMessage() for r in _skmoe_messages(caplog)]
    iterations = [m for m in messages if m.strip().startswith("iteration")]
    assert len(iterations) == moe.n_iter_
    assert iterations[0].strip().startswith("iteration 1:")
    assert any(m.startswith("restart 1/1") for m in messages)
    assert logging.getLogger("skmoe").level == logging.NOTSET


# ---- fit callbacks (scikit-learn >= 1.9)


class RecordingCallback:
    """Records the task tree of each fit; can stop the iterations of a restart."""

    def __init__(self, stop_after=None, X_probe=None):
        self.stop_after = stop_after
        self.X_probe = X_probe
        self.roots = []
        self.events = []

    def setup(self, estimator, context):
        self.roots.append(context)
        self.events.append(("setup", context.task_name))

    def on_fit_task_begin(self, estimator, context):
        self.events.append(("begin", context.task_name, context.task_id))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id))
        if context.task_name != "iteration":
            return False
        if self.X_probe is not None:
            # The estimator rebuilt from the iteration's parts can predict.
            assert fitted_estimator.predict(self.X_probe).shape == (
                self.X_probe.shape[0],
            )
        return self.stop_after is not None and context.task_id + 1 >= self.stop_after

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name))


def _children(context):
    return list(context._children_map.values())


def test_callback_task_tree(regression):
    pytest.importorskip("sklearn.callback")
    X, y = regression
    callback = RecordingCallback(X_probe=X[:5])
    moe = MixtureOfExpertsRegressor(n_init=3, random_state=0)
    moe.set_callbacks(callback).fit(X, y)

    assert [e[0] for e in callback.events].count("setup") == 1
    assert callback.events[0] == ("setup", "fit")
    assert callback.events[-1] == ("teardown", "fit")
    (root,) = callback.roots
    assert root.task_name == "fit"
    assert root.parent is None
    restarts = _children(root)
    assert [r.task_name for r in restarts] == ["restart"] * 3
    assert [r.task_id for r in restarts] == [0, 1, 2]
    n_iters = []
    for restart in restarts:
        iterations = _children(restart)
        assert {c.task_name for c in iterations} == {"iteration"}
        assert [c.task_id for c in iterations] == list(range(len(iterations)))
        assert all(not _children(c) for c in iterations)
        assert 1 <= len(iterations) <= moe.max_iter
        n_iters.append(len(iterations))
    assert moe.n_iter_ in n_iters
    # Every task that began also ended, in nested order.
    begins = [e[1:] for e in callback.events if e[0] == "begin"]
    ends = [e[1:] for e in callback.events if e[0] == "end"]
    assert sorted(begins) == sorted(ends)
    assert len(begins) == 1 + 3 + sum(n_iters)
    # The fit leaves no callback bookkeeping behind, only the callbacks themselves.
    assert not hasattr(moe, "_callback_fit_ctx")
    assert not hasattr(moe, "_skl_callbacks_to_teardown")


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_callback_stops_each_restart_early(regression):
    # A stop the callback asked for is not a failure to converge: no warning.
    pytest.importorskip("sklearn.callback")
    X, y = regression
    callback = RecordingCallback(stop_after=2)
    moe = MixtureOfExpertsRegressor(n_init=2, random_state=0, tol=0.0)
    moe.set_callbacks(callback).fit(X, y)
    (root,) = callback.roots
    assert [len(_children(r)) for r in _children(root)] == [2, 2]
    assert moe.n_iter_ == 2
    assert moe.log_likelihood_curve_.shape == (2,)
    assert not moe.converged_


class FailingRegressor(LinearRegression):
    """LinearRegression whose fit raises."""

    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("this expert always fails")


def test_callback_survives_a_failed_fit(regression):
    pytest.importorskip("sklearn.callback")
    X, y = regression
    callback = RecordingCallback()
    moe = MixtureOfExpertsRegressor(n_init=1, random_state=0).set_callbacks(callback)
    moe.fit(X, y)
    n_roots = len(callback.roots)

    # Invalid data fails before the fit's task tree is set up.
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        moe.fit(X_bad, y)
    assert len(callback.roots) == n_roots

    # A failure inside EM still tears the callbacks down.
    moe.set_params(expert=FailingRegressor())
    callback.events.clear()
    with pytest.raises(RuntimeError, match="always fails"):
        moe.fit(X, y)
    assert callback.events[0] == ("setup", "fit")
    assert callback.events[-1] == ("teardown", "fit")
    assert moe._skl_callbacks == [callback]
    assert not hasattr(moe, "_callback_fit_ctx")
    assert not hasattr(moe, "_skl_callbacks_to_teardown")

    moe.set_params(expert=None).fit(X, y)
    assert callback.events[-1] == ("teardown", "fit")
    check_is_fitted(moe)


def test_callbacks_survive_clone_inside_grid_search(regression):
    pytest.importorskip("sklearn.callback")
    X, y = regression
    callback = RecordingCallback()
    moe = MixtureOfExpertsRegressor(n_init=1, random_state=0).set_callbacks(callback)
    assert clone(moe)._skl_callbacks == [callback]
    GridSearchCV(moe, {"n_experts": [1, 2]}, cv=2).fit(X, y)
    # Not auto-propagated, so set on the inner estimator: one fit per split and
    # candidate, plus the refit.
    assert len(callback.roots) == 2 * 2 + 1
    assert all(len(_children(root)) == 1 for root in callback.roots)


def test_progress_bar_on_a_plain_fit(regression):
    callback_module = pytest.importorskip("sklearn.callback")
    pytest.importorskip("rich")
    X, y = regression
    moe = MixtureOfExpertsRegressor(n_init=2, random_state=0)
    moe.set_callbacks(callback_module.ProgressBar()).fit(X, y)
    check_is_fitted(moe)


def test_progress_bar_on_a_classifier_in_a_pipeline(classification):
    callback_module = pytest.importorskip("sklearn.callback")
    pytest.importorskip("rich")
    X, y = classification
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsClassifier(n_init=2, random_state=0)
    )
    pipe.set_callbacks(callback_module.ProgressBar()).fit(X, y)
    check_is_fitted(pipe[-1])
    assert pipe.score(X, y) > 0.5


def test_progress_bar_nested_in_grid_search(regression):
    callback_module = pytest.importorskip("sklearn.callback")
    pytest.importorskip("rich")
    X, y = regression
    search = GridSearchCV(
        MixtureOfExpertsRegressor(n_init=2, random_state=0),
        {"n_experts": [1, 2], "expert": [LinearRegression(), Ridge(alpha=1.0)]},
        cv=2,
    ).set_callbacks(callback_module.ProgressBar())
    search.fit(X, y)
    assert search.best_params_["n_experts"] == 2
    check_is_fitted(search.best_estimator_)
    assert not hasattr(search.best_estimator_, "_parent_callback_ctx")
