"""The per-chunk work of distributed EM (``skmoe._distributed``), run on the workers.

Each function reads one row chunk, a :class:`ChunkData`, and returns a pair: what
stays on the worker for later passes (responsibilities, probabilities, outputs;
None if nothing) and small sums that the client adds up in chunk order. They call
the in-memory code unchanged: the kernels, the solvers' row functions with no
penalty (the client adds it to the sums), the family's and the gate's methods.
"""

from dataclasses import dataclass

import numpy as np

from skmoe._chunks import column_sums, float64_product, row_blocks
from skmoe._glm import _MAX_ETA
from skmoe._kernels import e_step as e_step_kernel
from skmoe._linear import _normal_equations
from skmoe._newton import (
    _cross_entropy_hessian,
    _penalized_cross_entropy,
    _penalized_cross_entropy_value,
)
from skmoe._parts import columns, gate_inputs
from skmoe._validation import check_magnitude


@dataclass
class ChunkData:
    """One row chunk: ``X``, the gate's and the experts' columns, the target as
    the experts see it and as the family encoded it, and the sample weights."""

    X: np.ndarray
    X_gate: np.ndarray
    X_expert: np.ndarray
    y: np.ndarray
    target: np.ndarray
    sample_weight: np.ndarray

    def __sizeof__(self):
        # What Dask counts as the chunk's memory (dask.sizeof falls back on
        # sys.getsizeof), so that a worker spills it by its real size; views of
        # X (all columns selected) count once.
        arrays = {}
        for array in vars(self).values():
            base = array if array.base is None else array.base
            arrays[id(base)] = getattr(base, "nbytes", array.nbytes)
        return sum(arrays.values())


def chunk_data(
    index, X, y, sample_weight, gate_columns, expert_columns, family, classifier
):
    """The chunk's :class:`ChunkData`, after the checks of a fit, which name it.

    A classifier's family knows its classes already, and encodes the labels; a
    regressor's checks and encodes the target as ``Family.prepare`` does.
    """
    try:
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise ValueError("X holds NaN or infinity.")
        check_magnitude(X, "X")
        if sample_weight is None:
            sample_weight = np.ones(X.shape[0])
        else:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if not np.all(np.isfinite(sample_weight)):
                raise ValueError("sample_weight holds NaN or infinity.")
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight holds negative weights.")
        y = np.asarray(y)
        target = family.encode(y) if classifier else family.prepare(y, sample_weight)[1]
    except ValueError as error:
        raise ValueError(f"row chunk {index}: {error}") from error
    y = np.asarray(y, dtype=np.float64) if y.dtype.kind in "biuf" else y
    return ChunkData(
        X,
        gate_inputs(X, gate_columns),
        columns(X, expert_columns),
        y,
        target,
        sample_weight,
    )


def classes(y):
    """The labels of one chunk of a classifier's target."""
    return np.unique(np.asarray(y))


def moments(data, real_target):
    """Row count, weights, and the sums of the standardisation and the centres."""
    w = data.sample_weight
    weighted = data.X_gate[w > 0]
    sums = {
        "n": data.X.shape[0],
        "weight": w.sum(),
        "sum_gate": column_sums(data.X_gate, w),
        "sum_expert": column_sums(data.X_expert),
        "low": weighted.min(axis=0, initial=np.inf),
        "high": weighted.max(axis=0, initial=-np.inf),
    }
    if real_target:
        sums["sum_y"] = w @ data.target
    return None, sums


def spread(data, mean, y_mean):
    """Weighted squared deviations from the global means (the second pass)."""
    w = data.sample_weight
    sums = {"sq_gate": np.zeros(mean.size)}
    for rows in row_blocks(*data.X_gate.shape):
        deviation = np.subtract(data.X_gate[rows], mean, dtype=data.X_gate.dtype)
        sums["sq_gate"] += w[rows] @ np.square(deviation, dtype=np.float64)
    if y_mean is not None:
        sums["sq_y"] = w @ (data.target - y_mean) ** 2
    return None, sums


def positive_rows(data):
    """The chunk's rows of positive weight (local indices)."""
    return np.flatnonzero(data.sample_weight > 0)


def take(data, rows):
    """``X``, ``y``, the target and the weights of the chunk's ``rows``."""
    return data.X[rows], data.y[rows], data.target[rows], data.sample_weight[rows]


# ---- the rows of the solvers


def design(data, spec):
    """The solver's inputs of one chunk: the gate's columns standardised, or the
    experts' columns less their centre."""
    if spec[0] == "gate":
        _, mean, scale = spec
        X = np.subtract(data.X_gate, mean, dtype=data.X_gate.dtype)
        X /= scale
        return X
    _, center, fit_intercept, dtype = spec
    if not fit_intercept and dtype is None:
        return data.X_expert
    return np.subtract(data.X_expert, center, dtype=dtype or data.X_expert.dtype)


def _problem(data, spec, targets, weights):
    """The cross-entropy rows of one chunk: inputs, targets and row weights.

    ``targets`` is the chunk's responsibilities (the gate), or None for the
    one-hot classes of its target (a logistic expert); ``weights`` is
    ``(array or None, column or None, total)``: the array's column (the sample
    weights if None) over the total.
    """
    X = design(data, spec)
    if targets is None:
        n_classes = weights[3]
        targets = np.zeros((X.shape[0], n_classes))
        targets[np.arange(X.shape[0]), data.target] = 1.0
    array, column, total = weights[:3]
    weight = data.sample_weight if array is None else array
    if column is not None:
        weight = weight[:, column]
    return X, targets, weight / total


def cross_entropy(data, targets, weights, proba, spec, theta, with_hessian, reference):
    """The unpenalised objective and gradient at ``theta`` (the probabilities
    kept), and with ``with_hessian`` the Hessian there."""
    X, targets, weight = _problem(data, spec, targets, weights)
    value, grad, proba = _penalized_cross_entropy(theta, X, targets, weight, 0.0, proba)
    sums = {"value": value, "grad": grad}
    if with_hessian:
        row_weight = weight * targets.sum(axis=1)
        sums["hessian"] = _cross_entropy_hessian(X, proba, row_weight, 0.0, reference)
    return proba, sums


def cross_entropy_value(data, targets, weights, spec, theta):
    """The unpenalised objective alone."""
    X, targets, weight = _problem(data, spec, targets, weights)
    return None, _penalized_cross_entropy_value(theta, X, targets, weight, 0.0)


def cross_entropy_hessian(data, targets, weights, proba, spec, reference):
    """The unpenalised Hessian at the probabilities ``proba``."""
    X, targets, weight = _problem(data, spec, targets, weights)
    row_weight = weight * targets.sum(axis=1)
    return None, _cross_entropy_hessian(X, proba, row_weight, 0.0, reference)


def weighted_responsibilities(data, resp):
    """Each expert's weighted responsibility, ``sum_i w_i r_ik``."""
    return None, data.sample_weight @ resp


def weighted_totals(data, weights, column, n_classes):
    """An expert's weight per class (one-hot targets) and in all."""
    weight = weights[:, column]
    per_class = np.bincount(data.target, weights=weight, minlength=n_classes)
    return None, (per_class, weight.sum())


def target_proba(data, proba):
    """The probability of each row's class."""
    return proba[np.arange(proba.shape[0]), data.target], None


def normal_equations(data, weights, experts, center, fit_intercept):
    """The normal equations of the experts ``experts`` (columns of ``weights``)."""
    return None, _normal_equations(
        data.X_expert, data.y, [weights[:, k] for k in experts], center, fit_intercept
    )


def linear_predictions(data, coef, intercept):
    """Each expert's predictions, one column per expert, kept."""
    predictions = float64_product(data.X_expert, coef.T)
    predictions += intercept
    return [predictions[:, i] for i in range(coef.shape[0])], None


def glm_totals(data, weights, column):
    """An expert's total weight and its total on the target."""
    weight = weights[:, column]
    return None, (weight.sum(), weight @ data.y)


def glm_objective(data, weights, spec, column, total, theta, loss):
    """``sum_i s_i loss(y_i, eta_i)`` over the chunk, or a count of one if
    ``exp(eta)`` would overflow; ``eta`` kept."""
    X = design(data, spec)
    eta = X @ theta[:-1] + theta[-1]
    if not np.all(eta < _MAX_ETA):
        return eta, {"value": 0.0, "overflows": 1}
    s = weights[:, column] / total
    return eta, {"value": s @ loss(data.y, eta)[0], "overflows": 0}


def glm_derivatives(data, weights, eta, spec, column, total, loss):
    """The loss's gradient and Hessian in ``theta`` at ``eta``, unpenalised."""
    X = design(data, spec)
    s = weights[:, column] / total
    _, first, second = loss(data.y, eta)
    gradient = np.append(X.T @ (s * first), s @ first)
    scaled = X * (s * second)[:, None]
    n_features = X.shape[1]
    hessian = np.empty((n_features + 1, n_features + 1))
    hessian[:-1, :-1] = scaled.T @ X
    hessian[:-1, -1] = hessian[-1, :-1] = scaled.sum(axis=0)
    hessian[-1, -1] = s @ second
    return None, (gradient, hessian)


def exp(data, eta):
    """The means of a log link, kept."""
    return np.exp(eta), None


# ---- the family and the E-step


def expert_weights(data, resp, latent, family, unit_weight):
    """The experts' weights of the M-step (kept) and their totals."""
    weights = family.expert_weights(resp, data.sample_weight, unit_weight, latent)
    return weights, column_sums(weights)


def outputs_and_fit_sums(data, known, weights, family, experts):
    """The refitted experts' outputs (kept) and the family's M-step sums."""
    outputs = family.expert_outputs(experts, data.X_expert, data.target, known)
    return outputs, family.fit_sums(outputs, data.target, weights)


def e_step(data, outputs, family, experts, gate, for_m_step, unit_weight):
    """``_em.e_step`` on one chunk: ``(log_prob, resp, weights)`` kept, with
    ``for_m_step`` the experts' weights of the next M-step (else None); the
    weighted log-likelihood, each expert's weighted responsibility and its
    weight total."""
    if outputs is None:
        outputs = family.expert_outputs(experts, data.X_expert, data.target)
    latent = family.latent_weights(outputs, data.target) if for_m_step else None
    responsibilities = family.log_likelihood(outputs, data.target, out=outputs)
    log_prob = np.empty(responsibilities.shape[0])
    for rows in row_blocks(*responsibilities.shape):
        logits = gate.decision_function(data.X_gate[rows])
        block = responsibilities[rows]
        e_step_kernel(logits, block, block, log_prob[rows])
    w = data.sample_weight
    sums = {"log_likelihood": w @ log_prob, "shares": w @ responsibilities}
    weights = None
    if for_m_step:
        weights = family.expert_weights(responsibilities, w, unit_weight, latent)
        sums["weight_totals"] = column_sums(weights)
    return (log_prob, responsibilities, weights), sums


def reseeded(resp, rows, expert):
    """The chunk's responsibilities with ``rows`` given to ``expert`` alone."""
    resp = resp.copy()
    resp[rows] = 0.0
    resp[rows, expert] = 1.0
    return resp
