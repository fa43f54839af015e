"""Expert updaters: how each expert is refitted in EM's M-step and in mini-batches.

Every expert of a fit has an updater of its own, chosen for that expert alone by
:func:`em_updater` or :func:`mini_batch_updater`, and keeping that expert's state
between steps (the logistic fast path's last Newton solve, the running normal
equations of online EM). The updater does not hold the expert: the M-step hands
it over, so a model's experts and updaters can be copied apart.

- :class:`WeightedFit`: the expert's own ``fit(X, y, sample_weight=...)``; every
  EM updater falls back on it.
- :class:`NormalEquations`: ``LinearRegression`` and ``Ridge`` experts by their
  weighted normal equations (``_linear``), all such experts in one pass over ``X``.
- :class:`LogisticNewton`: ``LogisticRegression`` experts by the gate's Newton
  solver (``_logistic``), warm-started from their last solve.
- :class:`GLMNewton`: ``PoissonRegressor`` and ``GammaRegressor`` experts by
  Newton steps on their own objective (``_glm``), warm-started from their last
  fit.
- :class:`PartialFit` and :class:`RunningLinear`: mini-batch steps, by the
  expert's ``partial_fit`` or by online EM on its normal equations.

An expert with a density of its own (a nested mixture) gets the updater its
family gives (``OwnDensity.new_updater``: ``_nested.InnerEM``).

An updater class fits all its experts of one M-step together (``fit_fast``, a
class method), so that a fast path can share its passes over the rows; an expert
it cannot fit falls back on :meth:`WeightedFit.fit`.
"""

import inspect
from dataclasses import dataclass

import numpy as np
from sklearn import get_config
from sklearn.base import is_classifier
from sklearn.utils.metadata_routing import get_routing_for_object
from sklearn.utils.validation import has_fit_parameter

from skmoe._glm import GLMRows, has_glm_fast_path, solve_glm_experts
from skmoe._linear import (
    LinearRows,
    RunningNormalEquations,
    has_linear_fast_path,
    solve_linear_experts,
    update_running,
)
from skmoe._logistic import (
    LogisticRows,
    has_logistic_fast_path,
    solve_logistic_experts,
)
from skmoe.exceptions import ExpertFitError


@dataclass
class Refit:
    """One expert's refit in one M-step: its rows (None: all) and weights.

    ``weight`` is None for a fit without weights (CEM with unit weights);
    ``label`` is how an error names the expert (``Parts.label``).
    """

    index: int
    expert: object
    updater: object
    rows: np.ndarray | None
    weight: np.ndarray | None
    label: str = ""

    def __post_init__(self):
        self.label = self.label or f"expert {self.index}"


@dataclass
class FitContext:
    """What an M-step's updaters read besides their own refits."""

    data: object
    family: object
    solve: bool
    n_jobs: int
    iteration: int


class WeightedFit:
    """The expert refitted by its own ``fit`` with ``sample_weight``."""

    #: The family output a fast path computes on the way (None: none).
    output = None

    def __init__(self):
        self.reseeded = False

    @classmethod
    def fit_fast(cls, refits, context):
        """Fit what a fast path can of ``refits``; return the outputs it computed,
        by expert index, and whether it stopped some expert short of its optimum.

        The experts of ``refits`` missing from the outputs are fitted by
        :meth:`fit`.
        """
        return {}, False

    def fit(self, refit, context):
        """``expert.fit`` on the refit's rows; a failure names the expert and step."""
        data = context.data
        rows = slice(None) if refit.rows is None else refit.rows
        weights = {}
        if refit.weight is not None:
            # Contiguous: the weights are a column of the responsibilities, and
            # some experts (SVR) refuse strided arrays.
            weights["sample_weight"] = np.ascontiguousarray(refit.weight[rows])
        try:
            refit.expert.fit(data.X_expert[rows], data.y[rows], **weights)
        except Exception as error:
            hint = ""
            if is_classifier(refit.expert) and np.unique(data.target[rows]).size < 2:
                # CEM's hard assignments tend to give a classifier expert one class:
                # that maximises the classification likelihood.
                hint = (
                    " Its rows hold a single class: with solver='cem' or "
                    "responsibility_threshold, a classifier expert must accept one "
                    "class (trees, KNeighborsClassifier); experts that take "
                    "sample_weight can use solver='em' instead."
                )
            raise ExpertFitError(
                f"{refit.label} ({refit.expert!r}) failed to fit at "
                f"iteration {context.iteration}: {type(error).__name__}: "
                f"{error}{hint}"
            ) from error

    def training_output(self, refit, context):
        """The family's output of the refitted expert on every training row.

        Its ``predict`` can fail where its ``fit`` did not (a
        ``KNeighborsRegressor`` hard-assigned fewer rows than ``n_neighbors``):
        that too names the expert and the step.
        """
        data = context.data
        try:
            return context.family.expert_output(
                refit.expert, data.X_expert, data.target
            )
        except Exception as error:
            raise ExpertFitError(
                f"{refit.label} ({refit.expert!r}) failed to predict its "
                f"training rows after its fit at iteration {context.iteration}: "
                f"{type(error).__name__}: {error}"
            ) from error

    def forget(self):
        """Drop state that belongs to the rows of the last fit (a new data set)."""


class NormalEquations(WeightedFit):
    """``LinearRegression`` and ``Ridge`` experts by their weighted normal equations.

    An expert whose system is too ill-conditioned falls back on its own fit.
    """

    output = "prediction"

    @classmethod
    def fit_fast(cls, refits, context):
        outputs = {}
        for group in _by_intercept(refits):
            weights = [_dense_weight(refit) for refit in group]
            experts = [refit.expert for refit in group]
            rows = context.data.rows_like(LinearRows, experts[0].fit_intercept)
            _, predictions = solve_linear_experts(experts, rows, weights)
            outputs.update(
                {group[j].index: column for j, column in predictions.items()}
            )
        return outputs, False


class LogisticNewton(WeightedFit):
    """``LogisticRegression`` experts by Newton's method on all rows, warm-started.

    Experts trained on a subset of the rows (``solver="cem"``,
    ``responsibility_threshold``) keep their own ``fit``: it sees only the classes
    of those rows. Without ``context.solve`` each expert takes one Newton step, as
    the gate does (a generalised M-step).
    """

    output = "probability of the observed class"

    def __init__(self):
        super().__init__()
        self.last_solve = None

    @classmethod
    def fit_fast(cls, refits, context):
        dense = [refit for refit in refits if refit.rows is None]
        outputs, short = {}, False
        classes = context.family.classes_
        for group in _by_intercept(dense):
            last_solves = [refit.updater.last_solve for refit in group]
            fit_intercept = group[0].expert.fit_intercept
            _, target_proba, stopped = solve_logistic_experts(
                [refit.expert for refit in group],
                context.data.rows_like(LogisticRows, classes, fit_intercept),
                classes,
                [refit.weight for refit in group],
                last_solves,
                context.n_jobs,
                max_steps=None if context.solve else 1,
            )
            for refit, solve in zip(group, last_solves, strict=True):
                refit.updater.last_solve = solve
            outputs.update({group[j].index: proba for j, proba in target_proba.items()})
            short = short or bool(stopped)
        return outputs, short

    def forget(self):
        # The last solve holds per-row arrays of the rows it was made on.
        self.last_solve = None


class GLMNewton(WeightedFit):
    """``PoissonRegressor`` and ``GammaRegressor`` experts by Newton's method.

    An expert not yet fitted, or without a finite optimum, keeps its own fit.
    Without ``context.solve`` each expert takes one Newton step, as the logistic
    experts do.
    """

    output = "prediction"

    @classmethod
    def fit_fast(cls, refits, context):
        outputs, short = {}, False
        for group in _by_intercept(refits):
            weights = [_dense_weight(refit) for refit in group]
            fit_intercept = group[0].expert.fit_intercept
            predictions, stopped = solve_glm_experts(
                [refit.expert for refit in group],
                context.data.rows_like(GLMRows, fit_intercept),
                weights,
                max_steps=None if context.solve else 1,
            )
            outputs.update(
                {group[j].index: column for j, column in predictions.items()}
            )
            short = short or bool(stopped)
        return outputs, short


def _dense_weight(refit):
    """The refit's weights on all rows: zero off its own rows (sparse training)."""
    if refit.rows is None:
        return refit.weight
    weight = np.zeros_like(refit.weight)
    weight[refit.rows] = refit.weight[refit.rows]
    return weight


def _by_intercept(refits):
    """``refits`` in groups that share ``fit_intercept``, in order of appearance."""
    groups = {}
    for refit in refits:
        groups.setdefault(bool(refit.expert.fit_intercept), []).append(refit)
    return list(groups.values())


def _linear(expert, family):
    """Whether ``expert`` is a plain linear model whose predictions ``family`` reads."""
    return family.output == NormalEquations.output and has_linear_fast_path(expert)


def em_updater(expert, family):
    """The updater of ``expert`` in EM and CEM: a fast path where one fits."""
    if hasattr(family, "new_updater"):  # the family's own (OwnDensity: InnerEM)
        return family.new_updater()
    if _linear(expert, family):
        return NormalEquations()
    if family.output == LogisticNewton.output and has_logistic_fast_path(expert):
        return LogisticNewton()
    if family.output == GLMNewton.output and has_glm_fast_path(expert):
        return GLMNewton()
    return WeightedFit()


# ---- mini-batch training


class PartialFit:
    """A mini-batch step by the expert's ``partial_fit`` with ``sample_weight``.

    ``fit_params`` are passed on every call (a classifier's ``classes``).
    """

    def __init__(self, fit_params):
        self.fit_params = fit_params

    @classmethod
    def step(cls, members, batch, weights, batch_weight, rho, n_steps):
        """One step of the experts ``members`` (``(index, expert, updater)``).

        An expert with (almost) no weight in this batch waits for a batch of its
        own: some estimators divide by the total weight.
        """
        w = batch.sample_weight
        min_weight = 1e-10 * w.sum()
        for k, expert, updater in members:
            if weights[:, k].sum() > min_weight:
                column = np.ascontiguousarray(weights[:, k])
                updater.partial_fit(k, expert, batch, column, n_steps)
            elif not hasattr(expert, "n_features_in_"):
                updater.partial_fit(k, expert, batch, w, n_steps)

    def partial_fit(self, k, expert, batch, sample_weight, n_steps):
        """One update of expert ``k``; a failure names it and the step, as in EM."""
        try:
            expert.partial_fit(
                batch.X_expert, batch.y, sample_weight=sample_weight, **self.fit_params
            )
        except Exception as error:
            raise ExpertFitError(
                f"expert {k} ({expert!r}) failed in partial_fit at mini-batch step "
                f"{n_steps}: {type(error).__name__}: {error}"
            ) from error


class RunningLinear:
    """A mini-batch step of a linear expert by online EM on its normal equations."""

    def __init__(self, expert, X_first):
        self.running = RunningNormalEquations(expert, X_first)

    @classmethod
    def step(cls, members, batch, weights, batch_weight, rho, n_steps):
        groups = {}
        for member in members:
            groups.setdefault(member[2].running.fit_intercept, []).append(member)
        for group in groups.values():
            update_running(
                [updater.running for _, _, updater in group],
                [expert for _, expert, _ in group],
                batch.X_expert,
                batch.y,
                [weights[:, k] for k, _, _ in group],
                batch_weight,
                rho,
            )


def mini_batch_updater(expert, family, X_first):
    """The updater of ``expert`` in mini-batch training.

    ``X_first`` is the experts' inputs on the first batch, which centre the
    running normal equations.
    """
    if _linear(expert, family):
        return RunningLinear(expert, X_first)
    return PartialFit(family.partial_fit_params())


# ---- what each solver needs of an expert


def check_expert(expert, solver, family, unit_weight=True):
    """Raise ValueError if ``expert`` lacks what ``solver`` needs of it, naming both."""
    if solver == "gradient" and not family.mini_batch:
        raise ValueError(
            f"the {family.name} family cannot be trained by mini-batches "
            "(solver='gradient' or partial_fit): its parameters' M-step needs all "
            "rows at once. Use solver='em'."
        )
    family.check_expert(expert)
    if solver == "em" and not takes_sample_weight(expert):
        raise ValueError(
            f"{expert!r} cannot be an expert with solver='em': its fit method "
            "takes no sample_weight, which EM needs to weight each row by the "
            "expert's responsibility. Use solver='cem' (hard assignments: each "
            "expert fits on its own rows, without weights), or an estimator "
            "whose fit accepts sample_weight (a Pipeline does when "
            "sklearn.set_config(enable_metadata_routing=True) is on and its steps "
            "ask for it with set_fit_request(sample_weight=True))."
        )
    if solver == "gradient" and not _linear(expert, family):
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
    if solver == "cem" and not unit_weight and not takes_sample_weight(expert):
        raise ValueError(
            f"sample_weight needs an expert whose fit takes sample_weight, even "
            f"with solver='cem'; {expert!r} takes none."
        )


def takes_sample_weight(expert):
    """Whether ``expert.fit`` accepts ``sample_weight``.

    In its signature, or, with scikit-learn's metadata routing on, by routing it
    to steps that request it (a Pipeline whose steps ``set_fit_request``).
    """
    if has_fit_parameter(expert, "sample_weight"):
        return True
    if not get_config()["enable_metadata_routing"]:
        return False
    routing = get_routing_for_object(expert)
    return "sample_weight" in routing.consumes("fit", ["sample_weight"])


def _takes(method, parameter):
    """Whether ``method`` has a parameter named ``parameter``."""
    return parameter in inspect.signature(method).parameters
