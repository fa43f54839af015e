"""The softmax gate and its soft-target solver.

The gate is a multinomial logistic regression fitted to *soft* targets (the
responsibilities of the E-step), which scikit-learn's ``LogisticRegression`` cannot
take. It minimises the weighted mean cross-entropy plus an L2 penalty on the
coefficients (not the intercepts)::

    (1 / sum_i w_i) * sum_i w_i * CE(r_i, softmax(V x_i + c))  +  alpha / 2 * ||V||^2

over standardised inputs, so ``alpha`` means the same whatever the scale of the
features or the number of rows. Each fit starts from the previous one (the problem is
convex, so this changes the path, not the optimum), which makes the M-step of EM cheap.

The default, ``alpha="auto"``, starts at ``1e-6`` and is lightened once the fit has
converged, while Newton's model says that the penalty costs more than the tolerance
(:meth:`SoftmaxGate._relax`): a steep gate gets the coefficients the likelihood
wants, an overlapping one keeps its light penalty (docs: core.rst, "The gate's
penalty").
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted

from skmoe._chunks import column_sums, float64_product, row_blocks
from skmoe._docs import DocLinkMixin
from skmoe._newton import (
    _TINY,
    CrossEntropyRows,
    _penalized_cross_entropy,
    newton_solve,
    relaxation_gain,
)
from skmoe._validation import IntegerRange

#: ``alpha="auto"``: the penalty a fit starts from, the factor each relaxation
#: divides it by, and the lowest it goes (docs: core.rst, "The gate's penalty").
AUTO_ALPHA = 1e-6
RELAX_FACTOR = 100.0
MIN_AUTO_ALPHA = 1e-14


def softmax(logits):
    """Row-wise softmax, in place.

    In NumPy rather than ``scipy.special.softmax``, which is slower here (docs:
    performance.rst, "Measured choices").
    """
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def standardize(X, sample_weight):
    """``(X - mean) / scale`` by the weighted mean and standard deviation of columns.

    Returns the standardised copy, in the dtype of ``X`` (float32 or float64), and
    the means and scales, in float64 (the squares too, which overflow float32 for
    values above about 1e19). Only a column whose weighted rows all hold one value
    is constant and keeps scale 1, so that a coefficient on it stays finite; a
    column that varies is standardised however small its spread (a threshold on
    the spread would switch off a feature measured in small units). Computed here
    rather than by ``StandardScaler``, which is slower with ``sample_weight``
    (docs: performance.rst, "Measured choices").
    """
    total_weight = sample_weight.sum()
    mean = column_sums(X, sample_weight) / total_weight
    X_std = np.subtract(X, mean, dtype=X.dtype)
    variance = np.zeros(X.shape[1])
    low, high = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    positive = sample_weight > 0
    every_row = bool(positive.all())
    for rows in row_blocks(*X.shape):
        variance += sample_weight[rows] @ np.square(X_std[rows], dtype=np.float64)
        # The weighted rows' range, in the same pass and without a copy of X.
        block = X[rows] if every_row else X[rows][positive[rows]]
        low = np.minimum(low, block.min(axis=0, initial=np.inf))
        high = np.maximum(high, block.max(axis=0, initial=-np.inf))
    variance /= total_weight
    scale = np.sqrt(variance)
    scale[(low == high) | (scale == 0)] = 1.0
    X_std /= scale
    return X_std, mean, scale


class SoftmaxGate(DocLinkMixin, BaseEstimator):
    """Softmax gate of a mixture of experts, fitted to soft targets.

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        L2 penalty on the gate's coefficients, measured on standardised inputs and
        relative to the mean cross-entropy. A number is the penalty, fixed: ``0``
        for none, larger values for smoother boundaries between the experts.
        ``"auto"`` starts at ``1e-6`` and, each time the fit converges (EM's run,
        or this gate's own solve), divides it by 100 while Newton's model says
        that this would raise the log-likelihood by more than the tolerance
        (EM's ``tol``, or this gate's ``tol``), down to ``1e-14`` at the lowest:
        where the regimes overlap the light penalty costs nothing measurable and
        stays; where the gate is steep (the likelihood flat in its
        coefficients) it is lightened until it no longer costs anything
        measurable. On the motorcycle data (``MASS::mcycle``, 4 experts, best of
        10 starts) a fixed ``1e-6`` ended 1.29 nats below the unpenalised optimum,
        ``"auto"`` within 0.001 of it; the coefficients stay finite on perfectly
        separable regions, where the likelihood gains less than the tolerance
        from each further relaxation. Mini-batch training keeps ``1e-6``.
        ``alpha_`` is the penalty at the end of the fit.

    max_iter : int, default=100
        Maximum number of Newton iterations per fit. Inside EM the gate takes one
        Newton step per M-step (a generalised EM), whatever ``max_iter`` says.

    tol : float, default=1e-6
        Newton's method stops when the largest component of the gradient is below
        ``tol``, or when the decrease its next step predicts is below ``1e-3 * tol``
        relative to the objective.

    Attributes
    ----------
    coef_ : ndarray of shape (n_experts, n_features)
        Coefficients of the logits in the units of the input features.

    intercept_ : ndarray of shape (n_experts,)
        Intercepts of the logits, centred to sum to zero.

    n_iter_ : int
        Newton iterations of the last fit (of its last solve, with ``"auto"``).

    alpha_ : float
        The penalty in force at the end of the fit: ``alpha`` if it is a number;
        with ``"auto"``, ``1e-6`` divided by 100 for each relaxation.

    penalty_ : float
        ``alpha_ / 2 * ||V||^2`` at the solution, with ``V`` the coefficients on
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
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [IntegerRange(1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, alpha="auto", max_iter=100, tol=1e-6):
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

        Examples
        --------
        >>> import numpy as np
        >>> from skmoe import SoftmaxGate
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
        >>> targets = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
        >>> gate = SoftmaxGate().fit(X, targets)
        >>> gate.coef_.shape, gate.intercept_.shape
        ((2, 1), (2,))
        """
        self._validate_params()
        X = check_array(X, dtype=[np.float64, np.float32], ensure_min_features=0)
        targets = check_array(targets, dtype=np.float64)
        if targets.shape[0] != X.shape[0]:
            raise ValueError(
                f"targets has {targets.shape[0]} rows but X has {X.shape[0]}."
            )
        if np.any(targets < 0):
            raise ValueError("targets must be non-negative.")
        sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        self._start_penalty()
        self._fit(X, targets, sample_weight)
        while self._relax(self.tol):
            self._fit(X, targets, sample_weight, same_data=True)
        self._forget()
        return self

    def _fit(self, X, targets, sample_weight, max_iter=None, same_data=False):
        """Fit on validated arrays (``X`` float64 or float32), warm-started from the
        previous fit.

        ``max_iter`` overrides the parameter: EM takes one Newton step per M-step.
        ``same_data`` says that ``X`` and ``sample_weight`` are those of the previous
        call (EM's later M-steps), so their standardisation is kept. The penalty
        is ``alpha_``, which an EM fit's first call starts (and a warm start's
        continues).
        """
        if same_data:
            X_std, scaling = np.subtract(X, self.mean_, dtype=X.dtype), None
            X_std /= self.scale_
        else:
            X_std, *scaling = standardize(X, sample_weight)
        rows = CrossEntropyRows(X_std, targets, sample_weight / sample_weight.sum())
        return self._fit_rows(
            rows,
            scaling,
            max_iter,
            lambda: sample_weight @ targets / sample_weight.sum(),
        )

    def _fit_rows(self, rows, scaling, max_iter, mean_target):
        """:meth:`_fit` on standardised ``rows`` (``CrossEntropyRows``, or rows
        held elsewhere); ``scaling`` is the new data's ``(mean, scale)``, or None
        for the same data; ``mean_target()`` the weighted mean of the targets."""
        if not hasattr(self, "alpha_"):
            self._start_penalty()
        n_experts, n_features = rows.n_classes, rows.n_features
        if scaling is not None:
            self._rescale(*scaling, n_experts)
        if n_experts == 1 or n_features == 0:
            self._fit_intercepts_only(mean_target(), n_features)
        else:
            max_iter = self.max_iter if max_iter is None else max_iter
            self._fit_newton(rows, n_features, max_iter)
        self._set_public_coefficients()
        return self

    def _rescale(self, mean, scale, n_experts):
        """Standardise by ``mean`` and ``scale`` from now on (new data), keeping
        the logits of a fitted gate, so that a fit starts from the model it
        continues."""
        self.mean_, self.scale_ = mean, scale
        if getattr(self, "coef_", np.empty(0)).shape == (n_experts, mean.size):
            self._coef_std = self.coef_ * self.scale_
            self._intercept_std = self.intercept_ + self.coef_ @ self.mean_

    def _start_penalty(self):
        """``alpha_`` from ``alpha``; no curvature for ``_relax`` yet."""
        self.alpha_ = AUTO_ALPHA if self.alpha == "auto" else float(self.alpha)
        self._curvature = None

    def _relax(self, tol):
        """Divide an ``"auto"`` penalty by ``RELAX_FACTOR`` if that gains more than
        ``tol``; whether it did.

        Called at a converged fit (EM's, after the E-step: the targets are the
        responsibilities the gate would fit next). The gain is Newton's model of
        the decrease of the mean cross-entropy, the targets held
        (``relaxation_gain``), from the Hessian of the last Newton step. The
        gate's cross-entropy is its part of EM's objective, so EM's
        log-likelihood per unit of weight gains at least that decrease; the model
        is exact to second order and falls short of it when the coefficients
        move far, as on a steep gate, where it is large anyway.
        """
        if self.alpha != "auto" or self.alpha_ <= MIN_AUTO_ALPHA:
            return False
        if getattr(self, "_curvature", None) is None:
            return False
        new_alpha = max(self.alpha_ / RELAX_FACTOR, MIN_AUTO_ALPHA)
        hessian, hessian_alpha = self._curvature
        gain = relaxation_gain(
            hessian, hessian_alpha, self._coef_std, self.alpha_, new_alpha
        )
        if not gain > tol:
            return False
        self.alpha_ = new_alpha
        self._set_public_coefficients()
        return True

    def _forget(self):
        """Drop the last Hessian, which only serves ``_relax`` during a fit: the
        fitted gate carries neither a ``(K - 1) (d + 1)`` square array nor, for
        a truncated Newton step's products, the standardised rows."""
        self._curvature = None

    def _set_public_coefficients(self):
        self.coef_ = self._coef_std / self.scale_
        self.intercept_ = self._intercept_std - self.coef_ @ self.mean_
        self.penalty_ = 0.5 * self.alpha_ * float(np.sum(self._coef_std**2))

    def _partial_fit(self, X, targets, sample_weight, optimizer, learning_rate):
        """One step of ``optimizer`` on this batch's objective (mini-batch training).

        The first batch fixes the standardisation (its weighted mean and scale) and
        starts the coefficients at zero; later batches reuse both, so that the
        optimizer always moves the same parameters.
        """
        n_experts, n_features = targets.shape[1], X.shape[1]
        started = getattr(self, "_coef_std", np.empty(0)).shape == (
            n_experts,
            n_features,
        )
        if started:
            X_std = (X - self.mean_) / self.scale_
            theta = np.column_stack([self._coef_std, self._intercept_std]).ravel()
        else:
            X_std, self.mean_, self.scale_ = standardize(X, sample_weight)
            theta = np.zeros(n_experts * (n_features + 1))
        if not started or not hasattr(self, "alpha_"):
            self._start_penalty()
        weights = sample_weight / sample_weight.sum()
        _, grad, _ = _penalized_cross_entropy(
            theta, X_std, targets, weights, self.alpha_
        )
        params = optimizer.step(theta, grad, learning_rate).reshape(n_experts, -1)
        self._coef_std = params[:, :-1].copy()
        self._intercept_std = params[:, -1] - params[:, -1].mean()
        self.n_iter_ = 1
        self._set_public_coefficients()
        return self

    def _fit_intercepts_only(self, mean_target, n_features):
        """Closed form: the intercepts are the log of the weighted mean targets."""
        log_mean = np.log(np.maximum(mean_target, _TINY))
        self._coef_std = np.zeros((mean_target.size, n_features))
        self._intercept_std = log_mean - log_mean.mean()
        self.n_iter_ = 0

    def _fit_newton(self, rows, n_features, max_iter):
        """Damped Newton on the standardised ``rows`` (``CrossEntropyRows``, or
        rows held elsewhere) from the previous fit: a few iterations once EM
        settles."""
        n_experts = rows.n_classes
        if getattr(self, "_coef_std", np.empty(0)).shape == (n_experts, n_features):
            # Coefficients that sum to zero over the experts: the same logits, a
            # penalty no larger, and what Newton's reference coordinates need.
            coef = self._coef_std - self._coef_std.mean(axis=0)
            theta = np.column_stack([coef, self._intercept_std]).ravel()
        else:
            theta = np.zeros(n_experts * (n_features + 1))
        theta, n_iter, _, hessian, _ = newton_solve(
            theta,
            rows,
            self.alpha_,
            tol=self.tol,
            max_iter=max_iter,
            reference=True,
            final_gradient=False,
        )
        if hessian is not None:  # None if no step was needed: keep the last one
            self._curvature = (hessian, self.alpha_)
        params = theta.reshape(n_experts, n_features + 1)
        self._coef_std = params[:, :-1].copy()
        self._intercept_std = params[:, -1] - params[:, -1].mean()
        self.n_iter_ = n_iter

    def _drop_expert(self, k):
        """Remove expert ``k``'s logit (EM dropped the expert)."""
        self._coef_std = np.delete(self._coef_std, k, axis=0)
        self._intercept_std = np.delete(self._intercept_std, k)
        self._intercept_std -= self._intercept_std.mean()
        self._forget()
        self._set_public_coefficients()

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

        Examples
        --------
        >>> import numpy as np
        >>> from skmoe import SoftmaxGate
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
        >>> targets = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
        >>> logits = SoftmaxGate().fit(X, targets).decision_function(X)
        >>> logits.shape, bool(logits[0, 0] > logits[0, 1])
        ((4, 2), True)
        """
        check_is_fitted(self, "coef_")
        X = np.asarray(X)
        if X.dtype != np.float32:
            X = X.astype(np.float64, copy=False)
        logits = float64_product(X, self.coef_.T)
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

        Examples
        --------
        >>> import numpy as np
        >>> from skmoe import SoftmaxGate
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
        >>> targets = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
        >>> gate = SoftmaxGate().fit(X, targets)
        >>> bool(np.allclose(np.exp(gate.predict_log_proba(X)), gate.predict_proba(X)))
        True
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

        Examples
        --------
        >>> import numpy as np
        >>> from skmoe import SoftmaxGate
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
        >>> targets = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
        >>> proba = SoftmaxGate().fit(X, targets).predict_proba(X)
        >>> proba.argmax(axis=1).tolist()
        [0, 0, 1, 1]
        """
        return softmax(self.decision_function(X))
