"""The fused E-step and the Gaussian expert log-likelihood."""

import numpy as np

from skmoe._kernels._jit import jit


@jit
def e_step(logits, log_likelihood, responsibilities, log_prob):
    """Responsibilities and per-sample log-likelihood in one pass over the rows.

    For each row ``i``, with ``log g = log_softmax(logits[i])``::

        log_prob[i]            = logsumexp(log g + log_likelihood[i])
        responsibilities[i, k] = exp(log g_k + log_likelihood[i, k] - log_prob[i])

    ``responsibilities`` may be the same array as ``log_likelihood``: each row is read
    before it is written.
    """
    n_samples, n_experts = logits.shape
    for i in range(n_samples):
        top = logits[i, 0]
        for k in range(1, n_experts):
            top = max(top, logits[i, k])
        total = 0.0
        for k in range(n_experts):
            total += np.exp(logits[i, k] - top)
        log_normalizer = top + np.log(total)

        top = -np.inf
        for k in range(n_experts):
            joint = logits[i, k] - log_normalizer + log_likelihood[i, k]
            responsibilities[i, k] = joint
            top = max(top, joint)
        total = 0.0
        for k in range(n_experts):
            weight = np.exp(responsibilities[i, k] - top)
            responsibilities[i, k] = weight
            total += weight
        log_prob[i] = top + np.log(total)
        for k in range(n_experts):
            responsibilities[i, k] /= total


@jit
def gaussian_log_likelihood(means, y, variances, out):
    """``out[i, k] = log N(y[i]; means[i, k], variances[k])``."""
    n_samples, n_experts = means.shape
    log_norm = -0.5 * np.log(2.0 * np.pi * variances)
    half_precision = 0.5 / variances
    for i in range(n_samples):
        for k in range(n_experts):
            residual = y[i] - means[i, k]
            out[i, k] = log_norm[k] - half_precision[k] * residual * residual
