"""Numba kernels: plain functions over arrays, no scikit-learn imports."""

from skmoe._kernels._estep import e_step, gaussian_log_likelihood
from skmoe._kernels._gate import softmax_cross_entropy
from skmoe._kernels._topk import top_k_experts

__all__ = [
    "e_step",
    "gaussian_log_likelihood",
    "softmax_cross_entropy",
    "top_k_experts",
]
