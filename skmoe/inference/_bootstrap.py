"""Bootstrap intervals: the spread of refits on resampled data.

Each resample refits a copy of the model warm-started from its fit (a few EM
iterations, not a new search), matches the refit's experts to the original ones
(the labels of a mixture are arbitrary, so a refit may swap them) and reads the
same rows as the observed information (:func:`parameter_blocks`). It needs no
parametric form: any expert whose parameters the table reports, and the gate
and the family whatever the experts are.
"""

import copy
import warnings
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import linear_sum_assignment
from sklearn.base import is_classifier
from sklearn.utils import _safe_indexing, check_random_state

from skmoe.families import Gamma, Gaussian, NegativeBinomial, Poisson, StudentT
from skmoe.inference._parameters import parameter_blocks

#: An expert whose responsibilities on a resample sum to less than this share of
#: its rows has collapsed there.
COLLAPSE_SHARE = 0.01


@dataclass(frozen=True)
class BootstrapResult:
    """What the refits say of each row of the coefficient table.

    Parameters
    ----------
    estimates : ndarray of shape (n_parameters,)
        The original fit's values.

    std_error : ndarray of shape (n_parameters,)
        The standard deviation of the kept refits' values.

    ci_low, ci_high : ndarray of shape (n_parameters,)
        Percentile intervals of the kept refits' values.

    collapsed_share : ndarray of shape (n_experts,)
        Per expert, the share of the resamples in which it collapsed (dropped by
        the refit, or left with less than ``COLLAPSE_SHARE`` of the rows).

    n_resamples : int
        The resamples drawn.

    n_kept : int
        The resamples whose refit kept every expert, and did not fail: the ones
        the standard errors and intervals are computed from.

    n_failed : int
        The resamples whose refit raised (a resample without some class, for a
        classifier).
    """

    estimates: np.ndarray
    std_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    collapsed_share: np.ndarray
    n_resamples: int
    n_kept: int
    n_failed: int


def bootstrap_intervals(
    model,
    X,
    y,
    sample_weight,
    *,
    expert_names,
    gate_names,
    n_resamples,
    confidence_level,
    parametric,
    n_jobs,
    random_state,
):
    """Refit ``model`` on ``n_resamples`` resamples of ``(X, y)``, in parallel.

    Non-parametric: rows drawn with replacement (their weights with them).
    Parametric: the targets drawn from the fitted model at every row of ``X``.
    The seeds of the resamples come from one ``SeedSequence``, so the result is
    the same for every ``n_jobs``.
    """
    blocks = parameter_blocks(model, expert_names, gate_names)
    estimates = np.concatenate([b.estimates for b in blocks])
    if parametric and not is_classifier(model):
        check_drawable(model.family_)
    reference = model.posterior_proba(X, y)
    entropy = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    seeds = np.random.SeedSequence(entropy).spawn(n_resamples)
    refits = Parallel(n_jobs=n_jobs)(
        delayed(_refit)(
            model,
            X,
            y,
            sample_weight,
            seed,
            parametric,
            reference,
            (expert_names, gate_names),
        )
        for seed in seeds
    )
    kept = np.array([values for values, _, _ in refits if values is not None])
    collapsed = np.array([mask for _, mask, _ in refits])
    failures = [error for _, _, error in refits if error is not None]
    if len(kept) < 2:
        reason = (
            f"{len(failures)} refits failed, the first with: {failures[0]}"
            if failures
            else "the model may have more experts than the data support"
        )
        raise ValueError(
            f"only {len(kept)} of {n_resamples} bootstrap refits kept every expert; "
            f"the bootstrap needs at least 2. {reason} (collapsed share per expert "
            f"{np.round(collapsed.mean(axis=0), 3).tolist()})."
        )
    low, high = percentile_interval(kept, confidence_level)
    return BootstrapResult(
        estimates=estimates,
        std_error=kept.std(axis=0, ddof=1),
        ci_low=low,
        ci_high=high,
        collapsed_share=collapsed.mean(axis=0),
        n_resamples=n_resamples,
        n_kept=len(kept),
        n_failed=len(failures),
    )


def percentile_interval(values, confidence_level):
    """The percentile interval of ``values`` (one row per resample): the
    ``(B + 1) * tail``-th smallest and largest of the ``B`` values, interpolated.

    That order statistic has expected coverage ``tail`` whatever ``B``; numpy's
    default (linear) quantile sits nearer the centre, which at 150 resamples
    cuts a 95% interval's coverage by about a point (measured on normal
    draws: 93.8% against 95.1%).
    """
    tail = (1 - confidence_level) / 2
    return np.quantile(values, [tail, 1 - tail], axis=0, method="weibull")


def _refit(model, X, y, sample_weight, seed, parametric, reference, names):
    """One resample's table values in the original's expert order (None if not
    kept), which of the original experts collapsed in it, and why its refit
    failed (None if it did not)."""
    rng = np.random.default_rng(seed)
    n_experts = len(model.experts_)
    n_samples = len(y)
    if parametric:
        rows = np.arange(n_samples)
        y_new = draw_targets(model, X, rng)
    else:
        rows = rng.integers(0, n_samples, n_samples)
        y_new = y[rows]
    X_new = _safe_indexing(X, rows)
    refit = copy.deepcopy(model)
    refit.set_params(warm_start=True, n_init=1, n_experts=n_experts, verbose=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit.fit(X_new, y_new, sample_weight=sample_weight[rows])
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        # A resample the model cannot be refitted on (a class it lacks, say).
        return None, np.zeros(n_experts, dtype=bool), f"{type(error).__name__}: {error}"
    order = match_experts(reference, refit.posterior_proba(X, y))
    collapsed = order < 0
    mass = refit.posterior_proba(X_new, y_new).sum(axis=0)
    collapsed[~collapsed] = mass[order[~collapsed]] < COLLAPSE_SHARE * n_samples
    if collapsed.any():
        return None, collapsed, None
    blocks = parameter_blocks(permuted(refit, order), *names)
    return np.concatenate([b.estimates for b in blocks]), collapsed, None


def match_experts(reference, posterior):
    """``order[k]``: the refit's expert that is the original's expert ``k`` (-1
    for none), maximising the rows' agreement ``sum_i r_ik q_i,order[k]`` of the
    original's responsibilities ``r`` with the refit's ``q`` (the Hungarian
    algorithm)."""
    agreement = reference.T @ posterior
    originals, refits = linear_sum_assignment(agreement, maximize=True)
    order = np.full(reference.shape[1], -1)
    order[originals] = refits
    return order


def permuted(model, order):
    """A copy of the fitted parts of ``model`` whose expert ``k`` is its expert
    ``order[k]``: what :func:`parameter_blocks` reads (experts, family, gate)."""
    view = copy.copy(model)
    view.experts_ = [model.experts_[k] for k in order]
    if hasattr(model, "expert_names_"):
        view.expert_names_ = [model.expert_names_[k] for k in order]
    view.family_ = copy.deepcopy(model.family_)
    for name in model.family_.fitted_state:
        if not name.startswith("_"):  # the fitted parameters, one per expert
            setattr(view.family_, name, np.asarray(getattr(model.family_, name))[order])
    view.gate_ = copy.deepcopy(model.gate_)
    view.gate_.coef_ = model.gate_.coef_[order]
    view.gate_.intercept_ = model.gate_.intercept_[order]
    return view


def draw_targets(model, X, rng):
    """Targets drawn from the fitted model at each row of ``X``: an expert from
    the gate, then the target from that expert's distribution."""
    gate = model.predict_gate_proba(X)
    cumulative = np.cumsum(gate, axis=1)
    chosen = (rng.random(len(gate))[:, None] > cumulative).sum(axis=1)
    chosen = np.minimum(chosen, gate.shape[1] - 1)
    rows = np.arange(len(gate))
    outputs = model.predict_experts(X)[rows, chosen]
    if is_classifier(model):
        labels = (rng.random(len(gate))[:, None] > np.cumsum(outputs, axis=1)).sum(1)
        return model.classes_[np.minimum(labels, len(model.classes_) - 1)]
    return _draw_family(model.family_, outputs, chosen, rng)


def check_drawable(family):
    """Raise unless the parametric bootstrap can draw from ``family``."""
    if type(family) not in _DRAWABLE:
        raise ValueError(
            "the parametric bootstrap draws targets from skmoe's own families "
            f"only, not from {family!r}; use parametric=False."
        )


def _draw_family(family, mean, expert, rng):
    if isinstance(family, Gaussian):
        return rng.normal(mean, np.sqrt(family.variance_[expert]))
    if isinstance(family, StudentT):
        scale, df = family.scale_[expert], family.df_[expert]
        return mean + scale * rng.standard_t(df)
    if isinstance(family, Poisson):
        return rng.poisson(mean).astype(np.float64)
    if isinstance(family, NegativeBinomial):
        alpha = family.dispersion_[expert]
        return rng.poisson(rng.gamma(1 / alpha, alpha * mean)).astype(np.float64)
    if isinstance(family, Gamma):
        shape = family.shape_[expert]
        return rng.gamma(shape, mean / shape)
    raise AssertionError(f"check_drawable let {family!r} through")


_DRAWABLE = (Gaussian, StudentT, Poisson, NegativeBinomial, Gamma)
