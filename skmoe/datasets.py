"""Data with a known ground truth: mixtures of experts, flexmix's NPreg, a line
beside a step."""

from numbers import Real

import numpy as np
from scipy.special import softmax
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
