"""Exact EM on Dask arrays (``skmoe._distributed``) against the in-memory fit.

A ``LocalCluster`` of two worker processes stands in for a cluster; the fits start
from the same ``init`` array, so that the two runs take the same iterates.
"""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from skmoe import MixtureOfExpertsRegressor, SoftmaxGate
from skmoe.datasets import make_moe_regression

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from skmoe._distributed import fit_distributed_em  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _in_memory(X, y, init, expert, gate):
    return MixtureOfExpertsRegressor(
        expert,
        n_experts=init.shape[1],
        gate=gate,
        init=init,
        n_init=1,
        init_size=None,
    ).fit(X, y)


def _assert_same_fit(fit, moe):
    assert fit.n_iter == moe.n_iter_
    assert fit.converged == moe.converged_
    assert abs(fit.log_likelihood - moe.log_likelihood_) < 1e-8
    np.testing.assert_allclose(fit.curve, moe.log_likelihood_curve_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.gate.coef_, moe.gate_.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        fit.gate.intercept_, moe.gate_.intercept_, rtol=0, atol=1e-8
    )
    assert fit.gate.alpha_ == moe.gate_.alpha_
    for ours, theirs in zip(fit.experts, moe.experts_, strict=True):
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-8)
    np.testing.assert_allclose(
        fit.family.variance_, moe.noise_variance_, rtol=1e-8, atol=0
    )


@pytest.mark.parametrize(
    "n_samples, n_features, gate_scale, expert, alpha",
    [
        (5000, 3, 3.0, LinearRegression(), "auto"),
        (3000, 2, 8.0, LinearRegression(), "auto"),
        (2000, 4, 3.0, Ridge(alpha=5.0), 1e-2),
    ],
)
def test_distributed_em_equals_the_in_memory_fit(
    client, n_samples, n_features, gate_scale, expert, alpha
):
    X, y = make_moe_regression(
        n_samples=n_samples,
        n_features=n_features,
        n_experts=3,
        gate_scale=gate_scale,
        random_state=1,
    )
    init = np.random.default_rng(0).dirichlet(np.ones(3), size=n_samples)
    gate = SoftmaxGate(alpha=alpha)
    moe = _in_memory(X, y, init, expert, gate)
    assert moe.n_experts_ == 3  # no collapse: the prototype handles none
    for rows in (n_samples // 4, 700):  # even chunks, and a ragged last one
        fit = fit_distributed_em(
            client,
            da.from_array(X, chunks=(rows, n_features)),
            da.from_array(y, chunks=rows),
            da.from_array(init, chunks=(rows, 3)),
            expert=expert,
            gate=gate,
        )
        _assert_same_fit(fit, moe)
        # Two setup passes, the first M-step's, then two per iteration at least.
        assert fit.passes >= 3 + 2 * fit.n_iter


def test_a_relaxed_penalty_is_reproduced(client):
    X, y = make_moe_regression(
        n_samples=3000,
        n_features=2,
        n_experts=3,
        gate_scale=50.0,
        noise=0.1,
        random_state=1,
    )
    init = np.random.default_rng(0).dirichlet(np.ones(3), size=3000)
    moe = _in_memory(X, y, init, LinearRegression(), SoftmaxGate())
    fit = fit_distributed_em(
        client,
        da.from_array(X, chunks=(1000, 2)),
        da.from_array(y, chunks=1000),
        init,
        expert=LinearRegression(),
    )
    assert moe.gate_.alpha_ < 1e-6  # the case exercises the relaxation
    assert fit.gate.alpha_ == moe.gate_.alpha_
    _assert_same_fit(fit, moe)


@pytest.fixture(scope="module")
def small():
    X, y = make_moe_regression(n_samples=400, n_experts=2, random_state=0)
    init = np.random.default_rng(0).dirichlet(np.ones(2), size=400)
    return X, y, init


def test_unknown_chunk_sizes_are_refused(client, small):
    X, y, init = small
    X_unknown = da.from_array(X, chunks=(100, 2))
    X_unknown = X_unknown[X_unknown[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fit_distributed_em(
            client,
            X_unknown,
            da.from_array(y, chunks=100),
            init,
            expert=LinearRegression(),
        )


def test_mismatched_chunks_are_refused(client, small):
    X, y, init = small
    with pytest.raises(ValueError, match="same row chunks"):
        fit_distributed_em(
            client,
            da.from_array(X, chunks=(100, 2)),
            da.from_array(y, chunks=150),
            init,
            expert=LinearRegression(),
        )
    with pytest.raises(ValueError, match="rows only"):
        fit_distributed_em(
            client,
            da.from_array(X, chunks=(100, 1)),
            da.from_array(y, chunks=100),
            init,
            expert=LinearRegression(),
        )


def test_nan_names_its_chunk(client, small):
    X, y, init = small
    X = X.copy()
    X[250, 1] = np.nan
    with pytest.raises(ValueError, match="chunk 2 "):
        fit_distributed_em(
            client,
            da.from_array(X, chunks=(100, 2)),
            da.from_array(y, chunks=100),
            init,
            expert=LinearRegression(),
        )


def test_experts_without_sufficient_statistics_are_refused(client, small):
    from sklearn.tree import DecisionTreeRegressor

    X, y, init = small
    with pytest.raises(TypeError, match="LinearRegression and Ridge"):
        fit_distributed_em(
            client,
            da.from_array(X, chunks=(100, 2)),
            da.from_array(y, chunks=100),
            init,
            expert=DecisionTreeRegressor(),
        )


def _two_regimes(n_samples, seed, noise, slope=12.0):
    """Two linear regimes, the second more likely as the second feature grows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 2))
    regime = (rng.random(n_samples) < 1 / (1 + np.exp(-slope * X[:, 1]))).astype(int)
    coef = np.array([[2.0, -1.0], [-3.0, 1.5]])
    y = np.einsum("ij,ij->i", X, coef[regime]) + np.array([1.0, -2.0])[regime]
    return X, y + noise * rng.normal(size=n_samples)


def test_a_backtracking_line_search_is_reproduced(client, monkeypatch):
    # The start splits the rows by the first feature, the truth by the second:
    # the gate grows steep along the wrong direction, and when the
    # responsibilities turn, a Newton step overshoots and is halved.
    import skmoe._gate
    import skmoe._newton

    X, y = _two_regimes(2000, seed=0, noise=0.05)
    init = np.zeros((2000, 2))
    init[np.arange(2000), (X[:, 0] > 0).astype(int)] = 1.0
    init = 0.95 * init + 0.025
    trials = []
    value = skmoe._newton._penalized_cross_entropy_value
    solve = skmoe._gate.minimize_cross_entropy

    def counted_value(*args, **kwargs):
        trials[-1] += 1
        return value(*args, **kwargs)

    def counted_solve(*args, **kwargs):
        trials.append(0)
        return solve(*args, **kwargs)

    monkeypatch.setattr(skmoe._newton, "_penalized_cross_entropy_value", counted_value)
    monkeypatch.setattr(skmoe._gate, "minimize_cross_entropy", counted_solve)
    moe = _in_memory(X, y, init, LinearRegression(), SoftmaxGate())
    monkeypatch.undo()
    halvings = sum(max(count - 1, 0) for count in trials)
    assert halvings > 0  # the in-memory line search backtracked
    assert moe.n_experts_ == 2
    for rows in (500, 700):
        fit = fit_distributed_em(
            client,
            da.from_array(X, chunks=(rows, 2)),
            da.from_array(y, chunks=rows),
            da.from_array(init, chunks=(rows, 2)),
            expert=LinearRegression(),
        )
        _assert_same_fit(fit, moe)
        # Two setup passes, the first M-step's, two per iteration, and one per
        # halving of a step: the distributed search halved as often.
        assert fit.passes == 3 + 2 * fit.n_iter + halvings


def test_sample_weight_and_feature_subsets_match_the_in_memory_fit(client):
    X, y = make_moe_regression(
        n_samples=3000, n_features=4, n_experts=3, gate_scale=3.0, random_state=2
    )
    rng = np.random.default_rng(3)
    weight = rng.uniform(0.0, 3.0, size=3000)
    weight[rng.random(3000) < 0.1] = 0.0  # zero-weight rows too
    init = rng.dirichlet(np.ones(3), size=3000)
    gate_features, expert_features = [0, 2], [1, 2, 3]
    moe = MixtureOfExpertsRegressor(
        LinearRegression(),
        n_experts=3,
        init=init,
        n_init=1,
        init_size=None,
        gate_features=gate_features,
        expert_features=expert_features,
    ).fit(X, y, sample_weight=weight)
    assert moe.n_experts_ == 3
    unweighted = _in_memory(X, y, init, LinearRegression(), SoftmaxGate())
    assert abs(unweighted.log_likelihood_ - moe.log_likelihood_) > 1e-3
    for rows in (750, 700):
        fit = fit_distributed_em(
            client,
            da.from_array(X, chunks=(rows, 4)),
            da.from_array(y, chunks=rows),
            init,
            expert=LinearRegression(),
            sample_weight=da.from_array(weight, chunks=rows),
            gate_features=gate_features,
            expert_features=expert_features,
        )
        _assert_same_fit(fit, moe)
        assert fit.gate.coef_.shape == (3, 2)
        assert fit.experts[0].coef_.shape == (3,)


def test_mismatched_sample_weight_chunks_are_refused(client, small):
    X, y, init = small
    with pytest.raises(ValueError, match="X and sample_weight must have the same"):
        fit_distributed_em(
            client,
            da.from_array(X, chunks=(100, 2)),
            da.from_array(y, chunks=100),
            init,
            expert=LinearRegression(),
            sample_weight=da.from_array(np.ones(400), chunks=200),
        )


def _starved_start(X, seed):
    """The two true regimes to experts 0 and 1, about 2% of every row to expert 2,
    which then fits no regime and collapses."""
    rng = np.random.default_rng(seed)
    init = np.zeros((X.shape[0], 3))
    init[np.arange(X.shape[0]), (X[:, 1] > 0).astype(int)] = 1.0
    init = 0.97 * init + 0.01 + 0.01 * rng.random(init.shape)
    return init / init.sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:.*collapse")
def test_a_dropped_expert_is_reproduced(client):
    X, y = _two_regimes(3000, seed=0, noise=0.05)
    init = _starved_start(X, 5)
    moe = MixtureOfExpertsRegressor(
        LinearRegression(), n_experts=3, init=init, n_init=1, init_size=None
    ).fit(X, y)
    assert moe.n_experts_ == 2  # the starved expert was dropped
    assert [c["action"] for c in moe.collapsed_] == ["dropped"]
    for rows in (1000, 700):
        fit = fit_distributed_em(
            client,
            da.from_array(X, chunks=(rows, 2)),
            da.from_array(y, chunks=rows),
            init,
            expert=LinearRegression(),
            collapse="drop",
        )
        _assert_same_fit(fit, moe)
        assert len(fit.experts) == 2
        assert [c["expert"] for c in fit.collapses] == [
            c["expert"] for c in moe.collapsed_
        ]
        assert [c["iteration"] for c in fit.collapses] == [
            c["iteration"] for c in moe.collapsed_
        ]
        np.testing.assert_allclose(
            [c["share"] for c in fit.collapses],
            [c["share"] for c in moe.collapsed_],
            rtol=1e-8,
        )
        # The drop costs one more E-step pass.
        assert fit.passes == 3 + 2 * fit.n_iter + 1


def test_a_collapse_raises_as_in_memory(client):
    from skmoe.exceptions import ExpertCollapseError

    X, y = _two_regimes(3000, seed=0, noise=0.05)
    init = _starved_start(X, 5)
    with pytest.raises(ExpertCollapseError, match=r"expert\(s\) \[2\]"):
        MixtureOfExpertsRegressor(
            LinearRegression(),
            n_experts=3,
            init=init,
            n_init=1,
            init_size=None,
            collapse="raise",
        ).fit(X, y)
    with pytest.raises(ExpertCollapseError, match=r"expert\(s\) \[2\]"):
        fit_distributed_em(
            client,
            da.from_array(X, chunks=(1000, 2)),
            da.from_array(y, chunks=1000),
            init,
            expert=LinearRegression(),
            collapse="raise",
        )
