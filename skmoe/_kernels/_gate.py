"""The softmax cross-entropy objective of the gate and of logistic experts."""

import numpy as np

from skmoe._kernels._jit import jit


@jit
def softmax_cross_entropy(X, params, targets, sample_weight, loss, grad, proba):
    """Weighted cross-entropy of ``softmax(X W^T + b)`` against soft ``targets``.

    ``params`` holds, row ``k``, class ``k``'s coefficients ``W_k`` then its
    intercept ``b_k``. In one pass over the rows, with ``s_i = sum_k targets[i, k]``
    and ``p_i = softmax(W x_i + b)``, writes::

        loss[i]     = w_i * (s_i * logsumexp(W x_i + b) - targets[i] . (W x_i + b))
        proba[i, k] = p_ik
        grad[k]     = sum_i w_i * (s_i * p_ik - targets[i, k]) * [x_i, 1]

    so that neither the logits nor their gradient exist as ``(n, K)`` arrays. The
    caller sums ``loss`` (pairwise, in NumPy) and adds the penalty.
    """
    n_samples, n_features = X.shape
    n_classes = params.shape[0]
    logits = np.empty(n_classes)
    grad[:] = 0.0
    for i in range(n_samples):
        top = -np.inf
        for k in range(n_classes):
            logit = params[k, n_features]
            for j in range(n_features):
                logit += params[k, j] * X[i, j]
            logits[k] = logit
            top = max(top, logit)
        target_sum = 0.0
        dot = 0.0
        total = 0.0
        for k in range(n_classes):
            target_sum += targets[i, k]
            dot += targets[i, k] * logits[k]
            proba[i, k] = np.exp(logits[k] - top)
            total += proba[i, k]
        weight = sample_weight[i]
        loss[i] = weight * (target_sum * (top + np.log(total)) - dot)
        for k in range(n_classes):
            proba[i, k] /= total
            step = weight * (target_sum * proba[i, k] - targets[i, k])
            if step != 0.0:
                for j in range(n_features):
                    grad[k, j] += step * X[i, j]
                grad[k, n_features] += step
