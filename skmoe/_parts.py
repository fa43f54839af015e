"""What a fit works on, what it updates, and what one run of it returns.

- :class:`Problem`: what an estimator hands the training driver: the validated
  data and the unfitted parts a fit starts from.
- :class:`Data`: the training rows as the EM loop reads them.
- :class:`Parts`: the model EM updates: experts, their updaters, gate, family.
- :class:`Fitted`: a fitted model, which a warm start continues.
- :class:`Run`: the outcome of one run (one restart).
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


def columns(X, indices):
    """``X[:, indices]``, without a copy when ``indices`` are all of X's, in order."""
    if np.array_equal(indices, np.arange(X.shape[1])):
        return X
    return X[:, indices]


def gate_inputs(X, indices):
    """The gate's columns of ``X``, C-contiguous for its row-block products."""
    return np.ascontiguousarray(columns(X, indices))


@dataclass
class Data:
    """The training data as the EM loop reads it."""

    X_gate: np.ndarray
    X_expert: np.ndarray
    y: np.ndarray
    target: np.ndarray
    sample_weight: np.ndarray
    unit_weight: bool = field(init=False)

    def __post_init__(self):
        self.unit_weight = bool(np.all(self.sample_weight == 1.0))

    #: How EM steps over these rows (``_em.IN_MEMORY``; rows held elsewhere
    #: bring their own).
    steps = None

    def positive_rows(self):
        """The rows of positive weight."""
        return np.flatnonzero(self.sample_weight > 0)

    def target_of(self, rows):
        """The encoded target of ``rows``."""
        return self.target[rows]

    def rows_like(self, kind, *args):
        """The experts' rows of a solver (``kind``: ``LinearRows``,
        ``LogisticRows``, ``GLMRows``) over these rows."""
        return kind.of(self, *args)

    def average(self, values):
        """The weighted mean of per-row ``values``."""
        return self.sample_weight @ values / self.sample_weight.sum()

    def take(self, rows):
        """The data of ``rows`` only."""
        return Data(
            X_gate=self.X_gate[rows],
            X_expert=self.X_expert[rows],
            y=self.y[rows],
            target=self.target[rows],
            sample_weight=self.sample_weight[rows],
        )


@dataclass(eq=False)
class Problem:
    """The validated training data and the unfitted parts that a fit starts from.

    ``y`` is the target as the experts see it and ``target`` as the family
    encoded it; mini-batch training encodes each batch on its own, so ``target``
    is then None, as is ``sample_weight`` when the user gave none. ``experts``
    holds one unfitted prototype per expert, cloned by each run;
    ``expert_names`` their names when they are a list of experts.
    """

    X: np.ndarray
    y: np.ndarray
    target: np.ndarray | None
    sample_weight: np.ndarray | None
    gate_columns: np.ndarray
    expert_columns: np.ndarray
    family: object
    experts: list
    gate: object
    expert_names: list | None = None
    data: Data | None = field(init=False, default=None)

    def __post_init__(self):
        if self.target is not None:
            self.data = self.rows(slice(None))

    def gate_inputs(self, X):
        return gate_inputs(X, self.gate_columns)

    def expert_inputs(self, X):
        return columns(X, self.expert_columns)

    def init_inputs(self, X):
        """The columns of ``X`` that the k-means start clusters."""
        return X[:, np.union1d(self.gate_columns, self.expert_columns)]

    def start_family(self):
        """The family set up for the training target (``Family.start``)."""
        return self.family.start(self.data.target, self.data.sample_weight)

    def sample(self, rows):
        """The data of ``rows`` and their k-means inputs (a subsample start)."""
        return self.data.take(rows), self.init_inputs(self.X[rows])

    def rows(self, rows):
        """The :class:`Data` of ``rows`` (a slice), its target encoded if need be."""
        X = self.X[rows]
        y = self.y[rows]
        target = self.family.encode(y) if self.target is None else self.target[rows]
        weight = (
            np.ones(X.shape[0])
            if self.sample_weight is None
            else np.asarray(self.sample_weight[rows], dtype=np.float64)
        )
        return Data(
            X_gate=self.gate_inputs(X),
            X_expert=self.expert_inputs(X),
            y=y,
            target=target,
            sample_weight=weight,
        )


@dataclass
class Parts:
    """The model EM updates: experts, their updaters, the gate and the family.

    ``updaters[k]`` refits ``experts[k]`` and keeps its state between M-steps.
    ``experts_short`` says that the last M-step lowered some expert's objective
    without solving it (a generalised M-step): EM does not stop on such a step.
    ``latent`` holds the family's latent factors of the last E-step
    (``Family.latent_weights``), which the next M-step reads. ``slots[k]`` is
    the position of ``experts[k]`` among the experts the parts started with
    (``Problem.experts``, or a warm start's fitted experts): dropping an expert
    drops its slot, so that the face can name the experts that remain;
    ``names`` are the slots' names when the experts are a list (errors name
    them).
    """

    experts: list
    updaters: list
    gate: object
    family: object
    experts_short: bool = False
    latent: np.ndarray | None = None
    slots: list | None = None
    names: list | None = None

    def __post_init__(self):
        if self.slots is None:
            self.slots = list(range(len(self.experts)))

    def label(self, k):
        """How an error names expert ``k``: ``"expert 'tree'"`` by its slot's name
        in a list of experts (``names``), else ``"expert k"``."""
        if self.names is None:
            return f"expert {k}"
        return f"expert {self.names[self.slots[k]]!r}"

    def drop(self, k):
        """Remove expert ``k`` with its updater, slot, gate output and parameters."""
        del self.experts[k]
        del self.updaters[k]
        del self.slots[k]
        self.gate._drop_expert(k)
        self.family.drop_expert(k)
        if self.latent is not None:
            self.latent = np.delete(self.latent, k, axis=1)


class Fitted(NamedTuple):
    """A fitted model as an estimator stores it; a warm start copies it."""

    experts: list
    gate: object
    family: object
    mini_batch_state: object = None


@dataclass
class Run:
    """The outcome of one run (one restart)."""

    parts: Parts
    log_likelihood: float
    objective: float
    curve: list
    n_iter: int
    converged: bool
    stopped: bool = False
    collapses: list = field(default_factory=list)
    mini_batch_state: object = None
    seconds: float = 0.0
