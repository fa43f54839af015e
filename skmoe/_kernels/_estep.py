"""The E-step and the Gaussian expert log-likelihood.

numba calls ``exp`` one value at a time, NumPy's ``exp`` on whole arrays with SIMD,
which is faster. So the E-step runs over blocks of rows in three passes that stay in
cache: a kernel shifts each row by its largest term, NumPy takes the exponentials, a
kernel sums and normalises them (docs: performance.rst, "Measured choices").
"""

import numpy as np

from skmoe._chunks import row_blocks
from skmoe._kernels._jit import jit


def e_step(logits, log_likelihood, responsibilities, log_prob):
    """Responsibilities and per-sample log-likelihood, one block of rows at a time.

    For each row ``i``, with ``log g = log_softmax(logits[i])``::

        log_prob[i]            = logsumexp(log g + log_likelihood[i])
        responsibilities[i, k] = exp(log g_k + log_likelihood[i, k] - log_prob[i])

    ``responsibilities`` may be the same array as ``log_likelihood``: each block is
    read before it is written.
    """
    for rows in row_blocks(*logits.shape):
        joint = responsibilities[rows]
        gate = np.empty_like(joint)
        ratio = np.empty(joint.shape[0])
        _shift_rows(logits[rows], log_likelihood[rows], gate, joint, log_prob[rows])
        np.exp(gate, out=gate)
        np.exp(joint, out=joint)
        _normalize_rows(gate, joint, ratio)
        log_prob[rows] += np.log(ratio)


@jit
def _shift_rows(logits, log_likelihood, gate, joint, offset):
    """``gate = logits - max``, ``joint = gate + log_likelihood - offset`` by rows.

    ``offset[i]`` is the largest entry of row ``i`` of ``gate + log_likelihood``.
    """
    n_samples, n_experts = logits.shape
    for i in range(n_samples):
        top = logits[i, 0]
        for k in range(1, n_experts):
            top = max(top, logits[i, k])
        joint_top = -np.inf
        for k in range(n_experts):
            gate[i, k] = logits[i, k] - top
            joint_top = max(joint_top, gate[i, k] + log_likelihood[i, k])
        for k in range(n_experts):
            joint[i, k] = gate[i, k] + log_likelihood[i, k] - joint_top
        offset[i] = joint_top


@jit
def _normalize_rows(gate, joint, ratio):
    """Rows of ``joint`` divided by their sums; ``ratio`` = joint sums / gate sums."""
    n_samples, n_experts = gate.shape
    for i in range(n_samples):
        gate_total = 0.0
        joint_total = 0.0
        for k in range(n_experts):
            gate_total += gate[i, k]
            joint_total += joint[i, k]
        for k in range(n_experts):
            joint[i, k] /= joint_total
        ratio[i] = joint_total / gate_total


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
