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


def has_linear_fast_path(expert):
    """Whether ``fit_linear_experts`` can fit ``expert``."""
    return _ridge_alpha(expert) is not None


class LinearRows:
    """The rows of the linear experts' problems, in memory: ``X``, ``y`` and their
    centre.

    :func:`solve_linear_experts` reads the rows through these methods alone, so
    that rows held elsewhere (``skmoe._distributed``) run the same solves.
    """

    def __init__(self, X, y, fit_intercept):
        # Centring only improves the conditioning: the intercept absorbs it.
        # Without an intercept the model is not shift-invariant, so X is used as
        # it is.
        self.center = (
            column_sums(X) / X.shape[0] if fit_intercept else np.zeros(X.shape[1])
        )
        self.X, self.y, self.fit_intercept = X, y, fit_intercept

    @classmethod
    def of(cls, data, fit_intercept):
        """The rows of a :class:`~skmoe._parts.Data`."""
        return cls(data.X_expert, data.y, fit_intercept)

    def normal_equations(self, weights):
        """``_normal_equations`` for every weight vector of ``weights``."""
        return _normal_equations(
            self.X, self.y, weights, self.center, self.fit_intercept
        )

    def predictions(self, coef, intercept):
        """Each expert's predictions, from the rows of ``coef`` and ``intercept``."""
        predictions = float64_product(self.X, coef.T)
        predictions += intercept
        return [predictions[:, i] for i in range(coef.shape[0])]


def fit_linear_experts(experts, X, y, weights):
    """Fit ``experts[j]`` on ``(X, y)`` with ``sample_weight=weights[j]``.

    The experts share ``fit_intercept``. Returns the positions of the experts left
    unfitted, whose weighted system is
    too ill-conditioned for the normal equations, which the caller fits itself, and
    a dict mapping the position of each fitted expert to its ``predict(X)``,
    computed for all of them in one product.
    """
    rows = LinearRows(X, y, experts[0].fit_intercept)
    return solve_linear_experts(experts, rows, weights)


def solve_linear_experts(experts, rows, weights):
    """:func:`fit_linear_experts` on ``rows`` (a :class:`LinearRows`, or rows held
    elsewhere with its methods)."""
    grams, moments = rows.normal_equations(weights)
    fitted = [
        j
        for j, expert in enumerate(experts)
        if _solve_into(expert, grams[j], moments[j], rows.center, _ridge_alpha(expert))
    ]
    left = [j for j in range(len(experts)) if j not in fitted]
    if not fitted:
        return left, {}
    coef = np.array([experts[j].coef_ for j in fitted])
    intercept = np.array([experts[j].intercept_ for j in fitted])
    predictions = rows.predictions(coef, intercept)
    return left, dict(zip(fitted, predictions, strict=True))


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
    """Online EM for one linear expert: running means of its normal equations.

    After each mini-batch the expert's statistics ``A^T W_k A / n_b`` and
    ``A^T W_k y / n_b`` (batch means per row) are blended into running means with
    step ``rho``, ``S <- (1 - rho) S + rho S_batch``, and the expert is set to the
    solution of its running system: the stochastic-approximation EM of Cappé and
    Moulines (2009). ``rho = 1`` forgets the past, as the first batch does.

    A ``Ridge`` expert's ``alpha`` is divided by the total sample weight seen so
    far, the row count its penalty would be weighed against in a full fit. A
    running system too ill-conditioned for a Cholesky solve gets the least-squares
    solution of minimum norm. :func:`update_running` computes the statistics of
    several experts in one pass over the batch.
    """

    def __init__(self, expert, X_first):
        self.fit_intercept = expert.fit_intercept
        n_features = X_first.shape[1]
        self.center = (
            X_first.mean(axis=0) if self.fit_intercept else np.zeros(n_features)
        )
        self.gram = None
        self.moment = None
        self.weight_seen = 0.0

    def blend(self, expert, gram, moment, batch_weight, rho):
        """Blend in one batch's statistics with step ``rho`` and refit ``expert``."""
        if self.gram is None or rho >= 1.0:
            self.gram, self.moment = gram, moment
        else:
            self.gram += rho * (gram - self.gram)
            self.moment += rho * (moment - self.moment)
        self.weight_seen += batch_weight
        alpha = _ridge_alpha(expert) / max(self.weight_seen, 1.0)
        if not _solve_into(expert, self.gram, self.moment, self.center, alpha):
            gram = self.gram.copy()
            gram[np.diag_indices(self.center.size)] += alpha
            solution = np.linalg.lstsq(gram, self.moment, rcond=_MIN_RCOND)[0]
            _write_solution(expert, solution, self.center)


def update_running(runnings, experts, X, y, weights, batch_weight, rho):
    """Blend one batch into each ``runnings[j]`` and refit ``experts[j]``.

    ``weights[j]`` is expert ``j``'s weight vector on the batch and
    ``batch_weight`` the batch's total sample weight. The experts share their
    centre and ``fit_intercept`` (their statistics started on the same batch).
    """
    first = runnings[0]
    grams, moments = _normal_equations(X, y, weights, first.center, first.fit_intercept)
    grams /= X.shape[0]
    moments /= X.shape[0]
    for j, (running, expert) in enumerate(zip(runnings, experts, strict=True)):
        running.blend(expert, grams[j], moments[j], batch_weight, rho)
