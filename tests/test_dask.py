"""The same code on a Dask cluster: joblib's Dask backend, and dask-ml's Incremental.

A ``LocalCluster`` of two worker processes on loopback stands in for a real cluster:
tasks are pickled, sent to other processes and their results sent back, as they
would be across machines.
"""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.model_selection import select_n_experts

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore::skmoe.exceptions.ExpertCollapseWarning",
)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def regression():
    return make_moe_regression(n_samples=300, n_experts=2, random_state=0)


def test_grid_search_on_a_cluster_equals_the_sequential_one(dask_client, regression):
    X, y = regression
    grid = {"n_experts": [1, 2, 3], "gate__alpha": [1e-6, 1e-2]}
    estimator = MixtureOfExpertsRegressor(n_init=1, random_state=0)
    sequential = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    with joblib.parallel_config(backend="dask"):
        distributed = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(
        distributed.cv_results_["mean_test_score"],
        sequential.cv_results_["mean_test_score"],
    )
    assert distributed.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(distributed.predict(X), sequential.predict(X))


def test_restarts_and_select_n_experts_on_a_cluster(dask_client, regression):
    X, y = regression
    moe = MixtureOfExpertsRegressor(n_experts=2, n_init=3, random_state=0)
    sequential = moe.fit(X, y).predict(X)
    counts = {"n_experts": [1, 2, 3]}
    _, sequential_results = select_n_experts(moe, X, y, **counts)
    with joblib.parallel_config(backend="dask"):
        distributed = moe.set_params(n_jobs=-1).fit(X, y).predict(X)
        _, distributed_results = select_n_experts(moe, X, y, n_jobs=-1, **counts)
    np.testing.assert_array_equal(distributed, sequential)
    np.testing.assert_array_equal(distributed_results["bic"], sequential_results["bic"])


def test_dask_backend_without_dask_names_what_is_missing(regression):
    code = textwrap.dedent(
        """
        import sys
        sys.modules["dask"] = sys.modules["distributed"] = None  # not installed
        import joblib
        from skmoe import MixtureOfExpertsRegressor
        from skmoe.datasets import make_moe_regression
        X, y = make_moe_regression(n_samples=100, random_state=0)
        with joblib.parallel_config(backend="dask"):
            MixtureOfExpertsRegressor(n_jobs=2).fit(X, y)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "ValueError" in result.stderr
    assert "dask is not installed" in result.stderr


@pytest.mark.parametrize("estimator", ["regressor", "classifier"])
def test_incremental_drives_partial_fit_over_a_dask_array(dask_client, estimator):
    """dask-ml's Incremental feeds the blocks, in order, to partial_fit."""
    wrappers = pytest.importorskip("dask_ml.wrappers")
    dask_array = pytest.importorskip("dask.array")
    params = {"n_experts": 2, "solver": "gradient", "batch_size": 250}
    if estimator == "regressor":
        X, y = make_moe_regression(n_samples=1000, n_experts=2, random_state=0)
        moe, fit_params = MixtureOfExpertsRegressor(**params, random_state=0), {}
    else:
        X, y = make_moe_classification(n_samples=1000, n_classes=3, random_state=0)
        expert = SGDClassifier(loss="log_loss", random_state=0)
        moe = MixtureOfExpertsClassifier(expert, **params, random_state=0)
        fit_params = {"classes": np.unique(y)}
    blocks = {"chunks": (250, X.shape[1])}
    incremental = wrappers.Incremental(clone(moe), shuffle_blocks=False).fit(
        dask_array.from_array(X, **blocks),
        dask_array.from_array(y, chunks=250),
        **fit_params,
    )
    by_hand = clone(moe)
    for start in range(0, 1000, 250):
        by_hand.partial_fit(
            X[start : start + 250], y[start : start + 250], **fit_params
        )
    np.testing.assert_array_equal(incremental.estimator_.predict(X), by_hand.predict(X))
    np.testing.assert_array_equal(
        incremental.estimator_.predict_gate_proba(X), by_hand.predict_gate_proba(X)
    )
