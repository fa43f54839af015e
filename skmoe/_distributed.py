"""Exact EM on row chunks held by Dask workers (a prototype, issue 25).

The regressor with ``LinearRegression`` / ``Ridge`` experts, the Gaussian family
and the softmax gate, unit sample weights. Every quantity of the M-step is a sum
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

The design note is ``docs/design_distributed_em.md``.
"""

import operator
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from skmoe._chunks import column_sums, float64_product
from skmoe._gate import SoftmaxGate
from skmoe._kernels import e_step as e_step_kernel
from skmoe._kernels import gaussian_log_likelihood
from skmoe._linear import _normal_equations, _ridge_alpha, _solve_into
from skmoe._newton import (
    _cross_entropy_hessian,
    _factored_step,
    _penalized_cross_entropy,
    _penalized_cross_entropy_value,
    _pseudo_inverse,
    penalty_hessian,
)
from skmoe._truncated_newton import TRUNCATED_ABOVE
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


# ---------------------------------------------------------------------------
# Per-chunk work (runs on the workers)


def _chunk_moments(index, X, y):
    """Sums for the standardisation and the centre, and the chunk's checks."""
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"chunk {index} of the input holds NaN or infinity.")
    return {
        "n": X.shape[0],
        "sum_x": column_sums(X),
        "sum_y": float(np.sum(y)),
        "low": X.min(axis=0, initial=np.inf),
        "high": X.max(axis=0, initial=-np.inf),
    }


def _chunk_spread(X, y, mean, y_mean):
    """Squared deviations from the global means, for the scales and the floor."""
    return {
        "sq_x": np.ones(X.shape[0]) @ np.square(X - mean, dtype=np.float64),
        "sq_y": float(np.sum((y - y_mean) ** 2)),
    }


def _standardized(X, mean, scale):
    X_std = np.subtract(X, mean, dtype=X.dtype)
    X_std /= scale
    return X_std


def _m_step_sums(X, y, resp, model):
    """The next M-step's sums over one chunk, at the gate's ``theta``."""
    weights = model["row_weight"] * np.ones(X.shape[0])
    X_std = _standardized(X, model["mean"], model["scale"])
    value, grad, proba = _penalized_cross_entropy(
        model["theta"], X_std, resp, weights, 0.0
    )
    row_weight = weights * resp.sum(axis=1)
    hessian = _cross_entropy_hessian(X_std, proba, row_weight, 0.0, reference=True)
    grams, moments = _normal_equations(
        X, y, list(resp.T), model["center"], model["fit_intercept"]
    )
    return {
        "value": value,
        "grad": grad,
        "hessian": hessian,
        "grams": grams,
        "moments": moments,
        "totals": column_sums(resp),
    }


def _predictions(X, experts):
    coef, intercept = experts
    outputs = float64_product(X, coef.T)
    outputs += intercept
    return outputs


def _first_sums(X, y, resp, model):
    """The first M-step's sums, from the initial responsibilities."""
    return resp, _m_step_sums(X, y, resp, model)


def _e_step_and_sums(X, y, model):
    """The E-step on one chunk (its responsibilities kept) and the next sums."""
    outputs = _predictions(X, model["experts"])
    gaussian_log_likelihood(outputs, y, model["variance"], outputs)
    logits = float64_product(X, model["gate_coef"].T)
    logits += model["gate_intercept"]
    log_prob = np.empty(X.shape[0])
    e_step_kernel(logits, outputs, outputs, log_prob)
    sums = _m_step_sums(X, y, outputs, model)
    sums["log_likelihood"] = float(np.ones(X.shape[0]) @ log_prob)
    return outputs, sums


def _residuals_and_trial(X, y, state, model):
    """Weighted squared residuals of the new experts; the gate's trial value."""
    resp = state[0]
    residuals = y[:, None] - _predictions(X, model["experts"])
    sums = {"squares": np.einsum("ik,ik,ik->k", resp, residuals, residuals)}
    if model.get("trial") is not None:
        sums["trial"] = _trial_value(X, state, model)
    return sums


def _trial_value(X, state, model):
    weights = model["row_weight"] * np.ones(X.shape[0])
    X_std = _standardized(X, model["mean"], model["scale"])
    return _penalized_cross_entropy_value(model["trial"], X_std, state[0], weights, 0.0)


# ---------------------------------------------------------------------------
# The client side


class _Chunks:
    """The row chunks of ``X`` and ``y`` as futures, and passes over them."""

    def __init__(self, client, X, y):
        self.client = client
        if any(np.isnan(c) for c in X.chunks[0]) or any(
            np.isnan(c) for c in y.chunks[0]
        ):
            raise ValueError(
                "X or y has unknown chunk sizes; call compute_chunk_sizes() first."
            )
        if len(X.chunks[1]) != 1:
            raise ValueError("X must be chunked along its rows only.")
        if X.chunks[0] != y.chunks[0]:
            raise ValueError(
                f"X and y must have the same row chunks; got {X.chunks[0]} and "
                f"{y.chunks[0]}."
            )
        self.row_chunks = X.chunks[0]
        self.X = client.compute(list(X.to_delayed().ravel()))
        self.y = client.compute(list(y.to_delayed().ravel()))
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
        _trial_value, chunks.X, state, model=dict(model, trial=candidate)
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


def fit_distributed_em(
    client,
    X,
    y,
    init_resp,
    *,
    expert,
    gate=None,
    max_iter=200,
    tol=1e-6,
    collapse_threshold=1e-3,
):
    """Exact EM for the Gaussian regressor on row-chunked Dask arrays.

    Parameters
    ----------
    client : distributed.Client
        The client whose workers hold the chunks.

    X : dask.array.Array of shape (n_samples, n_features)
        Inputs of both the gate and the experts, chunked along the rows only.

    y : dask.array.Array of shape (n_samples,)
        The target, with the row chunks of ``X``.

    init_resp : ndarray or dask.array.Array of shape (n_samples, n_experts)
        The responsibilities EM starts from (as ``init`` of the estimator).

    expert : LinearRegression or Ridge
        The expert every slot clones.

    gate : SoftmaxGate, default=None
        The gate; ``SoftmaxGate()`` if None.

    max_iter, tol, collapse_threshold : see ``MixtureOfExpertsRegressor``.

    Returns
    -------
    fit : DistributedFit
        The fitted experts, gate and family, and the run's log-likelihood,
        curve, iterations, convergence and number of passes over the chunks.
    """
    import dask.array as da

    chunks = _Chunks(client, X, y)
    n_features = X.shape[1]
    n_experts = init_resp.shape[1]
    experts = [clone(expert) for expert in [expert] * n_experts]
    _check_experts(experts)
    gate = SoftmaxGate() if gate is None else clone(gate)
    gate._start_penalty()
    gate._n_experts = n_experts
    if (
        n_experts < 2
        or n_features == 0
        or n_experts * (n_features + 1) > TRUNCATED_ABOVE
    ):
        raise NotImplementedError("the prototype needs 2+ experts, a few features.")

    indices = list(range(len(chunks.X)))
    moments = chunks.gather(chunks.map(_chunk_moments, indices, chunks.X, chunks.y))
    total = float(sum(m["n"] for m in moments))
    mean = _total(moments, "sum_x") / total
    y_mean = sum(m["sum_y"] for m in moments) / total
    low = np.min([m["low"] for m in moments], axis=0)
    high = np.max([m["high"] for m in moments], axis=0)
    spread = chunks.gather(
        chunks.map(_chunk_spread, chunks.X, chunks.y, mean=mean, y_mean=y_mean)
    )
    scale = np.sqrt(_total(spread, "sq_x") / total)
    scale[(low == high) | (scale == 0)] = 1.0
    gate.mean_, gate.scale_ = mean, scale
    y_variance = sum(s["sq_y"] for s in spread) / total
    family = Gaussian()
    family.variance_floor_ = max(
        _VARIANCE_FLOOR_RATIO * (y_variance if y_variance > 0 else 1.0), _TINY
    )
    model = {
        "mean": mean,
        "scale": scale,
        "center": mean if experts[0].fit_intercept else np.zeros(n_features),
        "fit_intercept": experts[0].fit_intercept,
        "row_weight": 1.0 / total,
        "theta": _theta(gate, n_experts, n_features),
    }
    if not isinstance(init_resp, da.Array):
        init_resp = da.from_array(np.asarray(init_resp, dtype=np.float64))
    init_resp = init_resp.rechunk((chunks.row_chunks, n_experts))
    init = client.compute(list(init_resp.to_delayed().ravel()))
    state = chunks.map(_first_sums, chunks.X, chunks.y, init, model=model)
    del init
    sums = chunks.gather(state, 1)

    min_weight = _MIN_WEIGHT_SHARE * total
    curve, previous, relaxed_at = [], None, None
    converged = False
    for n_iter in range(1, max_iter + 1):
        theta = model["theta"]
        step_theta, steps, hessian, search = _newton_step(gate, theta, sums)
        totals = _total(sums, "totals")
        grams, moments_y = _total(sums, "grams"), _total(sums, "moments")
        for k, expert_k in enumerate(experts):
            if totals[k] <= min_weight:
                if hasattr(expert_k, "n_features_in_"):
                    continue
                raise NotImplementedError("an unfitted expert with no weight.")
            if not _solve_into(
                expert_k,
                grams[k],
                moments_y[k],
                model["center"],
                _ridge_alpha(expert_k),
            ):
                raise NotImplementedError(
                    f"expert {k}'s normal equations are too ill-conditioned."
                )
        model["experts"] = (
            np.array([e.coef_ for e in experts]),
            np.array([e.intercept_ for e in experts]),
        )
        model["trial"] = None if search is None else theta + search[1]
        second = chunks.gather(
            chunks.map(_residuals_and_trial, chunks.X, chunks.y, state, model=model)
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
        model.update(
            variance=family.variance_,
            gate_coef=gate.coef_,
            gate_intercept=gate.intercept_,
            theta=_theta(gate, n_experts, n_features),
            trial=None,
        )
        state = chunks.map(_e_step_and_sums, chunks.X, chunks.y, model=model)
        sums = chunks.gather(state, 1)
        shares = _total(sums, "totals") / total
        if np.any(shares < collapse_threshold):
            raise NotImplementedError(
                f"experts {np.flatnonzero(shares < collapse_threshold).tolist()} "
                "collapsed; the prototype handles no collapse."
            )
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
    )
