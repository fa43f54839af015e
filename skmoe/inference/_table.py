"""The coefficient table: every parameter with its standard error and interval.

``coefficient_table`` reads the fitted mixture's parameters (the layout of
:func:`parameter_blocks`), gets their covariance from the observed information
(:class:`MixtureLikelihood`) or their spread from the bootstrap, and returns one
row per parameter, as flexmix's ``summary(refit(m))`` does.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.stats import norm
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight, column_or_1d

from skmoe.inference._observed import MixtureLikelihood
from skmoe.inference._parameters import parameter_blocks
from skmoe.inspection._summary_parts import _feature_names
from skmoe.inspection._unwrap import fitted_mixture

#: The columns of the table, in order.
COLUMNS = [
    "component",
    "parameter",
    "estimate",
    "std_error",
    "z",
    "p_value",
    "ci_low",
    "ci_high",
    "estimable",
]

#: Most parameters the observed information is computed for: its (P, P) matrix
#: and its eigendecomposition stay below a second and some 30 MB.
MAX_PARAMETERS = 2000

#: Eigenvalues of the information below this share of the largest are its null
#: space: directions the data do not determine.
_RANK_RTOL = 1e-10

#: A reported parameter is estimable when its direction has at most this share
#: of its length in the null space.
_ESTIMABLE_RTOL = 1e-6

#: A Newton step from the fit longer than this many standard errors, in any
#: parameter, means the fit is not at the likelihood's maximum.
_STEP_TOLERANCE = 0.1


class InferenceWarning(UserWarning):
    """The coefficient table holds parameters without a standard error, or the
    fit is not where the standard errors assume it is."""


@validate_params(
    {
        "estimator": [object],
        "X": ["array-like"],
        "y": ["array-like"],
        "method": [StrOptions({"observed", "bootstrap"})],
        "sample_weight": ["array-like", None],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "n_resamples": [Interval(Integral, 2, None, closed="left"), None],
        "parametric": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def coefficient_table(
    estimator,
    X,
    y,
    *,
    method="observed",
    sample_weight=None,
    confidence_level=0.95,
    n_resamples=None,
    parametric=False,
    n_jobs=None,
    random_state=None,
):
    """Every parameter of a fitted mixture with its standard error and interval.

    One row per parameter: per expert its coefficients (the intercept first; a
    multinomial expert's logits of each class against its first class) and its
    family's parameters (noise variance, Student-t scale and degrees of freedom,
    dispersion, shape); a family parameter all experts share; then the gate's
    logits of each expert against expert 0 (the reference coding flexmix's
    concomitant model reports), its intercept first. Nothing changes the model.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor, MixtureOfExpertsClassifier or Pipeline
        A fitted mixture, or a fitted Pipeline whose last step is one (``X`` then
        goes through the steps before it, and the columns are named as they name
        their outputs).

    X : array-like of shape (n_samples, n_features)
        The inputs, normally the data the model was fitted on.

    y : array-like of shape (n_samples,)
        The targets.

    method : {"observed", "bootstrap"}, default="observed"
        ``"observed"``: the inverse of the observed information, the exact
        negative Hessian of the mixture's log-likelihood over all parameters at
        once, with Wald intervals (for linear and GLM experts, logistic experts
        and skmoe's families; the model must have been fitted by ``solver="em"``).
        ``"bootstrap"``: refits on resampled data, percentile intervals; for any
        expert. See the user guide's "Inference" page.

    sample_weight : array-like of shape (n_samples,), default=None
        The weights the model was fitted with.

    confidence_level : float, default=0.95
        Coverage of the intervals, in (0, 1).

    n_resamples : int, default=None
        Bootstrap refits (``method="bootstrap"`` only); None means 200.

    parametric : bool, default=False
        Draw the bootstrap's targets from the fitted model instead of resampling
        rows (``method="bootstrap"`` only).

    n_jobs : int, default=None
        Parallel bootstrap refits, through joblib (``method="bootstrap"`` only).

    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap (``method="bootstrap"`` only).

    Returns
    -------
    table : pandas.DataFrame
        Columns ``component`` (the expert's name in ``expert_names_``:
        ``"expert k"``, or a list's own name; ``"all experts"``; or ``"gate: "``
        and the name), ``parameter``, ``estimate``, ``std_error``, ``z``,
        ``p_value`` (two-sided, of the parameter being zero), ``ci_low``,
        ``ci_high`` and ``estimable``. A family parameter is positive: its
        interval is computed on the log scale, and it has no test against zero
        (``z`` and ``p_value`` are NaN in its rows, and only there). A parameter
        the data do not determine (a collinear or constant column), or a family
        parameter fitted to a bound of its range, has ``estimable`` False,
        ``std_error`` inf, ``z`` 0, ``p_value`` 1 and an interval of all values,
        and an ``InferenceWarning`` names it. The attribute ``table.attrs``
        holds the method, the confidence level and, for the bootstrap, the
        resamples kept and each expert's share of collapsed resamples.

    Raises
    ------
    ValueError
        For ``method="observed"``: a bootstrap option given, an expert without
        a parametric form the information knows (a tree, a nearest-neighbour
        model), a family of one's own, a model fitted by ``solver="gradient"``
        or ``"cem"``, or more than ``MAX_PARAMETERS`` parameters; each before
        any work. For ``method="bootstrap"``: fewer than 2 resamples whose
        refit kept every expert.

    Notes
    -----
    p-values after choosing the number of experts (or the features) on the same
    data are optimistic, as flexmix's vignette warns.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_npreg
    >>> from skmoe.inference import coefficient_table
    >>> X, y = make_npreg(random_state=0)
    >>> Z = np.column_stack([X[:, 0], X[:, 0] ** 2])
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(Z, y)
    >>> table = coefficient_table(moe, Z, y)
    >>> list(table.columns[:4])
    ['component', 'parameter', 'estimate', 'std_error']
    >>> bool((table["ci_low"] < table["estimate"]).all())
    True
    """
    pd = _pandas()
    mixture, X, names = fitted_mixture(estimator, X, "coefficient_table")
    if method == "observed":
        _check_observed(mixture, n_resamples, parametric, n_jobs, random_state)
    # The model's own validation, with its messages, before any work.
    mixture.score_samples(X, y)
    # The bootstrap refits on X as the mixture was fitted on it (a DataFrame for
    # columns chosen by name); the information reads the validated array.
    X_given, X = X, np.asarray(mixture._validate_X(X), dtype=np.float64)
    y = column_or_1d(y)
    sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
    expert_names = _feature_names(names, mixture.expert_features_)
    gate_names = _feature_names(names, mixture.gate_features_)
    blocks = parameter_blocks(mixture, expert_names, gate_names)
    labels = [f"{b.component}: {name}" for b in blocks for name in b.names]
    estimates = np.concatenate([b.estimates for b in blocks])
    attrs = {"method": method, "confidence_level": confidence_level}
    if method == "observed":
        columns = _observed(
            mixture, X, y, sample_weight, estimates, labels, confidence_level
        )
    else:
        columns = _bootstrap(
            mixture,
            X_given,
            y,
            sample_weight,
            estimates,
            attrs,
            expert_names=expert_names,
            gate_names=gate_names,
            n_resamples=200 if n_resamples is None else n_resamples,
            confidence_level=confidence_level,
            parametric=parametric,
            n_jobs=n_jobs,
            random_state=random_state,
        )
    table = pd.DataFrame(
        {
            "component": [b.component for b in blocks for _ in b.names],
            "parameter": [name for b in blocks for name in b.names],
            "estimate": estimates,
            **columns,
        },
        columns=COLUMNS,
    )
    table.attrs.update(attrs)
    return table


def _check_observed(mixture, n_resamples, parametric, n_jobs, random_state):
    bootstrap_only = {
        "n_resamples": n_resamples is not None,
        "parametric": parametric,
        "n_jobs": n_jobs is not None,
        "random_state": random_state is not None,
    }
    given = [name for name, set_ in bootstrap_only.items() if set_]
    if given:
        raise ValueError(
            f"{', '.join(given)} apply to method='bootstrap' only; "
            "method='observed' has no resamples."
        )
    if mixture.solver != "em":
        raise ValueError(
            "method='observed' needs a model fitted by solver='em', whose fit is a "
            "maximum of the likelihood; this one was fitted by "
            f"solver={mixture.solver!r}, which stops short of it (mini-batch "
            "steps, or hard assignments). Refit with solver='em', or use "
            "method='bootstrap'."
        )
    n_features = mixture.n_features_in_
    n_parameters = sum(
        len(b.names)
        for b in parameter_blocks(mixture, [""] * n_features, [""] * n_features)
    )
    if n_parameters > MAX_PARAMETERS:
        raise ValueError(
            f"the model has {n_parameters} parameters; the observed information "
            f"is computed for at most {MAX_PARAMETERS} (its matrix grows as the "
            "square of their number). Use method='bootstrap'."
        )


def _observed(mixture, X, y, sample_weight, estimates, labels, level):
    """The table's columns from the inverse of the observed information.

    The covariance is the pseudo-inverse of the information in the likelihood's
    standardised coordinates, mapped to the reported units by its jacobian
    ``J``: ``J Cov J^T``. A reported parameter whose row of ``J`` reaches into
    the information's null space is not determined by the data.
    """
    likelihood = MixtureLikelihood(mixture, X, y, sample_weight)
    _, gradient, information = likelihood.evaluate(likelihood.theta)
    on_bound = np.isin(np.arange(estimates.size), list(likelihood.on_bound))
    free = np.flatnonzero(~on_bound)
    covariance, null = _pseudo_inverse(information[np.ix_(free, free)])
    _check_maximum(covariance, gradient[free], [labels[j] for j in free])

    jacobian = likelihood.jacobian[:, free]
    variance = np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian)
    reach = np.linalg.norm(jacobian @ null, axis=1)
    singular = reach > _ESTIMABLE_RTOL * np.linalg.norm(jacobian, axis=1)
    log_se = np.zeros(estimates.size)
    log_se[free] = np.sqrt(np.maximum(covariance.diagonal(), 0.0))
    _warn_unestimable(labels, singular & ~on_bound, on_bound)
    return _wald(
        estimates,
        np.sqrt(np.maximum(variance, 0.0)),
        log_se,
        likelihood.log_scale,
        ~(singular | on_bound),
        level,
    )


def _pseudo_inverse(information):
    """The pseudo-inverse of a symmetric ``information`` and its null space.

    Eigenvalues at most ``_RANK_RTOL`` of the largest count as zero; one below
    minus that means the fit is a saddle, not a maximum, and its directions join
    the null space with a warning.
    """
    values, vectors = np.linalg.eigh(0.5 * (information + information.T))
    top = np.abs(values).max(initial=0.0)
    keep = values > _RANK_RTOL * top
    if np.any(values < -_RANK_RTOL * top):
        warnings.warn(
            "The observed information is not positive definite: the fit is a "
            "saddle point of the likelihood, not a maximum, along some "
            "directions; the parameters they move have no standard error.",
            InferenceWarning,
            stacklevel=5,
        )
    kept = vectors[:, keep]
    return (kept / values[keep]) @ kept.T, vectors[:, ~keep]


def _check_maximum(covariance, gradient, labels):
    """Warn when a Newton step from the fit moves a parameter by more than
    ``_STEP_TOLERANCE`` of its standard error."""
    step = covariance @ gradient
    scale = np.sqrt(np.maximum(covariance.diagonal(), 0.0))
    ratio = np.divide(np.abs(step), scale, out=np.zeros_like(step), where=scale > 0)
    if ratio.size and ratio.max() > _STEP_TOLERANCE:
        worst = int(np.argmax(ratio))
        warnings.warn(
            f"The fit is not at the likelihood's maximum: a Newton step would move "
            f"{labels[worst]} by {ratio[worst]:.2g} standard errors. The standard "
            "errors assume a maximum; the model may not have converged (raise "
            "max_iter or lower tol) or be penalised (the experts' alpha or C, "
            "the gate's alpha).",
            InferenceWarning,
            stacklevel=5,
        )


def _wald(estimates, std_error, log_se, log_scale, estimable, level):
    """z, p-values and Wald intervals; a positive family parameter's interval is
    the exponential of its log's, and an undetermined parameter's is all values."""
    critical = norm.ppf(0.5 + level / 2)
    std_error = np.where(estimable, std_error, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(estimable, estimates / std_error, 0.0)
    low = np.where(
        log_scale,
        estimates * np.exp(-critical * log_se),
        estimates - critical * std_error,
    )
    high = np.where(
        log_scale,
        estimates * np.exp(critical * log_se),
        estimates + critical * std_error,
    )
    low = np.where(estimable, low, np.where(log_scale, 0.0, -np.inf))
    high = np.where(estimable, high, np.inf)
    return {
        "std_error": std_error,
        "z": z,
        "p_value": 2 * norm.sf(np.abs(z)),
        "ci_low": low,
        "ci_high": high,
        "estimable": estimable,
    }


def _bootstrap(mixture, X, y, sample_weight, estimates, attrs, **options):
    """The table's columns from bootstrap refits, with percentile intervals."""
    from skmoe.inference._bootstrap import bootstrap_intervals

    result = bootstrap_intervals(mixture, X, y, sample_weight, **options)
    attrs.update(
        n_resamples=result.n_resamples,
        n_kept=result.n_kept,
        n_failed=result.n_failed,
        collapsed_share=np.asarray(result.collapsed_share).tolist(),
    )
    std_error = np.asarray(result.std_error, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, estimates / std_error, 0.0)
    return {
        "std_error": std_error,
        "z": z,
        "p_value": 2 * norm.sf(np.abs(z)),
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "estimable": std_error > 0,
    }


def _warn_unestimable(labels, singular, on_bound):
    messages = []
    if singular.any():
        names = ", ".join(labels[j] for j in np.flatnonzero(singular))
        messages.append(
            f"the data do not determine {names} (a column collinear with others, "
            "or constant, in the expert's or the gate's inputs, or a likelihood "
            "flat in them)"
        )
    if on_bound.any():
        names = ", ".join(labels[j] for j in np.flatnonzero(on_bound))
        messages.append(
            f"{names} sit at a bound of their range (a negative binomial's "
            "dispersion at the Poisson, say), where the likelihood has no "
            "stationary point"
        )
    if messages:
        warnings.warn(
            "No standard error for some parameters: "
            + "; ".join(messages)
            + ". Their rows have estimable=False, an infinite std_error and an "
            "interval of all values.",
            InferenceWarning,
            stacklevel=5,
        )


def format_inference(inference):
    """Lines of the coefficient table per component, as flexmix's
    ``summary(refit(m))`` prints them; ``inference`` as ``MixtureSummary`` holds
    it."""
    from skmoe.inspection._summary_parts import _format_number, _table

    method = {"observed": "observed information", "bootstrap": "bootstrap"}
    level = f"{100 * inference['confidence_level']:g}%"
    lines = [
        f"Standard errors ({method[inference['method']]}), {level} intervals:",
    ]
    header = ["", "estimate", "std. error", "z value", "Pr(>|z|)", "ci low", "ci high"]
    components = dict.fromkeys(row["component"] for row in inference["rows"])
    for component in components:
        rows = [
            [row["parameter"]]
            + [_format_number(row[key]) for key in ("estimate", "std_error", "z")]
            + [_format_p(row["p_value"])]
            + [_format_number(row[key]) for key in ("ci_low", "ci_high")]
            for row in inference["rows"]
            if row["component"] == component
        ]
        lines += ["", f"${component}", *_table(header, rows)]
    return lines


def _format_p(p):
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def _pandas():
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "coefficient_table returns a pandas DataFrame and requires pandas: "
            'pip install "skmoe[inference]" (or pandas).'
        ) from exc
    return pd
