"""The arithmetic of the serving path, around NumPy's vectorised ``exp``.

The serving path computes every logit of a block of rows in one product, laid out
one *output* per row and one sample per column: the gate's ``K`` logits, then
each expert's outputs (a regressor's prediction, a binary classifier's log-odds,
or ``C`` class logits). The kernels loop over the samples innermost, where each
step is the same arithmetic on contiguous memory and compiles to SIMD
(divisions included), which the one-sample-per-row layout did not (docs:
performance.rst, "Serving: one row at a time").

:func:`serving_exponents` adds the intercepts and writes the arguments of the
exponentials, NumPy exponentiates them, and :func:`serving_mix` weighs the
experts by the routed gate weights.
"""

import numpy as np

from skmoe._kernels._jit import jit


@jit
def _shift(logits, start, count, top, exponents):
    """``exponents[r] = logits[r] - max`` over the rows ``start`` to
    ``start + count - 1``."""
    n_samples = logits.shape[1]
    for i in range(n_samples):
        top[i] = logits[start, i]
    for r in range(start + 1, start + count):
        for i in range(n_samples):
            top[i] = max(top[i], logits[r, i])
    for r in range(start, start + count):
        for i in range(n_samples):
            exponents[r, i] = logits[r, i] - top[i]


@jit
def serving_exponents(logits, intercept, n_experts, n_classes, exponents):
    """Adds ``intercept`` to ``logits``; the arguments of their exponentials.

    ``logits`` holds, one column per sample, the gate's ``n_experts`` rows, then
    each expert's: one for regression (``n_classes`` 0) and for two classes (the
    log-odds ``z`` of the second), ``n_classes`` beyond; ``intercept`` one value
    per row. Writes the gate's logits less their largest and, for classifier
    experts, each expert's logits less their largest (``z`` as ``-|z|``) into
    ``exponents``, which has ``n_experts`` rows for regression.
    """
    for r in range(logits.shape[0]):
        for i in range(logits.shape[1]):
            logits[r, i] += intercept[r]
    top = np.empty(logits.shape[1])
    _shift(logits, 0, n_experts, top, exponents)
    if n_classes == 2:
        for r in range(n_experts, 2 * n_experts):
            for i in range(logits.shape[1]):
                exponents[r, i] = -abs(logits[r, i])
    elif n_classes > 2:
        for e in range(n_experts):
            _shift(logits, n_experts + e * n_classes, n_classes, top, exponents)


@jit
def _gate_weights(logits, exps, n_experts, k, weights):
    """Each sample's gate weight of each expert, as the routing gives it.

    ``exps[:n_experts]`` are the exponentials of the gate's shifted logits. With
    ``k == n_experts``, their softmax; otherwise the ``k`` largest logits of each
    sample, chosen as :func:`top_k_experts` chooses them (ties to the lower
    index), renormalised, and 0 for the other experts.
    """
    n_samples = logits.shape[1]
    if k == n_experts:
        total = np.zeros(n_samples)
        for e in range(n_experts):
            for i in range(n_samples):
                total[i] += exps[e, i]
        for i in range(n_samples):
            total[i] = 1.0 / total[i]
        for e in range(n_experts):
            for i in range(n_samples):
                weights[e, i] = exps[e, i] * total[i]
        return
    if k == 1:
        # Hard routing: the first largest logit, of weight exactly 1 (the
        # exponential of 0 over itself), without the bookkeeping of top-k.
        best = np.zeros(n_samples, dtype=np.intp)
        best_logit = logits[0].copy()
        for e in range(1, n_experts):
            for i in range(n_samples):
                if logits[e, i] > best_logit[i]:
                    best_logit[i] = logits[e, i]
                    best[i] = e
        for e in range(n_experts):
            for i in range(n_samples):
                weights[e, i] = 1.0 if best[i] == e else 0.0
        return
    # k passes over the experts, each taking every sample's largest logit not
    # taken yet: the samples innermost, as everywhere here.
    taken = np.zeros((n_experts, n_samples), dtype=np.bool_)
    total = np.zeros(n_samples)
    best = np.empty(n_samples, dtype=np.intp)
    best_logit = np.empty(n_samples)
    for _ in range(k):
        best_logit[:] = -np.inf
        best[:] = 0
        for e in range(n_experts):
            for i in range(n_samples):
                if not taken[e, i] and logits[e, i] > best_logit[i]:
                    best_logit[i] = logits[e, i]
                    best[i] = e
        for i in range(n_samples):
            taken[best[i], i] = True
            total[i] += exps[best[i], i]
    for e in range(n_experts):
        for i in range(n_samples):
            weights[e, i] = exps[e, i] / total[i] if taken[e, i] else 0.0


@jit
def serving_mix(logits, exps, n_experts, n_classes, k, out):
    """``out[i] = sum_e w_ie f_e(x_i)``, with the routed gate weights ``w``.

    ``exps`` are the exponentials of :func:`serving_exponents`' arguments. ``f_e``
    is expert ``e``'s prediction (``out`` has one column), or its class
    probabilities: the sigmoid of its log-odds for two classes (and ``1 - p``
    for the first, as ``LogisticRegression`` gives them), the softmax of its
    logits beyond. An expert of weight 0 adds exactly 0.
    """
    n_samples = logits.shape[1]
    weights = np.empty((n_experts, n_samples))
    _gate_weights(logits, exps, n_experts, k, weights)
    if n_classes == 0:
        mixed = np.zeros(n_samples)
        for e in range(n_experts):
            for i in range(n_samples):
                mixed[i] += weights[e, i] * logits[n_experts + e, i]
        for i in range(n_samples):
            out[i, 0] = mixed[i]
        return
    n_columns = out.shape[1]
    mixed = np.zeros((n_columns, n_samples))
    if n_classes == 2:
        for e in range(n_experts):
            r = n_experts + e
            for i in range(n_samples):
                q = exps[r, i]
                inverse = 1.0 / (1.0 + q)
                positive = inverse if logits[r, i] >= 0 else q * inverse
                mixed[0, i] += weights[e, i] * (1.0 - positive)
                mixed[1, i] += weights[e, i] * positive
    else:
        scale = np.empty(n_samples)
        for e in range(n_experts):
            start = n_experts + e * n_classes
            for i in range(n_samples):
                scale[i] = exps[start, i]
            for c in range(1, n_classes):
                for i in range(n_samples):
                    scale[i] += exps[start + c, i]
            for i in range(n_samples):
                scale[i] = weights[e, i] / scale[i]
            for c in range(n_classes):
                for i in range(n_samples):
                    mixed[c, i] += scale[i] * exps[start + c, i]
    for i in range(n_samples):
        for c in range(n_columns):
            out[i, c] = mixed[c, i]
