"""Log-densities of the count, positive and heavy-tailed families, and the sums
their parameters' M-steps read.

Each log-density fills ``out[i, k] = log p(y[i] | means[i, k], parameters[k])`` with
every constant. The row's own terms (``log y!``, ``log y``) are computed once per
row, not once per expert. ``out`` may be ``means`` itself: each entry is read
before it is written.
"""

import math

import numpy as np

from skmoe._kernels._jit import jit

# A zero mean (a tree's leaf of zero counts) is read as this, so that a count the
# expert says is impossible costs a large but finite log-density.
_MIN_MEAN = 1e-300


@jit
def poisson_log_likelihood(means, y, out):
    """``log Poisson(y; mu) = y log mu - mu - log y!``."""
    n_samples, n_experts = means.shape
    for i in range(n_samples):
        log_factorial = math.lgamma(y[i] + 1.0)
        for k in range(n_experts):
            mu = max(means[i, k], _MIN_MEAN)
            term = y[i] * math.log(mu) if y[i] > 0.0 else 0.0
            out[i, k] = term - mu - log_factorial


@jit
def negative_binomial_log_likelihood(means, y, dispersion, out):
    """NB2 with ``Var = mu + alpha mu^2``, ``alpha = dispersion[k]``."""
    n_samples, n_experts = means.shape
    size = 1.0 / dispersion
    log_gamma_size = np.empty(n_experts)
    for k in range(n_experts):
        log_gamma_size[k] = math.lgamma(size[k])
    for i in range(n_samples):
        log_factorial = math.lgamma(y[i] + 1.0)
        for k in range(n_experts):
            mu = max(means[i, k], _MIN_MEAN)
            alpha_mu = dispersion[k] * mu
            term = y[i] * math.log(alpha_mu / (1.0 + alpha_mu)) if y[i] > 0.0 else 0.0
            out[i, k] = (
                math.lgamma(y[i] + size[k])
                - log_gamma_size[k]
                - log_factorial
                + term
                - size[k] * math.log1p(alpha_mu)
            )


@jit
def negative_binomial_dispersion_objective(
    means, y, weights, counts, count_weights, dispersion
):
    """``sum_i weights[i] log NB(y[i]; means[i], dispersion)`` up to terms free of
    the dispersion, one expert: what the dispersion's M-step maximises.

    ``counts`` are the distinct values of ``y`` and ``count_weights`` their total
    weights, so that ``lgamma(y + 1 / dispersion)`` is computed once per value.
    """
    size = 1.0 / dispersion
    total = 0.0
    for j in range(counts.shape[0]):
        total += count_weights[j] * (math.lgamma(counts[j] + size) - math.lgamma(size))
    total += count_weights.sum() * size * math.log(size)
    for i in range(y.shape[0]):
        if weights[i] != 0.0:
            mu = max(means[i], _MIN_MEAN)
            total -= weights[i] * (y[i] + size) * math.log(size + mu)
    return total


@jit
def gamma_log_likelihood(means, y, shape, out):
    """Gamma with mean ``mu`` and shape ``s``: rate ``s / mu``."""
    n_samples, n_experts = means.shape
    constant = np.empty(n_experts)
    for k in range(n_experts):
        constant[k] = shape[k] * math.log(shape[k]) - math.lgamma(shape[k])
    for i in range(n_samples):
        log_y = math.log(y[i])
        for k in range(n_experts):
            mu = means[i, k]
            out[i, k] = (
                constant[k]
                + (shape[k] - 1.0) * log_y
                - shape[k] * (math.log(mu) + y[i] / mu)
            )


@jit
def gamma_shape_statistics(means, y, weights):
    """Per expert ``sum_i w_ik (log(y_i / mu_ik) - y_i / mu_ik)``, which with the
    total weight is all the shape's M-step reads."""
    n_samples, n_experts = means.shape
    totals = np.zeros(n_experts)
    for i in range(n_samples):
        for k in range(n_experts):
            ratio = y[i] / means[i, k]
            totals[k] += weights[i, k] * (math.log(ratio) - ratio)
    return totals


@jit
def student_t_log_likelihood(locations, y, scale, df, out):
    """Student-t with location ``f``, scale ``sigma`` and ``nu`` degrees of freedom."""
    n_samples, n_experts = locations.shape
    constant = np.empty(n_experts)
    inverse = np.empty(n_experts)
    for k in range(n_experts):
        constant[k] = (
            math.lgamma(0.5 * (df[k] + 1.0))
            - math.lgamma(0.5 * df[k])
            - 0.5 * math.log(df[k] * math.pi)
            - math.log(scale[k])
        )
        inverse[k] = 1.0 / (df[k] * scale[k] * scale[k])
    for i in range(n_samples):
        for k in range(n_experts):
            residual = y[i] - locations[i, k]
            out[i, k] = constant[k] - 0.5 * (df[k] + 1.0) * math.log1p(
                residual * residual * inverse[k]
            )


@jit
def student_t_precisions(locations, y, scale, df, out):
    """The latent precisions ``u_ik = (nu + 1) / (nu + (y_i - f_ik)^2 / sigma^2)``."""
    n_samples, n_experts = locations.shape
    for i in range(n_samples):
        for k in range(n_experts):
            z = (y[i] - locations[i, k]) / scale[k]
            out[i, k] = (df[k] + 1.0) / (df[k] + z * z)


@jit
def student_t_weights(weights, precisions, out):
    """``out = weights * precisions``, with per expert ``sum_i weights_ik`` and
    ``sum_i weights_ik (log u_ik - u_ik)``, the sums the degrees of freedom's
    M-step reads. ``out`` may be ``weights`` itself."""
    n_samples, n_experts = weights.shape
    totals = np.zeros(n_experts)
    latent = np.zeros(n_experts)
    for i in range(n_samples):
        for k in range(n_experts):
            w = weights[i, k]
            u = precisions[i, k]
            out[i, k] = w * u
            if w != 0.0:
                totals[k] += w
                latent[k] += w * (math.log(u) - u)
    return totals, latent


@jit
def student_t_df_sums(locations, y, weights, scale, df, value_only):
    """Per expert the weighted sums over rows of ``log1p(d / nu)``,
    ``d / (nu (nu + d))`` and ``d (2 nu + d) / (nu (nu + d))^2``, with ``d`` the
    squared standardised residual: what the log-likelihood in the degrees of
    freedom ``nu`` and its derivatives read (the first alone with
    ``value_only``)."""
    n_samples, n_experts = locations.shape
    sums = np.zeros((3, n_experts))
    inverse_scale = 1.0 / scale
    log_df = np.log(df)
    for i in range(n_samples):
        for k in range(n_experts):
            w = weights[i, k]
            if w == 0.0:
                continue
            z = (y[i] - locations[i, k]) * inverse_scale[k]
            d = z * z
            nu = df[k]
            sums[0, k] += w * (math.log(nu + d) - log_df[k])
            if value_only:
                continue
            inverse = 1.0 / (nu * (nu + d))
            sums[1, k] += w * d * inverse
            sums[2, k] += w * d * (2.0 * nu + d) * inverse * inverse
    return sums
