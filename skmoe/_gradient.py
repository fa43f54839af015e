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

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, validate_data
from threadpoolctl import threadpool_limits

from skmoe._linear import RunningNormalEquations, has_linear_fast_path
from skmoe._parts import _Data, _Parts, _Run
from skmoe._progress import logger
from skmoe._routing import check_routing
from skmoe.exceptions import ExpertFitError

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
                _partial_fit_expert(model, k, expert, batch, weights[:, k], state)
            elif not hasattr(expert, "n_features_in_"):
                _partial_fit_expert(model, k, expert, batch, w, state)
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
    for epoch in range(1, model.max_iter + 1):
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
            if model.verbose > 1:
                logger.debug("  epoch %d: log-likelihood %.8f", epoch, curve[-1])
        stop = epoch_ctx.call_on_fit_task_end(
            estimator=model,
            reconstruction_attributes=lambda parts=parts: model._fitted_attributes(
                parts
            ),
        )
        if converged or stop:
            break
    return parts, state, curve, converged, bool(stop) and not converged


class MiniBatchMixin:
    """``fit(solver="gradient")`` and ``partial_fit`` of the mixture estimators."""

    def _batch_size(self, n_samples, strict):
        """The batch size in rows; ``strict`` refuses one larger than the data."""
        if self.batch_size == "auto":
            return min(AUTO_BATCH_SIZE, n_samples)
        if strict and self.batch_size > n_samples:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the number of samples, "
                f"{n_samples}; use a smaller batch_size, or batch_size='auto'."
            )
        if self.batch_size < self.n_experts:
            raise ValueError(
                f"batch_size={self.batch_size} should be >= n_experts="
                f"{self.n_experts}: the first batch initialises every expert."
            )
        return self.batch_size

    def _batch_data(self, X, y, sample_weight, rows):
        """The ``_Data`` of ``rows`` (a slice) of the training data."""
        X_batch = X[rows]
        y_batch = y[rows]
        weight = (
            np.ones(X_batch.shape[0])
            if sample_weight is None
            else np.asarray(sample_weight[rows], dtype=np.float64)
        )
        return _Data(
            X_gate=self._gate_inputs(X_batch),
            X_expert=self._expert_inputs(X_batch),
            y=y_batch,
            target=self._encode_target(y_batch),
            sample_weight=weight,
        )

    def _start_mini_batch(self, X_batch, batch, init, seed, restart, rows):
        """Fresh parts and state, initialised by one step on the first batch."""
        parts = _Parts(
            [clone(self._expert_prototype()) for _ in range(self.n_experts)],
            clone(self._gate_prototype()),
            self._make_likelihood(batch.target, batch.sample_weight),
        )
        if not isinstance(init, str):
            init = init[rows]
        resp = self._initial_responsibilities(X_batch, batch, init, seed, restart)
        state = start_state(parts.experts, batch.X_expert)
        gradient_step(self, parts, state, batch, resp)
        return parts, state

    def _run_gradient(
        self, X, y, sample_weight, batch_size, warm, init, seed, restart, ctx
    ):
        """Epochs of mini-batch steps, then the exact log-likelihood in one pass."""
        rng = np.random.RandomState(seed)
        parts = state = None
        if warm:
            parts = copy.deepcopy(self._parts())
            state = copy.deepcopy(self._gradient_state)
            if state is None:
                state = start_state(parts.experts, self._expert_inputs(X[:batch_size]))

        def batches(order):
            for rows in order:
                yield rows, self._batch_data(X, y, sample_weight, rows)

        def start(rows, batch):
            return self._start_mini_batch(X[rows], batch, init, seed, restart, rows)

        parts, state, curve, converged, stopped = run_epochs(
            self, parts, state, batches, X.shape[0], batch_size, rng, start, ctx
        )
        total, weight = 0.0, 0.0
        for _, batch in batches(batch_slices(X.shape[0], batch_size)):
            log_prob, _ = self._e_step(parts, batch)
            total += batch.sample_weight @ log_prob
            weight += batch.sample_weight.sum()
        log_likelihood = total / weight
        objective = log_likelihood - parts.gate.penalty_
        if not np.isfinite(objective):
            raise FloatingPointError(
                "mini-batch training ended at a non-finite log-likelihood; lower "
                "learning_rate."
            )
        return _Run(
            parts,
            log_likelihood,
            objective,
            curve,
            len(curve),
            converged,
            stopped,
            gradient_state=state,
        )

    def _partial_fit(self, X, y, sample_weight, classes):
        """One mini-batch step per batch of ``(X, y)``; see ``partial_fit``."""
        first = not hasattr(self, "experts_")
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=not is_classifier(self),
            reset=first,
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to zero: there is nothing to fit.")
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples, strict=False)
        if first:
            if n_samples < self.n_experts:
                raise ValueError(
                    f"the first partial_fit call has {n_samples} samples; it needs "
                    f">= n_experts={self.n_experts} to initialise every expert."
                )
            self.gate_features_ = self._resolve_features(
                self.gate_features, "gate_features"
            )
            self.expert_features_ = self._resolve_features(
                self.expert_features, "expert_features"
            )
            if self.expert_features_.size == 0:
                raise ValueError(
                    "expert_features selects no column: experts need inputs."
                )
            init = self._validate_init(n_samples)
            check_routing(self.routing, self.top_k, self.n_experts)
        self._declare_targets(y, classes, partial=True)
        self._check_expert(self._expert_prototype())

        batches = [
            (rows, self._batch_data(X, y, sample_weight, rows))
            for rows in batch_slices(n_samples, batch_size)
        ]
        with threadpool_limits(1, user_api="blas"):
            if first:
                seed = check_random_state(self.random_state).randint(
                    np.iinfo(np.int32).max
                )
                rows, batch = batches.pop(0)
                parts, state = self._start_mini_batch(
                    X[rows], batch, init, seed, 0, rows
                )
                # No model came before the first batch: its log-likelihood is
                # measured after the step that initialised it.
                log_prob, _ = self._e_step(parts, batch)
                total = batch.sample_weight @ log_prob
                weight = batch.sample_weight.sum()
            else:
                # Steps work on copies: a failure half-way leaves the model as it was.
                parts = copy.deepcopy(self._parts())
                state = copy.deepcopy(self._gradient_state)
                if state is None:  # the model was fitted by EM or CEM
                    state = start_state(parts.experts, batches[0][1].X_expert)
                total, weight = 0.0, 0.0
            for _, batch in batches:
                log_prob = gradient_step(self, parts, state, batch)
                total += batch.sample_weight @ log_prob
                weight += batch.sample_weight.sum()

        self._set_fitted_parts(parts)
        self._gradient_state = state
        if first:
            self.log_likelihood_curve_ = np.empty(0)
            self.n_iter_ = 0
            self.collapsed_ = []
            self.converged_ = False
            self.n_experts_ = len(self.experts_)
            self._n_experts_fitted = self.n_experts
        self.n_iter_ += 1
        if weight > 0:
            self.log_likelihood_ = total / weight
            self.log_likelihood_curve_ = np.append(
                self.log_likelihood_curve_, self.log_likelihood_
            )
        return self

    def _partial_fit_keeping_state(self, X, y, sample_weight, classes=None):
        """``_partial_fit``, restoring the whole state if it fails."""
        saved_state = dict(self.__dict__)
        try:
            return self._partial_fit(X, y, sample_weight, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            raise

    def _gradient_solver(self):
        """``available_if`` check of ``partial_fit``: only for mini-batch training."""
        if self.solver != "gradient":
            raise AttributeError(
                f"partial_fit trains on mini-batches and needs solver='gradient'; "
                f"this estimator has solver={self.solver!r}."
            )
        return True


def _partial_fit_expert(model, k, expert, batch, sample_weight, state):
    """One update of expert ``k``; a failure names it and the step, as in EM."""
    try:
        model._partial_fit_expert(expert, batch.X_expert, batch.y, sample_weight)
    except Exception as error:
        raise ExpertFitError(
            f"expert {k} ({expert!r}) failed in partial_fit at mini-batch step "
            f"{state.n_steps}: {type(error).__name__}: {error}"
        ) from error
