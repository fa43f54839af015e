"""Numba kernels: plain functions over arrays, no scikit-learn imports.

The kernels are serial. Each is one memory-bound pass over an (n, K) array (24 ms
for the E-step at n = 200k, K = 8). numba's ``parallel=True`` made that 16 ms on an
idle two-core machine, but a fit makes many small calls, and whenever other processes
held the cores each one waited for its worker threads: the quickstart took 16.2 s
instead of 5.9 s next to one busy process.
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
