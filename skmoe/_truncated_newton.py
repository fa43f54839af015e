"""Truncated Newton steps for the penalised cross-entropy (Newton-CG).

The Newton step of ``_newton`` builds the Hessian, ``p = K (d + 1)`` square, in
``n p^2`` multiply-adds and factors it in about ``p^3``: at ten classes and 64
features (``p = 650``) that is most of a logistic expert's M-step, and at twenty
classes and 300 features (``p = 6,020``) it is out of reach. Conjugate gradients
solve the same Newton system with Hessian-vector products alone, each two
products with ``X`` (``2 n p`` multiply-adds, the cost of one gradient), to a
relative residual that tightens as the gradient falls (the forcing sequence of
Eisenstat and Walker) and preconditioned by the Hessian's diagonal or its
Kronecker factors, so a step costs a few dozen passes over the rows whatever
``p`` is. The line search, the stopping rules and hence the optimum are those of
``minimize_cross_entropy``, which chooses this step above ``TRUNCATED_ABOVE``
parameters (docs: performance.rst, "Many classes and features").
"""

from dataclasses import dataclass, field

import numpy as np

from skmoe._chunks import row_blocks

#: Free parameters above which a Newton step is solved by conjugate gradients
#: rather than through the factored Hessian (measured: performance.rst).
TRUNCATED_ABOVE = 250
# Conjugate-gradient iterations per Newton step: enough for the preconditioned
# systems of EM's problems, a bound for ill-conditioned ones (the step is still a
# descent direction, and the line search takes it from there).
_MAX_CG_ITER = 200


@dataclass
class HessianProducts:
    """The Hessian of the penalised cross-entropy at some parameters, as products.

    ``proba`` are the softmax probabilities there and ``row_weight`` each row's
    weight times its target sum, as in ``_cross_entropy_hessian``; ``alpha`` the
    penalty on the coefficients. With ``zero_sum``, the coefficients and the steps
    sum to zero over the classes (the gate's reference coding).
    """

    X: np.ndarray
    proba: np.ndarray
    row_weight: np.ndarray
    alpha: float
    zero_sum: bool = False
    #: ``sum_i c_i a_i a_i^T`` with ``a_i = [x_i, 1]``, once computed: it depends
    #: on the rows and their weights alone, so the steps of one solve share it.
    design_moments: dict = field(default_factory=dict)

    def product(self, direction, alpha=None):
        """``H @ direction``, with the penalty ``alpha`` if given."""
        X, proba = self.X, self.proba
        n_classes = proba.shape[1]
        params = direction.reshape(n_classes, X.shape[1] + 1)
        coef_t = np.ascontiguousarray(params[:, :-1].T)
        result = np.zeros_like(params)
        for rows in row_blocks(X.shape[0], n_classes):
            logits = X[rows] @ coef_t
            logits += params[:, -1]
            block = proba[rows]
            logits -= np.einsum("ik,ik->i", block, logits)[:, None]
            logits *= block
            logits *= self.row_weight[rows, None]
            result[:, :-1] += logits.T @ X[rows]
            result[:, -1] += logits.sum(axis=0)
        penalty = self.alpha if alpha is None else alpha
        result[:, :-1] += penalty * params[:, :-1]
        return result.ravel()

    def diagonal(self):
        """The Hessian's diagonal, for Jacobi preconditioning."""
        X, proba = self.X, self.proba
        n_classes = proba.shape[1]
        result = np.zeros((n_classes, X.shape[1] + 1))
        for rows in row_blocks(X.shape[0], n_classes):
            block = proba[rows]
            curvature = block * (1.0 - block)
            curvature *= self.row_weight[rows, None]
            result[:, :-1] += curvature.T @ np.square(X[rows], dtype=np.float64)
            result[:, -1] += curvature.sum(axis=0)
        result[:, :-1] += self.alpha
        return result.ravel()

    def solve(self, rhs, free, rtol, alpha=None, kronecker=False):
        """An approximate ``pinv(H) @ rhs`` on the ``free`` entries, by
        preconditioned conjugate gradients to relative residual ``rtol``.

        ``rhs`` must be zero off ``free`` (and sum to zero over the classes with
        ``zero_sum``); so is the result. The Hessian is singular along the shift
        of all logits by one constant, a direction in which such a ``rhs`` has no
        component (a gradient has none), and neither has the result. The
        preconditioner is the Hessian's diagonal (Jacobi), or with ``kronecker``
        its Kronecker factors where ``free`` allows them (``_kronecker``): a pass
        of ``n (d + 1)^2`` multiply-adds, about ``d / 2K`` products, that halves
        the products of a tight solve (docs: performance.rst).
        """
        n_classes = self.proba.shape[1]
        penalty = self.alpha if alpha is None else alpha
        precondition = (
            self._kronecker(free, penalty) if kronecker else None
        ) or self._jacobi(free, penalty)

        solution = np.zeros_like(rhs)
        residual = _centered(rhs, n_classes) if self.zero_sum else rhs.copy()
        goal = rtol * np.linalg.norm(rhs)
        preconditioned = precondition(residual)
        direction = preconditioned.copy()
        scale = residual @ preconditioned
        for _ in range(_MAX_CG_ITER):
            if not np.linalg.norm(residual) > goal:
                break
            image = self.product(direction, alpha)
            image[~free] = 0.0
            curvature = direction @ image
            if not curvature > 0:
                break  # flat or rounding: the iterate so far is the step
            length = scale / curvature
            solution += length * direction
            residual -= length * image
            preconditioned = precondition(residual)
            new_scale = residual @ preconditioned
            direction = preconditioned + (new_scale / scale) * direction
            scale = new_scale
        return self._without_shifts(solution, free, penalty)

    def _without_shifts(self, solution, free, penalty):
        """``solution`` less its part along shifts of all classes' intercepts
        (and, without a penalty, of any coefficient) by one value, in which the
        Hessian is flat: the pseudo-inverse's solution, as the factored step's.
        A preconditioner that is not the same for every class adds such a part."""
        n_classes, width = self.proba.shape[1], self.X.shape[1] + 1
        params = solution.reshape(n_classes, width)
        mask = free.reshape(n_classes, width)
        flat = mask.all(axis=0) & ((np.arange(width) == width - 1) | (penalty == 0))
        params[:, flat] -= params[:, flat].mean(axis=0)
        return solution

    def _jacobi(self, free, penalty):
        diagonal = self.diagonal()
        diagonal[self._coefficients()] += penalty - self.alpha
        inverse = np.where(free, 1.0 / np.maximum(diagonal, _floor(diagonal)), 0.0)
        n_classes = self.proba.shape[1]

        def precondition(vector):
            vector = inverse * vector
            return _centered(vector, n_classes) if self.zero_sum else vector

        return precondition

    def _kronecker(self, free, penalty):
        """The inverse of ``A kron B / sum(c) + penalty``, with ``A = sum_i c_i
        (diag(p_i) - p_i p_i^T)`` over the classes and ``B = sum_i c_i a_i a_i^T``
        over the columns: exact for a single row, and for all rows when the
        probabilities do not vary. None unless the free entries are some classes
        by some columns (EM's masks are).

        ``A`` is singular along equal logits, where the steps do not move.
        """
        n_classes, width = self.proba.shape[1], self.X.shape[1] + 1
        mask = free.reshape(n_classes, width)
        classes, columns = mask.any(axis=1), mask.any(axis=0)
        if not np.array_equal(mask, np.outer(classes, columns)):
            return None
        weighted = self.proba * self.row_weight[:, None]
        class_moments = np.diag(weighted.sum(axis=0)) - weighted.T @ self.proba
        class_values, class_vectors = np.linalg.eigh(
            class_moments[np.ix_(classes, classes)]
        )
        column_values, column_vectors = np.linalg.eigh(
            self._design_moments()[np.ix_(columns, columns)]
        )
        # The penalty on every column, intercepts too, and a floor under A's
        # eigenvalues: without them the directions of little curvature get
        # huge weights, and the solves took half as many products again.
        class_values = np.maximum(class_values, 1e-8 * class_values.max())
        curvature = np.outer(class_values, column_values) / self.row_weight.sum()
        inverse = 1.0 / (curvature + penalty)

        def precondition(vector):
            block = vector.reshape(n_classes, width)[np.ix_(classes, columns)]
            block = class_vectors.T @ block @ column_vectors
            block = class_vectors @ (block * inverse) @ column_vectors.T
            result = np.zeros((n_classes, width))
            result[np.ix_(classes, columns)] = block
            if self.zero_sum:
                result -= result.mean(axis=0)
            return result.ravel()

        return precondition

    def _design_moments(self):
        if "value" not in self.design_moments:
            X, width = self.X, self.X.shape[1] + 1
            moments = np.zeros((width, width))
            for rows in row_blocks(X.shape[0], width):
                weighted = X[rows] * self.row_weight[rows, None]
                moments[:-1, :-1] += weighted.T @ X[rows]
                moments[-1, :-1] += weighted.sum(axis=0)
            moments[:-1, -1] = moments[-1, :-1]
            moments[-1, -1] = self.row_weight.sum()
            self.design_moments["value"] = moments
        return self.design_moments["value"]

    def _coefficients(self):
        n_classes, width = self.proba.shape[1], self.X.shape[1] + 1
        return np.tile(np.arange(width) < width - 1, n_classes)


def truncated_newton_step(curvature, grad, free, single):
    """The Newton step ``-pinv(H) grad``, solved to a relative residual.

    For a solve, the forcing term ``min(0.5, sqrt(||grad||))`` of Eisenstat and
    Walker: loose far from the optimum, tight near it, so that the steps converge
    superlinearly. For a ``single`` step (EM's generalised M-step, which needs a
    decrease, not the optimum), 0.5, preconditioned by the diagonal: on digits
    a fit took about half the products (docs: performance.rst).
    """
    if single:
        return -curvature.solve(grad, free, 0.5)
    rtol = min(0.5, np.sqrt(np.linalg.norm(grad)))
    return -curvature.solve(grad, free, rtol, kronecker=True)


def _centered(vector, n_classes):
    params = vector.reshape(n_classes, -1)
    return (params - params.mean(axis=0)).ravel()


def _floor(diagonal):
    """A floor for the preconditioner: a parameter with no curvature (a column of
    zeros, without a penalty) is scaled like the flattest of the others."""
    positive = diagonal[diagonal > 0]
    return positive.min() if positive.size else 1.0
