"""The per-chunk work of distributed EM (``skmoe._distributed``), run on the workers.

Each function reads one chunk, a :class:`ChunkData`, and returns small sums that
the client adds in chunk order. They call the in-memory kernels unchanged.
"""

from dataclasses import dataclass

import numpy as np

from skmoe._chunks import column_sums, float64_product
from skmoe._kernels import e_step as e_step_kernel
from skmoe._kernels import gaussian_log_likelihood
from skmoe._linear import _normal_equations
from skmoe._newton import (
    _cross_entropy_hessian,
    _penalized_cross_entropy,
    _penalized_cross_entropy_value,
)
from skmoe._parts import columns, gate_inputs


@dataclass
class ChunkData:
    """One row chunk: the gate's and the experts' columns, target and weights."""

    X_gate: np.ndarray
    X_expert: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray


def chunk_data(index, X, y, sample_weight, gate_columns, expert_columns):
    """The chunk's :class:`ChunkData`, after its checks (which name it)."""
    for name, array in (("X", X), ("y", y), ("sample_weight", sample_weight)):
        if array is not None and not np.all(np.isfinite(array)):
            raise ValueError(f"chunk {index} of {name} holds NaN or infinity.")
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0])
    elif np.any(sample_weight < 0):
        raise ValueError(f"chunk {index} of sample_weight holds negative weights.")
    return ChunkData(
        gate_inputs(X, gate_columns),
        columns(X, expert_columns),
        np.asarray(y, dtype=np.float64),
        np.asarray(sample_weight, dtype=np.float64),
    )


def chunk_moments(data):
    """Sums for the standardisation, the centre and the floor."""
    w = data.sample_weight
    weighted = data.X_gate[w > 0]
    return {
        "n": data.y.shape[0],
        "weight": float(np.sum(w)),
        "sum_gate": column_sums(data.X_gate, w),
        "sum_expert": column_sums(data.X_expert),
        "sum_y": float(w @ data.y),
        "low": weighted.min(axis=0, initial=np.inf),
        "high": weighted.max(axis=0, initial=-np.inf),
    }


def chunk_spread(data, mean, y_mean):
    """Weighted squared deviations from the global means."""
    w = data.sample_weight
    return {
        "sq_gate": w @ np.square(data.X_gate - mean, dtype=np.float64),
        "sq_y": float(w @ (data.y - y_mean) ** 2),
    }


def _standardized(X, mean, scale):
    X_std = np.subtract(X, mean, dtype=X.dtype)
    X_std /= scale
    return X_std


def _expert_weights(data, resp, model):
    return resp if model["unit_weight"] else resp * data.sample_weight[:, None]


def m_step_sums(data, resp, model):
    """The next M-step's sums over one chunk, at the gate's ``theta``."""
    weights = data.sample_weight / model["total_weight"]
    X_std = _standardized(data.X_gate, model["mean"], model["scale"])
    value, grad, proba = _penalized_cross_entropy(
        model["theta"], X_std, resp, weights, 0.0
    )
    row_weight = weights * resp.sum(axis=1)
    hessian = _cross_entropy_hessian(X_std, proba, row_weight, 0.0, reference=True)
    expert_weights = _expert_weights(data, resp, model)
    grams, moments = _normal_equations(
        data.X_expert,
        data.y,
        list(expert_weights.T),
        model["center"],
        model["fit_intercept"],
    )
    return {
        "value": value,
        "grad": grad,
        "hessian": hessian,
        "grams": grams,
        "moments": moments,
        "totals": column_sums(expert_weights),
    }


def _predictions(X, experts):
    coef, intercept = experts
    outputs = float64_product(X, coef.T)
    outputs += intercept
    return outputs


def first_sums(data, resp, model):
    """The first M-step's sums, from the initial responsibilities."""
    return resp, m_step_sums(data, resp, model)


def e_step_and_sums(data, model):
    """The E-step on one chunk (its responsibilities kept) and the next sums."""
    outputs = _predictions(data.X_expert, model["experts"])
    gaussian_log_likelihood(outputs, data.y, model["variance"], outputs)
    logits = float64_product(data.X_gate, model["gate_coef"].T)
    logits += model["gate_intercept"]
    log_prob = np.empty(data.y.shape[0])
    e_step_kernel(logits, outputs, outputs, log_prob)
    sums = m_step_sums(data, outputs, model)
    sums["log_likelihood"] = float(data.sample_weight @ log_prob)
    return outputs, sums


def residuals_and_trial(data, state, model):
    """Weighted squared residuals of the new experts; the gate's trial value."""
    weights = _expert_weights(data, state[0], model)
    residuals = data.y[:, None] - _predictions(data.X_expert, model["experts"])
    sums = {"squares": np.einsum("ik,ik,ik->k", weights, residuals, residuals)}
    if model.get("trial") is not None:
        sums["trial"] = trial_value(data, state, model)
    return sums


def trial_value(data, state, model):
    """The gate's unpenalised objective at ``model["trial"]`` over one chunk."""
    weights = data.sample_weight / model["total_weight"]
    X_std = _standardized(data.X_gate, model["mean"], model["scale"])
    return _penalized_cross_entropy_value(model["trial"], X_std, state[0], weights, 0.0)
