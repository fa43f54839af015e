"""The face of the mixture-of-experts estimators: parameters, validation, results.

The model is ``p(y | x) = sum_k g_k(x) p_k(y | x)``: a softmax gate ``g`` over
experts whose likelihood ``p_k`` their family gives. ``fit`` validates its inputs,
builds the training :class:`~skmoe._parts.Problem` (the data, the family, the
unfitted experts and gate), hands it to the driver (``skmoe._driver.train``: EM,
CEM or mini-batch training, with restarts) and stores what the best run fitted.
The EM loop itself lives in ``skmoe._em``, the methods of a fitted model in
``skmoe._fitted``; the subclasses say which family and default expert they use and
what they predict (docs: developer.rst).
"""

import copy
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Real

import joblib
import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data

from skmoe._collapse import COLLAPSE_ACTIONS
from skmoe._dask_inputs import is_dask_collection
from skmoe._distributed_fit import chunked_inputs, chunked_problem
from skmoe._docs import DocLinkMixin
from skmoe._driver import DATA_READERS, FitConfig, train
from skmoe._expert_list import (
    NestedParamsMixin,
    check_experts,
    expert_signature,
    is_expert_list,
    labelled_experts,
    resolve_n_experts,
    slot_names,
    slot_prototypes,
)
from skmoe._fitted import FittedMixtureMixin
from skmoe._gate import SoftmaxGate
from skmoe._gradient import plain_state, restored_state
from skmoe._nested import check_own_densities
from skmoe._partial_fit import MiniBatchMixin
from skmoe._parts import Fitted, Problem
from skmoe._progress import (
    CallbackSupportMixin,
    convergence_advice,
    root_progress,
)
from skmoe._routing import ROUTINGS, check_routing
from skmoe._validation import (
    IntegerRange,
    check_init,
    check_init_size,
    check_magnitude,
    resolve_features,
)
from skmoe.exceptions import ExpertCollapseWarning

# How messages and plots name each solver and its steps.
SOLVER_NAMES = {
    "em": ("EM", "iterations"),
    "cem": ("CEM", "iterations"),
    "gradient": ("Mini-batch training", "epochs"),
}


class BaseMixtureOfExperts(
    DocLinkMixin,
    FittedMixtureMixin,
    MiniBatchMixin,
    CallbackSupportMixin,
    NestedParamsMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """A mixture of experts fitted by EM; see the subclasses for the parameters."""

    _parameter_constraints = {
        # A list of (name, estimator) pairs is checked entry by entry at fit
        # (skmoe._expert_list.check_entries), with errors that name the entry.
        "expert": [HasMethods(["fit", "predict"]), list, None],
        "n_experts": [IntegerRange(1, None, closed="left"), None],
        # EM drives the gate through SoftmaxGate's own solver, which is not a
        # public protocol (yet): any other object would fail inside the fit.
        "gate": [SoftmaxGate, None],
        "gate_features": ["array-like", None],
        "expert_features": ["array-like", None],
        "routing": [StrOptions(set(ROUTINGS))],
        "top_k": [IntegerRange(1, None, closed="left")],
        "solver": [StrOptions({"em", "cem", "gradient"})],
        "batch_size": [
            IntegerRange(1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "responsibility_threshold": [Interval(Real, 0, 1, closed="left")],
        "collapse": [StrOptions(set(COLLAPSE_ACTIONS))],
        "collapse_threshold": [Interval(Real, 0, 1, closed="left")],
        "init": [StrOptions({"auto", "kmeans", "random"}), "array-like"],
        "n_init": [IntegerRange(1, None, closed="left")],
        "init_size": [
            IntegerRange(1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "max_iter": [IntegerRange(1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "n_jobs": [
            IntegerRange(None, -1, closed="right"),
            IntegerRange(1, None, closed="left"),
            None,
        ],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        expert=None,
        *,
        n_experts=None,
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
        tol=1e-6,
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

    # ---- what a subclass says

    @abstractmethod
    def _default_expert(self):
        """The expert used when ``expert=None``."""

    @abstractmethod
    def _new_family(self):
        """The family of this estimator's experts, unfitted."""

    def _warm_start_signature(self, n_experts):
        """What must not change between fits for ``warm_start`` to make sense."""
        return (
            n_experts,
            self.n_features_in_,
            tuple(self.gate_features_),
            tuple(self.expert_features_),
            *self._target_signature(),
        )

    def _target_signature(self):
        return ()

    # ---- parameters

    def _expert_prototype(self):
        return self._default_expert() if self.expert is None else self.expert

    def _gate_prototype(self):
        return SoftmaxGate() if self.gate is None else self.gate

    def _family_over_experts(self, family, solver):
        """``family``, or over experts with a density of their own (nested
        mixtures) the family of those densities; refusals name the entry."""
        return check_own_densities(
            labelled_experts(self),
            family,
            default_family=getattr(self, "family", None) in (None, "gaussian"),
            classifier=is_classifier(self),
            solver=solver,
        )

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
        fitted = (
            self._fitted() if self.warm_start and hasattr(self, "experts_") else None
        )
        requested = resolve_n_experts(self)
        if any(map(is_dask_collection, (X, y, sample_weight))):
            if fitted is not None:
                raise ValueError(
                    "warm_start=True cannot continue a fit on a Dask array; refit "
                    "with warm_start=False."
                )
            problem, config, slots = self._chunked_setup(X, y, sample_weight)
        else:
            problem, config, slots, fitted = self._setup(X, y, sample_weight, fitted)
        progress = root_progress(self, config.n_init, self._fitted_attributes)
        progress.begin(X=X, y=y)
        run = train(problem, config, progress, fitted)
        self._store(run.parts, run.mini_batch_state, slots)
        self.n_iter_ = run.n_iter
        self.converged_ = run.converged
        self.log_likelihood_ = run.log_likelihood
        self.log_likelihood_curve_ = np.asarray(run.curve)
        self.collapsed_ = run.collapses
        self._n_experts_fitted = requested
        self._warn_about(run)
        progress.end(X=X, y=y)
        return self

    def _setup(self, X, y, sample_weight, fitted):
        """The problem, configuration and slots of a fit in memory, every check
        done; and the fitted model a warm start continues (None if not)."""
        previous_signature = (
            None
            if fitted is None
            else self._warm_start_signature(self._n_experts_fitted)
        )
        n_experts = resolve_n_experts(self)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=not is_classifier(self),
        )
        reader = DATA_READERS[self.solver]
        sample_weight = reader.sample_weight(sample_weight, X)
        # One pass of max and min over X, without a copy (X may be a memmap).
        check_magnitude(X, "X")
        n_samples = X.shape[0]
        self._check_rows(n_samples, n_experts)
        batch_size = reader.batch_size(self.batch_size, n_samples, n_experts)
        family = self._family_over_experts(self._new_family(), self.solver)
        y, target = reader.target(family, y, sample_weight)
        self._learn_target(family)
        unit_weight = sample_weight is None or bool(np.all(sample_weight == 1.0))
        init = self._check_setup(n_samples, n_experts, family, unit_weight)
        if (
            fitted is not None
            and self._warm_start_signature(n_experts) != previous_signature
        ):
            raise ValueError(
                "warm_start=True continues the previous fit, which needs the same "
                "n_experts, features and classes; refit with warm_start=False."
            )
        n_restarts = self.n_init
        slots = list(range(n_experts))
        if fitted is not None:
            fitted, warm_init = self._continuation(fitted, X, y)
            n_restarts = 1
            slots = self._fitted_slots()
            if warm_init is not None:
                init = warm_init
        problem = self._problem(X, y, target, sample_weight, family, slots)
        return problem, self._config(init, batch_size, n_restarts), slots, fitted

    def _chunked_setup(self, X, y, sample_weight):
        """The problem, configuration and slots of a fit on Dask collections
        (``skmoe._distributed_fit``): exact EM with the chunks on the workers."""
        n_experts = resolve_n_experts(self)
        inputs = chunked_inputs(self, X, y, sample_weight)
        self._check_rows(inputs[0].shape[0], n_experts)
        family = self._family_over_experts(self._new_family(), self.solver)
        init = self._check_setup(inputs[0].shape[0], n_experts, family, True)
        slots = list(range(n_experts))
        names = slot_names(self, slots) if is_expert_list(self.expert) else None
        prototypes = slot_prototypes(self, slots)
        problem = chunked_problem(self, inputs, family, prototypes, names)
        return problem, self._config(init, None, self.n_init), slots

    @staticmethod
    def _check_rows(n_samples, n_experts):
        if n_samples < n_experts:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_experts={n_experts}: each "
                "expert needs rows to fit."
            )

    def _check_setup(self, n_samples, n_experts, family, unit_weight):
        """The checks of the columns, ``init``, the routing and the experts;
        ``init`` as the fit reads it."""
        self._resolve_columns()
        init = check_init(self.init, n_samples, n_experts)
        check_init_size(self.init_size, n_experts)
        check_routing(self.routing, self.top_k, n_experts)
        check_experts(self, self.solver, family, unit_weight)
        return init

    def _resolve_columns(self):
        names = getattr(self, "feature_names_in_", None)
        for name in ("gate_features", "expert_features"):
            spec = getattr(self, name)
            indices = resolve_features(spec, name, self.n_features_in_, names)
            setattr(self, name + "_", indices)
        if self.expert_features_.size == 0:
            raise ValueError("expert_features selects no column: experts need inputs.")

    def _learn_target(self, family):
        """Keep what the family learnt of the target (a classifier's classes)."""

    def _continuation(self, fitted, X, y):
        """What a warm start continues from, with the parameters set since the fit.

        Returns ``(fitted, None)``: the fitted model, its gate taking the gate's
        current parameters; or ``(None, responsibilities)`` when the expert's
        parameters changed: the new experts start from the fitted model's
        responsibilities, as from an ``init`` array.
        """
        gate = copy.deepcopy(fitted.gate)
        prototype = self._gate_prototype()
        changed_alpha = prototype.alpha != gate.alpha
        gate.set_params(**prototype.get_params())
        if changed_alpha:
            gate._start_penalty()  # an "auto" penalty continues, another starts
        fitted = fitted._replace(gate=gate)
        if expert_signature(self, fitted.experts, self._fitted_slots(), _expert_hash):
            return fitted, None
        if self.solver == "gradient":
            raise ValueError(
                "warm_start=True with solver='gradient' continues the fitted "
                "experts, but the expert's parameters changed since the fit; "
                "refit with warm_start=False."
            )
        return None, self._e_step(X, y)[1]

    def _problem(self, X, y, target, sample_weight, family, slots):
        """The training problem, with the unfitted expert of each of ``slots``."""
        return Problem(
            X=X,
            y=y,
            target=target,
            sample_weight=sample_weight,
            gate_columns=self.gate_features_,
            expert_columns=self.expert_features_,
            family=family,
            experts=slot_prototypes(self, slots),
            gate=self._gate_prototype(),
            expert_names=slot_names(self, slots)
            if is_expert_list(self.expert)
            else None,
        )

    def _config(self, init, batch_size, n_init):
        return FitConfig(
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
            n_init=n_init,
            init=init,
            init_size=self.init_size,
            responsibility_threshold=self.responsibility_threshold,
            collapse=self.collapse,
            collapse_threshold=self.collapse_threshold,
            batch_size=batch_size,
            learning_rate=self.learning_rate,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
        )

    def _fitted(self):
        """The fitted model, which a warm start or ``partial_fit`` continues."""
        state = getattr(self, "_mini_batch_state", None)
        return Fitted(self.experts_, self.gate_, self.family_, state)

    def _store(self, parts, mini_batch_state, slots):
        """Keep ``parts`` (and the state mini-batch training goes on from) as the
        fitted model; ``slots`` are the slots of the experts the parts started
        with, so that each fitted expert keeps its name."""
        for name, value in self._fitted_attributes(parts).items():
            setattr(self, name, value)
        self._mini_batch_state = mini_batch_state
        self.n_experts_ = len(self.experts_)
        self._expert_slots = [slots[slot] for slot in parts.slots]
        self.expert_names_ = slot_names(self, self._expert_slots)

    def _fitted_slots(self):
        """The slot of each fitted expert (models fitted before lists: in order)."""
        return getattr(self, "_expert_slots", list(range(len(self.experts_))))

    def _fitted_attributes(self, parts):
        """Attributes that make a copy of this estimator predict with ``parts``."""
        return {
            "experts_": parts.experts,
            "gate_": parts.gate,
            "family_": parts.family,
            **parts.family.fitted_attributes(),
        }

    def _warn_about(self, run):
        if run.collapses:
            warnings.warn(
                f"{len(run.collapses)} expert collapse(s) during EM (share of the "
                f"data below collapse_threshold={self.collapse_threshold}); "
                f"collapse={self.collapse!r} left {self.n_experts_} of "
                f"{self._n_experts_fitted} experts. See collapsed_ for each event.",
                ExpertCollapseWarning,
                stacklevel=5,
            )
        # A callback that stops the fit (early stopping, a time limit) asked for it.
        if not self.converged_ and not run.stopped:
            solver, steps = SOLVER_NAMES[self.solver]
            advice = convergence_advice(
                run.curve, self.tol, getattr(self.gate_, "scale_", None)
            )
            warnings.warn(
                f"{solver} did not converge in max_iter={self.max_iter} {steps} "
                f"(tol={self.tol}): {advice}.",
                ConvergenceWarning,
                stacklevel=5,
            )

    def __getstate__(self):
        # The mini-batch state in plain containers: skops then asks a user to
        # trust only public types (docs: developer.rst, "Public names and persistence").
        state = dict(super().__getstate__())
        if state.get("_mini_batch_state") is not None:
            state["_mini_batch_state"] = plain_state(state["_mini_batch_state"])
        return state

    def __setstate__(self, state):
        if state.get("_mini_batch_state") is not None:
            state["_mini_batch_state"] = restored_state(state["_mini_batch_state"])
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _expert_hash(expert):
    """An expert's parameters, fitted or not, as one hash."""
    return joblib.hash(clone(expert))
