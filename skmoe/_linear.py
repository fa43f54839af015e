"""The M-step of linear experts, all weighted least-squares problems in one place.

Refitting a ``LinearRegression`` or ``Ridge`` expert through its own ``fit`` costs,
per expert and EM iteration, a validation, a copy of ``X`` rescaled by the square
root of the weights and an SVD. The same coefficients solve the weighted normal
equations::

    A^T W_k A beta_k = A^T W_k y,    A = [X - mean, 1]

(with ``alpha`` added to the coefficients' diagonal for ``Ridge``), which need one
product over ``X`` per expert and a ``(d + 1)``-square solve. The solution is written
into the experts, which stay real fitted scikit-learn estimators. An expert whose
system is ill-conditioned is left to its own ``fit``: the normal equations square
the condition number, and cannot reproduce ``lstsq``'s minimum-norm answer on
collinear columns.
"""

import numpy as np
from scipy.linalg import solve
from sklearn.linear_model import LinearRegression, Ridge

from skmoe._chunks import column_sums, float64_product, row_blocks
from skmoe._kernels import spread_rows

# Below this reciprocal condition number of A^T W A, the normal equations would lose
# more than a few digits against lstsq (their error grows as cond(A^T W A) * eps).
_MIN_RCOND = 1e-9


def _ridge_alpha(expert):
    """The L2 penalty of a plain linear expert, or None if it has no fast path."""
    if type(expert) is LinearRegression and not expert.positive:
        return 0.0
    if type(expert) is Ridge and not expert.positive and np.ndim(expert.alpha) == 0:
        return float(expert.alpha)
    return None


def has_linear_fast_path(experts):
    """Whether ``fit_linear_experts`` can fit ``experts`` (clones of one estimator)."""
    return _ridge_alpha(experts[0]) is not None and all(
        type(expert) is type(experts[0]) for expert in experts
    )


def fit_linear_experts(experts, X, y, weights):
    """Fit ``experts[j]`` on ``(X, y)`` with ``sample_weight=weights[j]``.

    Returns the positions of the experts left unfitted, whose weighted system is
    too ill-conditioned for the normal equations, which the caller fits itself, and
    a dict mapping the position of each fitted expert to its ``predict(X)``,
    computed for all of them in one product.
    """
    fit_intercept = experts[0].fit_intercept
    # Centring only improves the conditioning: the intercept absorbs it. Without an
    # intercept the model is not shift-invariant, so X is used as it is.
    center = column_sums(X) / X.shape[0] if fit_intercept else np.zeros(X.shape[1])
    grams, moments = _normal_equations(X, y, weights, center, fit_intercept)
    fitted = [
        j
        for j, expert in enumerate(experts)
        if _solve_into(expert, grams[j], moments[j], center, _ridge_alpha(expert))
    ]
    left = [j for j in range(len(experts)) if j not in fitted]
    if not fitted:
        return left, {}
    coef = np.array([experts[j].coef_ for j in fitted])
    predictions = float64_product(X, coef.T)
    predictions += [experts[j].intercept_ for j in fitted]
    return left, {j: predictions[:, i] for i, j in enumerate(fitted)}


def _normal_equations(X, y, weights, center, fit_intercept):
    """``A^T W_j A`` and ``A^T W_j y`` for every weight vector ``weights[j]``.

    Per block of rows, ``spread`` holds ``w_ij a_i`` for every ``j`` side by side,
    so that one product with ``A`` gives every expert's gram matrix and one with
    ``y`` every right-hand side.
    """
    n_samples, n_features = X.shape
    width = n_features + 1
    y = np.asarray(y, dtype=np.float64)
    weights = np.column_stack(weights)
    n_experts = weights.shape[1]
    grams = np.zeros((n_experts * width, width))
    moments = np.zeros(n_experts * width)
    ones = np.ones(n_samples)
    for rows in row_blocks(n_samples, n_experts * width):
        n_rows = weights[rows].shape[0]
        spread = np.empty((n_rows, n_experts * width))
        design = np.empty((n_rows, width))
        spread_rows(X[rows] - center, weights[rows], ones[rows], spread, design)
        grams += spread.T @ design
        moments += spread.T @ y[rows]
    kept = width if fit_intercept else n_features  # without: drop the ones column
    grams = grams.reshape(n_experts, width, width)[:, :kept, :kept]
    return grams, moments.reshape(n_experts, width)[:, :kept]


def _solve_into(expert, gram, moment, center, alpha):
    """Solve ``(gram + alpha I) beta = moment`` into ``expert``; False if too
    ill-conditioned for the normal equations."""
    n_features = center.size
    gram = gram.copy()
    gram[np.diag_indices(n_features)] += alpha
    eigenvalues = np.linalg.eigvalsh(gram)
    if not eigenvalues[0] > _MIN_RCOND * eigenvalues[-1]:
        return False
    solution = solve(gram, moment, assume_a="pos")
    _write_solution(expert, solution, center)
    return True


def _write_solution(expert, solution, center):
    n_features = center.size
    coef = solution[:n_features]
    expert.coef_ = coef
    expert.intercept_ = solution[-1] - coef @ center if expert.fit_intercept else 0.0
    expert.n_features_in_ = n_features
    if type(expert) is Ridge:
        expert.solver_ = "cholesky"
        expert.n_iter_ = None


class RunningNormalEquations:
    """Online EM for linear experts: running means of their normal equations.

    After each mini-batch the experts' statistics ``A^T W_k A / n_b`` and
    ``A^T W_k y / n_b`` (batch means per row) are blended into running means with
    step ``rho``, ``S <- (1 - rho) S + rho S_batch``, and each expert is set to the
    solution of its running system: the stochastic-approximation EM of Cappé and
    Moulines (2009). ``rho = 1`` forgets the past, as the first batch does.

    A ``Ridge`` expert's ``alpha`` is divided by the total sample weight seen so
    far, the row count its penalty would be weighed against in a full fit. A
    running system too ill-conditioned for a Cholesky solve gets the least-squares
    solution of minimum norm.
    """

    def __init__(self, experts, X_first):
        self.fit_intercept = experts[0].fit_intercept
        n_features = X_first.shape[1]
        self.center = (
            X_first.mean(axis=0) if self.fit_intercept else np.zeros(n_features)
        )
        self.grams = None
        self.moments = None
        self.weight_seen = 0.0

    def update(self, experts, X, y, weights, rho):
        """Blend in one batch with step ``rho`` and refit ``experts``."""
        grams, moments = _normal_equations(
            X, y, list(weights.T), self.center, self.fit_intercept
        )
        grams /= X.shape[0]
        moments /= X.shape[0]
        if self.grams is None or rho >= 1.0:
            self.grams, self.moments = grams, moments
        else:
            self.grams += rho * (grams - self.grams)
            self.moments += rho * (moments - self.moments)
        self.weight_seen += float(weights.sum(axis=1).sum())
        for j, expert in enumerate(experts):
            alpha = _ridge_alpha(expert) / max(self.weight_seen, 1.0)
            if not _solve_into(
                expert, self.grams[j], self.moments[j], self.center, alpha
            ):
                gram = self.grams[j].copy()
                gram[np.diag_indices(self.center.size)] += alpha
                solution = np.linalg.lstsq(gram, self.moments[j], rcond=_MIN_RCOND)[0]
                _write_solution(expert, solution, self.center)
