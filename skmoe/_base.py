"""Base class of the mixture-of-experts estimators: the EM loop, restarts, convergence.

The model is ``p(y | x) = sum_k g_k(x) p_k(y | x)`` with a softmax gate ``g`` and
experts ``p_k``. One EM iteration is

- M-step: each expert is refitted with ``sample_weight = r[:, k] * sample_weight``, the
  likelihood's noise parameters are refitted, and the gate is refitted to the soft
  targets ``r``;
- E-step: responsibilities ``r_ik ∝ g_k(x_i) p_k(y_i | x_i)`` and the exact
  log-likelihood, in one fused kernel.

``solver="cem"`` makes the responsibilities hard (each row to its most likely
expert) before every M-step, so each expert fits on its own rows only;
``solver="gradient"`` trains on mini-batches instead (``skmoe._gradient``).

Subclasses say what an expert outputs and how its likelihood reads that output.
"""

import copy
import inspect
import time
import warnings
from abc import ABCMeta, abstractmethod
from functools import partial
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, _fit_context, clone, is_classifier
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)
from threadpoolctl import threadpool_limits

from skmoe._chunks import row_blocks
from skmoe._collapse import COLLAPSE_ACTIONS, collapsed_experts, handle_collapse
from skmoe._gate import SoftmaxGate, standardize
from skmoe._gradient import MiniBatchMixin
from skmoe._kernels import e_step
from skmoe._linear import has_linear_fast_path
from skmoe._parts import _Data, _Parts, _Run
from skmoe._progress import (
    CallbackSupportMixin,
    _NoCallbackContext,
    logger,
    root_callback_context,
    verbose_logging,
)
from skmoe._routing import ROUTINGS, check_routing, mix_experts
from skmoe._validation import check_magnitude
from skmoe.exceptions import ExpertCollapseWarning, ExpertFitError

# An expert whose share of the total weight falls below this keeps its previous fit:
# refitting on (numerically) all-zero weights is undefined for most estimators.
_MIN_WEIGHT_SHARE = 1e-10
# init_size="auto": EM starts on this many rows when the data has twice as many.
# On benchmark 4's 100,000 rows, 5,000, 10,000 and 20,000 made fits about equally
# fast; a smaller subsample says less about the regimes (docs: core.rst).
_AUTO_INIT_SIZE = 10_000
# How messages and plots name each solver and its steps.
SOLVER_NAMES = {
    "em": ("EM", "iterations"),
    "cem": ("CEM", "iterations"),
    "gradient": ("Mini-batch training", "epochs"),
}


class BaseMixtureOfExperts(
    MiniBatchMixin, CallbackSupportMixin, BaseEstimator, metaclass=ABCMeta
):
    """EM for a mixture of experts; see the subclasses for the parameters."""

    _parameter_constraints = {
        "expert": [HasMethods(["fit", "predict"]), None],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "gate": [HasMethods(["fit", "decision_function"]), None],
        "gate_features": ["array-like", None],
        "expert_features": ["array-like", None],
        "routing": [StrOptions(set(ROUTINGS))],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"em", "cem", "gradient"})],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "responsibility_threshold": [Interval(Real, 0, 1, closed="left")],
        "collapse": [StrOptions(set(COLLAPSE_ACTIONS))],
        "collapse_threshold": [Interval(Real, 0, 1, closed="left")],
        "init": [StrOptions({"auto", "kmeans", "random"}), "array-like"],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        expert=None,
        *,
        n_experts=2,
        gate=None,
        gate_features=None,
        expert_features=None,
        routing="soft",
        top_k=2,
        solver="em",
        batch_size="auto",
        learning_rate=0.05,
        responsibility_threshold=0.0,
        collapse="drop",
        collapse_threshold=1e-3,
        init="auto",
        n_init=3,
        init_size="auto",
        max_iter=200,
        tol=1e-5,
        random_state=None,
        warm_start=False,
        n_jobs=None,
        verbose=0,
    ):
        self.expert = expert
        self.n_experts = n_experts
        self.gate = gate
        self.gate_features = gate_features
        self.expert_features = expert_features
        self.routing = routing
        self.top_k = top_k
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.responsibility_threshold = responsibility_threshold
        self.collapse = collapse
        self.collapse_threshold = collapse_threshold
        self.init = init
        self.n_init = n_init
        self.init_size = init_size
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---- the parts a subclass fills in

    @abstractmethod
    def _default_expert(self):
        """The expert used when ``expert=None``."""

    def _check_expert(self, expert):
        """Raise if ``expert`` lacks what the solver needs of it, naming both."""
        if self.solver == "em" and not has_fit_parameter(expert, "sample_weight"):
            raise ValueError(
                f"{expert!r} cannot be an expert with solver='em': its fit method "
                "takes no sample_weight, which EM needs to weight each row by the "
                "expert's responsibility. Use solver='cem' (hard assignments: each "
                "expert fits on its own rows, without weights), or an estimator "
                "whose fit accepts sample_weight."
            )
        if self.solver == "gradient" and not has_linear_fast_path([expert]):
            partial_fit = getattr(expert, "partial_fit", None)
            if partial_fit is None or not _takes(partial_fit, "sample_weight"):
                raise ValueError(
                    f"{expert!r} cannot be an expert with solver='gradient': it has "
                    "no partial_fit taking sample_weight, through which mini-batch "
                    "training hands it each batch weighted by its responsibilities "
                    "(nor is it a plain LinearRegression or Ridge, which are updated "
                    "from running statistics). Use an estimator with partial_fit "
                    "(SGDRegressor, SGDClassifier, MLPRegressor, ...), or "
                    "solver='em'."
                )

    def _partial_fit_expert(self, expert, X, y, sample_weight):
        """One mini-batch update of ``expert``."""
        expert.partial_fit(X, y, sample_weight=sample_weight)

    def _declare_targets(self, y, classes, partial):
        """Learn or check what the targets can be, for mini-batch training.

        ``partial`` is True in ``partial_fit``, where a classifier's classes are
        declared by ``classes`` on the first call.
        """

    @abstractmethod
    def _prepare_targets(self, y, sample_weight):
        """Validate ``y``; return ``(y for the experts, target for the likelihood)``."""

    @abstractmethod
    def _encode_target(self, y):
        """The likelihood's target for a new ``y`` (after fit)."""

    @abstractmethod
    def _target_columns(self, target):
        """Columns that stand for the target in the k-means initialisation."""

    @abstractmethod
    def _make_likelihood(self, y, sample_weight):
        """A fresh likelihood for this training target."""

    @abstractmethod
    def _expert_outputs(self, experts, X_expert, target, known=None):
        """(n_samples, n_experts) outputs that the likelihood reads.

        ``known`` maps ``id(expert)`` to outputs a fast path already computed.
        """

    def _set_fitted_parts(self, parts):
        self.experts_ = parts.experts
        self.gate_ = parts.gate
        self._likelihood = parts.likelihood

    def _warm_start_signature(self, n_experts):
        """What must not change between fits for ``warm_start`` to make sense."""
        return (
            n_experts,
            self.n_features_in_,
            tuple(self.gate_features_),
            tuple(self.expert_features_),
        )

    # ---- parameters

    def set_params(self, **params):
        """Set the parameters of this estimator.

        As for any scikit-learn estimator, nested parameters are set as
        ``gate__alpha`` or ``expert__fit_intercept``. Unlike most meta-estimators,
        this also works when ``gate`` or ``expert`` is left at ``None``: the default
        part is created first, so ``GridSearchCV`` can search ``gate__alpha`` without
        the user spelling out ``gate=SoftmaxGate()``.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
            The estimator.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> moe.set_params(routing="hard").predict(X[:4]).shape
        (4,)
        >>> MixtureOfExpertsRegressor().set_params(gate__alpha=1e-3).gate
        SoftmaxGate(alpha=0.001)
        """
        defaults = {"gate": SoftmaxGate, "expert": self._default_expert}
        for name, make_default in defaults.items():
            nested = any(key.startswith(name + "__") for key in params)
            if nested and getattr(self, name) is None and name not in params:
                setattr(self, name, make_default())
        return super().set_params(**params)

    def _expert_prototype(self):
        return self._default_expert() if self.expert is None else self.expert

    def _gate_prototype(self):
        return SoftmaxGate() if self.gate is None else self.gate

    # ---- fit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the mixture of experts by EM, CEM or mini-batches, as ``solver`` says.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Columns may be named (a DataFrame) so that
            ``gate_features`` and ``expert_features`` can name them.

        y : array-like of shape (n_samples,)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; an expert sees them multiplied by its
            responsibilities.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0)
        >>> moe = moe.fit(X, y)
        >>> moe.n_experts_, bool(moe.converged_)
        (2, True)
        """
        # A failed fit must leave a fitted model as it was: validation itself sets
        # attributes, so the whole state is restored on any error.
        saved_state = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            callback_state = {
                key: value
                for key, value in self.__dict__.items()
                if key.startswith(("_skl_callbacks", "_callback_fit_ctx"))
            }
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            self.__dict__.update(callback_state)
            raise

    def _fit(self, X, y, sample_weight):
        warm = self.warm_start and hasattr(self, "experts_")
        previous_signature = (
            self._warm_start_signature(self._n_experts_fitted) if warm else None
        )

        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=not is_classifier(self),
        )
        gradient = self.solver == "gradient"
        # Mini-batch training allocates nothing of size n_samples: no unit weights.
        if sample_weight is not None or not gradient:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight sums to zero: there is nothing to fit.")
            check_magnitude(sample_weight, "sample_weight", allow_tiny=True)
        # One pass of max and min over X, without a copy (X may be a memmap).
        check_magnitude(X, "X")
        n_samples = X.shape[0]
        if n_samples < self.n_experts:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_experts={self.n_experts}: each "
                "expert needs rows to fit."
            )
        if gradient:
            batch_size = self._batch_size(n_samples, strict=True)
            self._declare_targets(y, None, partial=False)
        else:
            batch_size = None
            y_expert, target = self._prepare_targets(y, sample_weight)
        self.gate_features_ = self._resolve_features(
            self.gate_features, "gate_features"
        )
        self.expert_features_ = self._resolve_features(
            self.expert_features, "expert_features"
        )
        if self.expert_features_.size == 0:
            raise ValueError("expert_features selects no column: experts need inputs.")
        init = self._validate_init(n_samples)
        check_routing(self.routing, self.top_k, self.n_experts)
        expert = self._expert_prototype()
        self._check_expert(expert)
        if (
            self.solver == "cem"
            and not np.all(sample_weight == 1.0)
            and not has_fit_parameter(expert, "sample_weight")
        ):
            raise ValueError(
                f"sample_weight needs an expert whose fit takes sample_weight, even "
                f"with solver='cem'; {expert!r} takes none."
            )
        if warm and self._warm_start_signature(self.n_experts) != previous_signature:
            raise ValueError(
                "warm_start=True continues the previous fit, which needs the same "
                "n_experts, features and classes; refit with warm_start=False."
            )

        if gradient:
            data = None
        else:
            data = _Data(
                X_gate=self._gate_inputs(X),
                X_expert=self._expert_inputs(X),
                y=y_expert,
                target=target,
                sample_weight=sample_weight,
            )
        n_restarts = 1 if warm else self.n_init
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=n_restarts
        )
        root_ctx = root_callback_context(self, max_subtasks=n_restarts)
        root_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y)

        # One level of parallelism: the restarts if there are several, else the
        # experts within each M-step.
        if n_restarts > 1:
            restart_jobs, expert_jobs = self.n_jobs, 1
        else:
            restart_jobs, expert_jobs = 1, self.n_jobs or 1
        with verbose_logging(self.verbose):
            runs = Parallel(n_jobs=restart_jobs)(
                delayed(self._fit_restart)(
                    data,
                    X,
                    y,
                    sample_weight,
                    batch_size,
                    init,
                    seed,
                    restart,
                    root_ctx.subcontext(
                        task_name="restart", max_subtasks=self.max_iter
                    ),
                    expert_jobs,
                )
                for restart, seed in enumerate(seeds)
            )
            for restart, run in enumerate(runs):
                if self.verbose:
                    logger.info(
                        "restart %d/%d: %s after %d iterations, log-likelihood %.6f "
                        "(%.2f s)",
                        restart + 1,
                        n_restarts,
                        "converged" if run.converged else "not converged",
                        run.n_iter,
                        run.log_likelihood,
                        run.seconds,
                    )
        # The first of equally good restarts wins, whatever the order they ended in.
        best = max(runs, key=lambda run: run.objective)

        self._set_fitted_parts(best.parts)
        self._gradient_state = best.gradient_state
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        self.log_likelihood_ = best.log_likelihood
        self.log_likelihood_curve_ = np.asarray(best.curve)
        self.n_experts_ = len(self.experts_)
        self.collapsed_ = best.collapses
        self._n_experts_fitted = self.n_experts
        if best.collapses:
            warnings.warn(
                f"{len(best.collapses)} expert collapse(s) during EM (share of the "
                f"data below collapse_threshold={self.collapse_threshold}); "
                f"collapse={self.collapse!r} left {self.n_experts_} of "
                f"{self.n_experts} experts. See collapsed_ for each event.",
                ExpertCollapseWarning,
                stacklevel=4,
            )
        # A callback that stops the fit (early stopping, a time limit) asked for it.
        if not self.converged_ and not best.stopped:
            solver, steps = SOLVER_NAMES[self.solver]
            warnings.warn(
                f"{solver} did not converge in max_iter={self.max_iter} {steps} "
                f"(tol={self.tol}); raise max_iter or tol, or check the data's "
                "scaling.",
                ConvergenceWarning,
                stacklevel=4,
            )
        root_ctx.call_on_fit_task_end(estimator=self, X=X, y=y)
        return self

    def _fit_restart(
        self,
        data,
        X,
        y,
        sample_weight,
        batch_size,
        init,
        seed,
        restart,
        ctx,
        expert_jobs,
    ):
        """One run: from the fitted model (warm start) or from a fresh start.

        EM and CEM read ``data``; mini-batch training reads ``X``, ``y`` and
        ``sample_weight`` one batch at a time.
        """
        start = time.perf_counter()
        ctx.call_on_fit_task_begin(estimator=self)
        # EM's BLAS calls are skinny (n x d by d x K) and lose more to thread start-up
        # and synchronisation than they gain: 5 iterations on 200k rows took 7.9 s
        # with one BLAS thread and 14.4 s with two, on 2 cores.
        with threadpool_limits(1, user_api="blas"):
            warm = self.warm_start and hasattr(self, "experts_")
            if self.solver == "gradient":
                run = self._run_gradient(
                    X, y, sample_weight, batch_size, warm, init, seed, restart, ctx
                )
            elif warm:
                parts = _Parts(
                    copy.deepcopy(self.experts_),
                    copy.deepcopy(self.gate_),
                    copy.deepcopy(self._likelihood),
                )
                run = self._run_em(data, parts, None, ctx, expert_jobs)
            else:
                parts = _Parts(
                    [clone(self._expert_prototype()) for _ in range(self.n_experts)],
                    clone(self._gate_prototype()),
                    self._make_likelihood(data.target, data.sample_weight),
                )
                rows = self._init_rows(data, seed)
                if rows is None:
                    resp = self._initial_responsibilities(X, data, init, seed, restart)
                    run = self._run_em(data, parts, resp, ctx, expert_jobs)
                else:
                    run = self._run_em_from_subsample(
                        data, parts, X, init, seed, restart, rows, ctx, expert_jobs
                    )
        ctx.call_on_fit_task_end(estimator=self)
        run.seconds = time.perf_counter() - start
        return run

    def _init_rows(self, data, seed):
        """The sorted rows of the subsample EM starts on, or None for all rows.

        ``init_size`` rows of positive weight, drawn without replacement, when the
        data has at least twice as many.
        """
        size = _AUTO_INIT_SIZE if self.init_size == "auto" else self.init_size
        if size is None:
            return None
        candidates = np.flatnonzero(data.sample_weight > 0)
        if candidates.size < 2 * size:
            return None
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(candidates, size=size, replace=False))
        return rows if self._subsample_fits(data.target[rows]) else None

    def _subsample_fits(self, target):
        """Whether a subsample with these targets can start the fit."""
        return True

    def _run_em_from_subsample(
        self, data, parts, X, init, seed, restart, rows, ctx, expert_jobs
    ):
        """EM on the subsample ``rows`` to its convergence, then on all rows.

        EM's early iterations only find the regimes, which a subsample shows as
        well at a fraction of the cost; the fit on all rows then starts close to
        its optimum (docs: core.rst, "Initialisation"). The run reports the
        iterations on all rows; the callbacks see those alone.
        """
        sample = data.take(rows)
        init = init if isinstance(init, str) else init[rows]
        resp = self._initial_responsibilities(X[rows], sample, init, seed, restart)
        start = self._run_em(sample, parts, resp, _NoCallbackContext(), expert_jobs)
        logger.debug(
            "  subsample of %d rows: %d iterations, log-likelihood %.8f",
            rows.size,
            start.n_iter,
            start.log_likelihood,
        )
        # A fast path's last solve holds per-row arrays of the subsample.
        parts.last_solves.clear()
        run = self._run_em(data, parts, None, ctx, expert_jobs)
        start_collapses = [dict(event, iteration=0) for event in start.collapses]
        run.collapses = start_collapses + run.collapses
        return run

    def _run_em(self, data, parts, resp, ctx, expert_jobs=1):
        """EM from responsibilities ``resp``, or from ``parts`` if ``resp`` is None.

        ``expert_jobs`` threads fit the experts of each M-step.
        """
        w = data.sample_weight
        total_weight = w.sum()
        previous = None
        if resp is None:
            log_prob, resp = self._e_step(parts, data)
            previous = w @ log_prob / total_weight - parts.gate.penalty_
        hard = self.solver == "cem"
        curve = []
        collapses = []
        reseeded = set()
        converged = False
        solve_experts = False
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            iteration_ctx = ctx.subcontext(task_name="iteration")
            iteration_ctx.call_on_fit_task_begin(estimator=self)
            if hard:
                resp = _hard_assignments(resp)
            # The experts' outputs live only from the M-step to the E-step: kept,
            # they would add (n, K) floats to the next M-step's peak.
            solve_experts = solve_experts or n_iter == self.max_iter
            outputs = self._m_step(
                parts, data, resp, n_iter, expert_jobs, solve_experts
            )
            # Spent: freed before the E-step, which turns the outputs into the
            # next responsibilities in place, they stay out of its peak.
            del resp
            log_prob, resp = self._e_step(parts, data, outputs)
            del outputs
            collapsed, shares = collapsed_experts(resp, w, self.collapse_threshold)
            if collapsed.size and len(parts.experts) > 1:
                resp, actions = handle_collapse(
                    self.collapse, parts, resp, log_prob, collapsed, reseeded
                )
                collapses += [
                    {
                        "iteration": n_iter,
                        "expert": int(k),
                        "share": float(shares[k]),
                        "action": action,
                    }
                    for k, action in actions.items()
                ]
                if "dropped" in actions.values():
                    # The model changed: its own E-step keeps the log-likelihood
                    # and responsibilities consistent with the returned experts.
                    log_prob, resp = self._e_step(parts, data)
                previous = None  # not comparable with the model before
            log_likelihood = w @ log_prob / total_weight
            objective = log_likelihood - parts.gate.penalty_
            if not np.isfinite(objective):
                raise FloatingPointError(
                    f"EM reached a non-finite log-likelihood at iteration {n_iter}."
                )
            curve.append(log_likelihood)
            converged = previous is not None and abs(objective - previous) < self.tol
            if converged and parts.experts_short:
                # Experts a step short of their optimum: one more iteration, which
                # solves them, so that the fit ends where their own fit would.
                converged, solve_experts = False, True
            if self.verbose > 1:
                logger.debug(
                    "  iteration %d: log-likelihood %.8f", n_iter, log_likelihood
                )
            stop = iteration_ctx.call_on_fit_task_end(
                estimator=self,
                reconstruction_attributes=lambda: self._fitted_attributes(parts),
            )
            if converged or stop:
                break
            previous = objective
        stopped = bool(stop) and not converged
        return _Run(
            parts,
            log_likelihood,
            objective,
            curve,
            n_iter,
            converged,
            stopped,
            collapses,
        )

    def _fitted_attributes(self, parts):
        """Attributes that make a copy of this estimator predict with ``parts``."""
        attributes = {"experts_": parts.experts, "gate_": parts.gate}
        attributes["_likelihood"] = parts.likelihood
        return attributes

    def _m_step(self, parts, data, resp, iteration, expert_jobs, solve_experts=True):
        """Refit gate, experts and noise; return the experts' new outputs.

        Without ``solve_experts``, a fast path may only lower an expert's objective
        (see ``_fit_by_fast_path``).
        """
        w = data.sample_weight
        # The gate first: its temporaries are freed before the experts' outputs
        # exist, which lowers the fit's peak memory.
        # One damped Newton step lowers the gate's objective, which is all EM needs
        # to never decrease its own (a generalised EM); solving the gate to its
        # optimum each M-step took 2.3x as long for the same fit.
        parts.gate._fit(data.X_gate, resp, w, max_iter=1, same_data=iteration > 1)
        weights = resp if data.unit_weight else resp * w[:, None]
        min_weight = _MIN_WEIGHT_SHARE * w.sum()
        hard = self.solver == "cem"
        sparse = hard or self.responsibility_threshold > 0
        threshold = 0.5 if hard else self.responsibility_threshold
        fits = []
        for k, expert in enumerate(parts.experts):
            expert_weight = weights[:, k]
            if sparse:
                keep = resp[:, k] >= threshold
                rows = np.flatnonzero(keep & (expert_weight > 0))
                kept_weight = expert_weight[rows].sum()
            else:
                rows, kept_weight = None, expert_weight.sum()
            if kept_weight <= min_weight:
                if hasattr(expert, "n_features_in_"):
                    continue
                # Never fitted and given no rows (an empty initial cluster): start it
                # from all rows and let EM pull it towards a region.
                expert_weight = w
                rows = np.flatnonzero(w > 0) if sparse else None
            fits.append((expert, rows, expert_weight))
        known = {}
        parts.experts_short = False
        if fits:
            fits, known = self._fit_by_fast_path(
                fits, data, parts, expert_jobs, solve_experts
            )
        if hard and data.unit_weight:
            # CEM's weights are all one on an expert's rows: experts whose fit
            # takes no sample_weight work.
            fits = [(expert, rows, None) for expert, rows, _ in fits]
        fit = partial(
            _fit_expert, data=data, experts=parts.experts, iteration=iteration
        )
        if expert_jobs == 1 or len(fits) < 2:
            for expert, rows, expert_weight in fits:
                fit(expert, rows, expert_weight)
        else:
            # Threads: the experts share the data instead of copying it to other
            # processes at every iteration, and fitting releases the GIL in the
            # compiled code where the time goes (LAPACK, trees, liblinear).
            Parallel(n_jobs=expert_jobs, backend="threading")(
                delayed(fit)(expert, rows, expert_weight)
                for expert, rows, expert_weight in fits
            )
        outputs = self._expert_outputs(parts.experts, data.X_expert, data.target, known)
        del known  # copied into outputs: one (n, K) array less from here on
        parts.likelihood.fit(outputs, data.target, weights)
        return outputs

    def _fit_by_fast_path(self, fits, data, parts, n_jobs, solve_experts):
        """Fit the experts of ``fits`` that a fast path can.

        ``fits`` holds ``(expert, rows, sample_weight)``. Subclasses fit linear and
        logistic experts without calling their ``fit`` (``_linear``, ``_logistic``),
        in ``n_jobs`` threads where the experts are solved one by one. Without
        ``solve_experts``, an iterative fast path may stop short of an expert's
        optimum once it has lowered its objective, and then sets
        ``parts.experts_short``. Returns the fits left to do and the outputs the
        fast path computed on the way, by ``id`` of the expert (see
        ``_expert_outputs``).
        """
        return fits, {}

    def _e_step(self, parts, data, outputs=None):
        """Per-sample log-likelihood and responsibilities.

        The experts' ``outputs``, if given, are overwritten: the responsibilities
        take their place.
        """
        if outputs is None:
            outputs = self._expert_outputs(parts.experts, data.X_expert, data.target)
        responsibilities = parts.likelihood.log_likelihood(
            outputs, data.target, out=outputs
        )
        log_prob = np.empty(responsibilities.shape[0])
        # The gate's logits a block of rows at a time: no (n, K) array of them.
        for rows in row_blocks(*responsibilities.shape):
            logits = parts.gate.decision_function(data.X_gate[rows])
            block = responsibilities[rows]
            e_step(logits, block, block, log_prob[rows])
        return log_prob, responsibilities

    # ---- fit helpers

    def _resolve_features(self, spec, name):
        """Column indices of ``spec``: None (all), indices, names or a boolean mask."""
        n_features = self.n_features_in_
        if spec is None:
            return np.arange(n_features)
        spec = np.asarray(spec)
        if spec.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-D list of columns; got {spec.ndim}-D."
            )
        if spec.size == 0:
            return np.arange(0)
        if spec.dtype == bool:
            if spec.size != n_features:
                raise ValueError(
                    f"{name} is a boolean mask of length {spec.size}, but X has "
                    f"{n_features} features."
                )
            return np.flatnonzero(spec)
        if spec.dtype.kind in "UO":
            names = getattr(self, "feature_names_in_", None)
            if names is None:
                raise ValueError(
                    f"{name} names columns, but X has no column names; pass a "
                    "DataFrame or give column indices."
                )
            lookup = {feature: i for i, feature in enumerate(names)}
            unknown = [str(c) for c in spec if c not in lookup]
            if unknown:
                raise ValueError(f"{name} names unknown columns: {unknown}.")
            columns = np.array([lookup[c] for c in spec])
        elif spec.dtype.kind in "iu":
            columns = spec.astype(np.intp)
            bad = columns[(columns < 0) | (columns >= n_features)]
            if bad.size:
                raise ValueError(
                    f"{name} has column indices {bad.tolist()} outside "
                    f"[0, {n_features}) for X with {n_features} features."
                )
        else:
            raise ValueError(
                f"{name} must hold column indices, column names or a boolean mask; "
                f"got dtype {spec.dtype}."
            )
        if np.unique(columns).size != columns.size:
            raise ValueError(f"{name} lists a column more than once.")
        return columns

    def _validate_init(self, n_samples):
        if isinstance(self.init, str):
            return self.init
        init = check_array(self.init, dtype=np.float64)
        expected = (n_samples, self.n_experts)
        if init.shape != expected:
            raise ValueError(
                f"init must be 'kmeans', 'random' or responsibilities of shape "
                f"(n_samples, n_experts)={expected}; got shape {init.shape}."
            )
        if np.any(init < 0) or not np.allclose(init.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(
                "init responsibilities must be non-negative with rows summing to 1."
            )
        return init

    def _initial_responsibilities(self, X, data, init, seed, restart):
        if not isinstance(init, str):
            return init.copy()
        if init == "auto":
            init = "kmeans" if restart == 0 else "random"
        n_samples, n_experts = X.shape[0], self.n_experts
        if init == "random":
            rng = np.random.RandomState(seed)
            return rng.dirichlet(np.ones(n_experts), size=n_samples)
        columns = np.union1d(self.gate_features_, self.expert_features_)
        points = np.column_stack([X[:, columns], self._target_columns(data.target)])
        points = standardize(points, data.sample_weight)[0]
        with warnings.catch_warnings():
            # Fewer distinct points than experts leaves a cluster empty; the M-step
            # handles an expert with no rows, so KMeans's warning would only confuse.
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = (
                KMeans(n_clusters=n_experts, n_init=1, random_state=seed)
                .fit(points, sample_weight=data.sample_weight)
                .labels_
            )
        return np.eye(n_experts)[labels]

    # ---- prediction-time helpers

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _gate_inputs(self, X):
        return np.ascontiguousarray(_columns(X, self.gate_features_))

    def _expert_inputs(self, X):
        return _columns(X, self.expert_features_)

    def _mix_experts(self, X, expert_output):
        """Mix ``expert_output`` over each row's experts as ``routing`` says."""
        check_routing(self.routing, self.top_k, len(self.experts_))
        return mix_experts(
            self.experts_,
            self._expert_inputs(X),
            self.gate_.decision_function(self._gate_inputs(X)),
            expert_output,
            self.routing,
            self.top_k,
        )

    def _parts(self):
        return _Parts(self.experts_, self.gate_, self._likelihood)

    def _data_for(self, X, y):
        X = self._validate_X(X)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must be 1-D with one value per row of X ({X.shape[0]}); got shape "
                f"{y.shape}."
            )
        target = self._encode_target(y)
        return _Data(
            X_gate=self._gate_inputs(X),
            X_expert=self._expert_inputs(X),
            y=y,
            target=target,
            sample_weight=np.ones(X.shape[0]),
        )

    # ---- public methods

    def predict_gate_proba(self, X):
        """Gate probabilities: how much each expert is trusted at each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_experts)
            ``g_k(x)``; rows sum to one.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> proba = moe.predict_gate_proba(X[:3])
        >>> proba.shape, proba.sum(axis=1).round(12).tolist()
        ((3, 2), [1.0, 1.0, 1.0])
        """
        X = self._validate_X(X)
        return self.gate_.predict_proba(self._gate_inputs(X))

    def predict_gate(self, X):
        """The expert each sample is routed to: the gate's most probable one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        experts : ndarray of shape (n_samples,)
            Index of ``argmax_k g_k(x)``.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> experts = moe.predict_gate(X)
        >>> experts.shape, sorted(set(experts.tolist()))
        ((300,), [0, 1])
        """
        return np.argmax(self.predict_gate_proba(X), axis=1)

    def score_samples(self, X, y):
        """Log-likelihood of each sample, ``log p(y | x)`` under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ``log sum_k g_k(x_i) p_k(y_i | x_i)``.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> log_prob = moe.score_samples(X, y)
        >>> log_prob.shape, bool(abs(log_prob.mean() - moe.log_likelihood_) < 1e-9)
        ((300,), True)
        """
        data = self._data_for(X, y)
        log_prob, _ = self._e_step(self._parts(), data)
        return log_prob

    def posterior_proba(self, X, y):
        """Responsibilities: the probability each expert generated ``y`` given ``x``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        responsibilities : ndarray of shape (n_samples, n_experts)
            ``r_ik ∝ g_k(x_i) p_k(y_i | x_i)``; rows sum to one.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> responsibilities = moe.posterior_proba(X, y)
        >>> rows = responsibilities.sum(axis=1).round(12)
        >>> responsibilities.shape, float(rows.min()), float(rows.max())
        ((300, 2), 1.0, 1.0)
        """
        data = self._data_for(X, y)
        _, responsibilities = self._e_step(self._parts(), data)
        return responsibilities

    def bic(self, X, y):
        """Bayesian information criterion on ``(X, y)``; lower is better.

        ``-2 log L + p log n`` with ``p`` the number of free parameters: the gate's
        ``(n_gate_features + 1) * (n_experts - 1)``, each expert's coefficients and
        intercepts, and each expert's noise variance (regression).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        bic : float
            The criterion.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> one = MixtureOfExpertsRegressor(n_experts=1, random_state=0).fit(X, y)
        >>> bool(moe.bic(X, y) < one.bic(X, y))  # two regimes beat one
        True
        """
        log_likelihood = self.score_samples(X, y).sum()
        return -2 * log_likelihood + self._n_parameters() * np.log(len(y))

    def aic(self, X, y):
        """Akaike information criterion on ``(X, y)``; lower is better.

        ``-2 log L + 2 p``, with ``p`` counted as in :meth:`bic`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        aic : float
            The criterion.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> bool(moe.aic(X, y) < moe.bic(X, y))  # log(300) > 2: BIC penalises more
        True
        """
        return -2 * self.score_samples(X, y).sum() + 2 * self._n_parameters()

    def _n_parameters(self):
        """Free parameters of the fitted model; raises for non-parametric experts."""
        check_is_fitted(self)
        n_experts = len(self.experts_)
        gate = (self.gate_features_.size + 1) * (n_experts - 1)
        experts = sum(_expert_n_parameters(expert) for expert in self.experts_)
        noise = n_experts * self._likelihood.n_parameters_per_expert
        return gate + experts + noise

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _fit_expert(expert, rows, sample_weight, *, data, experts, iteration):
    """Fit ``expert`` on ``rows`` (all if None); a failure names it and the step.

    ``sample_weight=None`` fits without weights (CEM with unit weights).
    """
    if rows is None:
        rows = slice(None)
    weights = {} if sample_weight is None else {"sample_weight": sample_weight[rows]}
    try:
        expert.fit(data.X_expert[rows], data.y[rows], **weights)
    except Exception as error:
        hint = ""
        if is_classifier(expert) and np.unique(data.target[rows]).size < 2:
            # CEM's hard assignments tend to give a classifier expert one class:
            # that maximises the classification likelihood.
            hint = (
                " Its rows hold a single class: with solver='cem' or "
                "responsibility_threshold, a classifier expert must accept one "
                "class (trees, KNeighborsClassifier); experts that take "
                "sample_weight can use solver='em' instead."
            )
        raise ExpertFitError(
            f"expert {experts.index(expert)} ({expert!r}) failed to fit at "
            f"iteration {iteration}: {type(error).__name__}: {error}{hint}"
        ) from error


def _hard_assignments(resp):
    """One-hot rows at each row's most responsible expert (CEM's C-step)."""
    hard = np.zeros_like(resp)
    hard[np.arange(resp.shape[0]), np.argmax(resp, axis=1)] = 1.0
    return hard


def _takes(method, parameter):
    """Whether ``method`` has a parameter named ``parameter``."""
    return parameter in inspect.signature(method).parameters


def _columns(X, columns):
    """``X[:, columns]``, without a copy when ``columns`` are all of X's, in order."""
    if np.array_equal(columns, np.arange(X.shape[1])):
        return X
    return X[:, columns]


def _expert_n_parameters(expert):
    """Free parameters of a fitted linear expert (``coef_`` and ``intercept_``)."""
    coef = getattr(expert, "coef_", None)
    if coef is None:
        raise ValueError(
            f"BIC and AIC need each expert's number of parameters, which is not "
            f"defined for {expert!r}: it has no coef_ (trees, nearest neighbours and "
            "other non-parametric models have no fixed size). Compare such models "
            "by cross-validation instead."
        )
    coef = np.atleast_2d(coef)
    has_intercept = getattr(expert, "fit_intercept", True)
    n_outputs, n_features = coef.shape
    if is_classifier(expert) and n_outputs > 1:
        # Multinomial logits are defined up to a shift shared by all classes.
        return (n_outputs - 1) * (n_features + has_intercept)
    return n_outputs * (n_features + has_intercept)
