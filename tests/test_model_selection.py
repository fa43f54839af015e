import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.model_selection import information_criterion, select_n_experts

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore::skmoe.exceptions.ExpertCollapseWarning",
)


@pytest.fixture(scope="module")
def three_regimes():
    return make_moe_regression(n_samples=600, n_experts=3, random_state=0)


@pytest.mark.parametrize("true_count", [2, 3, 5])
@pytest.mark.parametrize("criterion", ["bic", "icl"])
def test_recovers_the_number_of_regimes(true_count, criterion):
    X, y = make_moe_regression(n_samples=1000, n_experts=true_count, random_state=0)
    best, results = select_n_experts(
        MixtureOfExpertsRegressor(random_state=0),
        X,
        y,
        n_experts=range(1, 7),
        criterion=criterion,
    )
    assert best.n_experts == true_count
    assert results["param_n_experts"][results["rank"] == 1] == [true_count]


def test_results_read_like_cv_results(three_regimes):
    X, y = three_regimes
    counts = [3, 1, 2]
    best, results = select_n_experts(
        MixtureOfExpertsRegressor(random_state=0), X, y, n_experts=counts
    )
    assert list(results["param_n_experts"]) == counts
    assert set(results) == {
        "param_n_experts",
        "bic",
        "rank",
        "log_likelihood",
        "n_iter",
        "converged",
        "n_experts_fitted",
        "fit_time",
    }
    assert all(len(column) == len(counts) for column in results.values())
    np.testing.assert_array_equal(
        results["rank"], np.argsort(np.argsort(results["bic"])) + 1
    )
    # The returned model is the best count's, fitted on all the data.
    assert best.bic(X, y) == pytest.approx(results["bic"].min())
    assert best.log_likelihood_ == pytest.approx(
        results["log_likelihood"][results["rank"] == 1][0]
    )


def test_icl_adds_the_entropy_of_the_assignments_to_bic(three_regimes):
    X, y = three_regimes
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    assigned = moe.posterior_proba(X, y).max(axis=1)
    icl = information_criterion(moe, X, y, "icl")
    assert icl == pytest.approx(moe.bic(X, y) - 2 * np.log(assigned).sum())
    assert icl >= moe.bic(X, y)


def test_cv_works_with_experts_that_have_no_parameter_count(three_regimes):
    X, y = three_regimes
    moe = MixtureOfExpertsRegressor(
        DecisionTreeRegressor(max_depth=3, random_state=0), n_init=1, random_state=0
    )
    with pytest.raises(ValueError, match="no coef_"):
        select_n_experts(moe, X, y, n_experts=[1, 2], criterion="bic")
    best, results = select_n_experts(
        moe, X, y, n_experts=[1, 3], criterion="cv", cv=KFold(3)
    )
    assert {"mean_cv_log_likelihood", "std_cv_log_likelihood"} <= set(results)
    assert results["mean_cv_log_likelihood"][1] > results["mean_cv_log_likelihood"][0]
    assert best.n_experts == 3


def test_classifier():
    X, y = make_moe_classification(n_samples=400, random_state=0)
    best, results = select_n_experts(
        MixtureOfExpertsClassifier(n_init=1, random_state=0), X, y, n_experts=[1, 2]
    )
    assert best.n_experts == results["param_n_experts"][results["rank"] == 1][0]
    assert np.all(np.isfinite(results["bic"]))


def test_n_jobs_gives_the_same_results(three_regimes):
    X, y = three_regimes
    estimator = MixtureOfExpertsRegressor(n_init=2, random_state=0)
    serial_best, serial = select_n_experts(estimator, X, y, n_experts=[1, 2, 3])
    parallel_best, parallel = select_n_experts(
        estimator, X, y, n_experts=[1, 2, 3], n_jobs=2
    )
    for key in serial:
        if key != "fit_time":
            np.testing.assert_array_equal(parallel[key], serial[key], err_msg=key)
    np.testing.assert_array_equal(parallel_best.predict(X), serial_best.predict(X))


def test_split_grows_each_count_from_the_previous(three_regimes):
    X, y = three_regimes
    best, results = select_n_experts(
        MixtureOfExpertsRegressor(random_state=0),
        X,
        y,
        n_experts=[1, 2, 3, 4],
        strategy="split",
    )
    assert best.n_experts == 3
    assert list(results["param_n_experts"]) == [1, 2, 3, 4]
    # Each count after the first is a single run from the split responsibilities.
    assert best.init.shape == (X.shape[0], 3)


def test_n_init_overrides_the_estimators(three_regimes):
    X, y = three_regimes
    best, _ = select_n_experts(
        MixtureOfExpertsRegressor(n_init=5, random_state=0),
        X,
        y,
        n_experts=[2],
        n_init=1,
    )
    assert best.n_init == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_experts": []}, ValueError, "n_experts is empty"),
        ({"n_experts": range(0)}, ValueError, "n_experts is empty"),
        ({"n_experts": [0, 1, 2]}, ValueError, r"integers >= 1; got \['0'\]"),
        ({"n_experts": [-1]}, ValueError, r"integers >= 1; got \['-1'\]"),
        ({"n_experts": [1.5]}, ValueError, r"integers >= 1; got \['1.5'\]"),
        ({"n_experts": [2, 2]}, ValueError, "more than once"),
        ({"n_experts": 3}, TypeError, "iterable of counts"),
        ({"criterion": "bics"}, ValueError, "criterion must be one of"),
        ({"strategy": "grow"}, ValueError, "strategy must be one of"),
        (
            {"strategy": "split", "criterion": "cv"},
            ValueError,
            "criterion='cv' cannot score",
        ),
    ],
)
def test_bad_arguments_are_refused_before_any_fit(three_regimes, kwargs, error, match):
    X, y = three_regimes

    class Refuses(MixtureOfExpertsRegressor):
        def fit(self, X, y, sample_weight=None):
            raise AssertionError("fitted before the arguments were checked")

    with pytest.raises(error, match=match):
        select_n_experts(Refuses(), X, y, **kwargs)


def test_split_needs_a_regressor_and_a_skmoe_estimator():
    X, y = make_moe_classification(n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="needs a regressor"):
        select_n_experts(MixtureOfExpertsClassifier(), X, y, strategy="split")
    with pytest.raises(TypeError, match="needs a skmoe mixture of experts"):
        select_n_experts(DecisionTreeRegressor(), X, y)


def test_warnings_of_each_fit_reach_the_caller(three_regimes):
    X, y = three_regimes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        select_n_experts(
            MixtureOfExpertsRegressor(max_iter=2, n_init=1, random_state=0),
            X,
            y,
            n_experts=[2, 3],
        )
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
