"""Checks on the magnitude of finite inputs, which scikit-learn's validation leaves out.

EM sums squares of the data (normal equations, residual variances, the standardised
k-means points). Finite values whose squares overflow or underflow float64 would make
it fail far from the cause, so they are refused up front with a message naming them.
"""

import numpy as np

_FLOAT = np.finfo(np.float64)
# Below this a nonzero column's squares are subnormal or zero: its fit is lost.
SMALLEST_SCALE = float(np.sqrt(_FLOAT.tiny))


def largest_magnitude(n_samples):
    """The largest magnitude whose squares summed over ``n_samples`` rows are finite."""
    return float(np.sqrt(_FLOAT.max / max(n_samples, 1)))


def check_magnitude(A, name, *, allow_tiny=False):
    """Raise ValueError if finite ``A`` has values too large, or columns too small.

    ``A`` is 1-D (a target, sample weights) or 2-D (one check per column). A column
    that is all zeros is fine (constant columns are); one whose largest magnitude is
    nonzero but below :data:`SMALLEST_SCALE` is refused unless ``allow_tiny``.
    """
    if A.size == 0:
        return
    # max and min rather than abs: no temporary copy of A.
    magnitudes = np.maximum(A.max(axis=0), -A.min(axis=0)).astype(np.float64)
    largest = largest_magnitude(A.shape[0])
    too_large = float(np.max(magnitudes))
    if too_large > largest:
        raise ValueError(
            f"{name} has values too large to fit: the largest is {too_large:.3g}, "
            f"and above {largest:.3g} their sums of squares overflow float64. "
            f"Rescale {name} (for instance with StandardScaler)."
        )
    if allow_tiny:
        return
    tiny = (magnitudes > 0) & (magnitudes < SMALLEST_SCALE)
    if np.any(tiny):
        where = "" if A.ndim == 1 else f" in columns {np.flatnonzero(tiny).tolist()}"
        raise ValueError(
            f"{name} has values too small to fit{where}: all below "
            f"{SMALLEST_SCALE:.3g}, where their squares underflow float64. Rescale "
            f"{name} (for instance with StandardScaler)."
        )
