"""The M-step of log-link GLM experts (``PoissonRegressor``, ``GammaRegressor``).

Such an expert fitted with sample weights ``s`` minimises::

    1 / sum_i s_i * sum_i s_i * loss(y_i, eta_i)  +  alpha / 2 * ||coef||^2

with ``eta = X coef + intercept`` and ``loss`` its half deviance up to terms free
of ``eta``: ``exp(eta) - y eta`` for the Poisson, ``eta + y exp(-eta)`` for the
Gamma. The objective is convex and its Hessian ``(d + 1)`` square, so Newton's
method with a backtracking line search, warm-started from the expert's
coefficients, reaches the optimum of the expert's own ``fit`` in a few steps where
``fit`` runs L-BFGS from zero. Inside EM it takes one step per M-step (a
generalised M-step, as for the logistic experts), and the M-step that ends EM
solves the experts. The first M-step of a run is the expert's own ``fit``, which
sets every fitted attribute; later steps write ``coef_`` and ``intercept_``.
"""

import numpy as np
from sklearn.linear_model import GammaRegressor, PoissonRegressor

from skmoe._chunks import column_sums

_TOL = 1e-10
_MAX_ITER = 50
# Newton's step is halved at most this many times before the solve gives up.
_MAX_HALVINGS = 30
# A step that predicts a decrease this small relative to the objective is at its
# rounding level: the solve has ended.
_ROUNDING = 1e-15
# Beyond this, exp(eta) overflows: such a step is too long.
_MAX_ETA = 700.0


def _poisson(y, eta):
    """The Poisson loss's value, first and second derivatives in ``eta``, by row."""
    mu = np.exp(eta)
    return mu - y * eta, mu - y, mu


def _gamma(y, eta):
    """The Gamma loss's value, first and second derivatives in ``eta``, by row."""
    ratio = y * np.exp(-eta)
    return eta + ratio, 1.0 - ratio, ratio


_LOSSES = {PoissonRegressor: _poisson, GammaRegressor: _gamma}


def has_glm_fast_path(expert):
    """Whether ``fit_glm_experts`` can fit ``expert``."""
    return (
        type(expert) in _LOSSES
        and expert.solver in ("lbfgs", "newton-cholesky")
        and 0 <= expert.alpha < np.inf
    )


def fit_glm_experts(experts, X, y, weights, max_steps=None):
    """Fit the fitted ``experts[j]`` on ``(X, y)`` with ``sample_weight=weights[j]``.

    The experts share ``fit_intercept``. Returns a dict mapping the position of
    each expert fitted to its predictions at the new coefficients, and the
    positions of those that ``max_steps`` stopped short of their optimum. An
    expert left out (never fitted, no finite optimum, or Newton out of its
    steps) is for the caller to fit.
    """
    fit_intercept = experts[0].fit_intercept
    center = column_sums(X) / X.shape[0] if fit_intercept else np.zeros(X.shape[1])
    X_centered = np.subtract(X, center, dtype=np.float64)
    predictions, short = {}, []
    for j, (expert, weight) in enumerate(zip(experts, weights, strict=True)):
        if not hasattr(expert, "coef_") or expert.coef_.shape != center.shape:
            continue
        loss = _LOSSES[type(expert)]
        if loss is _poisson and not weight @ y > 0:
            continue  # all counts zero: the intercept's optimum is minus infinity
        theta = np.append(expert.coef_, expert.intercept_ + expert.coef_ @ center)
        solution = _newton(
            theta,
            X_centered,
            y,
            weight / weight.sum(),
            expert.alpha,
            loss,
            fit_intercept,
            _MAX_ITER if max_steps is None else max_steps,
        )
        theta, eta, n_iter, converged = solution
        if not converged and max_steps is None:
            continue
        if not converged:
            short.append(j)
        expert.coef_ = theta[:-1]
        expert.intercept_ = (
            float(theta[-1] - theta[:-1] @ center) if fit_intercept else 0.0
        )
        expert.n_iter_ = n_iter
        predictions[j] = np.exp(eta)
    return predictions, short


def _newton(theta, X, y, s, alpha, loss, fit_intercept, max_steps):
    """Damped Newton steps on the objective from ``theta`` (coefficients, then the
    intercept); returns the last ``theta``, its ``eta``, the steps and whether the
    gradient met the tolerance."""
    n_features = X.shape[1]
    penalty = np.full(n_features + 1, alpha)
    penalty[-1] = 0.0

    def objective(theta):
        eta = X @ theta[:-1] + theta[-1]
        if not np.all(eta < _MAX_ETA):
            return np.inf, eta
        return s @ loss(y, eta)[0] + 0.5 * alpha * theta[:-1] @ theta[:-1], eta

    value, eta = objective(theta)
    for n_iter in range(max_steps + 1):
        _, first, second = loss(y, eta)
        gradient = np.append(X.T @ (s * first), s @ first) + penalty * theta
        if not fit_intercept:
            gradient[-1] = 0.0
        if np.max(np.abs(gradient)) < _TOL:
            return theta, eta, n_iter, True
        if n_iter == max_steps:
            break
        scaled = X * (s * second)[:, None]
        hessian = np.empty((n_features + 1, n_features + 1))
        hessian[:-1, :-1] = scaled.T @ X
        hessian[:-1, -1] = hessian[-1, :-1] = scaled.sum(axis=0)
        hessian[-1, -1] = s @ second
        hessian[np.diag_indices_from(hessian)] += penalty
        if not fit_intercept:
            hessian[-1], hessian[:, -1], hessian[-1, -1] = 0.0, 0.0, 1.0
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        decrease = gradient @ step
        if decrease <= _ROUNDING * max(1.0, abs(value)):
            return theta, eta, n_iter, True  # no step can lower it further
        for _ in range(_MAX_HALVINGS):
            new_value, new_eta = objective(theta - step)
            if new_value <= value - 1e-4 * decrease:
                break
            step = 0.5 * step
            decrease *= 0.5
        else:
            break
        theta, value, eta = theta - step, new_value, new_eta
    converged = bool(np.max(np.abs(gradient)) < _TOL)
    return theta, eta, n_iter, converged
