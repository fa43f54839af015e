"""The softmax cross-entropy objective of the gate and of logistic experts.

Computed over blocks of rows that stay in cache: BLAS for the logits and the
gradient's product with ``X``, NumPy for the exponentials (SIMD, where numba calls
``exp`` one value at a time), and two kernels for the rest of each row's
arithmetic; one fused numba pass was slower (docs: performance.rst, "Measured
choices").
"""

import numpy as np

from skmoe._chunks import row_blocks
from skmoe._kernels._jit import jit


def softmax_cross_entropy(X, params, targets, sample_weight, loss, grad, proba):
    """Weighted cross-entropy of ``softmax(X W^T + b)`` against soft ``targets``.

    ``params`` holds, row ``k``, class ``k``'s coefficients ``W_k`` then its
    intercept ``b_k``. With ``s_i = sum_k targets[i, k]`` and
    ``p_i = softmax(W x_i + b)``, writes::

        loss[i]     = w_i * (s_i * logsumexp(W x_i + b) - targets[i] . (W x_i + b))
        proba[i, k] = p_ik
        grad[k]     = sum_i w_i * (s_i * p_ik - targets[i, k]) * [x_i, 1]

    The logits and their gradient exist only a block of rows at a time, never as
    ``(n, K)`` arrays. The caller sums ``loss`` (pairwise, in NumPy) and adds the
    penalty.
    """
    n_classes = params.shape[0]
    coef_t = np.ascontiguousarray(params[:, :-1].T)
    intercept_grad = np.zeros(n_classes)
    grad[:, :-1] = 0.0
    for rows in row_blocks(X.shape[0], n_classes):
        X_block = X[rows]
        logits = X_block @ coef_t
        logits += params[:, -1]
        scale = np.empty(logits.shape[0])
        _shift_logits(logits, targets[rows], sample_weight[rows], loss[rows], scale)
        np.exp(logits, out=logits)
        totals = np.empty(logits.shape[0])
        _softmax_residuals(
            logits,
            targets[rows],
            sample_weight[rows],
            scale,
            proba[rows],
            totals,
            intercept_grad,
        )  # logits now hold the residuals
        loss[rows] += scale * np.log(totals)
        grad[:, :-1] += logits.T @ X_block
    grad[:, -1] = intercept_grad


def softmax_cross_entropy_value(X, params, targets, sample_weight):
    """The summed loss of ``softmax_cross_entropy`` alone.

    Without the probabilities and the gradient's product with ``X``: two thirds of
    the time, for a line search that only compares values.
    """
    n_classes = params.shape[0]
    coef_t = np.ascontiguousarray(params[:, :-1].T)
    ones = np.ones(n_classes)
    value = 0.0
    for rows in row_blocks(X.shape[0], n_classes):
        logits = X[rows] @ coef_t
        logits += params[:, -1]
        loss = np.empty(logits.shape[0])
        scale = np.empty(logits.shape[0])
        _shift_logits(logits, targets[rows], sample_weight[rows], loss, scale)
        np.exp(logits, out=logits)
        value += loss.sum() + scale @ np.log(logits @ ones)
    return value


def softmax_cross_entropy_at(X, proba, targets, sample_weight, grad):
    """``softmax_cross_entropy`` where the probabilities are known already.

    ``proba`` holds ``softmax(X W^T + b)`` from an earlier pass. Writes ``grad`` as
    ``softmax_cross_entropy`` does and returns the summed loss,
    ``-sum_i w_i targets[i] . log(proba[i])``, with the logarithm of a probability
    that underflowed to zero taken at the smallest normal float (its row then
    holds about as little weight). One product with ``X`` and the logarithms in
    place of two products and the exponentials: less than half the time.
    """
    n_classes = proba.shape[1]
    intercept_grad = np.zeros(n_classes)
    grad[:, :-1] = 0.0
    value = 0.0
    for rows in row_blocks(X.shape[0], n_classes):
        log_proba = np.maximum(proba[rows], np.finfo(np.float64).tiny)
        np.log(log_proba, out=log_proba)
        residuals = np.empty_like(log_proba)
        value += _known_softmax_residuals(
            proba[rows],
            log_proba,
            targets[rows],
            sample_weight[rows],
            residuals,
            intercept_grad,
        )
        grad[:, :-1] += residuals.T @ X[rows]
    grad[:, -1] = intercept_grad
    return value


@jit
def _known_softmax_residuals(
    proba, log_proba, targets, sample_weight, residuals, column_sums
):
    """Residuals ``w_i (s_i p_ik - targets[i, k])`` and their column sums, as in
    ``_softmax_residuals``; returns ``-sum_i w_i targets[i] . log_proba[i]``."""
    n_samples, n_classes = proba.shape
    loss = 0.0
    for i in range(n_samples):
        target_sum = 0.0
        dot = 0.0
        for k in range(n_classes):
            target_sum += targets[i, k]
            dot += targets[i, k] * log_proba[i, k]
        loss -= sample_weight[i] * dot
        scale = sample_weight[i] * target_sum
        for k in range(n_classes):
            residual = scale * proba[i, k] - sample_weight[i] * targets[i, k]
            residuals[i, k] = residual
            column_sums[k] += residual
    return loss


@jit
def _shift_logits(logits, targets, sample_weight, loss, scale):
    """Rows of ``logits`` minus their largest entry ``m_i``; the loss without its log.

    Writes ``loss[i] = w_i * (s_i * m_i - targets[i] . logits[i])`` and
    ``scale[i] = w_i * s_i``.
    """
    n_samples, n_classes = logits.shape
    for i in range(n_samples):
        top = logits[i, 0]
        for k in range(1, n_classes):
            top = max(top, logits[i, k])
        target_sum = 0.0
        dot = 0.0
        for k in range(n_classes):
            target_sum += targets[i, k]
            dot += targets[i, k] * logits[i, k]
            logits[i, k] -= top
        loss[i] = sample_weight[i] * (target_sum * top - dot)
        scale[i] = sample_weight[i] * target_sum


@jit
def _softmax_residuals(exps, targets, sample_weight, scale, proba, totals, column_sums):
    """Probabilities from the shifted exponentials, then the logits' gradient.

    Writes ``proba``, each row's sum of ``exps`` to ``totals``, overwrites ``exps``
    with ``w_i * (s_i * p_ik - targets[i, k])`` and adds its columns' sums to
    ``column_sums``.
    """
    n_samples, n_classes = exps.shape
    for i in range(n_samples):
        total = 0.0
        for k in range(n_classes):
            total += exps[i, k]
        totals[i] = total
        for k in range(n_classes):
            p = exps[i, k] / total
            proba[i, k] = p
            residual = scale[i] * p - sample_weight[i] * targets[i, k]
            exps[i, k] = residual
            column_sums[k] += residual
