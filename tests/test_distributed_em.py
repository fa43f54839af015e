"""Exact EM on Dask arrays: ``fit`` on row chunks held by a cluster's workers
equals the in-memory fit.

A ``LocalCluster`` of two worker processes on loopback stands in for a cluster:
the chunks, responsibilities and sums are pickled and sent between processes as
they would be between machines. The two fits take the same iterates (the same
start, the same solver steps), so they agree to the rounding of the sums.
"""

import os

import numpy as np
import pytest
from sklearn.linear_model import (
    GammaRegressor,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
)
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, SoftmaxGate
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.exceptions import ExpertCollapseError

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore::skmoe.exceptions.ExpertCollapseWarning",
)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _chunked(chunks, *arrays):
    return [
        da.from_array(a, chunks=(chunks, -1) if a.ndim == 2 else chunks) for a in arrays
    ]


def assert_same_fit(ours, theirs, atol=1e-8):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    assert abs(ours.log_likelihood_ - theirs.log_likelihood_) < atol
    np.testing.assert_allclose(
        ours.log_likelihood_curve_, theirs.log_likelihood_curve_, rtol=0, atol=atol
    )
    np.testing.assert_allclose(ours.gate_.coef_, theirs.gate_.coef_, atol=atol)
    np.testing.assert_allclose(
        ours.gate_.intercept_, theirs.gate_.intercept_, atol=atol
    )
    assert ours.gate_.alpha_ == theirs.gate_.alpha_
    assert ours.n_experts_ == theirs.n_experts_
    for a, b in zip(ours.experts_, theirs.experts_, strict=True):
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=atol)
        np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=atol)
    for name, value in theirs.family_.fitted_attributes().items():
        np.testing.assert_allclose(
            getattr(ours, name), value, rtol=atol, atol=0, err_msg=name
        )
    assert len(ours.collapsed_) == len(theirs.collapsed_)
    for a, b in zip(ours.collapsed_, theirs.collapsed_, strict=True):
        assert {k: a[k] for k in ("iteration", "expert", "action")} == {
            k: b[k] for k in ("iteration", "expert", "action")
        }
        assert abs(a["share"] - b["share"]) < atol


REGRESSION = make_moe_regression(n_samples=5000, n_experts=3, random_state=0)


@pytest.mark.parametrize("chunks", [5000, 1300])
@pytest.mark.parametrize(
    "params",
    [
        {"n_experts": 3, "n_init": 2, "init_size": 1000},
        {"n_experts": 3, "n_init": 2, "init_size": 1000, "n_jobs": 2},
        {"expert": Ridge(alpha=5.0), "gate": SoftmaxGate(alpha=1e-2), "init_size": 800},
    ],
    ids=["linear, 2 restarts", "restarts in threads", "ridge"],
)
def test_the_regressor_equals_the_in_memory_fit(client, chunks, params):
    X, y = REGRESSION
    params = {"random_state": 0, **params}
    theirs = MixtureOfExpertsRegressor(**params).fit(X, y)
    ours = MixtureOfExpertsRegressor(**params).fit(*_chunked(chunks, X, y))
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-8)


@pytest.mark.parametrize("n_classes, chunks", [(2, 1500), (3, 2500)])
def test_the_classifier_equals_the_in_memory_fit(client, n_classes, chunks):
    X, y = make_moe_classification(
        n_samples=5000, n_experts=2, n_classes=n_classes, random_state=1
    )
    y = np.array(["a", "b", "c"])[y]  # labels as strings, encoded on the workers
    params = {"n_experts": 2, "random_state": 0, "init_size": 1000, "max_iter": 12}
    theirs = MixtureOfExpertsClassifier(**params).fit(X, y)
    ours = MixtureOfExpertsClassifier(**params).fit(*_chunked(chunks, X, y))
    assert_same_fit(ours, theirs)
    assert list(ours.classes_) == list(theirs.classes_)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8
    )


@pytest.mark.parametrize(
    "family, expert", [("poisson", PoissonRegressor()), ("gamma", GammaRegressor())]
)
def test_glm_families_equal_the_in_memory_fit(client, family, expert):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    mean = np.exp(np.where(X[:, 0] > 0, 0.3 + 0.5 * X[:, 1], 1.0 - 0.4 * X[:, 1]))
    y = rng.poisson(mean) if family == "poisson" else rng.gamma(4.0, mean / 4.0)
    params = {
        "expert": expert,
        "family": family,
        "random_state": 0,
        "init_size": 800,
        "max_iter": 15,
    }
    theirs = MixtureOfExpertsRegressor(**params).fit(X, y)
    ours = MixtureOfExpertsRegressor(**params).fit(*_chunked(1000, X, y))
    assert_same_fit(ours, theirs)


def test_sample_weight_and_feature_subsets_equal_the_in_memory_fit(client):
    X, y = make_moe_regression(
        n_samples=4000, n_features=4, n_experts=2, random_state=3
    )
    weight = np.random.default_rng(0).uniform(0.5, 2.0, size=y.size)
    weight[::10] = 0.0
    params = {
        "random_state": 0,
        "init_size": 800,
        "gate_features": [0, 2],
        "expert_features": [1, 2, 3],
    }
    theirs = MixtureOfExpertsRegressor(**params).fit(X, y, sample_weight=weight)
    ours = MixtureOfExpertsRegressor(**params).fit(
        *_chunked(900, X, y), sample_weight=_chunked(900, weight)[0]
    )
    assert_same_fit(ours, theirs)


def test_an_init_array_on_small_data_equals_the_in_memory_fit(client):
    """Data too small for a subsample start: the start gathers it (few rows)."""
    X, y = make_moe_regression(n_samples=600, n_experts=2, random_state=4)
    init = np.random.default_rng(1).dirichlet(np.ones(2), size=600)
    params = {"n_experts": 2, "init": init, "n_init": 1}
    theirs = MixtureOfExpertsRegressor(**params).fit(X, y)
    ours = MixtureOfExpertsRegressor(**params).fit(*_chunked(250, X, y))
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("collapse", ["drop", "reseed"])
def test_collapses_are_handled_as_in_memory(client, collapse):
    X, y = make_moe_regression(n_samples=3000, n_experts=2, random_state=5)
    # 3,000 rows, fewer than twice init_size: the start is on all rows, and
    # the experts collapse in the distributed run itself (iterations 1 to 3).
    params = {
        "n_experts": 4,
        "collapse": collapse,
        "collapse_threshold": 0.25,
        "random_state": 0,
        "n_init": 1,
        "max_iter": 15,
    }
    theirs = MixtureOfExpertsRegressor(**params).fit(X, y)
    assert {event["iteration"] for event in theirs.collapsed_} >= {1}
    assert {event["action"] for event in theirs.collapsed_} >= {"dropped"}
    ours = MixtureOfExpertsRegressor(**params).fit(*_chunked(700, X, y))
    assert_same_fit(ours, theirs)


def test_collapse_raise_raises_as_in_memory(client):
    X, y = make_moe_regression(n_samples=3000, n_experts=2, random_state=5)
    params = {"n_experts": 4, "collapse": "raise", "collapse_threshold": 0.25}
    with pytest.raises(ExpertCollapseError):
        MixtureOfExpertsRegressor(**params, n_init=1, random_state=0).fit(
            *_chunked(700, X, y)
        )


def test_a_dataframe_fit_keeps_its_column_names(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_moe_regression(n_samples=3000, n_features=2, random_state=6)
    frame = pd.DataFrame(X, columns=["speed", "load"])
    params = {"random_state": 0, "init_size": 600}
    theirs = MixtureOfExpertsRegressor(**params).fit(frame, y)
    ours = MixtureOfExpertsRegressor(**params).fit(
        dd.from_pandas(frame, npartitions=3),
        dd.from_pandas(pd.Series(y), npartitions=3),
    )
    assert list(ours.feature_names_in_) == ["speed", "load"]
    assert_same_fit(ours, theirs)


def test_a_lost_worker_is_recomputed_and_the_fit_is_unchanged(client, monkeypatch):
    """A worker process killed mid-fit: its chunks and responsibilities are
    recomputed from their tasks (pure functions of their inputs), and the fit
    ends as the in-memory one."""
    from skmoe import _distributed

    X, y = REGRESSION
    params = {"random_state": 0, "init_size": 1000, "n_init": 1, "max_iter": 8}
    theirs = MixtureOfExpertsRegressor(**params).fit(X, y)
    original = _distributed.DistributedSteps.m_step
    killed = []

    def killing(parts, data, resp, config, iteration, *args, **kwargs):
        if iteration == 3 and not killed:
            victim = sorted(client.scheduler_info()["workers"])[0]
            killed.append(victim)
            try:
                client.run(os._exit, 1, workers=[victim])
            except Exception:  # the worker dies before it answers
                pass
        return original(parts, data, resp, config, iteration, *args, **kwargs)

    monkeypatch.setattr(_distributed.DistributedSteps, "m_step", staticmethod(killing))
    ours = MixtureOfExpertsRegressor(**params).fit(*_chunked(1000, X, y))
    assert killed
    assert_same_fit(ours, theirs)
    client.wait_for_workers(2, timeout=60)


# ---- bad input


@pytest.fixture(scope="module")
def small():
    return make_moe_regression(n_samples=2000, n_experts=2, random_state=7)


def test_unknown_chunk_sizes_are_refused(client, small):
    X, y = _chunked(500, *small)
    X = X[X[:, 0] > -np.inf]
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        MixtureOfExpertsRegressor().fit(X, y)


def test_mismatched_chunks_are_refused(client, small):
    X, y = small
    with pytest.raises(ValueError, match="X and y must have the same row chunks"):
        MixtureOfExpertsRegressor().fit(_chunked(500, X)[0], _chunked(400, y)[0])
    with pytest.raises(ValueError, match="X and sample_weight must have the same"):
        MixtureOfExpertsRegressor().fit(
            *_chunked(500, X, y), sample_weight=_chunked(300, np.ones(len(y)))[0]
        )


def test_nan_is_found_naming_its_chunk(client, small):
    X, y = small
    X = X.copy()
    X[1234, 1] = np.nan
    with pytest.raises(ValueError, match="row chunk 2: X holds NaN"):
        MixtureOfExpertsRegressor().fit(*_chunked(500, X, y))
    weight = np.ones(len(y))
    weight[10] = -1.0
    with pytest.raises(ValueError, match="row chunk 0: sample_weight holds negative"):
        MixtureOfExpertsRegressor().fit(
            *_chunked(500, small[0], y), sample_weight=_chunked(500, weight)[0]
        )


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"expert": DecisionTreeRegressor()}, TypeError, "Incremental"),
        ({"family": "student_t"}, ValueError, "needs all rows at once"),
        ({"solver": "cem"}, ValueError, "solver='em'"),
        ({"init_size": None}, ValueError, "init_size=None would gather"),
        ({"responsibility_threshold": 0.1}, ValueError, "responsibility_threshold"),
    ],
)
def test_fits_without_sums_are_refused(client, small, params, error, match):
    with pytest.raises(error, match=match):
        MixtureOfExpertsRegressor(**params).fit(*_chunked(500, *small))


def test_a_classifier_with_too_many_parameters_is_refused(client):
    X, y = make_moe_classification(
        n_samples=2000, n_features=30, n_classes=10, random_state=0
    )
    with pytest.raises(ValueError, match="factored Hessian"):
        MixtureOfExpertsClassifier(expert=LogisticRegression()).fit(
            *_chunked(500, X, y)
        )


def test_a_failed_fit_leaves_the_fitted_model_as_it_was(client, small):
    X, y = small
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X, y)
    coef = moe.gate_.coef_.copy()
    bad = X.copy()
    bad[5, 0] = np.inf
    with pytest.raises(ValueError, match="row chunk 0"):
        moe.fit(*_chunked(500, bad, y))
    np.testing.assert_array_equal(moe.gate_.coef_, coef)
    assert moe.n_features_in_ == X.shape[1]


def test_warm_start_on_a_dask_array_is_refused(client, small):
    moe = MixtureOfExpertsRegressor(warm_start=True).fit(*small)
    with pytest.raises(ValueError, match="warm_start=True cannot continue"):
        moe.fit(*_chunked(500, *small))


def test_a_fit_without_a_client_says_so(small):
    code = (
        "import dask.array as da, numpy as np\n"
        "from skmoe import MixtureOfExpertsRegressor\n"
        "X = da.from_array(np.random.rand(100, 2), chunks=50)\n"
        "y = da.from_array(np.random.rand(100), chunks=50)\n"
        "MixtureOfExpertsRegressor().fit(X, y)\n"
    )
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "no client is running" in result.stderr
