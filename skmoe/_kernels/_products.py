"""The rows of the weighted products that build Hessians and normal equations.

Both are sums over rows of ``w_ik w_il a_i a_i^T``-like terms; laid out as one
``(rows, K (d + 1))`` block per chunk of rows, they become BLAS products.
"""

import numpy as np

from skmoe._kernels._jit import jit


@jit
def spread_rows(X, weights, row_scale, spread, design):
    """The rows of the products that build Hessians and normal equations.

    ``design[i] = sqrt(c_i) [x_i, 1]`` with ``c_i = row_scale[i] >= 0``, and
    ``spread[i]`` its copies scaled by ``weights[i, k]``, one after another, for as
    many leading columns ``k`` of ``weights`` as ``spread`` has room for. One pass,
    where NumPy's broadcasting took longer than the products themselves (docs:
    performance.rst, "Measured choices").
    """
    n_samples, n_features = X.shape
    width = n_features + 1
    n_columns = spread.shape[1] // width
    # Built in a local row first: copies read back from ``design``, which numba
    # cannot prove distinct from ``spread``, were slower (docs: performance.rst,
    # "Measured choices").
    row = np.empty(width)
    for i in range(n_samples):
        root = np.sqrt(row_scale[i])
        for j in range(n_features):
            row[j] = root * X[i, j]
        row[n_features] = root
        for j in range(width):
            design[i, j] = row[j]
        for k in range(n_columns):
            weight = weights[i, k]
            for j in range(width):
                spread[i, k * width + j] = weight * row[j]
