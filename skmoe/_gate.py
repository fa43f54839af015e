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
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted

from skmoe._kernels import softmax_cross_entropy

_TINY = np.finfo(np.float64).tiny
# Rows per block of the Hessian's products: bounds the temporary at
# 16384 * K * (d + 1) floats whatever the number of samples.
_HESSIAN_CHUNK = 16384


def _penalized_cross_entropy(theta, X, targets, weights, alpha):
    """The gate's objective, its gradient in ``theta`` and the gate's probabilities.

    ``theta`` holds, row by row for each expert, its coefficients and then its
    intercept; ``weights`` sum to one. Returns
    ``sum_i w_i CE(targets_i, softmax(X_i V^T + c)) + alpha / 2 ||V||^2``, its
    gradient flattened like ``theta``, and ``softmax(X V^T + c)``.
    """
    n_experts = targets.shape[1]
    params = theta.reshape(n_experts, X.shape[1] + 1)
    coef, intercept = params[:, :-1], params[:, -1]
    logits = X @ coef.T
    logits += intercept
    grad_logits = np.empty_like(logits)
    loss = np.empty(X.shape[0])
    softmax_cross_entropy(logits, targets, weights, grad_logits, loss)
    grad = np.empty_like(params)
    grad[:, :-1] = grad_logits.T @ X + alpha * coef
    grad[:, -1] = grad_logits.sum(axis=0)
    value = loss.sum() + 0.5 * alpha * np.sum(coef * coef)
    return value, grad.ravel(), logits


def _cross_entropy_hessian(X, proba, row_weight, alpha):
    """Hessian of the gate's objective in ``theta``, ``K (d + 1)`` square.

    Row ``i`` contributes ``kron(c_i (diag(p_i) - p_i p_i^T), a_i a_i^T)`` with
    ``a_i = [x_i, 1]`` and ``c_i`` its weight times its target sum. With ``B_i`` the
    concatenation of ``p_ik a_i`` over ``k``, that is ``-c_i B_i B_i^T`` plus, in
    diagonal block ``k``, ``c_i p_ik a_i a_i^T``: two products per chunk of rows, so
    the ``(rows, K (d + 1))`` temporary stays small.
    """
    n_samples, n_features = X.shape
    n_experts = proba.shape[1]
    width = n_features + 1
    hessian = np.zeros((n_experts * width, n_experts * width))
    diagonal = np.zeros((n_experts * width, width))
    for start in range(0, n_samples, _HESSIAN_CHUNK):
        rows = slice(start, start + _HESSIAN_CHUNK)
        design = np.empty((X[rows].shape[0], width))
        design[:, :-1] = X[rows]
        design[:, -1] = 1.0
        spread = (proba[rows, :, None] * design[:, None, :]).reshape(len(design), -1)
        weighted = spread * row_weight[rows, None]
        hessian -= weighted.T @ spread
        diagonal += weighted.T @ design
    for k in range(n_experts):
        block = slice(k * width, (k + 1) * width)
        hessian[block, block] += diagonal[block]
        hessian[block, block][np.diag_indices(n_features)] += alpha
    return hessian


def _newton_direction(hessian, grad):
    """``-pinv(hessian) @ grad``.

    The Hessian is singular along the shift of all logits by one constant (and, with
    ``alpha=0``, of all coefficients): directions in which the objective, hence the
    gradient, does not change, so the Newton step ignores them.
    """
    eigenvalues, vectors = np.linalg.eigh(hessian)
    keep = eigenvalues > 1e-12 * max(eigenvalues[-1], _TINY)
    vectors = vectors[:, keep]
    return -(vectors @ ((vectors.T @ grad) / eigenvalues[keep]))


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
        Newton iterations of the last fit.

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

    def _fit(self, X, targets, sample_weight, max_iter=None):
        """Fit on validated float64 arrays, warm-started from the previous fit.

        ``max_iter`` overrides the parameter: EM takes one Newton step per M-step.
        """
        n_experts = targets.shape[1]
        n_features = X.shape[1]
        X_std = self._standardize(X, sample_weight)
        if n_experts == 1 or n_features == 0:
            self._fit_intercepts_only(targets, sample_weight, n_features)
        else:
            max_iter = self.max_iter if max_iter is None else max_iter
            self._fit_newton(X_std, targets, sample_weight, max_iter)
        self._set_public_coefficients()
        return self

    def _standardize(self, X, sample_weight):
        """``X`` standardised by its weighted mean and scale, which are stored."""
        total_weight = sample_weight.sum()
        self.mean_ = sample_weight @ X / total_weight
        X_std = X - self.mean_
        variance = np.einsum("i,ij,ij->j", sample_weight, X_std, X_std) / total_weight
        scale = np.sqrt(variance)
        # A constant column keeps scale 1 so that its (zero) coefficient stays finite.
        self.scale_ = np.where(scale > 1e-12 * (1.0 + np.abs(self.mean_)), scale, 1.0)
        X_std /= self.scale_
        return X_std

    def _set_public_coefficients(self):
        self.coef_ = self._coef_std / self.scale_
        self.intercept_ = self._intercept_std - self.coef_ @ self.mean_
        self.penalty_ = 0.5 * self.alpha * float(np.sum(self._coef_std**2))

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
            X_std = self._standardize(X, sample_weight)
            theta = np.zeros(n_experts * (n_features + 1))
        weights = sample_weight / sample_weight.sum()
        _, grad, _ = _penalized_cross_entropy(
            theta, X_std, targets, weights, self.alpha
        )
        params = optimizer.step(theta, grad, learning_rate).reshape(n_experts, -1)
        self._coef_std = params[:, :-1].copy()
        self._intercept_std = params[:, -1] - params[:, -1].mean()
        self.n_iter_ = 1
        self._set_public_coefficients()
        return self

    def _fit_intercepts_only(self, targets, sample_weight, n_features):
        """Closed form: the intercepts are the log of the weighted mean targets."""
        mean_target = sample_weight @ targets / sample_weight.sum()
        log_mean = np.log(np.maximum(mean_target, _TINY))
        self._coef_std = np.zeros((targets.shape[1], n_features))
        self._intercept_std = log_mean - log_mean.mean()
        self.n_iter_ = 0

    def _fit_newton(self, X_std, targets, sample_weight, max_iter):
        """Damped Newton from the previous fit: a few iterations once EM settles."""
        n_experts, n_features = targets.shape[1], X_std.shape[1]
        weights = sample_weight / sample_weight.sum()
        row_weight = weights * targets.sum(axis=1)
        if getattr(self, "_coef_std", np.empty(0)).shape == (n_experts, n_features):
            theta = np.column_stack([self._coef_std, self._intercept_std]).ravel()
        else:
            theta = np.zeros(n_experts * (n_features + 1))

        def objective(theta):
            return _penalized_cross_entropy(theta, X_std, targets, weights, self.alpha)

        value, grad, proba = objective(theta)
        n_iter = 0
        while n_iter < max_iter and np.max(np.abs(grad)) > self.tol:
            n_iter += 1
            hessian = _cross_entropy_hessian(X_std, proba, row_weight, self.alpha)
            proba = None  # an (n, K) array the line search need not keep alive
            step = _newton_direction(hessian, grad)
            decrease = -grad @ step
            if decrease <= 1e-3 * self.tol * max(1.0, abs(value)):
                break
            # Backtracking (Armijo): full steps near the optimum, shorter ones when
            # a separable region sends the coefficients far.
            length = 1.0
            while True:
                new_value, new_grad, new_proba = objective(theta + length * step)
                if new_value <= value - 1e-4 * length * decrease or length < 1e-10:
                    break
                length *= 0.5
            if not new_value < value:  # no descent along the Newton step: rounding
                break
            theta = theta + length * step
            value, grad, proba = new_value, new_grad, new_proba
        params = theta.reshape(n_experts, n_features + 1)
        self._coef_std = params[:, :-1].copy()
        self._intercept_std = params[:, -1] - params[:, -1].mean()
        self.n_iter_ = n_iter

    def _drop_expert(self, k):
        """Remove expert ``k``'s logit (EM dropped the expert)."""
        self._coef_std = np.delete(self._coef_std, k, axis=0)
        self._intercept_std = np.delete(self._intercept_std, k)
        self._intercept_std -= self._intercept_std.mean()
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
