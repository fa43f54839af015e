"""Checks of a fit's inputs beyond scikit-learn's validation.

The magnitude of finite inputs: EM sums squares of the data (normal equations,
residual variances, the standardised k-means points), and finite values whose
squares overflow or underflow float64 would make it fail far from the cause, so
they are refused up front with a message naming them. And the column selections,
the initial responsibilities and the sample weights of a fit.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight, check_array

_FLOAT = np.finfo(np.float64)
# Below this a nonzero column's squares are subnormal or zero: its fit is lost.
SMALLEST_SCALE = float(np.sqrt(_FLOAT.tiny))


class IntegerRange(Interval):
    """``Interval(Integral, ...)`` that refuses booleans.

    ``True`` is an int to Python: ``n_experts=True`` would otherwise pass
    validation and reach KMeans as one cluster.
    """

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


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


def check_expert_rows(values, expert, n_rows, what, index=None):
    """``values`` as an array if it has one entry per row of the expert's input.

    An expert's ``predict`` returning the wrong number of rows (or two columns,
    flattened to twice the rows) would otherwise fail as a broadcast error that
    does not say which expert gave it. The expert (``index``, if given) is only
    formatted for the error: its repr is too slow for every prediction.
    """
    values = np.asarray(values)
    if values.ndim == 0 or values.shape[0] != n_rows:
        name = f"{expert!r}" if index is None else f"expert {index} ({expert!r})"
        raise ValueError(
            f"{name} returned {what} of shape {values.shape} for {n_rows} "
            f"rows; an expert must give one {what[:-1]} per row of its input."
        )
    return values


def resolve_features(spec, name, n_features, feature_names=None):
    """Column indices of ``spec``: None (all), indices, names or a boolean mask."""
    if spec is None:
        return np.arange(n_features)
    spec = np.asarray(spec)
    if spec.ndim != 1:
        raise ValueError(f"{name} must be a 1-D list of columns; got {spec.ndim}-D.")
    if spec.size == 0:
        return np.arange(0)
    if spec.dtype == bool:
        if spec.size != n_features:
            raise ValueError(
                f"{name} is a boolean mask of length {spec.size}, but X has "
                f"{n_features} features."
            )
        return np.flatnonzero(spec)
    if spec.dtype.kind in "UO":
        if feature_names is None:
            raise ValueError(
                f"{name} names columns, but X has no column names; pass a "
                "DataFrame or give column indices. Inside a Pipeline, call "
                "set_output(transform='pandas') on it so that the steps before "
                "the mixture (a ColumnTransformer) hand it named columns."
            )
        lookup = {feature: i for i, feature in enumerate(feature_names)}
        unknown = [str(c) for c in spec if c not in lookup]
        if unknown:
            raise ValueError(f"{name} names unknown columns: {unknown}.")
        columns = np.array([lookup[c] for c in spec])
    elif spec.dtype.kind in "iu":
        columns = spec.astype(np.intp)
        bad = columns[(columns < 0) | (columns >= n_features)]
        if bad.size:
            raise ValueError(
                f"{name} has column indices {bad.tolist()} outside "
                f"[0, {n_features}) for X with {n_features} features."
            )
    else:
        raise ValueError(
            f"{name} must hold column indices, column names or a boolean mask; "
            f"got dtype {spec.dtype}."
        )
    if np.unique(columns).size != columns.size:
        raise ValueError(f"{name} lists a column more than once.")
    return columns


def check_init(init, n_samples, n_experts):
    """``init`` as a fit reads it: a string, or validated responsibilities."""
    if isinstance(init, str):
        return init
    init = check_array(init, dtype=np.float64)
    expected = (n_samples, n_experts)
    if init.shape != expected:
        raise ValueError(
            f"init must be 'kmeans', 'random' or responsibilities of shape "
            f"(n_samples, n_experts)={expected}; got shape {init.shape}."
        )
    if np.any(init < 0) or not np.allclose(init.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(
            "init responsibilities must be non-negative with rows summing to 1."
        )
    return init


def check_init_size(init_size, n_experts):
    """Raise if the subsample start would have fewer rows than experts."""
    if isinstance(init_size, Integral) and init_size < n_experts:
        raise ValueError(
            f"init_size={init_size} is below n_experts={n_experts}: the subsample "
            "EM starts on needs at least one row per expert. Raise init_size, or "
            "set init_size=None to start on all rows."
        )


def check_fit_weights(sample_weight, X):
    """Non-negative float64 sample weights with a positive sum (ones if None)."""
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight sums to zero: there is nothing to fit.")
    return sample_weight
