"""The gate's objective: softmax cross-entropy against soft targets."""

import numpy as np

from skmoe._kernels._jit import jit


@jit
def softmax_cross_entropy(logits, targets, sample_weight, grad_logits, loss):
    """Weighted cross-entropy of ``softmax(logits)`` against soft ``targets``.

    Writes, for each row ``i`` with ``s_i = sum_k targets[i, k]``::

        loss[i]           = w_i * (s_i * logsumexp(logits[i]) - targets[i] . logits[i])
        grad_logits[i, k] = w_i * (s_i * softmax(logits[i])_k - targets[i, k])
        logits[i, k]      = softmax(logits[i])_k        (overwritten, for the Hessian)

    The caller sums ``loss`` and multiplies ``grad_logits`` by the design matrix, so
    the reductions stay in deterministic NumPy/BLAS order.
    """
    n_samples, n_classes = logits.shape
    for i in range(n_samples):
        top = logits[i, 0]
        for k in range(1, n_classes):
            top = max(top, logits[i, k])
        target_sum = 0.0
        dot = 0.0
        total = 0.0
        for k in range(n_classes):
            target_sum += targets[i, k]
            dot += targets[i, k] * logits[i, k]
            # grad_logits holds exp(logits - top) until the last loop: one exp each.
            grad_logits[i, k] = np.exp(logits[i, k] - top)
            total += grad_logits[i, k]
        weight = sample_weight[i]
        loss[i] = weight * (target_sum * (top + np.log(total)) - dot)
        for k in range(n_classes):
            prob = grad_logits[i, k] / total
            logits[i, k] = prob
            grad_logits[i, k] = weight * (target_sum * prob - targets[i, k])
