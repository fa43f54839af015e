"""Experts that collapse: what EM does when an expert's share of the data vanishes.

An expert collapses when its share of the responsibility, ``sum_i w_i r_ik /
sum_i w_i``, falls below ``collapse_threshold`` after an E-step: it then explains
(almost) no row, its fit is (almost) unconstrained, and left alone it either sits
unused or, with experts that can interpolate, drives the likelihood towards a
singularity. ``collapse`` says what happens:

- ``"drop"``: the expert is removed with its gate output and noise variance; EM
  goes on with one expert fewer (never fewer than one);
- ``"reseed"``: the expert is given the rows the model explains worst (a share of
  ``1 / n_experts`` of them) as its responsibilities, and EM goes on; an expert
  that collapses again after a reseed is dropped, so that EM always ends;
- ``"raise"``: the fit fails with :class:`~skmoe.exceptions.ExpertCollapseError`.
"""

import numpy as np

from skmoe.exceptions import ExpertCollapseError

COLLAPSE_ACTIONS = ("drop", "reseed", "raise")


def collapsed_experts(resp, sample_weight, threshold):
    """Indices of the experts whose share of the responsibility is below ``threshold``,
    with their shares."""
    shares = sample_weight @ resp / sample_weight.sum()
    return np.flatnonzero(shares < threshold), shares


def handle_collapse(action, parts, resp, log_prob, indices):
    """Drop, reseed or raise for the collapsed experts ``indices``.

    Returns the responsibilities EM continues from (rows renormalised after a drop)
    and the action taken on each expert, by index. An expert whose updater says it
    was reseeded before in this run is dropped now.
    """
    if action == "raise":
        raise ExpertCollapseError(
            f"expert(s) {indices.tolist()} fell below collapse_threshold: they "
            "explain (almost) none of the data. Use fewer experts, or "
            "collapse='drop' or 'reseed' to let EM carry on."
        )
    actions = {}
    for k in indices:
        if action == "reseed" and not parts.updaters[k].reseeded:
            parts.updaters[k].reseeded = True
            worst = np.argsort(log_prob)[: max(1, resp.shape[0] // resp.shape[1])]
            resp[worst] = 0.0
            resp[worst, k] = 1.0
            actions[k] = "reseeded"
        elif len(parts.experts) - sum(a == "dropped" for a in actions.values()) > 1:
            actions[k] = "dropped"
        else:
            actions[k] = "kept: the last expert"
    to_drop = [k for k, taken in actions.items() if taken == "dropped"]
    for k in sorted(to_drop, reverse=True):
        parts.drop(k)
    if to_drop:
        resp = np.delete(resp, to_drop, axis=1)
        totals = resp.sum(axis=1, keepdims=True)
        # A row that only the dropped experts explained is shared evenly.
        even = 1.0 / resp.shape[1]
        resp = np.where(totals > 0, resp / np.maximum(totals, 1e-300), even)
    return resp, actions
