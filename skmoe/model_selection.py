"""Choosing the number of experts: fit every count and compare them by a criterion.

The counterpart of flexmix's ``stepFlexmix``. Information criteria (BIC, AIC, ICL)
compare the models fitted on all the data; ``"cv"`` compares held-out
log-likelihoods and refits the best count on all the data, as ``GridSearchCV``
does.
"""

import time
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_regressor
from sklearn.model_selection import check_cv, cross_validate

__all__ = ["information_criterion", "select_n_experts"]

CRITERIA = ("bic", "aic", "icl", "cv")
STRATEGIES = ("independent", "split")


def select_n_experts(
    estimator,
    X,
    y,
    *,
    n_experts=range(1, 9),
    criterion="bic",
    n_init=None,
    cv=5,
    strategy="independent",
    n_jobs=None,
):
    """Fit a mixture of experts for every count in ``n_experts``; keep the best.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
        The model to fit; it is cloned for each count, with ``n_experts`` (and
        ``n_init``, if given) set. Each count keeps its best restart.

    X : array-like of shape (n_samples, n_features)
        Training data.

    y : array-like of shape (n_samples,)
        Targets.

    n_experts : iterable of int, default=range(1, 9)
        The counts to try, each at least 1.

    criterion : {"bic", "aic", "icl", "cv"}, default="bic"
        ``"bic"``, ``"aic"`` and ``"icl"`` (lower is better) are computed on the
        training data and need experts with a fixed number of parameters (linear
        models). ICL is BIC plus twice the entropy of the hard assignments,
        ``-2 sum_i log r_{i, argmax_k r_ik}``, which favours well separated
        experts (flexmix's ``ICL``). ``"cv"`` (higher is better) is the mean
        held-out log-likelihood per sample over the folds of ``cv``; it works
        with any expert.

    n_init : int, default=None
        Restarts per count; None keeps the estimator's own ``n_init``.

    cv : int, cross-validation generator or iterable, default=5
        The folds for ``criterion="cv"``, as in ``cross_validate``.

    strategy : {"independent", "split"}, default="independent"
        ``"independent"`` fits every count from its own initialisations.
        ``"split"`` (regressors, information criteria) grows the model one expert
        at a time: the count ``k`` starts from the fitted ``k - 1`` model, whose
        expert with the largest share of the weighted squared residuals is split
        in two by the sign of its residuals. Counts are then fitted in sequence
        (one run each), so ``n_jobs`` does not apply to them.

    n_jobs : int, default=None
        Number of counts fitted side by side through joblib (``None`` means 1
        unless in a ``joblib.parallel_config`` context). The results are the same
        for every value.

    Returns
    -------
    best_estimator : estimator
        The best count's model, fitted on all of ``X``.

    results : dict of ndarray
        One entry per count, in the order of ``n_experts``, like
        ``GridSearchCV.cv_results_`` (``pandas.DataFrame(results)`` reads it):
        ``param_n_experts``; the criterion's value under its name (for
        ``"cv"``, ``mean_cv_log_likelihood`` and ``std_cv_log_likelihood``);
        ``rank`` (1 is the best; a count whose experts collapsed competes as the
        experts it kept, and criteria within a relative 1e-5 of each other are a
        tie, won by the model that kept fewer experts, then by the smaller
        count); ``log_likelihood`` (mean per sample on the
        training data, or over the folds' training sets), ``n_iter``,
        ``converged`` (every fold's, for ``"cv"``), ``n_experts_fitted`` (fewer
        than asked for when experts collapsed) and ``fit_time`` in seconds.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.model_selection import select_n_experts
    >>> X, y = make_moe_regression(n_samples=600, n_experts=3, random_state=0)
    >>> best, results = select_n_experts(
    ...     MixtureOfExpertsRegressor(random_state=0), X, y, n_experts=[1, 2, 3, 4]
    ... )
    >>> best.n_experts
    3
    >>> results["rank"]
    array([4, 3, 1, 2])
    """
    counts = _check_counts(n_experts)
    if criterion not in CRITERIA:
        raise ValueError(
            f"criterion must be one of {list(CRITERIA)}; got {criterion!r}."
        )
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be one of {list(STRATEGIES)}; got {strategy!r}."
        )
    if not hasattr(estimator, "bic"):
        raise TypeError(
            "select_n_experts needs a skmoe mixture of experts; got "
            f"{type(estimator).__name__}."
        )
    if isinstance(getattr(estimator, "expert", None), list):
        raise ValueError(
            "select_n_experts varies n_experts, but this estimator's expert is a "
            f"list of {len(estimator.expert)} (name, estimator) pairs, which fixes "
            "the number of experts. Compare lists of different lengths by their "
            "fits (bic, aic, or a GridSearchCV over expert), or pass a single "
            "expert."
        )
    if strategy == "split" and not is_regressor(estimator):
        raise ValueError(
            "strategy='split' splits an expert by the sign of its residuals, which "
            "needs a regressor; use strategy='independent' for classifiers."
        )
    if strategy == "split" and criterion == "cv":
        raise ValueError(
            "strategy='split' grows one model fitted on all the data, which "
            "criterion='cv' cannot score; use an information criterion."
        )
    params = {} if n_init is None else {"n_init": n_init}
    estimator = clone(estimator).set_params(**params)

    if criterion == "cv":
        folds = check_cv(cv, y, classifier=not is_regressor(estimator))
        rows = Parallel(n_jobs=n_jobs)(
            delayed(_cross_validate_count)(estimator, X, y, k, folds) for k in counts
        )
        results = _table(counts, rows, "mean_cv_log_likelihood", higher_is_better=True)
        best_count = counts[np.argmin(results["rank"])]
        best = clone(estimator).set_params(n_experts=best_count).fit(X, y)
        return best, results

    if strategy == "split":
        fitted = _grow_by_splitting(estimator, X, y, counts, criterion)
    else:
        fitted = Parallel(n_jobs=n_jobs)(
            delayed(_fit_count)(estimator, X, y, k, criterion) for k in counts
        )
    results = _table(counts, [row for row, _ in fitted], criterion, scale=float(len(y)))
    return fitted[int(np.argmin(results["rank"]))][1], results


#: Criteria closer than this, relative to their size, are a tie: EM stops when the
#: log-likelihood changes by a relative 1e-6 per iteration, so two fits of one model
#: from different starts end about that far apart.
TIE_TOLERANCE = 1e-5


def _table(counts, rows, score_name, higher_is_better=False, scale=1.0):
    """The rows as a dict of arrays, with each count's rank by ``score_name``.

    A count whose fit collapsed competes as the experts it kept
    (``n_experts_fitted``), and ties go to the smaller model: scores within
    :data:`TIE_TOLERANCE` of each other (relative to the larger of them and
    ``scale``) are ranked by the experts kept, then by the count asked for.
    Without this a 6-expert candidate that dropped an expert, and so is the
    5-expert model to the last digits, could win by EM's rounding and be
    reported as 6.
    """
    results = {"param_n_experts": np.array(counts)}
    for key in rows[0]:
        results[key] = np.array([row[key] for row in rows])
    scores = -results[score_name] if higher_is_better else results[score_name]
    kept = results["n_experts_fitted"]
    remaining = list(np.lexsort((results["param_n_experts"], kept, scores)))
    ranks = np.empty(len(counts), dtype=int)
    position = 1
    while remaining:
        lead = scores[remaining[0]]
        tolerance = TIE_TOLERANCE * max(abs(lead), scale)
        tied = [i for i in remaining if scores[i] - lead <= tolerance]
        for i in sorted(tied, key=lambda i: (kept[i], counts[i])):
            ranks[i] = position
            position += 1
        remaining = [i for i in remaining if i not in tied]
    results["rank"] = ranks
    return results


def _check_counts(n_experts):
    try:
        counts = list(n_experts)
    except TypeError:
        raise TypeError(
            f"n_experts must be an iterable of counts; got {n_experts!r}."
        ) from None
    if not counts:
        raise ValueError("n_experts is empty: give at least one count to try.")
    bad = [k for k in counts if not isinstance(k, Integral) or isinstance(k, bool)]
    bad += [k for k in counts if isinstance(k, Integral) and k < 1]
    if bad:
        raise ValueError(
            f"n_experts must hold integers >= 1; got {[str(k) for k in bad]}."
        )
    if len(set(counts)) != len(counts):
        raise ValueError(f"n_experts lists a count more than once: {counts}.")
    return [int(k) for k in counts]


def information_criterion(moe, X, y, criterion):
    """BIC, AIC or ICL of a fitted mixture of experts on ``(X, y)``; lower is better.

    Parameters
    ----------
    moe : fitted MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
        The model; its experts need a fixed number of parameters (``coef_``).

    X : array-like of shape (n_samples, n_features)
        Input samples.

    y : array-like of shape (n_samples,)
        Targets.

    criterion : {"bic", "aic", "icl"}
        ``moe.bic(X, y)``, ``moe.aic(X, y)``, or the BIC plus
        ``-2 sum_i log r_{i, argmax_k r_ik}``, the entropy of the hard assignments
        (ICL, as flexmix computes it).

    Returns
    -------
    value : float
        The criterion.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.model_selection import information_criterion
    >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> bool(information_criterion(moe, X, y, "icl") >= moe.bic(X, y))
    True
    """
    if criterion not in ("bic", "aic", "icl"):
        raise ValueError(f"criterion must be 'bic', 'aic' or 'icl'; got {criterion!r}.")
    if criterion == "aic":
        return moe.aic(X, y)
    bic = moe.bic(X, y)
    if criterion == "bic":
        return bic
    responsibilities = moe.posterior_proba(X, y)
    assigned = responsibilities.max(axis=1)
    return bic - 2 * np.log(np.maximum(assigned, np.finfo(np.float64).tiny)).sum()


def _fit_count(estimator, X, y, n_experts, criterion, init=None):
    """Fit one count; return its table row and the fitted model."""
    moe = clone(estimator).set_params(n_experts=n_experts)
    if init is not None:
        moe.set_params(init=init, n_init=1)
    start = time.perf_counter()
    moe.fit(X, y)
    row = {
        criterion: information_criterion(moe, X, y, criterion),
        "log_likelihood": moe.log_likelihood_,
        "n_iter": moe.n_iter_,
        "converged": moe.converged_,
        "n_experts_fitted": moe.n_experts_,
        "fit_time": time.perf_counter() - start,
    }
    return row, moe


def _cross_validate_count(estimator, X, y, n_experts, folds):
    scores = cross_validate(
        clone(estimator).set_params(n_experts=n_experts),
        X,
        y,
        cv=folds,
        scoring=_mean_log_likelihood,
        return_estimator=True,
    )
    models = scores["estimator"]
    return {
        "mean_cv_log_likelihood": scores["test_score"].mean(),
        "std_cv_log_likelihood": scores["test_score"].std(),
        "log_likelihood": np.mean([moe.log_likelihood_ for moe in models]),
        "n_iter": np.mean([moe.n_iter_ for moe in models]),
        "converged": all(moe.converged_ for moe in models),
        "n_experts_fitted": min(moe.n_experts_ for moe in models),
        "fit_time": scores["fit_time"].mean(),
    }


def _mean_log_likelihood(moe, X, y):
    return moe.score_samples(X, y).mean()


def _grow_by_splitting(estimator, X, y, counts, criterion):
    """Fit counts from the smallest up, each from the previous one split."""
    fitted = {}
    row, moe = _fit_count(estimator, X, y, min(counts), criterion)
    fitted[min(counts)] = (row, moe)
    for k in range(min(counts) + 1, max(counts) + 1):
        init = _split_worst_expert(moe, X, y)
        while init.shape[1] < k:  # experts collapsed: split the largest one too
            init = _split_largest_by_target(init, y)
        row, moe = _fit_count(estimator, X, y, k, criterion, init=init)
        fitted[k] = (row, moe)
    return [fitted[k] for k in counts]


def _split_worst_expert(moe, X, y):
    """Responsibilities with one more column: the worst expert split in two."""
    responsibilities = moe.posterior_proba(X, y)
    residuals = np.asarray(y, dtype=np.float64)[:, None] - moe.predict_experts(X)
    shares = np.einsum("ik,ik->k", responsibilities, residuals**2)
    worst = int(np.argmax(shares))
    return _split_columns(responsibilities, worst, residuals[:, worst] >= 0)


def _split_largest_by_target(responsibilities, y):
    """Responsibilities with one more column: the largest split around its mean y."""
    largest = int(np.argmax(responsibilities.sum(axis=0)))
    y = np.asarray(y, dtype=np.float64)
    mean = np.average(y, weights=responsibilities[:, largest])
    return _split_columns(responsibilities, largest, y >= mean)


def _split_columns(responsibilities, column, first_half):
    """Move ``column``'s weight on rows not in ``first_half`` to a new last column."""
    moved = np.where(first_half, 0.0, responsibilities[:, column])
    split = np.column_stack([responsibilities, moved])
    split[:, column] -= moved
    return split
