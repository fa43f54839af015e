"""The data generators of :mod:`skmoe.datasets`: hierarchical mixtures of experts."""

import itertools

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import norm

from skmoe.datasets import make_hierarchical_moe_regression

SHAPES = [(1, 2, 2), (2, 2, 2), (1, 3, 2), (2, 2, 3), (1, 1, 3)]


@pytest.mark.parametrize("n_features, depth, branching", SHAPES)
def test_hierarchical_shapes(n_features, depth, branching):
    X, y, params = make_hierarchical_moe_regression(
        n_samples=50,
        n_features=n_features,
        depth=depth,
        branching=branching,
        random_state=0,
        return_params=True,
    )
    n_leaves = branching**depth
    assert X.shape == (50, n_features) and y.shape == (50,)
    assert params.coef.shape == (n_leaves, n_features)
    assert params.intercept.shape == (n_leaves,)
    assert params.leaf.shape == (50,) and params.leaf.max() < n_leaves
    internal = [
        path
        for level in range(depth)
        for path in itertools.product(range(branching), repeat=level)
    ]
    assert sorted(params.gate_coef) == sorted(internal)
    assert sorted(params.gate_intercept) == sorted(internal)
    for path in internal:
        assert params.gate_coef[path].shape == (branching, n_features)
        assert params.gate_intercept[path].shape == (branching,)
    assert params.leaf_paths == list(itertools.product(range(branching), repeat=depth))
    assert params.leaf_proba(X).shape == (50, n_leaves)
    assert params.log_likelihood(X, y).shape == (50,)
    # Without return_params, the same rows.
    X2, y2 = make_hierarchical_moe_regression(
        n_samples=50,
        n_features=n_features,
        depth=depth,
        branching=branching,
        random_state=0,
    )
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_hierarchical_reproducible():
    first = make_hierarchical_moe_regression(
        n_samples=200, n_features=2, random_state=3, return_params=True
    )
    again = make_hierarchical_moe_regression(
        n_samples=200,
        n_features=2,
        random_state=np.random.RandomState(3),
        return_params=True,
    )
    other = make_hierarchical_moe_regression(
        n_samples=200, n_features=2, random_state=4, return_params=True
    )
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[2].leaf, again[2].leaf)
    assert not np.array_equal(first[1], other[1])
    # The true parameters do not depend on the seed.
    np.testing.assert_array_equal(first[2].coef, other[2].coef)
    for path in first[2].gate_coef:
        np.testing.assert_array_equal(
            first[2].gate_coef[path], other[2].gate_coef[path]
        )


@pytest.mark.parametrize("n_features, depth, branching", SHAPES)
def test_hierarchical_leaf_proba_is_the_product_of_the_gates(
    n_features, depth, branching
):
    X, _, params = make_hierarchical_moe_regression(
        n_samples=300,
        n_features=n_features,
        depth=depth,
        branching=branching,
        random_state=0,
        return_params=True,
    )
    proba = params.leaf_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(proba >= 0)
    for leaf, path in enumerate(params.leaf_paths):
        product = np.ones(X.shape[0])
        for level in range(depth):
            node = path[:level]
            gate = softmax(
                X @ params.gate_coef[node].T + params.gate_intercept[node], axis=1
            )
            product *= gate[:, path[level]]
        np.testing.assert_allclose(proba[:, leaf], product, rtol=1e-12, atol=1e-300)


def test_hierarchical_gates_split_nested_intervals():
    """The root splits x_0 in halves, its children within each half, and so on:
    at each leaf interval's centre that leaf is the likeliest, and the gates'
    logits cross at the boundaries."""
    _, _, params = make_hierarchical_moe_regression(
        n_samples=1, depth=2, branching=2, random_state=0, return_params=True
    )
    for node, boundary in [((), 0.0), ((0,), -0.5), ((1,), 0.5)]:
        logits = np.array([[boundary]]) @ params.gate_coef[node].T
        logits += params.gate_intercept[node]
        np.testing.assert_allclose(logits[0, 0], logits[0, 1], atol=1e-12)
        # The gates' logits are centred over the children.
        np.testing.assert_allclose(params.gate_coef[node].sum(axis=0), 0.0)
        np.testing.assert_allclose(params.gate_intercept[node].sum(), 0.0)
    _, _, params = make_hierarchical_moe_regression(
        n_samples=1, depth=3, branching=3, random_state=0, return_params=True
    )
    n_leaves = 27
    centres = -1.0 + (np.arange(n_leaves) + 0.5) * 2.0 / n_leaves
    proba = params.leaf_proba(centres[:, None])
    np.testing.assert_array_equal(proba.argmax(axis=1), np.arange(n_leaves))
    assert proba.max(axis=1).min() > 0.9
    # Neighbouring leaves: clearly different lines (slopes of opposite sign,
    # means 3 apart at their shared boundary).
    boundaries = centres[:-1] + 1.0 / n_leaves
    left = params.coef[:-1, 0] * boundaries + params.intercept[:-1]
    right = params.coef[1:, 0] * boundaries + params.intercept[1:]
    np.testing.assert_allclose(np.abs(left - right), 3.0)
    assert np.all(params.coef[:-1, 0] * params.coef[1:, 0] < 0)


@pytest.mark.parametrize("depth, branching", [(2, 2), (2, 3), (3, 2)])
def test_hierarchical_leaf_frequencies_match_the_leaf_proba(depth, branching):
    n_samples = 20_000
    X, _, params = make_hierarchical_moe_regression(
        n_samples=n_samples,
        n_features=2,
        depth=depth,
        branching=branching,
        random_state=0,
        return_params=True,
    )
    n_leaves = branching**depth
    counts = np.bincount(params.leaf, minlength=n_leaves)
    expected = params.leaf_proba(X).sum(axis=0)
    # Given X the leaves are independent categorical draws: each count is a sum
    # of Bernoullis with the rows' probabilities; 5 standard deviations.
    proba = params.leaf_proba(X)
    sd = np.sqrt((proba * (1 - proba)).sum(axis=0))
    assert np.all(np.abs(counts - expected) < 5 * sd + 1)
    # And the tree is balanced: every leaf gets about 1 / n_leaves of the rows.
    np.testing.assert_allclose(counts / n_samples, 1 / n_leaves, rtol=0.15)
    # Each row's leaf is among those the gates give it: no row in a leaf of
    # probability (numerically) zero.
    assert proba[np.arange(n_samples), params.leaf].min() > 1e-12


def test_hierarchical_noise_around_the_leaf_means():
    X, y, params = make_hierarchical_moe_regression(
        n_samples=20_000, n_features=2, noise=0.3, random_state=0, return_params=True
    )
    mean = np.einsum("ij,ij->i", X, params.coef[params.leaf])
    residual = y - mean - params.intercept[params.leaf]
    assert abs(residual.mean()) < 0.01
    assert abs(residual.std() - 0.3) < 0.01
    assert params.noise_std == 0.3


@pytest.mark.parametrize("n_features, depth, branching", SHAPES)
def test_hierarchical_true_log_likelihood(n_features, depth, branching):
    X, y, params = make_hierarchical_moe_regression(
        n_samples=400,
        n_features=n_features,
        depth=depth,
        branching=branching,
        noise=0.4,
        random_state=1,
        return_params=True,
    )
    # sum_i log sum_leaves prod(gates on the path) N(y_i; leaf mean, noise^2),
    # directly.
    total = 0.0
    for i in range(X.shape[0]):
        density = 0.0
        for leaf, path in enumerate(params.leaf_paths):
            weight = 1.0
            for level in range(depth):
                node = path[:level]
                logits = params.gate_coef[node] @ X[i] + params.gate_intercept[node]
                weight *= np.exp(logits[path[level]]) / np.exp(logits).sum()
            mean = params.coef[leaf] @ X[i] + params.intercept[leaf]
            density += weight * norm.pdf(y[i], mean, 0.4)
        total += np.log(density)
    np.testing.assert_allclose(params.true_log_likelihood, total, rtol=1e-10)
    np.testing.assert_allclose(params.log_likelihood(X, y).sum(), total, rtol=1e-10)


def test_hierarchical_true_log_likelihood_far_from_the_data():
    """Rows far in the tails keep a finite log-likelihood (log-sum-exp)."""
    _, _, params = make_hierarchical_moe_regression(
        n_samples=1, random_state=0, return_params=True
    )
    X = np.array([[-50.0], [0.0], [50.0]])
    y = np.array([1e3, -1e3, 0.0])
    assert np.all(np.isfinite(params.log_likelihood(X, y)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 0}, "'depth' parameter"),
        ({"depth": 1.5}, "'depth' parameter"),
        ({"depth": True}, "'depth' parameter"),
        ({"branching": 1}, "'branching' parameter"),
        ({"branching": 0}, "'branching' parameter"),
        ({"n_samples": 0}, "'n_samples' parameter"),
        ({"n_features": 0}, "'n_features' parameter"),
        ({"noise": 0.0}, "'noise' parameter"),
        ({"gate_scale": -1.0}, "'gate_scale' parameter"),
    ],
)
def test_hierarchical_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_hierarchical_moe_regression(**kwargs)


def test_hierarchical_depth_one_is_a_flat_mixture():
    X, _, params = make_hierarchical_moe_regression(
        n_samples=100, depth=1, branching=3, random_state=0, return_params=True
    )
    assert list(params.gate_coef) == [()]
    np.testing.assert_allclose(
        params.leaf_proba(X),
        softmax(X @ params.gate_coef[()].T + params.gate_intercept[()], axis=1),
    )
