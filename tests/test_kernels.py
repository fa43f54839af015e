"""The numba kernels against plain NumPy/SciPy references."""

import numpy as np
import pytest
from scipy.special import log_softmax, logsumexp, softmax
from scipy.stats import norm

from skmoe._kernels import (
    e_step,
    gaussian_log_likelihood,
    softmax_cross_entropy,
    softmax_cross_entropy_at,
    softmax_cross_entropy_value,
    spread_rows,
    top_k_experts,
)


@pytest.fixture(params=["one block", "several blocks"])
def blocks(request, monkeypatch):
    """Run the blocked kernels over one block of rows, or over many small ones."""
    if request.param == "several blocks":
        monkeypatch.setattr("skmoe._chunks._CHUNK_FLOATS", 64)


def _naive_e_step(logits, log_likelihood):
    joint = log_softmax(logits, axis=1) + log_likelihood
    log_prob = logsumexp(joint, axis=1)
    return np.exp(joint - log_prob[:, None]), log_prob


@pytest.mark.parametrize("n_experts", [1, 2, 7])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 300.0])
def test_e_step_matches_numpy(n_experts, scale, blocks):
    rng = np.random.RandomState(0)
    logits = scale * rng.standard_normal((500, n_experts))
    log_likelihood = scale * rng.standard_normal((500, n_experts)) - 5.0
    responsibilities = np.empty_like(logits)
    log_prob = np.empty(500)
    e_step(logits, log_likelihood, responsibilities, log_prob)

    expected_resp, expected_log_prob = _naive_e_step(logits, log_likelihood)
    np.testing.assert_allclose(responsibilities, expected_resp, rtol=0, atol=1e-10)
    np.testing.assert_allclose(log_prob, expected_log_prob, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(responsibilities.sum(axis=1), 1.0, atol=1e-12)


def test_e_step_in_place(blocks):
    """The responsibilities may overwrite the log-likelihood array."""
    rng = np.random.RandomState(1)
    logits = rng.standard_normal((50, 3))
    log_likelihood = rng.standard_normal((50, 3))
    expected_resp, expected_log_prob = _naive_e_step(logits, log_likelihood)
    log_prob = np.empty(50)
    e_step(logits, log_likelihood, log_likelihood, log_prob)
    np.testing.assert_allclose(log_likelihood, expected_resp, atol=1e-12)
    np.testing.assert_allclose(log_prob, expected_log_prob, atol=1e-12)


def test_e_step_extreme_values_stay_finite():
    logits = np.array([[800.0, -800.0], [0.0, 0.0]])
    log_likelihood = np.array([[-1e5, 0.0], [-700.0, -750.0]])
    responsibilities = np.empty_like(logits)
    log_prob = np.empty(2)
    e_step(logits, log_likelihood, responsibilities, log_prob)
    assert np.all(np.isfinite(responsibilities)) and np.all(np.isfinite(log_prob))
    expected_resp, expected_log_prob = _naive_e_step(logits, log_likelihood)
    np.testing.assert_allclose(responsibilities, expected_resp, atol=1e-10)
    np.testing.assert_allclose(log_prob, expected_log_prob, rtol=1e-12)


def test_gaussian_log_likelihood_matches_scipy():
    rng = np.random.RandomState(0)
    means = rng.standard_normal((200, 4))
    y = rng.standard_normal(200)
    variances = rng.uniform(0.01, 5.0, size=4)
    out = np.empty_like(means)
    gaussian_log_likelihood(means, y, variances, out)
    expected = norm.logpdf(y[:, None], loc=means, scale=np.sqrt(variances))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_softmax_cross_entropy_matches_numpy(blocks):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 3))
    params = 2.0 * rng.standard_normal((4, 4))
    targets = rng.dirichlet(np.ones(4), size=300)
    targets[:10] *= 0.5  # rows need not sum to one
    weights = rng.uniform(0, 2, size=300)
    loss = np.empty(300)
    grad = np.empty_like(params)
    proba_out = np.empty((300, 4))
    softmax_cross_entropy(X, params, targets, weights, loss, grad, proba_out)

    logits = X @ params[:, :-1].T + params[:, -1]
    row_sums = targets.sum(axis=1)
    expected_loss = weights * (row_sums * logsumexp(logits, axis=1)) - weights * np.sum(
        targets * logits, axis=1
    )
    proba = softmax(logits, axis=1)
    grad_logits = weights[:, None] * (row_sums[:, None] * proba - targets)
    expected_grad = np.column_stack([grad_logits.T @ X, grad_logits.sum(axis=0)])
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(proba_out, proba, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_from_known_probabilities(blocks):
    """The same loss and gradient without recomputing the probabilities."""
    rng = np.random.RandomState(1)
    X = rng.standard_normal((300, 3))
    params = 2.0 * rng.standard_normal((4, 4))
    targets = rng.dirichlet(np.ones(4), size=300)
    targets[:10] *= 0.5
    targets[10:20] = np.eye(4)[rng.randint(4, size=10)]  # one-hot rows, zeros
    weights = rng.uniform(0, 2, size=300)
    loss = np.empty(300)
    grad = np.empty_like(params)
    proba = np.empty((300, 4))
    softmax_cross_entropy(X, params, targets, weights, loss, grad, proba)

    known_grad = np.full_like(params, np.nan)
    value = softmax_cross_entropy_at(X, proba, targets, weights, known_grad)
    np.testing.assert_allclose(value, loss.sum(), rtol=1e-12)
    np.testing.assert_allclose(known_grad, grad, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("scale", [1.0, 300.0])
def test_softmax_cross_entropy_value_is_the_summed_loss(scale, blocks):
    rng = np.random.RandomState(2)
    X = rng.standard_normal((300, 3))
    params = scale * rng.standard_normal((4, 4))
    targets = rng.dirichlet(np.ones(4), size=300)
    targets[:10] *= 0.5
    weights = rng.uniform(0, 2, size=300)
    loss = np.empty(300)
    softmax_cross_entropy(
        X, params, targets, weights, loss, np.empty_like(params), np.empty((300, 4))
    )
    value = softmax_cross_entropy_value(X, params, targets, weights)
    np.testing.assert_allclose(value, loss.sum(), rtol=1e-12)


def test_softmax_cross_entropy_at_an_underflowed_probability_stays_finite():
    X = np.zeros((2, 1))
    proba = np.array([[1.0, 0.0], [0.5, 0.5]])
    targets = np.array([[0.0, 1.0], [1.0, 0.0]])
    grad = np.empty((2, 2))
    value = softmax_cross_entropy_at(X, proba, targets, np.ones(2), grad)
    tiny = np.finfo(np.float64).tiny
    np.testing.assert_allclose(value, -np.log(tiny) + np.log(2.0))
    assert np.all(np.isfinite(grad))


def test_spread_rows_matches_numpy():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3))
    weights = rng.uniform(-1, 1, size=(40, 4))
    row_scale = rng.uniform(0, 2, size=40)
    spread = np.empty((40, 4 * 4))
    design = np.empty((40, 4))
    spread_rows(X, weights, row_scale, spread, design)

    expected_design = np.sqrt(row_scale)[:, None] * np.column_stack([X, np.ones(40)])
    expected_spread = weights[:, :, None] * expected_design[:, None, :]
    np.testing.assert_allclose(design, expected_design, rtol=1e-15)
    np.testing.assert_allclose(spread, expected_spread.reshape(40, -1), rtol=1e-15)


def test_kernels_accept_read_only_inputs():
    """Read-only memmaps (scikit-learn's check_readonly_memmap_input) must work."""
    rng = np.random.RandomState(0)
    logits = rng.standard_normal((20, 3))
    log_likelihood = rng.standard_normal((20, 3))
    logits.flags.writeable = False
    log_likelihood.flags.writeable = False
    responsibilities = np.empty((20, 3))
    log_prob = np.empty(20)
    e_step(logits, log_likelihood, responsibilities, log_prob)
    expected_resp, _ = _naive_e_step(logits, log_likelihood)
    np.testing.assert_allclose(responsibilities, expected_resp, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_experts_matches_a_stable_sort(k):
    rng = np.random.RandomState(0)
    gate = rng.dirichlet(np.ones(5), size=300)
    gate[:20] = 0.2  # ties: lower index first, as argmax and a stable sort do
    experts = np.empty((300, k), dtype=np.intp)
    weights = np.empty((300, k))
    top_k_experts(np.log(gate), k, experts, weights)

    expected = np.argsort(-gate, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(experts, expected)
    chosen = np.take_along_axis(gate, expected, axis=1)
    np.testing.assert_allclose(weights, chosen / chosen.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(experts[:, 0], np.argmax(gate, axis=1))
