"""Truncated Newton steps for the penalised cross-entropy (Newton-CG).

The Newton step of ``_newton`` builds the Hessian, ``p = K (d + 1)`` square, in
``n p^2`` multiply-adds and factors it in about ``p^3``: at ten classes and 64
features (``p = 650``) that is most of a logistic expert's M-step, and at twenty
classes and 300 features (``p = 6,020``) it is out of reach. Conjugate gradients
solve the same Newton system with Hessian-vector products alone, each two
products with ``X`` (``2 n p`` multiply-adds, the cost of one gradient), to a
relative residual that tightens as the gradient falls (the forcing sequence of
Eisenstat and Walker), so a step costs a few dozen passes over the rows whatever
``p`` is. The line search, the stopping rules and hence the optimum are those of
``minimize_cross_entropy``, which chooses this step above ``TRUNCATED_ABOVE``
parameters (docs: performance.rst, "Many classes and features").
"""

from dataclasses import dataclass

import numpy as np

from skmoe._chunks import row_blocks

#: Free parameters above which a Newton step is solved by conjugate gradients
#: rather than through the factored Hessian (measured: performance.rst).
TRUNCATED_ABOVE = 200
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

    def solve(self, rhs, free, rtol, alpha=None):
        """An approximate ``pinv(H) @ rhs`` on the ``free`` entries, by
        preconditioned conjugate gradients to relative residual ``rtol``.

        ``rhs`` must be zero off ``free`` (and sum to zero over the classes with
        ``zero_sum``); so is the result. The Hessian is singular along the shift
        of all logits by one constant, a direction in which such a ``rhs`` has no
        component, and from zero the iterates get none either.
        """
        n_classes = self.proba.shape[1]
        diagonal = self.diagonal()
        if alpha is not None:
            diagonal[self._coefficients()] += alpha - self.alpha
        inverse = np.where(free, 1.0 / np.maximum(diagonal, _floor(diagonal)), 0.0)

        def precondition(vector):
            vector = inverse * vector
            return _centered(vector, n_classes) if self.zero_sum else vector

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
        return solution

    def _coefficients(self):
        n_classes, width = self.proba.shape[1], self.X.shape[1] + 1
        return np.tile(np.arange(width) < width - 1, n_classes)


def truncated_newton_step(curvature, grad, free, single):
    """The Newton step ``-pinv(H) grad``, solved to a relative residual.

    For a solve, the forcing term ``min(0.5, sqrt(||grad||))`` of Eisenstat and
    Walker: loose far from the optimum, tight near it, so that the steps converge
    superlinearly. For a ``single`` step (EM's generalised M-step, which needs a
    decrease, not the optimum), 0.5: measured on digits, it halves the products
    and leaves EM's iterations as they were (docs: performance.rst).
    """
    rtol = 0.5 if single else min(0.5, np.sqrt(np.linalg.norm(grad)))
    return -curvature.solve(grad, free, rtol)


def _centered(vector, n_classes):
    params = vector.reshape(n_classes, -1)
    return (params - params.mean(axis=0)).ravel()


def _floor(diagonal):
    """A floor for the preconditioner: a parameter with no curvature (a column of
    zeros, without a penalty) is scaled like the flattest of the others."""
    positive = diagonal[diagonal > 0]
    return positive.min() if positive.size else 1.0
