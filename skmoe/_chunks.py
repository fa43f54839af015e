"""Sums over the rows of tall arrays, done fast.

Hessians, normal equations and the softmax objective are sums over rows of small
per-row terms, computed one block of rows at a time through a ``(rows, columns)``
temporary. Blocks of ``_CHUNK_FLOATS`` floats (512 KiB) keep each temporary in a
core's cache, which fixed numbers of rows did not, and its size independent of the
number of samples (docs: performance.rst, "Measured choices").
"""

import numpy as np

_CHUNK_FLOATS = 2**16


def row_blocks(n_samples, n_columns):
    """Slices of ``range(n_samples)``, each about ``_CHUNK_FLOATS`` floats wide.

    A block of ``rows`` rows holds ``rows * n_columns`` floats.
    """
    size = max(1, _CHUNK_FLOATS // max(1, n_columns))
    return [slice(start, start + size) for start in range(0, n_samples, size)]


def column_sums(array, weights=None):
    """``weights @ array`` (``array.sum(axis=0)`` without ``weights``) in float64.

    A product with ones, because NumPy sums a C-ordered array over its rows one
    short row at a time, far slower than BLAS on tall, narrow arrays (docs:
    performance.rst, "Measured choices").
    """
    if weights is None:
        weights = np.ones(array.shape[0])
    if array.dtype == np.float64:
        return weights @ array
    # A float32 array meets float64 weights one block at a time: NumPy would
    # otherwise cast the whole of it to a float64 copy first.
    total = np.zeros(array.shape[1])
    for rows in row_blocks(*array.shape):
        total += weights[rows] @ array[rows]
    return total


def float64_product(array, matrix):
    """``array @ matrix`` in float64, without a float64 copy of a float32 ``array``."""
    if array.dtype == np.float64:
        return array @ matrix
    product = np.empty((array.shape[0], matrix.shape[1]))
    for rows in row_blocks(*array.shape):
        np.matmul(array[rows], matrix, out=product[rows])
    return product
