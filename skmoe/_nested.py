"""Experts with a conditional density of their own: hierarchical mixtures.

An expert that is itself a skmoe mixture (or any estimator whose
``score_samples(X, y)`` gives ``log p(y | x)`` per row and whose ``fit`` takes
``sample_weight``) contributes that density to the outer E-step, not a noise
family around its mean: the outer model is then exactly a hierarchical mixture
of experts, ``p(y | x) = sum_k g_k(x) p_k(y | x)`` with ``p_k`` the inner
mixture's own, and depth is just nesting. Its weighted ``fit`` is its M-step
(:class:`InnerEM`): the first fits it from scratch; every later M-step on the
same rows takes ``NESTED_STEPS`` EM iterations of the inner mixture on its own
parts, with the outer responsibilities as sample weights, so that an outer
iteration costs one inner iteration and nothing of the inner ``fit``'s
validation and set-up.
"""

import inspect
import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.base import is_classifier

from skmoe._em import e_step, em_steps
from skmoe._fast_predict import fast_prediction
from skmoe._fitted import FittedMixtureMixin
from skmoe._parts import Data, Parts
from skmoe._updaters import WeightedFit, em_updater
from skmoe.families import Family

#: EM iterations of a fitted nested mixture per outer M-step: each raises its
#: weighted log-likelihood, all a generalised EM needs.
NESTED_STEPS = 1

#: EM iterations of a nested mixture's first fit, from its own start: the outer
#: responsibilities it is fitted to move at once, so converging to them would be
#: spent (docs: hierarchy.rst, "How it is fitted").
FIRST_FIT_STEPS = 3


def has_own_density(expert):
    """Whether ``expert`` gives its own conditional log-density
    ``score_samples(X, y)`` (a skmoe mixture does)."""
    score_samples = getattr(expert, "score_samples", None)
    if not callable(score_samples):
        return False
    try:
        parameters = inspect.signature(score_samples).parameters
    except (TypeError, ValueError):
        return False
    return "y" in parameters


def check_own_densities(labelled, family, default_family, classifier, solver):
    """The family of a model over the ``(label, expert)`` pairs ``labelled``:
    ``family`` when no expert has a density of its own, an :class:`OwnDensity`
    over it when all do; an error otherwise (a flat entry among them, a mixture
    of the other task, a family set on the outer model, mini-batch training),
    naming the entry, before any work."""
    own = [has_own_density(expert) for _, expert in labelled]
    if not any(own):
        return family
    if not all(own):
        name, flat = next(
            entry for entry, has in zip(labelled, own, strict=True) if not has
        )
        raise ValueError(
            "a mixture whose experts include mixtures (or other experts with "
            "their own conditional density) needs that density of every expert; "
            f"{name} {flat!r} has none. Wrap it as a one-expert mixture, "
            "MixtureOfExpertsRegressor(expert=..., n_experts=1) (or the "
            "classifier), to give it the family's density."
        )
    for name, expert in labelled:
        if is_classifier(expert) != classifier:
            task = "classifier" if classifier else "regressor"
            raise ValueError(
                f"{name} {expert!r} cannot be an expert of a {task}: a nested "
                "mixture must solve the outer model's task (a regressor inside a "
                "regressor, a classifier inside a classifier)."
            )
    if solver == "gradient":
        raise ValueError(
            "a mixture whose experts are mixtures cannot be trained by "
            "mini-batches (solver='gradient' or partial_fit): each inner mixture "
            "is fitted by its own EM on all the rows at once, continued at each "
            "outer iteration. Use solver='em' or solver='cem'."
        )
    if not default_family:
        raise ValueError(
            f"family={family!r} is the density of a flat expert's target around "
            "its prediction, and every expert here is a mixture (or another "
            "expert with its own conditional density): set the family on the "
            "inner mixtures instead, and leave the outer model's family at its "
            "default."
        )
    return OwnDensity(family)


class OwnDensity(Family):
    """Each expert's own conditional log-density, ``expert.score_samples(X, y)``.

    The family of a hierarchical mixture: no parameters of its own (the inner
    mixtures hold theirs); the target is checked and encoded by ``family``, the
    task's family (the regressor's or the classifier's), which also gives the
    experts' predictions.

    Parameters
    ----------
    family : Family
        The task's family: Gaussian for a regressor, Categorical for a
        classifier.
    """

    output = "conditional log-density"
    non_finite_output = "gave a NaN or infinite log-density"
    mini_batch = False

    def __init__(self, family):
        self.family = family

    @property
    def name(self):
        return "own-density (nested mixture)"

    @property
    def classes_(self):
        return self.family.classes_

    def prepare(self, y, sample_weight):
        return self.family.prepare(y, sample_weight)

    def declare(self, y, classes=None, partial=False):
        return self.family.declare(y, classes, partial)

    def encode(self, y):
        return self.family.encode(y)

    def init_columns(self, target):
        # k-means on the inputs alone: the outer gate divides the input space
        # into regions, and the inner mixtures separate the targets within
        # them. Measured on generated depth-2 trees (2,000 rows, 4 seeds): one
        # start on the inputs reached the generating log-likelihood every time;
        # on the inputs and the target, never (480 to 1,150 below it).
        return np.empty((len(target), 0))

    def check_expert(self, expert):
        if not has_own_density(expert):
            raise ValueError(f"{expert!r} has no score_samples(X, y).")

    def predict(self, expert, X):
        classes = getattr(self.family, "classes_", None)
        if isinstance(expert, FittedMixtureMixin) and (
            classes is None or expert.classes_.size == classes.size
        ):
            # The outer model validated X: the inner one mixes its experts
            # without validating it again (by the serving path where it
            # applies), the cost that dominates small batches.
            prediction = fast_prediction(expert, X)
            return expert._mix_experts(X) if prediction is None else prediction
        return self.family.predict(expert, X)

    def expert_output(self, expert, X, target):
        if target is None:
            return self.predict(expert, X)  # what predict_experts reads
        y = self._decode(target)
        with warnings.catch_warnings():
            # An inner model's own warnings belong to its fit, not to each E-step.
            warnings.simplefilter("ignore")
            return np.asarray(expert.score_samples(X, y), dtype=np.float64)

    def _decode(self, target):
        classes = getattr(self.family, "classes_", None)
        return target if classes is None else classes[target]

    def log_likelihood(self, outputs, target, out=None):
        if out is None:
            return outputs.copy()
        if out is not outputs:
            out[...] = outputs
        return out

    def n_parameters(self, n_experts):
        return 0

    def new_updater(self):
        return InnerEM()


@dataclass
class _InnerState:
    """A nested mixture's EM on the outer fit's rows, between outer M-steps.

    ``parts`` are the inner model's own fitted parts (updated in place, so the
    inner estimator always holds them); ``resp`` and ``log_prob`` are its last
    E-step's responsibilities and per-row log-density; ``slots`` the inner
    experts' slots when the state began.
    """

    data: Data
    parts: Parts
    config: object
    slots: list
    resp: np.ndarray
    log_prob: np.ndarray
    n_iter: int = 1


class InnerEM(WeightedFit):
    """The M-step of an expert with a density of its own.

    A skmoe mixture fitted by EM, once fitted, takes its M-steps on all the
    outer rows by its own EM run directly on its parts
    (:func:`~skmoe._em.em_steps`), and its last E-step gives the outer E-step
    its log-density without another pass. Its first fit, CEM's M-steps on an
    expert's own rows and other experts with their own density call the
    expert's weighted ``fit``: at most ``FIRST_FIT_STEPS`` iterations from its
    own start the first time, then ``NESTED_STEPS`` warm-started ones
    (``warm_start``) where the expert has those parameters.
    """

    output = "conditional log-density"

    def __init__(self):
        super().__init__()
        self.state = None

    @classmethod
    def fit_fast(cls, refits, context):
        outputs = {}
        for refit in refits:
            if refit.rows is not None or refit.weight is None:
                continue
            updater, expert = refit.updater, refit.expert
            if updater.state is None:
                if not (_runs_em(expert) and hasattr(expert, "n_features_in_")):
                    continue
                # Fitted on other rows (a subsample's start, a warm start): its
                # EM continues on these.
                updater.state = _start_state(expert, context.data, n_iter=0)
            updater._step(expert, updater.state, refit.weight)
            outputs[refit.index] = updater.state.log_prob
        return outputs, False

    def _step(self, expert, state, weight):
        weight = np.ascontiguousarray(weight)
        data = replace(state.data, sample_weight=weight)
        start = weight @ state.log_prob / weight.sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state.log_prob, state.resp = em_steps(
                data,
                state.parts,
                state.resp,
                state.config,
                state.n_iter + 1,
                NESTED_STEPS,
            )
        state.n_iter += NESTED_STEPS
        log_likelihood = weight @ state.log_prob / weight.sum()
        expert._store(state.parts, None, state.slots)
        expert.n_iter_ += NESTED_STEPS
        expert.log_likelihood_ = log_likelihood
        expert.log_likelihood_curve_ = np.append(
            expert.log_likelihood_curve_, log_likelihood
        )
        expert.converged_ = abs(log_likelihood - start) < state.config.tol
        if expert.converged_ and state.parts.gate._relax(state.config.tol):
            expert.converged_ = False  # on to the lighter penalty, as EM does
        state.parts.gate._forget()

    def fit(self, refit, context):
        expert = refit.expert
        self.state = None
        params = expert.get_params(deep=False)
        limits = {}
        if "max_iter" in params:
            fitted = hasattr(expert, "n_features_in_")
            steps = NESTED_STEPS if fitted else FIRST_FIT_STEPS
            limits["max_iter"] = min(params["max_iter"], steps)
            if fitted and "warm_start" in params:
                limits["warm_start"] = True
        expert.set_params(**limits)
        try:
            with warnings.catch_warnings():
                # The inner fit stops short of its own convergence on purpose:
                # its warnings say nothing of the outer fit.
                warnings.simplefilter("ignore")
                super().fit(refit, context)
        finally:
            expert.set_params(**{name: params[name] for name in limits})
        if refit.rows is None and _runs_em(expert):
            self.state = _start_state(expert, context.data)

    def training_output(self, refit, context):
        if self.state is not None:
            return self.state.log_prob
        return super().training_output(refit, context)

    def forget(self):
        self.state = None


def _runs_em(expert):
    return isinstance(expert, FittedMixtureMixin) and expert.solver in ("em", "cem")


def _start_state(expert, outer, n_iter=1):
    """The EM state of the fitted mixture ``expert`` on the outer rows ``outer``;
    ``n_iter`` is the number of its iterations on these rows so far."""
    problem = expert._problem(
        outer.X_expert,
        outer.y,
        expert.family_.encode(outer.y),
        np.ones(outer.X_expert.shape[0]),
        expert.family_,
        expert._fitted_slots(),
    )
    parts = Parts(
        expert.experts_,
        [em_updater(inner, expert.family_) for inner in expert.experts_],
        expert.gate_,
        expert.family_,
    )
    log_prob, resp = e_step(parts, problem.data)
    return _InnerState(
        problem.data,
        parts,
        expert._config(None, None, 1),
        expert._fitted_slots(),
        resp,
        log_prob,
        n_iter,
    )
