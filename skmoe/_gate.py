"""The softmax gate and its soft-target solver.

The gate is a multinomial logistic regression fitted to *soft* targets (the
responsibilities of the E-step), which scikit-learn's ``LogisticRegression`` cannot
take. It minimises the weighted mean cross-entropy plus an L2 penalty on the
coefficients (not the intercepts)::

    (1 / sum_i w_i) * sum_i w_i * CE(r_i, softmax(V x_i + c))  +  alpha / 2 * ||V||^2

over standardised inputs, so ``alpha`` means the same whatever the scale of the
features or the number of rows. Each fit starts from the previous one (the problem is
convex, so this changes the path, not the optimum), which makes the M-step of EM cheap.
"""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted

from skmoe._kernels import softmax_cross_entropy

_TINY = np.finfo(np.float64).tiny


def _penalized_cross_entropy(theta, X, targets, weights, alpha, buffers=None):
    """The gate's objective and its gradient in ``theta``.

    ``theta`` holds, row by row for each expert, its coefficients and then its
    intercept; ``weights`` sum to one. Returns
    ``sum_i w_i CE(targets_i, softmax(X_i V^T + c)) + alpha / 2 ||V||^2`` and its
    gradient, flattened like ``theta``.
    """
    n_experts = targets.shape[1]
    params = theta.reshape(n_experts, X.shape[1] + 1)
    coef, intercept = params[:, :-1], params[:, -1]
    if buffers is None:
        buffers = (np.empty_like(targets), np.empty(X.shape[0]))
    grad_logits, loss = buffers
    logits = X @ coef.T
    logits += intercept
    softmax_cross_entropy(logits, targets, weights, grad_logits, loss)
    grad = np.empty_like(params)
    grad[:, :-1] = grad_logits.T @ X + alpha * coef
    grad[:, -1] = grad_logits.sum(axis=0)
    value = loss.sum() + 0.5 * alpha * np.sum(coef * coef)
    return value, grad.ravel()


def softmax(logits):
    """Row-wise softmax, in place (NumPy here is 3x faster than SciPy's)."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


class SoftmaxGate(BaseEstimator):
    """Softmax gate of a mixture of experts, fitted to soft targets.

    Parameters
    ----------
    alpha : float, default=1e-6
        L2 penalty on the gate's coefficients, measured on standardised inputs and
        relative to the mean cross-entropy. The default is light: it keeps the gate
        finite when the experts' regions are perfectly separable, and costs under
        1e-4 nats per sample on overlapping regimes and about 0.005 on a hard step
        between two regimes with little noise (1e-4 cost 0.027 there).

    max_iter : int, default=100
        Maximum number of L-BFGS iterations per fit.

    tol : float, default=1e-6
        L-BFGS stops when the largest component of the gradient is below ``tol``,
        or when an iteration lowers the objective by less than ``1e-3 * tol``
        relative to its size.

    Attributes
    ----------
    coef_ : ndarray of shape (n_experts, n_features)
        Coefficients of the logits in the units of the input features.

    intercept_ : ndarray of shape (n_experts,)
        Intercepts of the logits, centred to sum to zero.

    n_iter_ : int
        L-BFGS iterations of the last fit.

    penalty_ : float
        ``alpha / 2 * ||V||^2`` at the solution, with ``V`` the coefficients on
        standardised inputs: the amount by which the gate's objective differs from
        the mean cross-entropy.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import SoftmaxGate
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> targets = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    >>> gate = SoftmaxGate().fit(X, targets)
    >>> gate.predict_proba(X).round(2)
    array([[0.92, 0.08],
           [0.77, 0.23],
           [0.23, 0.77],
           [0.08, 0.92]])
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, alpha=1e-6, max_iter=100, tol=1e-6):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, targets, sample_weight=None):
        """Fit the gate to soft targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs of the gate; ``n_features`` may be 0 (constant mixing weights).

        targets : array-like of shape (n_samples, n_experts)
            Non-negative soft targets, one row per sample (responsibilities).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : SoftmaxGate
            The fitted gate.
        """
        self._validate_params()
        X = check_array(X, dtype=np.float64, ensure_min_features=0)
        targets = check_array(targets, dtype=np.float64)
        if targets.shape[0] != X.shape[0]:
            raise ValueError(
                f"targets has {targets.shape[0]} rows but X has {X.shape[0]}."
            )
        if np.any(targets < 0):
            raise ValueError("targets must be non-negative.")
        sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        return self._fit(X, targets, sample_weight)

    def _fit(self, X, targets, sample_weight):
        """Fit on validated float64 arrays; warm-starts from the previous fit."""
        n_experts = targets.shape[1]
        n_features = X.shape[1]
        self.mean_ = sample_weight @ X / sample_weight.sum()
        scale = np.sqrt(sample_weight @ (X - self.mean_) ** 2 / sample_weight.sum())
        # A constant column keeps scale 1 so that its (zero) coefficient stays finite.
        self.scale_ = np.where(scale > 1e-12 * (1.0 + np.abs(self.mean_)), scale, 1.0)

        if n_experts == 1 or n_features == 0:
            self._fit_intercepts_only(targets, sample_weight, n_features)
        else:
            self._fit_lbfgs((X - self.mean_) / self.scale_, targets, sample_weight)
        self.coef_ = self._coef_std / self.scale_
        self.intercept_ = self._intercept_std - self.coef_ @ self.mean_
        self.penalty_ = 0.5 * self.alpha * float(np.sum(self._coef_std**2))
        return self

    def _fit_intercepts_only(self, targets, sample_weight, n_features):
        """Closed form: the intercepts are the log of the weighted mean targets."""
        mean_target = sample_weight @ targets / sample_weight.sum()
        log_mean = np.log(np.maximum(mean_target, _TINY))
        self._coef_std = np.zeros((targets.shape[1], n_features))
        self._intercept_std = log_mean - log_mean.mean()
        self.n_iter_ = 0

    def _fit_lbfgs(self, X_std, targets, sample_weight):
        n_experts, n_features = targets.shape[1], X_std.shape[1]
        weights = sample_weight / sample_weight.sum()
        buffers = (np.empty_like(targets), np.empty(X_std.shape[0]))
        if getattr(self, "_coef_std", np.empty(0)).shape == (n_experts, n_features):
            start = np.column_stack([self._coef_std, self._intercept_std])
        else:
            start = np.zeros((n_experts, n_features + 1))
        result = minimize(
            _penalized_cross_entropy,
            start.ravel(),
            args=(X_std, targets, weights, self.alpha, buffers),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": self.max_iter,
                "gtol": self.tol,
                "ftol": 1e-3 * self.tol,
            },
        )
        params = result.x.reshape(n_experts, n_features + 1)
        self._coef_std = params[:, :-1].copy()
        self._intercept_std = params[:, -1] - params[:, -1].mean()
        self.n_iter_ = int(result.nit)

    def decision_function(self, X):
        """Logits of the gate, ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs of the gate.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_experts)
            The gate's logits.
        """
        check_is_fitted(self, "coef_")
        X = np.asarray(X, dtype=np.float64)
        logits = X @ self.coef_.T
        logits += self.intercept_
        return logits

    def predict_log_proba(self, X):
        """Log of the gate probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs of the gate.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_experts)
            ``log g_k(x)`` for every sample and expert.
        """
        logits = self.decision_function(X)
        logits -= logits.max(axis=1, keepdims=True)
        logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return logits

    def predict_proba(self, X):
        """Gate probabilities: how much each expert is trusted at each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs of the gate.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_experts)
            Rows sum to one.
        """
        return softmax(self.decision_function(X))
