"""Data with a known ground truth: mixtures of experts and flexmix's NPreg."""

from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params


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
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="neither")],
        "gate_scale": [Interval(Real, 0, None, closed="left")],
        "coef_scale": [Interval(Real, 0, None, closed="left")],
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
    coef_scale=3.0,
    random_state=None,
    return_params=False,
):
    """Regression data drawn from a mixture of linear experts with a softmax gate.

    ``X ~ N(0, I)``; each row's expert ``z ~ softmax(gate_coef @ x + gate_intercept)``;
    ``y = coef[z] @ x + intercept[z] + noise * N(0, 1)``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    n_features : int, default=2
        Number of features, seen by both the gate and the experts.

    n_experts : int, default=3
        Number of experts.

    noise : float, default=0.5
        Standard deviation of every expert's Gaussian noise.

    gate_scale : float, default=3.0
        Standard deviation of the gate's coefficients: larger gives sharper regions.

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
        Targets.

    params : Bunch
        Only with ``return_params=True``: ``gate_coef`` (n_experts, n_features),
        ``gate_intercept`` (n_experts,), ``coef`` (n_experts, n_features),
        ``intercept`` (n_experts,), ``noise_std`` (n_experts,) and ``labels``
        (n_samples,), the expert that generated each row.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, params = make_moe_regression(
    ...     n_samples=5, random_state=0, return_params=True
    ... )
    >>> X.shape, y.shape, params.coef.shape
    ((5, 2), (5,), (3, 2))
    """
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_samples, n_features))
    gate_coef, gate_intercept, labels = _draw_gate(rng, X, n_experts, gate_scale)
    coef = coef_scale * rng.standard_normal((n_experts, n_features))
    intercept = coef_scale * rng.standard_normal(n_experts)
    y = np.einsum("ij,ij->i", X, coef[labels]) + intercept[labels]
    y += noise * rng.standard_normal(n_samples)
    if not return_params:
        return X, y
    params = Bunch(
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        coef=coef,
        intercept=intercept,
        noise_std=np.full(n_experts, float(noise)),
        labels=labels,
    )
    return X, y, params


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
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
        "n_per_class": [Interval(Integral, 1, None, closed="left")],
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
