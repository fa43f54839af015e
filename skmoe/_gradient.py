"""Mini-batch training: ``solver="gradient"`` and ``partial_fit``.

One step takes one batch of rows:

- E-step on the batch with the current model: responsibilities ``r`` and the batch's
  log-likelihood (measured before the step, so it is an honest progress figure);
- the gate: one Adam step on the batch's gate objective (the weighted mean
  cross-entropy against ``r`` plus the penalty), with step size
  ``learning_rate / sqrt(1 + (t - 1) / DECAY_STEPS)`` at step ``t = 1, 2, ...``;
- the experts, each by its mini-batch updater (``_updaters``):
  ``partial_fit(X_batch, y_batch, sample_weight=r[:, k] * w)``, or, for plain
  ``LinearRegression`` / ``Ridge`` experts, online EM: running means of their
  normal equations, blended with weight
  ``rho_t = (1 + (t - 1) / DECAY_STEPS)^-KAPPA``, then solved;
- the family's parameters (the noise variances): running means, same ``rho_t``.

``fit(solver="gradient")`` runs these steps over the batches of each epoch
(:func:`run_mini_batch`) and ``partial_fit`` over the batches of the rows it is
given (:func:`partial_fit_steps`): one code path, so the same batches in the same
order give the same model. Memory is bounded by the batch:
nothing of size ``n_samples`` is allocated, so ``X`` may be a ``numpy.memmap``.
"""

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from skmoe._em import e_step
from skmoe._linear import RunningNormalEquations
from skmoe._parts import Parts, Run
from skmoe._progress import logger
from skmoe._start import initial_responsibilities
from skmoe._updaters import PartialFit, RunningLinear, mini_batch_updater

# Adam's constants (Kingma and Ba, 2015).
_BETA1, _BETA2, _EPSILON = 0.9, 0.999, 1e-8
# Steps over which the schedules start to decay, and the decay exponent of online EM's
# step (in (0.5, 1], as stochastic approximation needs).
DECAY_STEPS = 10
KAPPA = 0.8
# With batch_size="auto": the batch size, or all rows if there are fewer.
AUTO_BATCH_SIZE = 256


class Adam:
    """Adam's per-coordinate adaptive step, on a flat parameter vector."""

    def __init__(self):
        self.n_steps = 0
        self.first_moment = None
        self.second_moment = None

    def step(self, theta, grad, learning_rate):
        """Return ``theta`` moved one step against ``grad``."""
        if self.first_moment is None or self.first_moment.shape != theta.shape:
            self.n_steps = 0
            self.first_moment = np.zeros_like(theta)
            self.second_moment = np.zeros_like(theta)
        self.n_steps += 1
        self.first_moment += (1 - _BETA1) * (grad - self.first_moment)
        self.second_moment += (1 - _BETA2) * (grad * grad - self.second_moment)
        mean = self.first_moment / (1 - _BETA1**self.n_steps)
        variance = self.second_moment / (1 - _BETA2**self.n_steps)
        return theta - learning_rate * mean / (np.sqrt(variance) + _EPSILON)


@dataclass
class MiniBatchState:
    """What mini-batch training carries between steps, besides the model.

    ``updaters`` are the experts' mini-batch updaters, which keep their running
    statistics between calls of ``partial_fit``.
    """

    gate_optimizer: Adam
    updaters: list
    n_steps: int = 0


# The private classes a MiniBatchState is made of, by the name its plain form keeps.
_STATE_CLASSES = {
    cls.__name__: cls
    for cls in (MiniBatchState, Adam, RunningLinear, RunningNormalEquations, PartialFit)
}


def plain_state(value):
    """``value`` (a :class:`MiniBatchState`) as nested dicts, lists and arrays.

    What a persisted model keeps of it: skops then asks a user to trust only the
    public types (the estimator, gate and family), not these private ones.
    """
    if type(value) in _STATE_CLASSES.values():
        attributes = {name: plain_state(v) for name, v in vars(value).items()}
        return {"mini_batch_class": type(value).__name__, **attributes}
    if isinstance(value, list):
        return [plain_state(v) for v in value]
    return value


def restored_state(plain):
    """The :class:`MiniBatchState` that :func:`plain_state` gave ``plain`` for."""
    if isinstance(plain, dict) and "mini_batch_class" in plain:
        value = object.__new__(_STATE_CLASSES[plain["mini_batch_class"]])
        for name, attribute in plain.items():
            if name != "mini_batch_class":
                setattr(value, name, restored_state(attribute))
        return value
    if isinstance(plain, list):
        return [restored_state(v) for v in plain]
    return plain


def resolve_batch_size(batch_size, n_samples, n_experts, strict):
    """The batch size in rows; ``strict`` refuses one larger than the data."""
    if batch_size == "auto":
        return min(AUTO_BATCH_SIZE, n_samples)
    if strict and batch_size > n_samples:
        raise ValueError(
            f"batch_size={batch_size} is larger than the number of samples, "
            f"{n_samples}; use a smaller batch_size, or batch_size='auto'."
        )
    if batch_size < n_experts:
        raise ValueError(
            f"batch_size={batch_size} should be >= n_experts={n_experts}: the first "
            "batch initialises every expert."
        )
    return batch_size


def gate_learning_rate(learning_rate, step):
    """Adam's step size at ``step`` (from 1): inverse-square-root decay."""
    return learning_rate / np.sqrt(1.0 + (step - 1) / DECAY_STEPS)


def statistics_step(step):
    """Online EM's blending weight at ``step`` (from 1); 1 at the first step."""
    return (1.0 + (step - 1) / DECAY_STEPS) ** -KAPPA


def batch_slices(n_samples, batch_size):
    """Consecutive batches of ``batch_size`` rows, the last taking the remainder.

    So no batch is smaller than ``batch_size`` (unless ``n_samples`` is), and an
    epoch's order is a permutation of these slices: contiguous rows keep a memmap's
    reads sequential and the order costs ``n_samples / batch_size`` integers.
    """
    n_batches = max(1, n_samples // batch_size)
    starts = [i * batch_size for i in range(n_batches)] + [n_samples]
    return [slice(starts[i], starts[i + 1]) for i in range(n_batches)]


def epoch_order(n_samples, batch_size, rng):
    """The batches of one epoch of ``fit(solver="gradient")``, in random order."""
    batches = batch_slices(n_samples, batch_size)
    return [batches[i] for i in rng.permutation(len(batches))]


def continued_parts(fitted, X_first):
    """Copies of a fitted model and its state, to train on from where they are.

    ``fitted`` is a :class:`~skmoe._parts.Fitted`; a model fitted by EM or CEM has
    no mini-batch state, which then starts with the experts' inputs ``X_first``.
    """
    experts, gate, family, state = copy.deepcopy(tuple(fitted))
    if state is None:
        updaters = [mini_batch_updater(e, family, X_first) for e in experts]
        state = MiniBatchState(Adam(), updaters)
    return Parts(experts, state.updaters, gate, family), state


def start_from_batch(problem, config, batch, rows, seed, restart):
    """Fresh parts and state, initialised by one step on the first batch."""
    family = problem.family.start(batch.target, batch.sample_weight)
    experts = [clone(expert) for expert in problem.experts]
    updaters = [mini_batch_updater(e, family, batch.X_expert) for e in experts]
    parts = Parts(experts, updaters, clone(problem.gate), family)
    init = config.init if isinstance(config.init, str) else config.init[rows]
    resp = initial_responsibilities(
        problem.init_inputs(problem.X[rows]),
        batch,
        family,
        init,
        len(experts),
        seed,
        restart,
    )
    state = MiniBatchState(Adam(), updaters)
    gradient_step(parts, state, batch, config.learning_rate, resp)
    return parts, state


def gradient_step(parts, state, batch, learning_rate, resp=None):
    """One mini-batch step on ``batch`` (a ``Data``); updates ``parts`` in place.

    ``resp`` replaces the E-step on the first step (the initial responsibilities).
    Returns the batch's per-row log-likelihood before the step, or None.
    """
    log_prob = None
    if resp is None:
        log_prob, resp = e_step(parts, batch)
        if not np.all(np.isfinite(log_prob)):
            raise FloatingPointError(
                "mini-batch training reached a non-finite log-likelihood at step "
                f"{state.n_steps + 1}; lower learning_rate."
            )
    w = batch.sample_weight
    if not w.sum() > 0:
        return log_prob
    state.n_steps += 1
    weights = parts.family.expert_weights(resp, w, latent=parts.latent)
    parts.latent = None
    parts.gate._partial_fit(
        batch.X_gate,
        resp,
        w,
        state.gate_optimizer,
        gate_learning_rate(learning_rate, state.n_steps),
    )
    rho = statistics_step(state.n_steps)
    batch_weight = float(weights.sum(axis=1).sum())
    members = list(enumerate(zip(parts.experts, parts.updaters, strict=True)))
    for kind in dict.fromkeys(type(updater) for updater in parts.updaters):
        kind.step(
            [(k, e, u) for k, (e, u) in members if type(u) is kind],
            batch,
            weights,
            batch_weight,
            rho,
            state.n_steps,
        )
    outputs = parts.family.expert_outputs(parts.experts, batch.X_expert, batch.target)
    parts.family.partial_fit(outputs, batch.target, weights, rho)
    return log_prob


def run_epochs(parts, state, batches, n_samples, start, rng, config, progress):
    """``config.max_iter`` epochs of steps, each over the batches in a random order.

    ``batches(order)`` yields ``(rows, Data)`` for the slices in ``order``; when
    ``parts`` is None, ``start(rows, batch)`` builds and initialises them on the
    first batch. An epoch's log-likelihood is the weighted mean of its batches'
    log-likelihoods, each measured before its own step; training stops when it
    changes by less than ``config.tol``. Returns the parts, the state, the
    per-epoch curve, whether it converged and whether a callback stopped it.
    """
    curve = []
    converged = stop = False
    previous = None
    for epoch in range(1, config.max_iter + 1):
        epoch_progress = progress.subtask("epoch")
        epoch_progress.begin()
        total, weight = 0.0, 0.0
        for rows, batch in batches(epoch_order(n_samples, config.batch_size, rng)):
            if parts is None:
                parts, state = start(rows, batch)
                continue
            log_prob = gradient_step(parts, state, batch, config.learning_rate)
            total += batch.sample_weight @ log_prob
            weight += batch.sample_weight.sum()
        if weight > 0:
            curve.append(total / weight)
            converged = previous is not None and abs(curve[-1] - previous) < config.tol
            previous = curve[-1]
            if config.verbose > 1:
                logger.debug("  epoch %d: log-likelihood %.8f", epoch, curve[-1])
        stop = epoch_progress.end(parts)
        if converged or stop:
            break
    return parts, state, curve, converged, bool(stop) and not converged


def run_mini_batch(problem, config, seed, restart, progress, fitted=None):
    """Epochs of mini-batch steps, then the exact log-likelihood in one pass.

    From a copy of the ``fitted`` model if given, else from the first batch.
    """
    rng = np.random.RandomState(seed)
    n_samples, batch_size = problem.X.shape[0], config.batch_size
    parts = state = None
    if fitted is not None:
        X_first = problem.expert_inputs(problem.X[:batch_size])
        parts, state = continued_parts(fitted, X_first)

    def batches(order):
        for rows in order:
            yield rows, problem.rows(rows)

    def start(rows, batch):
        return start_from_batch(problem, config, batch, rows, seed, restart)

    parts, state, curve, converged, stopped = run_epochs(
        parts, state, batches, n_samples, start, rng, config, progress
    )
    total, weight = 0.0, 0.0
    for _, batch in batches(batch_slices(n_samples, batch_size)):
        log_prob, _ = e_step(parts, batch, for_m_step=False)
        total += batch.sample_weight @ log_prob
        weight += batch.sample_weight.sum()
    log_likelihood = total / weight
    objective = log_likelihood - parts.gate.penalty_
    if not np.isfinite(objective):
        raise FloatingPointError(
            "mini-batch training ended at a non-finite log-likelihood; lower "
            "learning_rate."
        )
    return Run(
        parts,
        log_likelihood,
        objective,
        curve,
        len(curve),
        converged,
        stopped,
        mini_batch_state=state,
    )


def partial_fit_steps(problem, config, seed, fitted=None):
    """One mini-batch step per batch of the problem's rows (``partial_fit``).

    From a copy of the ``fitted`` model if given; else the first batch
    initialises the model, and its log-likelihood is measured after that step.
    Returns the parts, the state, and the summed weighted log-likelihood of the
    batches with their total weight.
    """
    n_samples = problem.X.shape[0]
    batches = [
        (rows, problem.rows(rows))
        for rows in batch_slices(n_samples, config.batch_size)
    ]
    if fitted is None:
        rows, batch = batches.pop(0)
        parts, state = start_from_batch(problem, config, batch, rows, seed, 0)
        # No model came before the first batch: its log-likelihood is
        # measured after the step that initialised it.
        log_prob, _ = e_step(parts, batch, for_m_step=False)
        total = batch.sample_weight @ log_prob
        weight = batch.sample_weight.sum()
    else:
        parts, state = continued_parts(fitted, batches[0][1].X_expert)
        total, weight = 0.0, 0.0
    for _, batch in batches:
        log_prob = gradient_step(parts, state, batch, config.learning_rate)
        total += batch.sample_weight @ log_prob
        weight += batch.sample_weight.sum()
    return parts, state, total, weight
