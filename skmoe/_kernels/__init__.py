"""Numba kernels: plain functions over arrays, no scikit-learn imports.

The E-step and the softmax cross-entropy run over blocks of rows that stay in cache,
with numba for each row's arithmetic and NumPy for the exponentials: numba calls
``exp`` one value at a time, NumPy vectorises it, five times faster.

The kernels are serial. numba's ``parallel=True`` made the E-step 1.5x faster on an
idle two-core machine, but a fit makes many small calls, and whenever other processes
held the cores each one waited for its worker threads: the quickstart took 16.2 s
instead of 5.9 s next to one busy process.
"""

from skmoe._kernels._estep import e_step, gaussian_log_likelihood
from skmoe._kernels._gate import (
    softmax_cross_entropy,
    softmax_cross_entropy_at,
    softmax_cross_entropy_value,
)
from skmoe._kernels._products import spread_rows
from skmoe._kernels._topk import top_k_experts

__all__ = [
    "e_step",
    "gaussian_log_likelihood",
    "softmax_cross_entropy",
    "softmax_cross_entropy_at",
    "softmax_cross_entropy_value",
    "spread_rows",
    "top_k_experts",
]
