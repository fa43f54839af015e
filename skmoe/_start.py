"""Where a run starts: initial responsibilities and the subsample EM starts on."""

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from skmoe._gate import standardize
from skmoe._threads import single_threaded

# init_size="auto": EM starts on this many rows when the data has twice as many
# (docs: performance.rst, "Measured choices").
AUTO_INIT_SIZE = 10_000


def initial_responsibilities(X_init, data, family, init, n_experts, seed, restart):
    """``(n_samples, n_experts)`` responsibilities that a run starts from.

    ``init`` is ``"auto"`` (k-means for the first restart, random after),
    ``"kmeans"`` (on the standardised ``X_init`` and the family's columns for the
    target), ``"random"`` (Dirichlet rows) or an array of responsibilities.
    """
    if not isinstance(init, str):
        return init.copy()
    if init == "auto":
        init = "kmeans" if restart == 0 else "random"
    n_samples = X_init.shape[0]
    if init == "random":
        rng = np.random.RandomState(seed)
        return rng.dirichlet(np.ones(n_experts), size=n_samples)
    points = np.column_stack([X_init, family.init_columns(data.target)])
    points = standardize(points, data.sample_weight)[0]
    with warnings.catch_warnings(), single_threaded("openmp"):
        # Fewer distinct points than experts leaves a cluster empty; the M-step
        # handles an expert with no rows, so KMeans's warning would only confuse.
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = (
            KMeans(n_clusters=n_experts, n_init=1, random_state=seed)
            .fit(points, sample_weight=data.sample_weight)
            .labels_
        )
    return np.eye(n_experts)[labels]


def subsample_rows(data, family, init_size, seed):
    """The sorted rows of the subsample EM starts on, or None for all rows.

    ``init_size`` rows of positive weight (``"auto"``: :data:`AUTO_INIT_SIZE`),
    drawn without replacement, when the data has at least twice as many and the
    family accepts their targets.
    """
    size = AUTO_INIT_SIZE if init_size == "auto" else init_size
    if size is None:
        return None
    candidates = data.positive_rows()
    if candidates.size < 2 * size:
        return None
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(candidates, size=size, replace=False))
    return rows if family.accepts_subsample(data.target_of(rows)) else None
