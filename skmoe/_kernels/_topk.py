"""Top-k selection of experts per row."""

import numpy as np

from skmoe._kernels._jit import jit


@jit
def top_k_experts(logits, k, experts, weights):
    """The ``k`` most probable experts of each row and their renormalised weights.

    ``experts[i]`` lists row ``i``'s experts by decreasing gate logit, hence gate
    probability (ties go to the lower index, as ``numpy.argmax`` does);
    ``weights[i]`` are their gate probabilities divided by their sum, that is the
    softmax of their logits alone, so the full softmax is never computed.
    """
    n_samples, n_experts = logits.shape
    for i in range(n_samples):
        total = 0.0
        for slot in range(k):
            best = -1
            best_logit = -np.inf
            for e in range(n_experts):
                taken = False
                for previous in range(slot):
                    if experts[i, previous] == e:
                        taken = True
                        break
                if not taken and logits[i, e] > best_logit:
                    best = e
                    best_logit = logits[i, e]
            experts[i, slot] = best
            weights[i, slot] = best_logit
        top = weights[i, 0]
        for slot in range(k):
            weights[i, slot] = np.exp(weights[i, slot] - top)
            total += weights[i, slot]
        for slot in range(k):
            weights[i, slot] /= total
