"""Damped Newton's method for penalised softmax cross-entropy.

The gate (soft targets: the responsibilities) and the fast path of logistic-regression
experts (one-hot targets weighted by the responsibilities) minimise the same kind of
objective, the weighted mean cross-entropy plus an L2 penalty on the coefficients::

    sum_i w_i * CE(t_i, softmax(V x_i + c))  +  alpha / 2 * ||V||^2,    sum_i w_i = 1

It is convex and smooth, with a Hessian cheap enough at EM's sizes (``K (d + 1)``
square) that Newton's quadratic convergence beats quasi-Newton methods, above all
from a warm start.
"""

from dataclasses import dataclass

import numpy as np

from skmoe._chunks import row_blocks
from skmoe._kernels import (
    softmax_cross_entropy,
    softmax_cross_entropy_at,
    softmax_cross_entropy_value,
    spread_rows,
)
from skmoe._truncated_newton import (
    TRUNCATED_ABOVE,
    HessianProducts,
    truncated_newton_step,
)

_TINY = np.finfo(np.float64).tiny
# The relative residual to which relaxation_gain solves by conjugate gradients:
# the gain is compared with EM's tolerance, not used as a step.
_GAIN_RTOL = 1e-4


@dataclass
class SolveEnd:
    """How a Newton solve on some rows ended, to start the next one on them.

    The last Hessian, and the softmax probabilities over the rows at the
    parameters the solve left, ``params`` (a tuple of arrays, as their owner
    stores them): valid for as long as the owner holds those values.
    """

    hessian: np.ndarray
    params: tuple
    proba: np.ndarray

    def proba_at(self, *params):
        """The probabilities if ``params`` are the solve's, else None."""
        same = len(params) == len(self.params) and all(
            np.array_equal(new, old)
            for new, old in zip(params, self.params, strict=True)
        )
        return self.proba if same else None


def _penalized_cross_entropy(theta, X, targets, weights, alpha, proba=None):
    """The objective, its gradient in ``theta`` and the softmax probabilities.

    ``theta`` holds, row by row for each class, its coefficients and then its
    intercept; ``weights`` sum to one. Returns
    ``sum_i w_i CE(targets_i, softmax(X_i V^T + c)) + alpha / 2 ||V||^2``, its
    gradient flattened like ``theta``, and ``softmax(X V^T + c)``, which may be
    given as ``proba`` when an earlier pass over ``X`` computed it.
    """
    n_classes = targets.shape[1]
    params = theta.reshape(n_classes, X.shape[1] + 1)
    coef = params[:, :-1]
    grad = np.empty_like(params)
    if proba is None:
        loss = np.empty(X.shape[0])
        proba = np.empty((X.shape[0], n_classes))
        softmax_cross_entropy(X, params, targets, weights, loss, grad, proba)
        value = loss.sum()
    else:
        value = softmax_cross_entropy_at(X, proba, targets, weights, grad)
    grad[:, :-1] += alpha * coef
    value += 0.5 * alpha * np.sum(coef * coef)
    return value, grad.ravel(), proba


def _penalized_cross_entropy_value(theta, X, targets, weights, alpha):
    """The objective of ``_penalized_cross_entropy`` alone."""
    params = theta.reshape(targets.shape[1], X.shape[1] + 1)
    value = softmax_cross_entropy_value(X, params, targets, weights)
    return value + 0.5 * alpha * np.sum(params[:, :-1] ** 2)


def _cross_entropy_hessian(X, proba, row_weight, alpha, reference=False):
    """Hessian of the gate's objective in ``theta``, ``K (d + 1)`` square.

    Row ``i`` contributes ``kron(c_i (diag(p_i) - p_i p_i^T), a_i a_i^T)`` with
    ``a_i = [x_i, 1]`` and ``c_i >= 0`` its weight times its target sum. With
    ``b_i = sqrt(c_i) a_i`` and ``s_i`` the concatenation of ``p_ik b_i`` over ``k``,
    that is ``-s_i s_i^T`` plus, in diagonal block ``k``, ``p_ik b_i b_i^T``: two
    products per block of rows, so the ``(rows, K (d + 1))`` temporary stays small.

    With ``reference``, the Hessian in the coordinates of ``minimize_cross_entropy``
    for coefficients that sum to zero over the classes, ``(K - 1) (d + 1)`` square:
    the logits move with those coordinates as with the first ``K - 1`` rows of
    ``theta`` (the last one held), so the likelihood's part is the full Hessian's
    leading block, the same sums over the first ``K - 1`` classes only (0.6 times
    the multiply-adds at ``K = 4``); the penalty's part is ``alpha`` times
    ``I - 1 1^T / K`` over the classes.
    """
    n_samples, n_features = X.shape
    n_classes = proba.shape[1]
    n_moving = n_classes - 1 if reference else n_classes
    width = n_features + 1
    size = n_moving * width
    hessian = np.zeros((size, size))
    diagonal = np.zeros((size, width))
    for rows in row_blocks(n_samples, size):
        n_rows = proba[rows].shape[0]
        spread = np.empty((n_rows, size))
        design = np.empty((n_rows, width))
        spread_rows(X[rows], proba[rows], row_weight[rows], spread, design)
        hessian -= spread.T @ spread
        diagonal += spread.T @ design
    for k in range(n_moving):
        block = slice(k * width, (k + 1) * width)
        hessian[block, block] += diagonal[block]
    hessian += penalty_hessian(n_classes, n_features, alpha, reference)
    return hessian


def penalty_hessian(n_classes, n_features, alpha, reference=False):
    """The penalty's part of ``_cross_entropy_hessian``: ``alpha`` on each
    coefficient, nothing on the intercepts (over the classes ``I``, or
    ``I - 1 1^T / K`` in the reference coordinates)."""
    n_moving = n_classes - 1 if reference else n_classes
    classes = np.eye(n_moving) - (1.0 / n_classes if reference else 0.0)
    coefficients = np.diag(np.arange(n_features + 1) < n_features).astype(float)
    return alpha * np.kron(classes, coefficients)


def _bfgs_update(hessian, step, change):
    """``hessian`` corrected by BFGS to map ``step`` to the gradient's ``change``.

    A Hessian from an earlier M-step then learns the current curvature as Newton's
    method moves, so that solves take fewer steps and fewer new Hessians (docs:
    performance.rst, "Measured choices"). Both terms lie in the span of
    gradients and steps, so the directions in which the objective is flat stay
    flat.
    """
    curvature = change @ step
    image = hessian @ step
    if not (curvature > 0 and step @ image > 0):
        return hessian
    return (
        hessian
        - np.outer(image, image) / (step @ image)
        + np.outer(change, change) / curvature
    )


def _pseudo_inverse(hessian):
    """``pinv(hessian)`` as ``(V, e)``: ``pinv(hessian) @ g = V @ ((V.T @ g) / e)``.

    The Hessian is singular along the shift of all logits by one constant (and, with
    ``alpha=0``, of all coefficients): directions in which the objective, hence the
    gradient, does not change, so the Newton step ignores them. Factored once, it
    serves every step taken through the same Hessian.
    """
    eigenvalues, vectors = np.linalg.eigh(hessian)
    keep = eigenvalues > 1e-12 * max(eigenvalues[-1], _TINY)
    return vectors[:, keep], eigenvalues[keep]


def _to_differences(vector, n_classes):
    """Each class's parameters less the last class's: ``u`` from ``theta``."""
    params = vector.reshape(n_classes, -1)
    return (params[:-1] - params[-1]).ravel()


def _from_differences(differences, n_classes):
    """The parameters that sum to zero over the classes with these differences."""
    params = np.zeros((n_classes, differences.size // (n_classes - 1)))
    params[:-1] = differences.reshape(n_classes - 1, -1)
    params -= params.mean(axis=0)
    return params.ravel()


def _gradient_by_differences(grad, n_classes):
    """The gradient in ``u``: by the chain rule through ``_from_differences``."""
    params = grad.reshape(n_classes, -1)
    return (params[:-1] - params.mean(axis=0)).ravel()


def _factored_step(vectors, eigenvalues, grad, free, n_classes, reference):
    """The Newton step ``-pinv(H) grad`` through the Hessian's factors."""
    if reference:
        grad_u = _gradient_by_differences(grad, n_classes)
        moves = vectors @ ((vectors.T @ grad_u) / eigenvalues)
        return -_from_differences(moves, n_classes)
    step = np.zeros_like(grad)
    step[free] = -(vectors @ ((vectors.T @ grad[free]) / eigenvalues))
    return step


class CrossEntropyRows:
    """The rows of a penalised cross-entropy, in memory: what Newton's method asks
    of them.

    :func:`newton_solve` reads the rows through these four methods alone, so that
    rows held elsewhere (row chunks on a Dask cluster, ``skmoe._distributed``)
    run the same solver. ``proba`` is whatever ``evaluate`` returned as the
    softmax probabilities at some parameters: here an array.
    """

    def __init__(self, X, targets, weights):
        self.X, self.targets, self.weights = X, targets, weights
        self.n_classes, self.n_features = targets.shape[1], X.shape[1]
        self.row_weight = weights * (targets @ np.ones(self.n_classes))  # row sums

    def evaluate(self, theta, alpha, proba=None, hessian_next=False):
        """The objective, its gradient and the probabilities at ``theta``.

        ``hessian_next`` says that :meth:`hessian` is asked next, at these
        probabilities (for rows that can compute both in one pass).
        """
        return _penalized_cross_entropy(
            theta, self.X, self.targets, self.weights, alpha, proba
        )

    def value(self, theta, alpha):
        """The objective alone."""
        return _penalized_cross_entropy_value(
            theta, self.X, self.targets, self.weights, alpha
        )

    def hessian(self, proba, alpha, reference):
        """The Hessian at the parameters of ``proba`` (``_cross_entropy_hessian``)."""
        return _cross_entropy_hessian(self.X, proba, self.row_weight, alpha, reference)

    def products(self, proba, alpha, reference, design_moments):
        """The same Hessian as products, for a truncated Newton step."""
        return HessianProducts(
            self.X, proba, self.row_weight, alpha, reference, design_moments
        )


def minimize_cross_entropy(theta, X, targets, weights, alpha, **options):
    """:func:`newton_solve` on the rows ``X`` with ``targets`` and ``weights``."""
    return newton_solve(theta, CrossEntropyRows(X, targets, weights), alpha, **options)


def newton_solve(
    theta,
    rows,
    alpha,
    *,
    tol,
    max_iter,
    free=None,
    reference=False,
    hessian=None,
    proba=None,
    with_proba=False,
    final_gradient=True,
):
    """Damped Newton on the penalised cross-entropy of ``rows``, from ``theta``.

    ``rows`` is a :class:`CrossEntropyRows` (or rows held elsewhere with its
    methods); their weights sum to one. ``theta`` holds, row by row for each
    class, its coefficients and then its intercept. Only the entries of the
    boolean mask ``free`` move (all if None). With ``reference`` instead,
    ``theta``'s coefficients must sum to zero over the classes (an L2 penalty
    keeps them so at the optimum, as the gate's are) and the steps keep them so:
    Newton works in the coordinates ``u``, each class's parameters less the last
    class's, where the Hessian (given and returned) is ``(K - 1) (d + 1)``
    square and cheaper to compute (``_cross_entropy_hessian``); the steps are the
    same. Stops when the largest free component of the gradient is at most
    ``tol``, when the decrease the next step predicts is below ``1e-3 * tol``
    relative to the objective, or after ``max_iter`` steps.

    A ``hessian`` from an earlier, nearby problem (the previous M-step's) is used,
    with a BFGS correction after each step, until a step through it falls short: a
    full step must cut the largest gradient component fourfold, else the Hessian is
    recomputed where the step ended. The Hessian only shapes the steps: it changes
    how fast the method gets to where it stops, not where that is. ``proba``, the
    softmax probabilities at ``theta`` from an earlier pass over the same rows (the
    previous M-step's last), saves the first pass over the rows.

    Returns the new theta, the number of steps, whether a stopping rule on the
    gradient or the decrease held, the last Hessian used and, ``with_proba``, the
    softmax probabilities at the new theta (else None, and the line search does not
    keep the current ones alive). Without ``final_gradient`` (nor ``with_proba``),
    the line search of the last allowed step computes the objective alone, which is
    cheaper, and ``converged`` only says whether a stopping rule held before it:
    for a caller that wants the step and nothing after it, as the gate in EM.
    """
    n_classes = rows.n_classes
    if free is None:
        free = np.ones(theta.size, dtype=bool)
    truncated = np.count_nonzero(free) > TRUNCATED_ABOVE
    design_moments = {}  # the truncated steps' preconditioner, for this solve

    def objective(theta):
        return rows.evaluate(theta, alpha)

    # Rows held elsewhere compute the Hessian in the same pass when it is needed.
    first_hessian = hessian is None and not truncated
    value, grad, proba = rows.evaluate(theta, alpha, proba, first_hessian)
    grad[~free] = 0.0
    largest = np.max(np.abs(grad))
    fresh = False
    vectors = None  # the Hessian's factors, kept while the Hessian is
    n_iter = 0
    converged = not largest > tol
    while n_iter < max_iter and not converged:
        n_iter += 1
        if truncated:
            hessian = rows.products(proba, alpha, reference, design_moments)
            fresh = True
            step = truncated_newton_step(hessian, grad, free, max_iter == 1)
        else:
            if hessian is None:
                hessian = rows.hessian(proba, alpha, reference)
                fresh = True
                vectors = None
            if vectors is None:
                curvature = hessian if reference else hessian[np.ix_(free, free)]
                vectors, eigenvalues = _pseudo_inverse(curvature)
            step = _factored_step(
                vectors, eigenvalues, grad, free, n_classes, reference
            )
        if not with_proba:
            proba = None  # an (n, K) array the line search need not keep alive
        decrease = -grad @ step
        if decrease <= 1e-3 * tol * max(1.0, abs(value)):
            converged = True
            break
        # Backtracking (Armijo): full steps near the optimum, shorter ones when
        # a separable region sends the coefficients far.
        last = not (final_gradient or with_proba) and n_iter == max_iter
        length = 1.0
        while True:
            if last:
                new_value = rows.value(theta + length * step, alpha)
            else:
                new_value, new_grad, new_proba = objective(theta + length * step)
            if new_value <= value - 1e-4 * length * decrease or length < 1e-10:
                break
            length *= 0.5
        if not new_value < value:  # no descent along the step: rounding ...
            if fresh:
                break
            hessian = None  # ... or a stale Hessian: retry with the current one
            proba = objective(theta)[2]
            continue
        theta = theta + length * step
        if last:
            break
        new_grad[~free] = 0.0
        change = new_grad - grad
        value, grad, proba = new_value, new_grad, new_proba
        new_largest = np.max(np.abs(grad))
        if truncated:
            pass  # the next step takes products at its own parameters
        elif not fresh and (length < 1.0 or new_largest > 0.25 * largest):
            hessian = None
        else:
            if reference:
                step = _to_differences(length * step, n_classes)
                change = _gradient_by_differences(change, n_classes)
                hessian = _bfgs_update(hessian, step, change)
            else:
                hessian = _bfgs_update(hessian, length * step, change)
            vectors = None
        fresh = False
        largest = new_largest
        converged = not largest > tol
    return theta, n_iter, converged, hessian, proba if with_proba else None


def relaxation_gain(hessian, hessian_alpha, coef, alpha, new_alpha):
    """What lowering the penalty from ``alpha`` to ``new_alpha`` gains, to second
    order, at a solution for ``alpha``.

    ``coef`` (classes by features, summing to zero over the classes) solves the
    problem for ``alpha``, so the cross-entropy's gradient there is ``-alpha *
    coef``, and the objective for ``new_alpha`` has gradient ``g = -(alpha -
    new_alpha) coef``. With ``H`` its Hessian (``hessian``, in the reference
    coordinates, taken at ``hessian_alpha``, with the penalty's part changed to
    ``new_alpha``'s), Newton's model of the decrease is ``g^T pinv(H) g / 2``:
    small where the cross-entropy curves well in the coefficients, large where it
    is flat (a steep gate), which is where a penalty holds the coefficients far
    from the optimum without it.
    """
    n_classes, n_features = coef.shape
    grad = np.zeros((n_classes, n_features + 1))
    grad[:, :-1] = (new_alpha - alpha) * coef
    if isinstance(hessian, HessianProducts):
        free = np.ones(grad.size, dtype=bool)
        moves = hessian.solve(
            grad.ravel(), free, _GAIN_RTOL, alpha=new_alpha, kronecker=True
        )
        return 0.5 * float(grad.ravel() @ moves)
    curvature = (
        hessian
        - penalty_hessian(n_classes, n_features, hessian_alpha, reference=True)
        + penalty_hessian(n_classes, n_features, new_alpha, reference=True)
    )
    grad_u = _gradient_by_differences(grad.ravel(), n_classes)
    vectors, eigenvalues = _pseudo_inverse(curvature)
    return 0.5 * float(np.sum((vectors.T @ grad_u) ** 2 / eigenvalues))
