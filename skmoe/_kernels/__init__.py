"""Numba kernels: plain functions over arrays, no scikit-learn imports.

The E-step and the softmax cross-entropy run over blocks of rows that stay in cache,
with numba for each row's arithmetic and NumPy for the exponentials, which NumPy
vectorises where numba calls ``exp`` one value at a time.

The kernels are serial: a fit makes many small calls, and with numba's
``parallel=True`` each one waits for worker threads whenever other processes hold the
cores (docs: core.rst, "Threads").
"""

from skmoe._kernels._estep import e_step, gaussian_log_likelihood
from skmoe._kernels._families import (
    gamma_log_likelihood,
    gamma_shape_statistics,
    negative_binomial_dispersion_objective,
    negative_binomial_log_likelihood,
    poisson_log_likelihood,
    student_t_df_sums,
    student_t_log_likelihood,
    student_t_precisions,
    student_t_weights,
)
from skmoe._kernels._gate import (
    softmax_cross_entropy,
    softmax_cross_entropy_at,
    softmax_cross_entropy_value,
)
from skmoe._kernels._products import spread_rows
from skmoe._kernels._regions import quadratic_cells, region_levels, region_pieces
from skmoe._kernels._serving import serving_exponents, serving_mix
from skmoe._kernels._topk import top_k_experts

__all__ = [
    "e_step",
    "gamma_log_likelihood",
    "gamma_shape_statistics",
    "gaussian_log_likelihood",
    "negative_binomial_dispersion_objective",
    "negative_binomial_log_likelihood",
    "poisson_log_likelihood",
    "quadratic_cells",
    "region_levels",
    "region_pieces",
    "serving_exponents",
    "serving_mix",
    "softmax_cross_entropy",
    "softmax_cross_entropy_at",
    "softmax_cross_entropy_value",
    "spread_rows",
    "student_t_df_sums",
    "student_t_log_likelihood",
    "student_t_precisions",
    "student_t_weights",
    "top_k_experts",
]
