"""Exact EM on row chunks held by Dask workers (a prototype, issue 25).

The regressor with ``LinearRegression`` / ``Ridge`` experts, the Gaussian family
and the softmax gate; sample weights, ``gate_features`` / ``expert_features``, and
the collapse policies "drop" and "raise". Every quantity of the M-step is a sum
over rows; each chunk computes its share where it lives, the client adds the
shares in chunk order and solves the small problems with the in-memory code's own
functions (``_linear._solve_into``, ``_newton._pseudo_inverse``,
``_newton._factored_step``), so that the iterates are those of ``_em.run_em``
up to the rounding of the sums.

Per EM iteration, after the first:

- pass 1, per chunk: the E-step (the new responsibilities stay on the worker)
  fused with the next M-step's sums over them: the gate's cross-entropy, its
  gradient and Hessian at the current gate, the experts' normal equations and
  weight totals, and the log-likelihood;
- pass 2, per chunk: the weighted squared residuals of the new experts (their
  variances) fused with the gate's objective at the full Newton step;
- one more pass per halving of the step, when the line search backtracks.

The per-chunk functions are in ``skmoe._distributed_chunks``; the design note is
``docs/design_distributed_em.md``.
"""

import operator
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from skmoe import _distributed_chunks as per_chunk
from skmoe._collapse import handle_collapse
from skmoe._gate import SoftmaxGate
from skmoe._linear import _ridge_alpha, _solve_into
from skmoe._newton import _factored_step, _pseudo_inverse, penalty_hessian
from skmoe._parts import Parts
from skmoe._truncated_newton import TRUNCATED_ABOVE
from skmoe._validation import resolve_features
from skmoe.families._gaussian import _TINY, _VARIANCE_FLOOR_RATIO, Gaussian

# As in _em: an expert with less than this share of the weight keeps its fit.
_MIN_WEIGHT_SHARE = 1e-10


@dataclass
class DistributedFit:
    """What :func:`fit_distributed_em` returns: the fitted parts and the run."""

    experts: list
    gate: SoftmaxGate
    family: Gaussian
    log_likelihood: float
    objective: float
    curve: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    passes: int = 0
    collapses: list = field(default_factory=list)


# ---------------------------------------------------------------------------
# The client side


class _Chunks:
    """The row chunks as futures of :class:`~skmoe._distributed_chunks.ChunkData`,
    and passes over them (``passes`` counts the round trips to the client)."""

    def __init__(self, client, X, y, sample_weight, gate_columns, expert_columns):
        self.client = client
        named = {"X": X, "y": y}
        if sample_weight is not None:
            named["sample_weight"] = sample_weight
        for name, array in named.items():
            if any(np.isnan(c) for c in array.chunks[0]):
                raise ValueError(
                    f"{name} has unknown chunk sizes; call compute_chunk_sizes() first."
                )
        if len(X.chunks[1]) != 1:
            raise ValueError("X must be chunked along its rows only.")
        for name, array in named.items():
            if array.chunks[0] != X.chunks[0]:
                raise ValueError(
                    f"X and {name} must have the same row chunks; got "
                    f"{X.chunks[0]} and {array.chunks[0]}."
                )
        self.row_chunks = X.chunks[0]
        futures = {
            name: client.compute(list(array.to_delayed().ravel()))
            for name, array in named.items()
        }
        weights = futures.get("sample_weight", [None] * len(self.row_chunks))
        # Chained to the first pass on the workers, without a round trip.
        self.data = client.map(
            per_chunk.chunk_data,
            list(range(len(self.row_chunks))),
            futures["X"],
            futures["y"],
            weights,
            gate_columns=gate_columns,
            expert_columns=expert_columns,
            pure=False,
        )
        self.unit_weight = sample_weight is None
        self.passes = 0

    def map(self, func, *per_chunk, **kwargs):
        """``func`` on every chunk (``per_chunk`` lists of futures); futures."""
        self.passes += 1
        return self.client.map(func, *per_chunk, pure=False, **kwargs)

    def gather(self, futures, item=None):
        if item is not None:
            futures = self.client.map(operator.itemgetter(item), futures)
        return self.client.gather(futures)


def _total(sums, key):
    total = sums[0][key]
    for s in sums[1:]:
        total = total + s[key]
    return total


def _check_experts(experts):
    if not all(_ridge_alpha(e) is not None for e in experts):
        raise TypeError(
            "distributed EM supports LinearRegression and Ridge experts only."
        )
    if len({e.fit_intercept for e in experts}) != 1:
        raise ValueError("distributed EM needs experts that share fit_intercept.")


def _theta(gate, n_experts, n_features):
    if getattr(gate, "_coef_std", np.empty(0)).shape == (n_experts, n_features):
        coef = gate._coef_std - gate._coef_std.mean(axis=0)
        return np.column_stack([coef, gate._intercept_std]).ravel()
    return np.zeros(n_experts * (n_features + 1))


def _newton_step(gate, theta, sums):
    """``minimize_cross_entropy(max_iter=1, reference=True, final_gradient=False)``
    on reduced sums, up to its line search.

    Returns theta, the step count, the Hessian (None if no step was needed) and,
    if the line search is to run, ``(value, step, decrease)``.
    """
    n_experts, alpha, tol = gate._n_experts, gate.alpha_, gate.tol
    params = theta.reshape(n_experts, -1)
    coef = params[:, :-1]
    n_features = coef.shape[1]
    value = _total(sums, "value") + 0.5 * alpha * np.sum(coef * coef)
    grad = _total(sums, "grad").reshape(n_experts, -1)
    grad[:, :-1] += alpha * coef
    grad = grad.ravel()
    if not np.max(np.abs(grad)) > tol:
        return theta, 0, None, None
    hessian = _total(sums, "hessian") + penalty_hessian(
        n_experts, n_features, alpha, reference=True
    )
    vectors, eigenvalues = _pseudo_inverse(hessian)
    free = np.ones(theta.size, dtype=bool)
    step = _factored_step(vectors, eigenvalues, grad, free, n_experts, True)
    decrease = -grad @ step
    if decrease <= 1e-3 * tol * max(1.0, abs(value)):
        return theta, 1, hessian, None
    return theta, 1, hessian, (value, step, decrease)


def _line_search(theta, value, step, decrease, first_value, trial_value):
    """Backtracking (Armijo) as in ``minimize_cross_entropy``; the new theta."""
    length = 1.0
    new_value = first_value
    while True:
        if new_value <= value - 1e-4 * length * decrease or length < 1e-10:
            break
        length *= 0.5
        new_value = trial_value(theta + length * step)
    if not new_value < value:
        return theta
    return theta + length * step


def _penalised(raw, theta, n_experts, alpha):
    coef = theta.reshape(n_experts, -1)[:, :-1]
    return raw + 0.5 * alpha * np.sum(coef * coef)


def _trial_pass(chunks, state, model, candidate, alpha):
    """The gate's penalised objective at ``candidate``: one pass."""
    futures = chunks.map(
        per_chunk.trial_value, chunks.data, state, model=dict(model, trial=candidate)
    )
    raw = sum(chunks.gather(futures))
    return _penalised(
        raw, candidate, model["theta"].size // (model["mean"].size + 1), alpha
    )


def _set_gate(gate, theta, n_iter, hessian):
    """The tail of ``SoftmaxGate._fit_newton``."""
    if hessian is not None:
        gate._curvature = (hessian, gate.alpha_)
    params = theta.reshape(gate._n_experts, -1)
    gate._coef_std = params[:, :-1].copy()
    gate._intercept_std = params[:, -1] - params[:, -1].mean()
    gate.n_iter_ = n_iter
    gate._set_public_coefficients()


def _start(chunks, gate, family, experts):
    """The two setup passes: the gate's standardisation, the experts' centre, the
    variance floor; the model dict the chunk functions read."""
    moments = chunks.gather(chunks.map(per_chunk.chunk_moments, chunks.data))
    total_weight = sum(m["weight"] for m in moments)
    if not total_weight > 0:
        raise ValueError("sample_weight sums to zero: there is nothing to fit.")
    mean = _total(moments, "sum_gate") / total_weight
    y_mean = sum(m["sum_y"] for m in moments) / total_weight
    low = np.min([m["low"] for m in moments], axis=0)
    high = np.max([m["high"] for m in moments], axis=0)
    spread = chunks.gather(
        chunks.map(per_chunk.chunk_spread, chunks.data, mean=mean, y_mean=y_mean)
    )
    scale = np.sqrt(_total(spread, "sq_gate") / total_weight)
    scale[(low == high) | (scale == 0)] = 1.0
    gate.mean_, gate.scale_ = mean, scale
    y_variance = sum(s["sq_y"] for s in spread) / total_weight
    family.variance_floor_ = max(
        _VARIANCE_FLOOR_RATIO * (y_variance if y_variance > 0 else 1.0), _TINY
    )
    n_rows = sum(m["n"] for m in moments)
    center = _total(moments, "sum_expert") / n_rows
    return {
        "mean": mean,
        "scale": scale,
        "center": center if experts[0].fit_intercept else np.zeros(center.size),
        "fit_intercept": experts[0].fit_intercept,
        "total_weight": total_weight,
        "unit_weight": chunks.unit_weight,
        "theta": _theta(gate, gate._n_experts, mean.size),
    }


def _solve_experts(experts, sums, model, min_weight):
    """The experts' M-step on the reduced normal equations; their weight totals."""
    totals = _total(sums, "totals")
    grams, moments_y = _total(sums, "grams"), _total(sums, "moments")
    for k, expert_k in enumerate(experts):
        if totals[k] <= min_weight:
            if hasattr(expert_k, "n_features_in_"):
                continue
            raise NotImplementedError("an unfitted expert with no weight.")
        alpha = _ridge_alpha(expert_k)
        if not _solve_into(expert_k, grams[k], moments_y[k], model["center"], alpha):
            raise NotImplementedError(
                f"expert {k}'s normal equations are too ill-conditioned."
            )
    model["experts"] = (
        np.array([e.coef_ for e in experts]),
        np.array([e.intercept_ for e in experts]),
    )
    return totals


def _collapse(action, parts, shares, threshold, n_iter):
    """``_collapse.handle_collapse`` on the client's parts; the events, as
    ``Run.collapses`` records them, and whether an expert was dropped."""
    collapsed = np.flatnonzero(shares < threshold)
    if action == "reseed":
        raise NotImplementedError("distributed EM cannot reseed an expert yet.")
    # The responsibilities live on the workers: none pass through here, and a
    # drop is followed by a fresh E-step, as in _em.run_em.
    _, actions = handle_collapse(
        action, parts, np.empty((0, len(shares))), None, collapsed
    )
    events = [
        {"iteration": n_iter, "expert": int(k), "share": float(shares[k]), "action": a}
        for k, a in actions.items()
    ]
    return events, "dropped" in actions.values()


def fit_distributed_em(
    client,
    X,
    y,
    init_resp,
    *,
    expert,
    gate=None,
    sample_weight=None,
    gate_features=None,
    expert_features=None,
    max_iter=200,
    tol=1e-6,
    collapse="drop",
    collapse_threshold=1e-3,
):
    """Exact EM for the Gaussian regressor on row-chunked Dask arrays.

    Parameters
    ----------
    client : distributed.Client
        The client whose workers hold the chunks.

    X : dask.array.Array of shape (n_samples, n_features)
        Inputs of the gate and the experts, chunked along the rows only.

    y : dask.array.Array of shape (n_samples,)
        The target, with the row chunks of ``X``.

    init_resp : ndarray or dask.array.Array of shape (n_samples, n_experts)
        The responsibilities EM starts from (as ``init`` of the estimator).

    expert : LinearRegression or Ridge
        The expert every slot clones.

    gate : SoftmaxGate, default=None
        The gate; ``SoftmaxGate()`` if None.

    sample_weight : dask.array.Array of shape (n_samples,), default=None
        Non-negative sample weights, with the row chunks of ``X``.

    gate_features, expert_features : array-like of int or bool, default=None
        The columns of ``X`` the gate and the experts read (None: all).

    max_iter, tol, collapse, collapse_threshold : see ``MixtureOfExpertsRegressor``
        ``collapse="reseed"`` raises ``NotImplementedError`` when it would act.

    Returns
    -------
    fit : DistributedFit
        The fitted experts, gate and family, and the run's log-likelihood, curve,
        iterations, convergence, collapses and round trips to the client.
    """
    import dask.array as da

    n_features = X.shape[1]
    gate_columns = resolve_features(gate_features, "gate_features", n_features)
    expert_columns = resolve_features(expert_features, "expert_features", n_features)
    n_experts = init_resp.shape[1]
    experts = [clone(expert) for expert in [expert] * n_experts]
    _check_experts(experts)
    gate = SoftmaxGate() if gate is None else clone(gate)
    gate._start_penalty()
    gate._n_experts = n_experts
    if (
        n_experts < 2
        or gate_columns.size == 0
        or expert_columns.size == 0
        or n_experts * (gate_columns.size + 1) > TRUNCATED_ABOVE
    ):
        raise NotImplementedError("the prototype needs 2+ experts, a few features.")
    chunks = _Chunks(client, X, y, sample_weight, gate_columns, expert_columns)
    family = Gaussian()
    model = _start(chunks, gate, family, experts)
    total = model["total_weight"]
    parts = Parts(experts, [None] * n_experts, gate, family)
    if not isinstance(init_resp, da.Array):
        init_resp = da.from_array(np.asarray(init_resp, dtype=np.float64))
    init_resp = init_resp.rechunk((chunks.row_chunks, n_experts))
    init = client.compute(list(init_resp.to_delayed().ravel()))
    state = chunks.map(per_chunk.first_sums, chunks.data, init, model=model)
    del init
    sums = chunks.gather(state, 1)

    min_weight = _MIN_WEIGHT_SHARE * total
    curve, collapses, previous, relaxed_at = [], [], None, None
    converged = False
    for n_iter in range(1, max_iter + 1):
        theta = model["theta"]
        step_theta, steps, hessian, search = _newton_step(gate, theta, sums)
        totals = _solve_experts(experts, sums, model, min_weight)
        model["trial"] = None if search is None else theta + search[1]
        second = chunks.gather(
            chunks.map(per_chunk.residuals_and_trial, chunks.data, state, model=model)
        )
        if search is not None:
            value, step, decrease = search

            def trial_value(candidate, state=state):
                return _trial_pass(chunks, state, model, candidate, gate.alpha_)

            first = _penalised(
                sum(s["trial"] for s in second), theta + step, n_experts, gate.alpha_
            )
            step_theta = _line_search(theta, value, step, decrease, first, trial_value)
        _set_gate(gate, step_theta, steps, hessian)
        squares = _total(second, "squares")
        family._set_variances(
            squares / np.maximum(totals, np.finfo(np.float64).tiny), totals > 0
        )
        state, sums = _e_step(chunks, model, gate, family, n_experts)
        shares = _total(sums, "totals") / total
        if np.any(shares < collapse_threshold) and n_experts > 1:
            events, dropped = _collapse(
                collapse, parts, shares, collapse_threshold, n_iter
            )
            collapses += events
            if dropped:
                n_experts = gate._n_experts = len(experts)
                model["experts"] = (
                    np.array([e.coef_ for e in experts]),
                    np.array([e.intercept_ for e in experts]),
                )
                state, sums = _e_step(chunks, model, gate, family, n_experts)
            previous = None
        log_likelihood = sum(s["log_likelihood"] for s in sums) / total
        objective = log_likelihood - gate.penalty_
        if not np.isfinite(objective):
            raise FloatingPointError(
                f"EM reached a non-finite log-likelihood at iteration {n_iter}."
            )
        curve.append(log_likelihood)
        converged = previous is not None and abs(objective - previous) < tol
        if (
            converged
            and n_iter < max_iter
            and (relaxed_at is None or log_likelihood - relaxed_at > tol)
            and gate._relax(tol)
        ):
            relaxed_at = log_likelihood
            converged = False
            objective = log_likelihood - gate.penalty_
        if converged:
            break
        previous = objective
    gate._forget()
    del gate._n_experts
    family.variance_ = np.asarray(family.variance_)
    return DistributedFit(
        experts,
        gate,
        family,
        log_likelihood,
        objective,
        curve,
        n_iter,
        converged,
        chunks.passes,
        collapses,
    )


def _e_step(chunks, model, gate, family, n_experts):
    """The E-step pass from the client's parts; the state futures and the sums."""
    model.update(
        variance=family.variance_,
        gate_coef=gate.coef_,
        gate_intercept=gate.intercept_,
        theta=_theta(gate, n_experts, model["mean"].size),
        trial=None,
    )
    state = chunks.map(per_chunk.e_step_and_sums, chunks.data, model=model)
    return state, chunks.gather(state, 1)
