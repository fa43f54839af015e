"""Top-k selection of experts per row."""

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def top_k_experts(gate_proba, k, experts, weights):
    """The ``k`` most probable experts of each row and their renormalised weights.

    ``experts[i]`` lists row ``i``'s experts by decreasing gate probability (ties go
    to the lower index, as ``numpy.argmax`` does); ``weights[i]`` are their gate
    probabilities divided by their sum.
    """
    n_samples, n_experts = gate_proba.shape
    for i in numba.prange(n_samples):
        total = 0.0
        for slot in range(k):
            best = -1
            best_proba = -np.inf
            for e in range(n_experts):
                taken = False
                for previous in range(slot):
                    if experts[i, previous] == e:
                        taken = True
                        break
                if not taken and gate_proba[i, e] > best_proba:
                    best = e
                    best_proba = gate_proba[i, e]
            experts[i, slot] = best
            weights[i, slot] = best_proba
            total += best_proba
        for slot in range(k):
            weights[i, slot] /= total
