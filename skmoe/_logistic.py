"""The M-step of logistic-regression experts, by the gate's Newton solver.

A ``LogisticRegression`` expert with an L2 penalty fitted with sample weights ``s``
minimises::

    sum_i s_i * CE(y_i, p(x_i))  +  ||W||^2 / (2 C)        (intercepts not penalised)

with ``p`` the softmax of one logit per class when there are three classes or more,
and the sigmoid of the log-odds of ``classes_[1]`` (one row of ``W``) when there are
two. Divided by ``sum_i s_i``, that is the gate's objective with one-hot targets and
``alpha = 1 / (C sum_i s_i)``, the binary case being the two-class softmax with the
first class's logit held at zero. The gate's damped Newton solver therefore fits it,
warm-started from the expert's previous coefficients, Hessian and probabilities,
where the expert's own ``fit`` runs L-BFGS from zero. Inside EM it takes one step
per M-step (``max_steps``) until the M-step that ends EM, which solves the
experts. A solve runs until the largest component of the gradient is below
``_TOL``, or until the decrease its next step predicts is at the rounding level of
the objective (which on EM's problems usually ends it at a gradient near 1e-9,
still 1e5 times tighter than ``fit``'s default ``tol`` on the same gradient). The
coefficients are the optimum that ``fit`` approaches: ``newton-cholesky`` with
``tol=1e-14`` agrees to about 1e-7. They are written into the experts, which stay
real fitted scikit-learn estimators.
"""

import numpy as np
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression

from skmoe._chunks import column_sums
from skmoe._newton import CrossEntropyRows, SolveEnd, newton_solve

_TOL = 1e-12
_MAX_ITER = 50
# A class with (almost) no weight in an expert has no finite optimum: its intercept
# would run to minus infinity, and an expert that gives a class a probability of
# 1e-12 never gets responsibility for its rows again, which traps EM after a hard
# k-means start. Such an expert's first fit is its own, whose solver stops at its
# tolerance with a moderate intercept. Once Newton has solved the expert, it keeps
# it at any share: the share fading is EM moving the class to other experts, which
# the own fit, from zero, would undo at every M-step (on digits the likelihood then
# fell and EM never settled).
_MIN_CLASS_SHARE = 1e-10
# The solvers whose objective is the one above; liblinear also penalises the
# intercept.
_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")


def _l2_penalty(expert):
    """``1 / C`` for an expert with the fast path, else None."""
    if type(expert) is not LogisticRegression:
        return None
    penalty = getattr(expert, "penalty", "l2")
    # scikit-learn >= 1.8 deprecates penalty for l1_ratio (0 is L2); earlier versions
    # default to penalty="l2" and ignore l1_ratio.
    l2 = penalty == "l2" or (penalty == "deprecated" and expert.l1_ratio == 0)
    one_model = getattr(expert, "multi_class", "auto") in ("auto", "deprecated")
    if not (
        l2
        and one_model
        and 0 < expert.C < np.inf
        and expert.class_weight is None
        and not expert.dual
        and expert.solver in _SOLVERS
    ):
        return None
    return 1.0 / expert.C


def has_logistic_fast_path(expert):
    """Whether ``fit_logistic_experts`` can fit ``expert``."""
    return _l2_penalty(expert) is not None


class LogisticRows:
    """The rows of the logistic experts' problems, in memory: ``X`` centred (with
    intercepts) and the one-hot targets; each expert's weights make its
    :class:`~skmoe._newton.CrossEntropyRows`.

    :func:`solve_logistic_experts` reads the rows through these methods alone, so
    that rows held elsewhere (``skmoe._distributed``) run the same solves.
    """

    def __init__(self, X, target, classes, fit_intercept):
        n_samples, n_features = X.shape
        # Centring only improves the conditioning (the intercepts absorb it);
        # without intercepts the model is not shift-invariant, so X is used as
        # it is.
        self.center = (
            column_sums(X) / n_samples if fit_intercept else np.zeros(n_features)
        )
        self.X = np.subtract(X, self.center, dtype=X.dtype) if fit_intercept else X
        self.target = target
        self.targets = np.zeros((n_samples, classes.size))
        self.targets[np.arange(n_samples), target] = 1.0

    @classmethod
    def of(cls, data, classes, fit_intercept):
        """The rows of a :class:`~skmoe._parts.Data`."""
        return cls(data.X_expert, data.target, classes, fit_intercept)

    def class_totals(self, weight):
        """Each class's weight, and the total."""
        return weight @ self.targets, weight.sum()

    def rows(self, weight, total):
        """The cross-entropy rows of the expert weighted by ``weight``."""
        return CrossEntropyRows(self.X, self.targets, weight / total)

    def target_proba(self, proba):
        """The probability of each row's class, from the probabilities."""
        return proba[np.arange(proba.shape[0]), self.target]


def fit_logistic_experts(
    experts, X, target, classes, weights, last_solves, n_jobs=1, max_steps=None
):
    """Fit ``experts[j]`` on ``(X, classes[target])`` with ``sample_weight=weights[j]``.

    ``target`` holds each row's class index into ``classes``, every class present.
    The experts share ``fit_intercept``. ``last_solves[j]`` is the ``SolveEnd`` of
    expert ``j``'s previous fit, to start from, or None; the list is updated. With
    ``n_jobs`` other than 1 the experts are solved in threads (the kernels and BLAS
    release the GIL); each solve is the same either way.

    With ``max_steps``, each expert takes at most that many Newton steps from its
    current coefficients, which lowers its objective without solving it: EM's
    generalised M-step. Else Newton runs to its tolerance.

    Returns the positions of the experts left unfitted (a class with no weight in
    the expert, or Newton's method out of its ``_MAX_ITER`` steps), which the
    caller fits itself; a dict mapping the position of each fitted expert to the
    probability it gives each row's class: its ``predict_proba`` at ``target``, up
    to rounding, from Newton's last pass over the rows; and the positions of the
    experts that ``max_steps`` stopped short of their optimum.
    """
    rows = LogisticRows(X, target, classes, experts[0].fit_intercept)
    return solve_logistic_experts(
        experts, rows, classes, weights, last_solves, n_jobs, max_steps
    )


def solve_logistic_experts(
    experts, rows, classes, weights, last_solves, n_jobs=1, max_steps=None
):
    """:func:`fit_logistic_experts` on ``rows`` (a :class:`LogisticRows`, or rows
    held elsewhere with its methods)."""
    n_classes = classes.size
    center = rows.center
    n_features = center.size
    free = np.ones((n_classes, n_features + 1), dtype=bool)
    if n_classes == 2:
        free[0] = False  # the binary model: class 0's logit stays at zero
    if not experts[0].fit_intercept:
        free[:, -1] = False

    def solve(expert, weight, last):
        class_totals, total = rows.class_totals(weight)
        if last is None and not np.all(class_totals > _MIN_CLASS_SHARE * total):
            return None
        known = None if last is None else last.proba_at(expert.coef_, expert.intercept_)
        return newton_solve(
            _start(expert, classes, center, n_features),
            rows.rows(weight, total),
            _l2_penalty(expert) / total,
            tol=_TOL,
            max_iter=_MAX_ITER if max_steps is None else max_steps,
            free=free.ravel(),
            hessian=None if last is None else last.hessian,
            proba=known,
            with_proba=True,
        )

    problems = list(zip(experts, weights, last_solves, strict=True))
    if n_jobs == 1 or len(experts) < 2:
        solutions = [solve(*problem) for problem in problems]
    else:
        solutions = Parallel(n_jobs=n_jobs, backend="threading")(
            delayed(solve)(*problem) for problem in problems
        )
    left, short = [], []
    target_proba = {}
    for j, (expert, solution) in enumerate(zip(experts, solutions, strict=True)):
        if solution is None or not (solution[2] or max_steps is not None):
            left.append(j)
            continue
        theta, n_iter, converged, hessian, proba = solution
        if not converged:
            short.append(j)
        _write_solution(expert, theta.reshape(n_classes, -1), classes, center, n_iter)
        if not isinstance(hessian, np.ndarray):
            hessian = None  # products, which would keep the rows alive
        last_solves[j] = SolveEnd(
            hessian, (expert.coef_.copy(), expert.intercept_.copy()), proba
        )
        target_proba[j] = rows.target_proba(proba)
    return left, target_proba, short


def _start(expert, classes, center, n_features):
    """The expert's current coefficients as the solver's ``theta``, or zeros."""
    params = np.zeros((classes.size, n_features + 1))
    coef = getattr(expert, "coef_", None)
    if coef is None or not np.array_equal(getattr(expert, "classes_", ()), classes):
        return params.ravel()
    rows = slice(1, None) if classes.size == 2 else slice(None)
    params[rows, :-1] = coef
    params[rows, -1] = expert.intercept_ + coef @ center
    return params.ravel()


def _write_solution(expert, params, classes, center, n_iter):
    if classes.size == 2:
        params = params[1:]
    coef = params[:, :-1].copy()
    intercept = params[:, -1] - coef @ center
    if classes.size > 2:
        intercept -= intercept.mean()  # as fit's solvers leave them: summing to zero
    expert.classes_ = classes
    expert.coef_ = coef
    expert.intercept_ = intercept if expert.fit_intercept else np.zeros(len(params))
    expert.n_features_in_ = center.size
    expert.n_iter_ = np.array([n_iter], dtype=np.int32)
