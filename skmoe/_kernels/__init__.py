"""Numba kernels: plain functions over arrays, no scikit-learn imports.

The kernels are serial. Each is one memory-bound pass over an (n, K) array, a few
milliseconds at n = 200k; numba's ``parallel=True`` halved that on an idle two-core
machine but made it 5-25x slower whenever other processes held the cores (its worker
threads spin-wait), which is the normal state of a shared machine or a grid search
running fits in parallel.
"""

from skmoe._kernels._estep import e_step, gaussian_log_likelihood
from skmoe._kernels._gate import softmax_cross_entropy
from skmoe._kernels._topk import top_k_experts

__all__ = [
    "e_step",
    "gaussian_log_likelihood",
    "softmax_cross_entropy",
    "top_k_experts",
]
