"""Data with a known ground truth: mixtures of experts, hierarchical ones,
flexmix's NPreg and a line beside a step."""

import itertools
from functools import partial
from numbers import Real

import numpy as np
from scipy.special import logsumexp, softmax
from scipy.stats import norm
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from skmoe._validation import IntegerRange
from skmoe.families import REGRESSION_FAMILIES

# The families whose experts predict the mean through a log link.
_LOG_LINK = ("poisson", "negative_binomial", "gamma")


def _draw_gate(rng, X, n_experts, gate_scale):
    """Random gate parameters and each row's expert drawn from the gate."""
    gate_coef = gate_scale * rng.standard_normal((n_experts, X.shape[1]))
    gate_intercept = np.zeros(n_experts)
    gate_proba = softmax(X @ gate_coef.T + gate_intercept, axis=1)
    cumulative = np.cumsum(gate_proba, axis=1)
    labels = (rng.uniform(size=(X.shape[0], 1)) > cumulative).sum(axis=1)
    return gate_coef, gate_intercept, np.minimum(labels, n_experts - 1)


@validate_params(
    {
        "n_samples": [IntegerRange(1, None, closed="left")],
        "n_features": [IntegerRange(1, None, closed="left")],
        "n_experts": [IntegerRange(1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="neither")],
        "gate_scale": [Interval(Real, 0, None, closed="left")],
        "coef_scale": [Interval(Real, 0, None, closed="left"), None],
        "family": [StrOptions(set(REGRESSION_FAMILIES))],
        "df": [Interval(Real, 0, None, closed="neither")],
        "dispersion": [Interval(Real, 0, None, closed="neither")],
        "shape": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "return_params": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_moe_regression(
    n_samples=1000,
    n_features=2,
    n_experts=3,
    *,
    noise=0.5,
    gate_scale=3.0,
    coef_scale=None,
    family="gaussian",
    df=3.0,
    dispersion=0.5,
    shape=2.0,
    random_state=None,
    return_params=False,
):
    """Regression data drawn from a mixture of GLM experts with a softmax gate.

    ``X ~ N(0, I)``; each row's expert ``z ~ softmax(gate_coef @ x + gate_intercept)``;
    its linear predictor ``eta = coef[z] @ x + intercept[z]``. With
    ``family="gaussian"``, ``y = eta + noise * N(0, 1)``; ``"student_t"`` draws
    ``y = eta + noise * t(df)``; the other families draw ``y`` with mean
    ``exp(eta)``: Poisson counts, negative binomial counts (variance ``mu +
    dispersion mu^2``) or Gamma amounts (variance ``mu^2 / shape``).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    n_features : int, default=2
        Number of features, seen by both the gate and the experts.

    n_experts : int, default=3
        Number of experts.

    noise : float, default=0.5
        Standard deviation of every expert's Gaussian noise, or the scale of its
        Student-t noise.

    gate_scale : float, default=3.0
        Standard deviation of the gate's coefficients: larger gives sharper regions.

    coef_scale : float, default=None
        Standard deviation of the experts' coefficients and intercepts; None
        means 3.0 for ``"gaussian"`` and ``"student_t"`` and 0.5 on the log
        link of the other families, whose intercepts are then centred on 1
        (means around ``e``).

    family : {"gaussian", "student_t", "poisson", "negative_binomial", "gamma"}, \
            default="gaussian"
        The distribution of ``y`` around each expert's mean.

    df : float, default=3.0
        Degrees of freedom of the Student-t noise.

    dispersion : float, default=0.5
        The negative binomial's dispersion.

    shape : float, default=2.0
        The Gamma's shape.

    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    return_params : bool, default=False
        Also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs.

    y : ndarray of shape (n_samples,)
        Targets.

    params : Bunch
        Only with ``return_params=True``: ``gate_coef`` (n_experts, n_features),
        ``gate_intercept`` (n_experts,), ``coef`` (n_experts, n_features),
        ``intercept`` (n_experts,), ``labels`` (n_samples,), the expert that
        generated each row, and the family's parameters, one per expert:
        ``noise_std`` (Gaussian), ``scale`` and ``df`` (Student-t),
        ``dispersion`` or ``shape``.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, params = make_moe_regression(
    ...     n_samples=5, random_state=0, return_params=True
    ... )
    >>> X.shape, y.shape, params.coef.shape
    ((5, 2), (5,), (3, 2))
    >>> X, y = make_moe_regression(n_samples=5, family="poisson", random_state=0)
    >>> y.tolist()  # counts
    [1.0, 4.0, 4.0, 0.0, 3.0]
    """
    rng = check_random_state(random_state)
    log_link = family in _LOG_LINK
    if coef_scale is None:
        coef_scale = 0.5 if log_link else 3.0
    X = rng.standard_normal((n_samples, n_features))
    gate_coef, gate_intercept, labels = _draw_gate(rng, X, n_experts, gate_scale)
    coef = coef_scale * rng.standard_normal((n_experts, n_features))
    intercept = coef_scale * rng.standard_normal(n_experts) + (1.0 if log_link else 0.0)
    eta = np.einsum("ij,ij->i", X, coef[labels]) + intercept[labels]
    y, family_params = _draw_target(rng, eta, family, noise, df, dispersion, shape)
    if not return_params:
        return X, y
    params = Bunch(
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        coef=coef,
        intercept=intercept,
        labels=labels,
        **{name: np.full(n_experts, float(v)) for name, v in family_params.items()},
    )
    return X, y, params


def _draw_target(rng, eta, family, noise, df, dispersion, shape):
    """The target around the linear predictor ``eta``, and the family's parameters."""
    if family == "gaussian":
        return eta + noise * rng.standard_normal(eta.size), {"noise_std": noise}
    if family == "student_t":
        return eta + noise * rng.standard_t(df, eta.size), {"scale": noise, "df": df}
    mean = np.exp(eta)
    if family == "poisson":
        return rng.poisson(mean).astype(np.float64), {}
    if family == "negative_binomial":
        rates = rng.gamma(1.0 / dispersion, dispersion * mean)
        return rng.poisson(rates).astype(np.float64), {"dispersion": dispersion}
    return rng.gamma(shape, mean / shape), {"shape": shape}


@validate_params(
    {
        "n_samples": [IntegerRange(1, None, closed="left")],
        "n_features": [IntegerRange(1, None, closed="left")],
        "n_experts": [IntegerRange(1, None, closed="left")],
        "n_classes": [IntegerRange(2, None, closed="left")],
        "gate_scale": [Interval(Real, 0, None, closed="left")],
        "coef_scale": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "return_params": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_moe_classification(
    n_samples=1000,
    n_features=2,
    n_experts=2,
    n_classes=2,
    *,
    gate_scale=3.0,
    coef_scale=3.0,
    random_state=None,
    return_params=False,
):
    """Classification data drawn from a mixture of logistic experts with a softmax gate.

    ``X ~ N(0, I)``; each row's expert ``z ~ softmax(gate_coef @ x + gate_intercept)``;
    ``y ~ softmax(coef[z] @ x + intercept[z])`` over ``n_classes`` classes.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    n_features : int, default=2
        Number of features, seen by both the gate and the experts.

    n_experts : int, default=2
        Number of experts.

    n_classes : int, default=2
        Number of classes, labelled ``0 .. n_classes - 1``.

    gate_scale : float, default=3.0
        Standard deviation of the gate's coefficients.

    coef_scale : float, default=3.0
        Standard deviation of the experts' coefficients and intercepts.

    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    return_params : bool, default=False
        Also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs.

    y : ndarray of shape (n_samples,)
        Integer class labels.

    params : Bunch
        Only with ``return_params=True``: ``gate_coef``, ``gate_intercept``,
        ``coef`` (n_experts, n_classes, n_features), ``intercept``
        (n_experts, n_classes) and ``labels``, the expert behind each row.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_classification
    >>> X, y = make_moe_classification(n_samples=5, n_classes=3, random_state=0)
    >>> X.shape, y.shape
    ((5, 2), (5,))
    """
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_samples, n_features))
    gate_coef, gate_intercept, labels = _draw_gate(rng, X, n_experts, gate_scale)
    coef = coef_scale * rng.standard_normal((n_experts, n_classes, n_features))
    intercept = coef_scale * rng.standard_normal((n_experts, n_classes))
    logits = np.einsum("ij,icj->ic", X, coef[labels]) + intercept[labels]
    cumulative = np.cumsum(softmax(logits, axis=1), axis=1)
    y = (rng.uniform(size=(n_samples, 1)) > cumulative).sum(axis=1)
    y = np.minimum(y, n_classes - 1)
    if not return_params:
        return X, y
    params = Bunch(
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        coef=coef,
        intercept=intercept,
        labels=labels,
    )
    return X, y, params


@validate_params(
    {
        "n_samples": [IntegerRange(1, None, closed="left")],
        "n_features": [IntegerRange(1, None, closed="left")],
        "depth": [IntegerRange(1, None, closed="left")],
        "branching": [IntegerRange(2, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="neither")],
        "gate_scale": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "return_params": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_hierarchical_moe_regression(
    n_samples=1000,
    n_features=1,
    depth=2,
    branching=2,
    *,
    noise=0.3,
    gate_scale=10.0,
    random_state=None,
    return_params=False,
):
    """Regression data drawn from a balanced hierarchical mixture of linear experts.

    The tree of Jordan and Jacobs (1994): every internal node has a softmax gate
    over its ``branching`` children, the ``branching ** depth`` leaves are linear
    Gaussian experts. ``X ~ U(-1, 1)^n_features``; each row descends from the root,
    drawing a child from each gate along its path, and ``y = coef[leaf] @ x +
    intercept[leaf] + noise * N(0, 1)``. A leaf's probability at ``x`` is the
    product of the gates' probabilities along its path.

    The true parameters are fixed (``random_state`` draws only the rows): the
    leaves split ``[-1, 1]`` along the first feature into ``n_leaves`` intervals
    of width ``w = 2 / n_leaves``, numbered left to right in the order of their
    paths; each node's gate splits its own interval into ``branching`` equal
    parts (the root the whole range, its children within their parts, and so
    on), on the first feature only. Between neighbouring children, at the
    boundary ``t``, the gate's logits differ by ``gate_scale * (x_0 - t) / w``,
    the same sharpness at every level. Leaf ``l``'s slope on the first feature is
    ``(-1)^l n_leaves`` (a rise of 2 across its interval), its mean at its
    interval's centre ``-1.5`` for even ``l`` and ``+1.5`` for odd ``l`` (a jump of
    3 at every boundary), its slope on feature ``j >= 1`` is ``(-1)^(l + j)``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    n_features : int, default=1
        Number of features. The gates split on the first; the leaves see all.

    depth : int, default=2
        Number of levels of gates: every leaf is ``depth`` gates below the root.

    branching : int, default=2
        Number of children of every gate.

    noise : float, default=0.3
        Standard deviation of every leaf's Gaussian noise.

    gate_scale : float, default=10.0
        Sharpness of the gates: the slope of the logit difference across a
        boundary, per leaf interval's width (0 gives gates of ``1 / branching``
        everywhere).

    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    return_params : bool, default=False
        Also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs.

    y : ndarray of shape (n_samples,)
        Targets.

    params : Bunch
        Only with ``return_params=True``:

        - ``gate_coef`` and ``gate_intercept``: dicts keyed by the path of each
          internal node (``()`` the root, ``(0,)`` its first child, ...), of
          arrays of shape (branching, n_features) and (branching,); the logits
          are centred over the children.
        - ``leaf_paths``: the leaves' paths, in leaf order.
        - ``coef`` (n_leaves, n_features) and ``intercept`` (n_leaves,): the
          leaves' experts; ``noise_std``: ``noise``.
        - ``leaf`` (n_samples,): the leaf that generated each row.
        - ``leaf_proba``: a function of ``X`` giving the true leaf probabilities,
          shape (n_rows, n_leaves).
        - ``log_likelihood``: a function of ``X, y`` giving each row's true
          log-likelihood, ``log sum_l leaf_proba(x)[l] N(y; coef[l] @ x +
          intercept[l], noise^2)``, all constants included.
        - ``true_log_likelihood``: its sum over the returned rows.
        - ``depth``, ``branching``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.datasets import make_hierarchical_moe_regression
    >>> X, y, params = make_hierarchical_moe_regression(
    ...     n_samples=2000, random_state=0, return_params=True
    ... )
    >>> X.shape, y.shape, params.coef.shape
    ((2000, 1), (2000,), (4, 1))
    >>> params.leaf_paths
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    >>> params.gate_coef[()].ravel().tolist()  # the root splits at x = 0
    [-10.0, 10.0]
    >>> params.gate_intercept[(0,)].tolist()  # its first child at x = -0.5
    [-5.0, 5.0]
    >>> params.coef.ravel().tolist(), params.intercept.tolist()
    ([4.0, -4.0, 4.0, -4.0], [1.5, 0.5, -2.5, 4.5])
    >>> params.leaf_proba(X[:2]).round(3)
    array([[0.   , 0.124, 0.875, 0.   ],
           [0.   , 0.   , 0.801, 0.199]])
    >>> np.bincount(params.leaf).tolist()  # rows per leaf
    [511, 481, 482, 526]
    >>> round(params.true_log_likelihood, 1)
    -887.3
    """
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    gate_coef, gate_intercept = _hierarchical_gates(
        n_features, depth, branching, gate_scale
    )
    n_leaves = branching**depth
    width = 2.0 / n_leaves
    leaves = np.arange(n_leaves)
    centres = -1.0 + (leaves + 0.5) * width
    coef = np.empty((n_leaves, n_features))
    coef[:, 0] = np.where(leaves % 2 == 0, 1.0, -1.0) * n_leaves
    for j in range(1, n_features):
        coef[:, j] = np.where((leaves + j) % 2 == 0, 1.0, -1.0)
    intercept = np.where(leaves % 2 == 0, -1.5, 1.5) - coef[:, 0] * centres

    # Descend the tree: one uniform per row and level picks a child from the
    # gate of the node the row has reached (``leaf`` holds its index so far).
    leaf = np.zeros(n_samples, dtype=np.intp)
    for level in range(depth):
        draws, reached = rng.uniform(size=n_samples), leaf.copy()
        for index, path in enumerate(itertools.product(range(branching), repeat=level)):
            rows = np.flatnonzero(reached == index)
            if rows.size == 0:
                continue
            proba = softmax(X[rows] @ gate_coef[path].T + gate_intercept[path], axis=1)
            child = (draws[rows, None] > np.cumsum(proba, axis=1)).sum(axis=1)
            leaf[rows] = index * branching + np.minimum(child, branching - 1)
    # Level by level, the nodes at a level are indexed in path order, so the
    # final index is the leaf's position in ``leaf_paths``.
    y = np.einsum("ij,ij->i", X, coef[leaf]) + intercept[leaf]
    y = y + noise * rng.standard_normal(n_samples)
    if not return_params:
        return X, y
    leaf_proba = partial(
        _hierarchical_leaf_proba,
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        depth=depth,
        branching=branching,
    )
    log_likelihood = partial(
        _hierarchical_log_likelihood,
        leaf_proba=leaf_proba,
        coef=coef,
        intercept=intercept,
        noise=noise,
    )
    params = Bunch(
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        leaf_paths=list(itertools.product(range(branching), repeat=depth)),
        coef=coef,
        intercept=intercept,
        noise_std=float(noise),
        leaf=leaf,
        leaf_proba=leaf_proba,
        log_likelihood=log_likelihood,
        true_log_likelihood=float(log_likelihood(X, y).sum()),
        depth=depth,
        branching=branching,
    )
    return X, y, params


def _hierarchical_gates(n_features, depth, branching, gate_scale):
    """Every internal node's gate: its children split its interval of ``x_0``.

    Node ``path`` at level ``len(path)`` covers the leaves from ``first`` (its
    path read as base-``branching`` digits, then shifted down to the leaf level)
    for ``branching ** (depth - level)`` leaves; child ``k``'s logit is
    ``s * (k x_0 - sum_{m <= k} t_m)``, ``t_m`` the boundary between children
    ``m - 1`` and ``m``, so neighbouring logits differ by ``s * (x_0 - t)``.
    """
    width = 2.0 / branching**depth
    slope = gate_scale / width
    gate_coef, gate_intercept = {}, {}
    for level in range(depth):
        span = branching ** (depth - level - 1)  # leaves under each child
        for path in itertools.product(range(branching), repeat=level):
            first = sum(d * branching ** (depth - 1 - i) for i, d in enumerate(path))
            children = np.arange(branching)
            boundaries = -1.0 + (first + children * span) * width
            boundaries[0] = 0.0  # child 0's logit has no boundary to the left
            coef = np.zeros((branching, n_features))
            coef[:, 0] = slope * children
            intercept = -slope * np.cumsum(boundaries)
            gate_coef[path] = coef - coef.mean(axis=0)
            gate_intercept[path] = intercept - intercept.mean()
    return gate_coef, gate_intercept


def _hierarchical_leaf_proba(X, gate_coef, gate_intercept, depth, branching):
    """The leaves' probabilities at ``X``: the products of the gates on their paths."""
    X = np.asarray(X, dtype=np.float64)
    proba = np.ones((X.shape[0], 1))
    for level in range(depth):
        paths = itertools.product(range(branching), repeat=level)
        proba = np.hstack(
            [
                proba[:, [index]]
                * softmax(X @ gate_coef[path].T + gate_intercept[path], axis=1)
                for index, path in enumerate(paths)
            ]
        )
    return proba


def _hierarchical_log_likelihood(X, y, leaf_proba, coef, intercept, noise):
    """Each row's log-likelihood under the hierarchical mixture, constants included."""
    X = np.asarray(X, dtype=np.float64)
    means = X @ coef.T + intercept
    with np.errstate(divide="ignore"):
        log_gate = np.log(leaf_proba(X))
    log_density = norm.logpdf(np.asarray(y, dtype=np.float64)[:, None], means, noise)
    return logsumexp(log_gate + log_density, axis=1)


@validate_params(
    {
        "n_per_class": [IntegerRange(1, None, closed="left")],
        "random_state": ["random_state"],
        "return_params": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_npreg(n_per_class=100, *, random_state=None, return_params=False):
    """flexmix's ``NPreg`` data: two regression curves that cross.

    Regenerated from the recipe in flexmix's documentation: ``x ~ U(0, 10)``;
    class 1: ``y = 5 x + e``; class 2: ``y = 40 - (x - 5)^2 + e``; ``e ~ 3 N(0, 1)``;
    ``n_per_class`` rows per class, class 1 first.

    Parameters
    ----------
    n_per_class : int, default=100
        Rows per class.

    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    return_params : bool, default=False
        Also return the generating model.

    Returns
    -------
    X : ndarray of shape (2 * n_per_class, 1)
        The single input ``x``.

    y : ndarray of shape (2 * n_per_class,)
        The target (flexmix's ``yn``).

    params : Bunch
        Only with ``return_params=True``: ``labels`` (0 for the line, 1 for the
        parabola), ``noise_std`` (3.0), ``priors`` ([0.5, 0.5]) and ``curves``,
        a function of ``x`` returning both curves' means as an (n, 2) array.

    Examples
    --------
    >>> from skmoe.datasets import make_npreg
    >>> X, y = make_npreg(random_state=0)
    >>> X.shape
    (200, 1)
    """
    rng = check_random_state(random_state)
    x = rng.uniform(0, 10, size=2 * n_per_class)
    labels = np.repeat([0, 1], n_per_class)
    means = _npreg_curves(x)
    y = means[np.arange(x.size), labels] + 3.0 * rng.standard_normal(x.size)
    X = x[:, None]
    if not return_params:
        return X, y
    params = Bunch(
        labels=labels, noise_std=3.0, priors=np.array([0.5, 0.5]), curves=_npreg_curves
    )
    return X, y, params


def _npreg_curves(x):
    x = np.ravel(x)
    return np.column_stack([5.0 * x, 40.0 - (x - 5.0) ** 2])


@validate_params(
    {
        "n_samples": [IntegerRange(1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_line_and_step(n_samples=600, *, noise=0.1, random_state=None):
    """One input, two regimes of different shapes: a line and a step function.

    ``x ~ U(-3, 3)``; for ``x < 0``, ``y = 1 + 2 x + e``; for ``x >= 0``,
    ``y = 4`` where ``x > 1.5`` and ``-2`` elsewhere, plus ``e``;
    ``e ~ noise N(0, 1)``. A linear expert fits the first regime and a shallow
    tree the second, and neither kind fits both: the data of the user guide's
    "A list of different experts".

    Parameters
    ----------
    n_samples : int, default=600
        Number of rows.

    noise : float, default=0.1
        Standard deviation of the Gaussian noise.

    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The single input ``x``.

    y : ndarray of shape (n_samples,)
        The target.

    Examples
    --------
    >>> from skmoe.datasets import make_line_and_step
    >>> X, y = make_line_and_step(n_samples=5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5,))
    """
    rng = check_random_state(random_state)
    x = rng.uniform(-3.0, 3.0, size=n_samples)
    step = np.where(x > 1.5, 4.0, -2.0)
    y = np.where(x < 0, 1.0 + 2.0 * x, step) + noise * rng.standard_normal(n_samples)
    return x[:, None], y
