"""What a fit works on and what one run of it returns."""

from dataclasses import dataclass, field

import numpy as np

from skmoe._gate import SoftmaxGate


@dataclass
class _Data:
    """The training data as the EM loop reads it."""

    X_gate: np.ndarray
    X_expert: np.ndarray
    y: np.ndarray
    target: np.ndarray
    sample_weight: np.ndarray
    unit_weight: bool = field(init=False)

    def __post_init__(self):
        self.unit_weight = bool(np.all(self.sample_weight == 1.0))

    def take(self, rows):
        """The data of ``rows`` only."""
        return _Data(
            X_gate=self.X_gate[rows],
            X_expert=self.X_expert[rows],
            y=self.y[rows],
            target=self.target[rows],
            sample_weight=self.sample_weight[rows],
        )


@dataclass
class _Parts:
    """The parameters EM updates: experts, gate and the likelihood's noise.

    ``last_solves`` keeps, by ``id`` of a logistic expert, how its fast path's
    last Newton solve ended (``_newton.SolveEnd``), which starts the next M-step's.
    ``experts_short`` says that the last M-step lowered some expert's objective
    without solving it (a generalised M-step): EM does not stop on such a step.
    """

    experts: list
    gate: SoftmaxGate
    likelihood: object
    last_solves: dict = field(default_factory=dict)
    experts_short: bool = False


@dataclass
class _Run:
    """The outcome of one EM run (one restart)."""

    parts: _Parts
    log_likelihood: float
    objective: float
    curve: list
    n_iter: int
    converged: bool
    stopped: bool = False
    collapses: list = field(default_factory=list)
    gradient_state: object = None
    seconds: float = 0.0
