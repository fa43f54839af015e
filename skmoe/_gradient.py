"""Mini-batch training: ``solver="gradient"`` and ``partial_fit``.

One step takes one batch of rows:

- E-step on the batch with the current model: responsibilities ``r`` and the batch's
  log-likelihood (measured before the step, so it is an honest progress figure);
- the gate: one Adam step on the batch's gate objective (the weighted mean
  cross-entropy against ``r`` plus the penalty), with step size
  ``learning_rate / sqrt(1 + (t - 1) / DECAY_STEPS)`` at step ``t = 1, 2, ...``;
- the experts: ``partial_fit(X_batch, y_batch, sample_weight=r[:, k] * w)``, or,
  for plain ``LinearRegression`` / ``Ridge`` experts, online EM: running means of
  their normal equations, blended with weight
  ``rho_t = (1 + (t - 1) / DECAY_STEPS)^-KAPPA``, then solved;
- the noise variances: running means of the weighted squared residuals, same
  ``rho_t``.

``fit(solver="gradient")`` runs these steps over the batches of each epoch and
``partial_fit`` over the batches of the rows it is given: one code path, so the same
batches in the same order give the same model. Memory is bounded by the batch:
nothing of size ``n_samples`` is allocated, so ``X`` may be a ``numpy.memmap``.
"""

from dataclasses import dataclass

import numpy as np

from skmoe._linear import RunningNormalEquations, has_linear_fast_path

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


@dataclass
class GradientState:
    """What mini-batch training carries between steps, besides the model."""

    gate_optimizer: Adam
    linear: RunningNormalEquations | None
    n_steps: int = 0


def start_state(experts, X_expert):
    """A fresh state: Adam for the gate, running statistics for linear experts."""
    linear = (
        RunningNormalEquations(experts, X_expert)
        if has_linear_fast_path(experts)
        else None
    )
    return GradientState(Adam(), linear)


def gradient_step(model, parts, state, batch, resp=None):
    """One mini-batch step on ``batch`` (a ``_Data``); updates ``parts`` in place.

    ``resp`` replaces the E-step on the first step (the initial responsibilities).
    Returns the batch's per-row log-likelihood before the step, or None.
    """
    log_prob = None
    if resp is None:
        log_prob, resp = model._e_step(parts, batch)
        if not np.all(np.isfinite(log_prob)):
            raise FloatingPointError(
                "mini-batch training reached a non-finite log-likelihood at step "
                f"{state.n_steps + 1}; lower learning_rate."
            )
    w = batch.sample_weight
    if not w.sum() > 0:
        return log_prob
    state.n_steps += 1
    weights = resp * w[:, None]
    parts.gate._partial_fit(
        batch.X_gate,
        resp,
        w,
        state.gate_optimizer,
        gate_learning_rate(model.learning_rate, state.n_steps),
    )
    rho = statistics_step(state.n_steps)
    if state.linear is not None:
        state.linear.update(parts.experts, batch.X_expert, batch.y, weights, rho)
    else:
        # An expert with (almost) no weight in this batch waits for a batch of its
        # own: some estimators divide by the total weight.
        min_weight = 1e-10 * w.sum()
        for k, expert in enumerate(parts.experts):
            if weights[:, k].sum() > min_weight:
                model._partial_fit_expert(
                    expert, batch.X_expert, batch.y, weights[:, k]
                )
            elif not hasattr(expert, "n_features_in_"):
                model._partial_fit_expert(expert, batch.X_expert, batch.y, w)
    outputs = model._expert_outputs(parts.experts, batch.X_expert, batch.target)
    parts.likelihood.partial_fit(outputs, batch.target, weights, rho)
    return log_prob


def run_epochs(model, parts, state, batches, n_samples, batch_size, rng, start, ctx):
    """``model.max_iter`` epochs of steps, each over the batches in a random order.

    ``batches(order)`` yields ``(rows, _Data)`` for the slices in ``order``; when
    ``parts`` is None, ``start(rows, batch)`` builds and initialises them on the
    first batch. An epoch's log-likelihood is the weighted mean of its batches'
    log-likelihoods, each measured before its own step; training stops when it
    changes by less than ``model.tol``. Returns the parts, the state, the
    per-epoch curve, whether it converged and whether a callback stopped it.
    """
    curve = []
    converged = stop = False
    previous = None
    for _ in range(model.max_iter):
        epoch_ctx = ctx.subcontext(task_name="epoch")
        epoch_ctx.call_on_fit_task_begin(estimator=model)
        total, weight = 0.0, 0.0
        for rows, batch in batches(epoch_order(n_samples, batch_size, rng)):
            if parts is None:
                parts, state = start(rows, batch)
                continue
            log_prob = gradient_step(model, parts, state, batch)
            total += batch.sample_weight @ log_prob
            weight += batch.sample_weight.sum()
        if weight > 0:
            curve.append(total / weight)
            converged = previous is not None and abs(curve[-1] - previous) < model.tol
            previous = curve[-1]
        stop = epoch_ctx.call_on_fit_task_end(
            estimator=model,
            reconstruction_attributes=lambda parts=parts: model._fitted_attributes(
                parts
            ),
        )
        if converged or stop:
            break
    return parts, state, curve, converged, bool(stop) and not converged
