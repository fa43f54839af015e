"""Soft, hard and top-k routing: which experts predict which rows.

Soft routing mixes every expert on every row by the gate. Hard and top-k routing
select each row's most probable experts, group the rows by expert and call each
expert only on its own rows, so prediction cost falls with ``k``.
"""

import numpy as np

from skmoe._gate import softmax
from skmoe._kernels import top_k_experts

ROUTINGS = ("soft", "hard", "top_k")


def check_routing(routing, top_k, n_experts):
    """Raise if ``routing`` or ``top_k`` cannot route ``n_experts`` experts.

    They are read at predict time, so they may have been set after fit.
    """
    if routing not in ROUTINGS:
        raise ValueError(f"routing must be one of {ROUTINGS}; got {routing!r}.")
    if routing == "top_k" and not (
        isinstance(top_k, int | np.integer)
        and not isinstance(top_k, bool)
        and 1 <= top_k <= n_experts
    ):
        raise ValueError(
            f"top_k must be an integer between 1 and n_experts={n_experts}; "
            f"got {top_k!r}."
        )


def experts_per_row(routing, top_k, n_experts):
    """How many experts ``routing`` mixes on each row."""
    return {"soft": n_experts, "hard": 1, "top_k": top_k}[routing]


def mix_experts(experts, X, gate_logits, expert_output, routing, top_k):
    """``sum_k w_ik * expert_output(experts[k], X)`` over each row's routed experts.

    Parameters
    ----------
    experts : list of fitted estimators
    X : ndarray of shape (n_samples, n_features)
        The experts' inputs.
    gate_logits : ndarray of shape (n_samples, n_experts)
        The gate's logits; overwritten.
    expert_output : callable
        ``expert_output(expert, X_rows)`` returns an array with one row per row
        of ``X_rows``.
    routing : {"soft", "hard", "top_k"}
    top_k : int
        Experts per row with ``routing="top_k"``.

    Returns
    -------
    mixed : ndarray of shape (n_samples, ...)
    """
    n_samples, n_experts = gate_logits.shape
    k = experts_per_row(routing, top_k, n_experts)
    if k == n_experts:
        gate_proba = softmax(gate_logits)
        mixed = None
        for index, expert in enumerate(experts):
            term = _weighted(gate_proba[:, index], expert_output(expert, X))
            mixed = term if mixed is None else mixed + term
        return mixed

    if k == 1:
        return _hard_mix(experts, X, gate_logits.argmax(axis=1), expert_output)
    selected = np.empty((n_samples, k), dtype=np.intp)
    weights = np.empty((n_samples, k))
    top_k_experts(gate_logits, k, selected, weights)
    # A stable sort of the flat (row, slot) positions by expert gives each expert
    # its rows in increasing order.
    order = np.argsort(selected, axis=None, kind="stable")
    counts = np.bincount(selected.ravel(), minlength=n_experts)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    flat_weights = weights.ravel()
    mixed = None
    for index, expert in enumerate(experts):
        positions = order[bounds[index] : bounds[index + 1]]
        if positions.size == 0:
            continue
        rows = positions // k
        term = _weighted(flat_weights[positions], expert_output(expert, X[rows]))
        if mixed is None:
            mixed = np.zeros((n_samples, *term.shape[1:]))
        mixed[rows] += term
    return mixed


def _hard_mix(experts, X, chosen, expert_output):
    """Each row's output from its one chosen expert (weight 1, as top-1 gives):
    without top-k's sort, the cost that dominates a few rows through a tree."""
    mixed = None
    for index, expert in enumerate(experts):
        rows = np.flatnonzero(chosen == index)
        if rows.size == 0:
            continue
        output = np.asarray(expert_output(expert, X[rows]), dtype=np.float64)
        if mixed is None:
            mixed = np.zeros((len(chosen), *output.shape[1:]))
        mixed[rows] = output
    return mixed


def _weighted(weights, output):
    output = np.asarray(output, dtype=np.float64)
    return weights.reshape(-1, *([1] * (output.ndim - 1))) * output
