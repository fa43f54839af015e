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


class GLMRows:
    """The rows of the GLM experts' problems, in memory: ``X`` centred and ``y``.

    :func:`solve_glm_experts` and :func:`_newton` read the rows through these
    methods alone, so that rows held elsewhere (``skmoe._distributed``) run the
    same solves. ``eta`` is whatever :meth:`objective` returned as the linear
    predictor: here an array.
    """

    def __init__(self, X, y, fit_intercept):
        n_samples, n_features = X.shape
        self.center = (
            column_sums(X) / n_samples if fit_intercept else np.zeros(n_features)
        )
        self.X = np.subtract(X, self.center, dtype=np.float64)
        self.y = y

    @classmethod
    def of(cls, data, fit_intercept):
        """The rows of a :class:`~skmoe._parts.Data`."""
        return cls(data.X_expert, data.y, fit_intercept)

    def totals(self, weight):
        """The weight's total and its total on the target, ``sum w`` and
        ``sum w y``."""
        return weight.sum(), weight @ self.y

    def objective(self, theta, s, loss):
        """``sum_i s_i loss(y_i, eta_i)`` at ``theta`` (infinite where ``exp(eta)``
        would overflow), and ``eta``."""
        eta = self.X @ theta[:-1] + theta[-1]
        if not np.all(eta < _MAX_ETA):
            return np.inf, eta
        return s @ loss(self.y, eta)[0], eta

    def scaled(self, weight, total):
        """``weight / total``, the weights of an expert's objective."""
        return weight / total

    def derivatives(self, eta, s, loss):
        """The loss's gradient in ``theta`` at ``eta``, unpenalised, and a function
        that returns its Hessian there (computed only if asked)."""
        _, first, second = loss(self.y, eta)
        gradient = np.append(self.X.T @ (s * first), s @ first)

        def hessian():
            n_features = self.X.shape[1]
            scaled = self.X * (s * second)[:, None]
            hessian = np.empty((n_features + 1, n_features + 1))
            hessian[:-1, :-1] = scaled.T @ self.X
            hessian[:-1, -1] = hessian[-1, :-1] = scaled.sum(axis=0)
            hessian[-1, -1] = s @ second
            return hessian

        return gradient, hessian

    def predictions(self, eta):
        """The experts' means at ``eta``."""
        return np.exp(eta)


def fit_glm_experts(experts, X, y, weights, max_steps=None):
    """Fit the fitted ``experts[j]`` on ``(X, y)`` with ``sample_weight=weights[j]``.

    The experts share ``fit_intercept``. Returns a dict mapping the position of
    each expert fitted to its predictions at the new coefficients, and the
    positions of those that ``max_steps`` stopped short of their optimum. An
    expert left out (never fitted, no finite optimum, or Newton out of its
    steps) is for the caller to fit.
    """
    rows = GLMRows(X, y, experts[0].fit_intercept)
    return solve_glm_experts(experts, rows, weights, max_steps)


def solve_glm_experts(experts, rows, weights, max_steps=None):
    """:func:`fit_glm_experts` on ``rows`` (a :class:`GLMRows`, or rows held
    elsewhere with its methods)."""
    fit_intercept = experts[0].fit_intercept
    center = rows.center
    predictions, short = {}, []
    for j, (expert, weight) in enumerate(zip(experts, weights, strict=True)):
        if not hasattr(expert, "coef_") or expert.coef_.shape != center.shape:
            continue
        loss = _LOSSES[type(expert)]
        total, on_target = rows.totals(weight)
        if loss is _poisson and not on_target > 0:
            continue  # all counts zero: the intercept's optimum is minus infinity
        theta = np.append(expert.coef_, expert.intercept_ + expert.coef_ @ center)
        solution = _newton(
            theta,
            rows,
            rows.scaled(weight, total),
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
        predictions[j] = rows.predictions(eta)
    return predictions, short


def _newton(theta, rows, s, alpha, loss, fit_intercept, max_steps):
    """Damped Newton steps on the objective from ``theta`` (coefficients, then the
    intercept); returns the last ``theta``, its ``eta``, the steps and whether the
    gradient met the tolerance."""
    n_features = theta.size - 1
    penalty = np.full(n_features + 1, alpha)
    penalty[-1] = 0.0

    def objective(theta):
        value, eta = rows.objective(theta, s, loss)
        return value + 0.5 * alpha * theta[:-1] @ theta[:-1], eta

    value, eta = objective(theta)
    for n_iter in range(max_steps + 1):
        gradient, hessian_at_eta = rows.derivatives(eta, s, loss)
        gradient += penalty * theta
        if not fit_intercept:
            gradient[-1] = 0.0
        if np.max(np.abs(gradient)) < _TOL:
            return theta, eta, n_iter, True
        if n_iter == max_steps:
            break
        hessian = hessian_at_eta()
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
