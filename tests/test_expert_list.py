"""A list of different experts: ``expert=[(name, estimator), ...]``.

On a line beside a step function a linear expert and a tree beat both mixtures
of one kind, each on its own region; the names reach the fitted attributes, the
nested parameters (``expert__<name>__<param>``, also through ``GridSearchCV`` and
a ``Pipeline``), the summary, the displays and the coefficient table; bad lists
fail before any work and leave a fitted model as it was.
"""

import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDRegressor,
)
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import Bunch

import skmoe._base
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._fast_predict import fast_prediction
from skmoe.datasets import (
    make_line_and_step,
    make_moe_classification,
    make_moe_regression,
)
from skmoe.exceptions import ExpertFitError
from skmoe.inspection import summary
from skmoe.model_selection import select_n_experts


def line_and_step():
    return [("line", LinearRegression()), ("step", DecisionTreeRegressor(max_depth=3))]


def quiet_fit(model, X, y):
    # EM with tree experts need not settle (their weighted fits are not exact
    # M-steps): the ConvergenceWarning says so, and is not the point here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def data():
    X, y = make_line_and_step(n_samples=3000, random_state=0)
    X_test, y_test = make_line_and_step(n_samples=3000, random_state=1)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return quiet_fit(MixtureOfExpertsRegressor(line_and_step(), random_state=0), X, y)


# ---- what a list of different experts buys


def test_a_line_and_a_tree_beat_both_mixtures_of_one_kind(data, fitted):
    X, y, X_test, y_test = data
    scores = {"line+step": fitted.score_samples(X_test, y_test).mean()}
    for name, expert in [
        ("two lines", LinearRegression()),
        ("two trees", DecisionTreeRegressor(max_depth=3)),
    ]:
        model = quiet_fit(MixtureOfExpertsRegressor(expert, random_state=0), X, y)
        scores[name] = model.score_samples(X_test, y_test).mean()
    print("held-out mean log-likelihood:", scores)
    # Measured: line+step 0.244, two trees -0.134, two lines -0.832. One test
    # row costs the line+step model 0.64 of it: at x = 1.4991 the tree's
    # threshold, midway between two training rows, puts it on the wrong side of
    # the step, 62 noise deviations away (without it, 0.880). On the other
    # seeds tried (train 2k, test 2k + 1, k = 1, 2, 3) it scored 0.85 to 0.89,
    # the trees 0.31 to 0.33, the lines -0.43 to -0.81.
    assert scores["line+step"] > scores["two trees"] + 0.25
    assert scores["line+step"] > scores["two lines"] + 0.25


def test_each_expert_ends_on_its_own_region(data, fitted):
    _, _, X_test, _ = data
    chosen = np.asarray(fitted.expert_names_)[fitted.predict_gate(X_test)]
    left = X_test[:, 0] < 0
    line_share = np.mean(chosen[left] == "line")
    step_share = np.mean(chosen[~left] == "step")
    print(f"x < 0 to 'line': {line_share:.3f}; x >= 0 to 'step': {step_share:.3f}")
    assert line_share > 0.9
    assert step_share > 0.9


def test_fitted_attributes_carry_the_names(fitted):
    assert fitted.expert_names_ == ["line", "step"]
    assert fitted.n_experts_ == 2
    assert isinstance(fitted.named_experts_, Bunch)
    assert fitted.named_experts_.line is fitted.experts_[0]
    assert isinstance(fitted.named_experts_["step"], DecisionTreeRegressor)
    assert fitted.named_experts_.step.get_depth() <= 3
    # The list's own estimators stay unfitted: each fit clones them.
    assert not hasattr(fitted.expert[1][1], "tree_")


def test_single_expert_keeps_its_behaviour():
    X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
    model = MixtureOfExpertsRegressor(random_state=0)
    assert model.n_experts is None
    model.fit(X, y)
    assert model.n_experts_ == 2
    assert model.expert_names_ == ["expert 0", "expert 1"]
    assert list(model.named_experts_) == ["expert 0", "expert 1"]
    model.set_params(expert__fit_intercept=False)
    assert model.expert.fit_intercept is False
    assert model.get_params(deep=True)["expert__fit_intercept"] is False


def test_prediction_is_the_soft_mixture_of_the_experts(data, fitted):
    _, _, X_test, _ = data
    # A tree does not qualify for the serving path: the general path predicts.
    assert fast_prediction(fitted, X_test) is None
    gate = fitted.predict_gate_proba(X_test)
    by_hand = sum(
        gate[:, k] * expert.predict(X_test) for k, expert in enumerate(fitted.experts_)
    )
    np.testing.assert_allclose(fitted.predict(X_test), by_hand, rtol=1e-12)


def test_a_list_of_linear_experts_takes_the_serving_path():
    X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
    model = MixtureOfExpertsRegressor(
        [("plain", LinearRegression()), ("ridge", Ridge(alpha=1e-3))], random_state=0
    ).fit(X, y)
    fast = fast_prediction(model, X)
    assert fast is not None
    gate = model.predict_gate_proba(X)
    by_hand = sum(gate[:, k] * e.predict(X) for k, e in enumerate(model.experts_))
    np.testing.assert_allclose(fast, by_hand, rtol=1e-10, atol=1e-10)


def test_each_expert_gets_its_own_updater(data):
    from skmoe._updaters import NormalEquations, WeightedFit, em_updater

    family = MixtureOfExpertsRegressor()._new_family()
    updaters = [em_updater(e, family) for _, e in line_and_step()]
    assert type(updaters[0]) is NormalEquations
    assert type(updaters[1]) is WeightedFit


def test_classifier_with_a_list():
    X, y = make_moe_classification(n_samples=300, random_state=0)
    model = MixtureOfExpertsClassifier(
        [
            ("logit", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=2)),
        ],
        random_state=0,
    )
    quiet_fit(model, X, y)
    assert model.expert_names_ == ["logit", "tree"]
    proba = model.predict_proba(X[:5])
    gate = model.predict_gate_proba(X[:5])
    by_hand = sum(
        gate[:, [k]] * e.predict_proba(X[:5]) for k, e in enumerate(model.experts_)
    )
    np.testing.assert_allclose(proba, by_hand, rtol=1e-12)


# ---- nested parameters, clone, pickle


def test_get_params_namespaces_the_entries():
    model = MixtureOfExpertsRegressor(line_and_step())
    params = model.get_params(deep=True)
    assert params["expert__step"] is model.expert[1][1]
    assert params["expert__step__max_depth"] == 3
    assert params["expert__line__fit_intercept"] is True
    assert "step" not in params and "expert__max_depth" not in params
    assert "expert__step" not in model.get_params(deep=False)


def test_set_params_replaces_or_edits_one_entry():
    model = MixtureOfExpertsRegressor(line_and_step())
    original = model.expert
    model.set_params(expert__step__max_depth=5)
    assert model.expert[1][1].max_depth == 5
    assert model.expert is original  # a parameter of an entry: the list stays
    ridge = Ridge(alpha=2.0)
    model.set_params(expert__line=ridge)
    assert model.expert[0] == ("line", ridge)
    assert original[0][1].__class__ is LinearRegression  # the old list untouched
    model.set_params(expert__line__alpha=3.0, expert__step__max_depth=1)
    assert ridge.alpha == 3.0 and model.expert[1][1].max_depth == 1
    with pytest.raises(ValueError, match=r"no entry named 'tree'.*\['line', 'step'\]"):
        model.set_params(expert__tree__max_depth=2)


def test_set_params_replaces_the_list_and_then_its_entries():
    model = MixtureOfExpertsRegressor()
    model.set_params(expert=line_and_step(), expert__step__max_depth=2)
    assert model.expert[1][1].max_depth == 2


def test_clone_round_trips():
    model = MixtureOfExpertsRegressor(line_and_step(), random_state=0)
    copy = clone(model)
    assert copy.expert is not model.expert
    assert copy.expert[1][1] is not model.expert[1][1]
    assert [name for name, _ in copy.expert] == ["line", "step"]
    assert copy.get_params(deep=True).keys() == model.get_params(deep=True).keys()
    assert repr(copy) == repr(model)


def test_grid_search_over_a_nested_parameter(data):
    X, y, _, _ = data
    model = MixtureOfExpertsRegressor(line_and_step(), n_init=1, random_state=0)
    search = GridSearchCV(model, {"expert__step__max_depth": [1, 2]}, cv=2)
    quiet_fit(search, X, y)
    depth = search.best_params_["expert__step__max_depth"]
    assert search.best_estimator_.named_experts_.step.get_depth() <= depth
    assert search.best_estimator_.expert[1][1].max_depth == depth
    assert model.expert[1][1].max_depth == 3  # the searched model is untouched


def test_pipeline_reaches_an_entry(data):
    X, y, _, _ = data
    pipe = make_pipeline(
        StandardScaler(),
        MixtureOfExpertsRegressor(line_and_step(), n_init=1, random_state=0),
    )
    name = pipe.steps[-1][0]
    pipe.set_params(**{f"{name}__expert__step__max_depth": 1})
    quiet_fit(pipe, X, y)
    assert pipe[-1].named_experts_.step.get_depth() == 1
    assert f"{name}__expert__step__max_depth" in pipe.get_params(deep=True)


def test_pickle_round_trips(data, fitted):
    _, _, X_test, _ = data
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.expert_names_ == ["line", "step"]
    np.testing.assert_array_equal(restored.predict(X_test), fitted.predict(X_test))


# ---- bad lists: refused before any work, a fitted model left as it was


BAD_LISTS = [
    ([("line", LinearRegression()), ("text", "not an estimator")], r"expert\[1\]"),
    ([("line", LinearRegression()), ("cls", DecisionTreeRegressor)], r"expert\[1\]"),
    ([("line", LinearRegression()), LinearRegression()], r"expert\[1\].*pair"),
    ([("a", LinearRegression(), "extra")], r"expert\[0\].*pair"),
    ([("a", LinearRegression()), ("a", Ridge())], r"expert\[1\].*'a'.*unique"),
    ([("a__b", LinearRegression())], r"expert\[0\].*'a__b'"),
    ([("", LinearRegression())], r"expert\[0\].*''"),
    ([(3, LinearRegression())], r"expert\[0\].*3.*str"),
    ([], "empty"),
    (
        [("line", LinearRegression()), ("logit", LogisticRegression())],
        r"expert 'logit' \(LogisticRegression\) is a classifier",
    ),
    (
        [("line", LinearRegression()), ("knn", KNeighborsRegressor())],
        r"expert 'knn' \(KNeighborsRegressor\).*sample_weight.*solver='cem'",
    ),
]


@pytest.fixture
def no_training(monkeypatch):
    def train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(skmoe._base, "train", train)


@pytest.mark.parametrize(("expert", "message"), BAD_LISTS)
def test_a_bad_list_fails_before_any_work(data, fitted, no_training, expert, message):
    X, y, _, _ = data
    model = pickle.loads(pickle.dumps(fitted)).set_params(expert=expert)
    before = pickle.dumps(model)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    assert pickle.dumps(model) == before
    assert model.expert_names_ == ["line", "step"]


def test_a_regressor_in_a_classifiers_list(no_training):
    X, y = make_moe_classification(n_samples=100, random_state=0)
    model = MixtureOfExpertsClassifier(
        [("logit", LogisticRegression()), ("line", LinearRegression())]
    )
    with pytest.raises(ValueError, match=r"expert 'line' \(LinearRegression\) is a "):
        model.fit(X, y)


def test_n_experts_that_contradicts_the_list(data, no_training):
    X, y, _, _ = data
    model = MixtureOfExpertsRegressor(line_and_step(), n_experts=3)
    with pytest.raises(ValueError, match=r"n_experts=3 but expert lists 2 experts"):
        model.fit(X, y)
    MixtureOfExpertsRegressor(line_and_step(), n_experts=2)  # the same number: fine


def test_no_sample_weight_entry_fits_with_cem(data):
    X, y, X_test, y_test = data
    model = MixtureOfExpertsRegressor(
        [("line", LinearRegression()), ("knn", KNeighborsRegressor(n_neighbors=10))],
        solver="cem",
        n_init=1,
        random_state=0,
    )
    quiet_fit(model, X, y)
    assert model.expert_names_ == ["line", "knn"]
    assert np.isfinite(model.score_samples(X_test, y_test)).all()


def test_mini_batches_with_a_list(data):
    X, y, _, _ = data
    experts = [("line", LinearRegression()), ("sgd", SGDRegressor(random_state=0))]
    model = MixtureOfExpertsRegressor(
        experts, solver="gradient", n_init=1, max_iter=3, random_state=0
    )
    quiet_fit(model, X, y)
    assert model.expert_names_ == ["line", "sgd"]
    streamed = clone(model)
    streamed.partial_fit(X[:300], y[:300]).partial_fit(X[300:], y[300:])
    assert streamed.expert_names_ == ["line", "sgd"]
    model.set_params(expert=line_and_step())
    with pytest.raises(ValueError, match=r"expert 'step' \(DecisionTreeRegressor\).*"):
        model.fit(X, y)
    with pytest.raises(ValueError, match=r"expert 'step'.*partial_fit"):
        clone(model).partial_fit(X, y)


def test_a_dropped_expert_takes_its_name_along(data):
    X, y, _, _ = data
    init = np.zeros((len(y), 3))
    init[:, 0] = X[:, 0] < 0
    init[:, 1] = X[:, 0] >= 0
    init[:3] = [0.0, 0.0, 1.0]  # the middle expert of the list starts with 3 rows
    experts = [
        ("line", LinearRegression()),
        ("extra", Ridge()),
        ("step", DecisionTreeRegressor(max_depth=3)),
    ]
    model = MixtureOfExpertsRegressor(
        experts, init=init[:, [0, 2, 1]], n_init=1, collapse_threshold=0.02
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    assert [event["action"] for event in model.collapsed_] == ["dropped"]
    assert model.expert_names_ == ["line", "step"]
    assert isinstance(model.named_experts_.step, DecisionTreeRegressor)
    assert model.n_experts_ == 2


def test_warm_start_with_a_changed_list(data, fitted):
    X, y, _, _ = data
    model = pickle.loads(pickle.dumps(fitted)).set_params(warm_start=True)
    quiet_fit(model, X, y)  # the same list: it continues
    assert model.expert_names_ == ["line", "step"]
    model.set_params(expert__step__max_depth=2)
    quiet_fit(model, X, y)  # a changed entry: restarts from the responsibilities
    assert model.named_experts_.step.get_depth() <= 2
    model.set_params(expert=[("flat", LinearRegression()), *line_and_step()[1:]])
    quiet_fit(model, X, y)  # a renamed entry: the same
    assert model.expert_names_ == ["flat", "step"]
    model.set_params(expert=[*line_and_step(), ("more", Ridge())])
    with pytest.raises(ValueError, match="warm_start=True"):
        model.fit(X, y)


def test_select_n_experts_refuses_a_list(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="fixes the number of experts"):
        select_n_experts(MixtureOfExpertsRegressor(line_and_step()), X, y)


# ---- the names in the summary, the coefficient table and the displays


def test_summary_names_the_experts(data, fitted):
    X, y, _, _ = data
    result = summary(fitted, X, y)
    assert [expert.name for expert in result.experts] == ["line", "step"]
    text = str(result)
    assert re.search(r"^line\s", text, re.MULTILINE)
    assert re.search(r"^step\s", text, re.MULTILINE)
    assert "expert 0" not in text


def test_coefficient_table_names_the_experts():
    pytest.importorskip("pandas")
    from skmoe.inference import coefficient_table

    X, y = make_moe_regression(n_samples=400, n_experts=2, random_state=0)
    model = MixtureOfExpertsRegressor(
        [("left", LinearRegression()), ("right", LinearRegression())],
        random_state=0,
    ).fit(X, y)
    components = list(dict.fromkeys(coefficient_table(model, X, y)["component"]))
    assert components == ["left", "right", "gate: right"]


def test_displays_label_the_experts(data, fitted):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skmoe.inspection import ExpertUsageDisplay, GateDisplay

    X, y, _, _ = data
    gate = GateDisplay.from_estimator(fitted, X, y=y)
    assert [line.get_label() for line in gate.lines_] == ["line", "step"]
    assert [line.get_label() for line in gate.expert_lines_] == ["line", "step"]
    usage = ExpertUsageDisplay.from_estimator(fitted, X)
    labels = [tick.get_text() for tick in usage.ax_.get_xticklabels()]
    assert labels == ["line", "step"]
    plt.close("all")


class _FailsOnSecondFit(DecisionTreeRegressor):
    """A tree whose second fit raises: an expert failing inside EM."""

    def fit(self, X, y, sample_weight=None):
        self.fits_ = getattr(self, "fits_", 0) + 1
        if self.fits_ == 2:
            raise ValueError("second fit refused")
        return super().fit(X, y, sample_weight=sample_weight)


def test_an_expert_failing_inside_em_is_named_by_its_entry(data):
    X, y = data[0][:500], data[1][:500]
    model = MixtureOfExpertsRegressor(
        expert=[("line", LinearRegression()), ("fragile", _FailsOnSecondFit())],
        n_init=1,
        init_size=None,
        random_state=0,
    )
    with pytest.raises(ExpertFitError, match=r"expert 'fragile' \(_FailsOnSecondFit"):
        model.fit(X, y)
    single = MixtureOfExpertsRegressor(
        expert=_FailsOnSecondFit(), n_init=1, init_size=None, random_state=0
    )
    with pytest.raises(ExpertFitError, match=r"expert 0 \(_FailsOnSecondFit"):
        single.fit(X, y)
