"""The regressor's predictive distribution and the classifier's uncertainty.

A fitted regressor's prediction of ``y`` at ``x`` is a whole distribution,
``p(y | x) = sum_k w_k(x) p_k(y | x)``: the family's distribution around each
expert's prediction (a frozen ``scipy.stats`` distribution per row and expert),
mixed by the weights of the routing that ``predict`` uses. Its samples, quantiles
(the root of the mixture's CDF, bracketed by the components' own quantiles) and
intervals (central, or the highest-density region) are computed here; so is the
classifier's decomposition of the entropy of ``predict_proba``.
"""

from numbers import Integral, Real

import numpy as np
from scipy import stats
from scipy.special import entr
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted

from skmoe._dask_inputs import rowwise
from skmoe._kernels import top_k_experts
from skmoe._mixture import Mixture, highest_density_regions, mixture_quantiles
from skmoe._nested import OwnDensity
from skmoe._routing import check_routing, experts_per_row, mix_experts
from skmoe.families import Gamma, Gaussian, NegativeBinomial, Poisson, StudentT

# The count kernels read a zero mean as this (a tree's leaf of zero counts).
_MIN_MEAN = 1e-300

# ---- the families' distributions


def _gaussian(family, means, experts):
    return stats.norm(loc=means, scale=np.sqrt(family.variance_)[experts])


def _student_t(family, means, experts):
    return stats.t(df=family.df_[experts], loc=means, scale=family.scale_[experts])


def _poisson(family, means, experts):
    return stats.poisson(mu=np.maximum(means, _MIN_MEAN))


def _negative_binomial(family, means, experts):
    # NB2: size 1 / alpha, so that the variance is mu + alpha mu^2.
    size = 1.0 / family.dispersion_[experts]
    return stats.nbinom(n=size, p=size / (size + np.maximum(means, _MIN_MEAN)))


def _gamma(family, means, experts):
    shape = family.shape_[experts]
    return stats.gamma(a=shape, scale=means / shape)


_DISTRIBUTIONS = {
    Gaussian: _gaussian,
    StudentT: _student_t,
    Poisson: _poisson,
    NegativeBinomial: _negative_binomial,
    Gamma: _gamma,
}


def distribution_builder(family):
    """``build(means, experts)``, the frozen distribution of ``y`` given each
    expert's prediction, for ``family``; raises TypeError for a family it does
    not know.

    A family's own ``predictive_distribution(means, experts)`` comes first; then
    skmoe's families, also subclassed, as long as the subclass keeps the
    log-density (a new log-density is a new distribution).
    """
    hook = getattr(family, "predictive_distribution", None)
    if callable(hook):
        return hook
    cls = type(family)
    for base in cls.__mro__:
        if base in _DISTRIBUTIONS and cls.log_likelihood is base.log_likelihood:
            build = _DISTRIBUTIONS[base]
            return lambda means, experts: build(family, means, experts)
    raise TypeError(
        f"the predictive distribution of the {family.name} family "
        f"({cls.__name__}) is not known: sample_y, predict_quantiles and "
        "predict_interval know skmoe's Gaussian, StudentT, Poisson, "
        f"NegativeBinomial and Gamma families. Give {cls.__name__} a method "
        "predictive_distribution(means, experts) that returns a frozen "
        "scipy.stats distribution of means.shape: that of y around "
        "means[i, j], the prediction of expert experts[i, j] (the user guide's "
        "'Predictive distribution' page)."
    )


# ---- the fitted model's mixture


def _is_hierarchy(estimator):
    return isinstance(estimator.family_, OwnDensity)


def _leaf_families(estimator):
    if not hasattr(estimator, "family_"):
        raise TypeError(
            f"{type(estimator).__name__} in this tree has a density of its own but "
            "no known predictive distribution: sample_y, predict_quantiles and "
            "predict_interval need skmoe mixtures at every node above the leaves."
        )
    if not _is_hierarchy(estimator):
        return [estimator.family_]
    return [family for inner in estimator.experts_ for family in _leaf_families(inner)]


def check_predictive(estimator):
    """Raise TypeError unless ``estimator``'s predictive distribution is known:
    its family's, or for a hierarchy one family at every leaf."""
    families = _leaf_families(estimator)
    for family in families:
        distribution_builder(family)
    kinds = sorted({type(family).__name__ for family in families})
    if len(kinds) > 1:
        raise TypeError(
            "a hierarchy's predictive distribution mixes its leaves' distributions, "
            f"which needs one family at every leaf; its leaves have {kinds}."
        )


def predictive_mixture(estimator, X):
    """The predictive mixture at validated ``X``; a hierarchy's is the mixture
    of its experts' own predictive mixtures, each weighted by its gate."""
    if not _is_hierarchy(estimator):
        return routed_mixture(estimator, X, distribution_builder(estimator.family_))
    weights = _routed_weights(estimator, X)
    X_expert = estimator._expert_inputs(X)
    mixtures = []
    for index, expert in enumerate(estimator.experts_):
        rows = np.flatnonzero(weights[:, index] > 0)
        if rows.size:
            inner = predictive_mixture(expert, X_expert[rows])
            mixtures.append(_scattered(inner, rows, weights[rows, index], len(X)))
    return Mixture(
        np.hstack([mixture.weights for mixture in mixtures]),
        mixtures[0].distribution,
        {
            name: np.hstack([mixture.params[name] for mixture in mixtures])
            for name in mixtures[0].params
        },
    )


def _routed_weights(estimator, X):
    """The weight of every expert at every row, 0 where routing leaves it out."""
    selected, top = routed_experts(estimator, X)
    weights = np.zeros((X.shape[0], len(estimator.experts_)))
    np.put_along_axis(weights, selected, top, axis=1)
    return weights


def _scattered(mixture, rows, weight, n_rows):
    """``mixture`` of ``rows`` as a mixture of ``n_rows`` rows, its weights times
    ``weight``; the other rows get weight 0 and the first row's (valid)
    parameters."""
    shape = (n_rows, mixture.weights.shape[1])
    weights = np.zeros(shape)
    weights[rows] = mixture.weights * weight[:, None]
    params = {}
    for name, value in mixture.params.items():
        params[name] = np.repeat(value[:1], n_rows, axis=0)
        params[name][rows] = value
    return Mixture(weights, mixture.distribution, params)


def routed_experts(estimator, X):
    """Each row's routed experts at validated ``X`` and their weights, as
    ``predict`` weighs them: arrays of shape ``(n_rows, k)``."""
    experts = estimator.experts_
    check_routing(estimator.routing, estimator.top_k, len(experts))
    X_gate = estimator._gate_inputs(X)
    k = experts_per_row(estimator.routing, estimator.top_k, len(experts))
    if k == len(experts):
        weights = estimator.gate_.predict_proba(X_gate)
        return np.broadcast_to(np.arange(k), weights.shape), weights
    selected = np.empty((X.shape[0], k), dtype=np.intp)
    weights = np.empty((X.shape[0], k))
    top_k_experts(estimator.gate_.decision_function(X_gate), k, selected, weights)
    return selected, weights


def routed_mixture(estimator, X, build):
    """The predictive mixture at validated ``X``: the experts ``routing`` selects
    per row, weighted as ``predict`` weighs them, each expert called on its own
    rows only."""
    experts = estimator.experts_
    selected, weights = routed_experts(estimator, X)
    X_expert = estimator._expert_inputs(X)
    family = estimator.family_
    if weights.shape[1] == len(experts):
        means = family.expert_outputs(experts, X_expert, None)
    else:
        means = np.empty(weights.shape)
        for index, expert in enumerate(experts):
            rows, slots = np.nonzero(selected == index)
            if rows.size:
                outputs = family.expert_outputs([expert], X_expert[rows], None)
                means[rows, slots] = outputs[:, 0]
    return Mixture.from_frozen(weights, build(means, selected))


def _check_open_unit(value, name):
    """``value`` as a float array, every entry finite and in (0, 1)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers in (0, 1); got {value!r}.") from None
    bad = ~((array > 0) & (array < 1))  # NaN is bad too
    if np.asarray(value).dtype == bool or bad.any():
        raise ValueError(f"{name} must be in the open interval (0, 1); got {value!r}.")
    return array


def _check_n_samples(n_samples):
    if not isinstance(n_samples, Integral) or isinstance(n_samples, bool):
        raise ValueError(f"n_samples must be an integer; got {n_samples!r}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1; got {n_samples}.")
    return int(n_samples)


def _check_levels(quantiles):
    """The quantile levels as a 1-D float array."""
    levels = _check_open_unit(quantiles, "quantiles")
    if levels.ndim > 1 or levels.size == 0:
        raise ValueError(
            "quantiles must be a number or a 1-D list of levels; got shape "
            f"{levels.shape}."
        )
    return levels.ravel()


def _check_interval(coverage, kind):
    """``coverage`` as a float in (0, 1), and ``kind`` checked."""
    if not isinstance(coverage, Real) or isinstance(coverage, bool):
        raise ValueError(f"coverage must be a number in (0, 1); got {coverage!r}.")
    coverage = float(_check_open_unit(coverage, "coverage"))
    if kind not in ("central", "highest_density"):
        raise ValueError(f"kind must be 'central' or 'highest_density'; got {kind!r}.")
    return coverage


def _predictive_template(estimator, n_columns):
    """No rows of a predictive output of ``n_columns``, the distribution known."""
    check_predictive(estimator)
    return np.empty((0, n_columns))


def _interval_template(estimator, coverage, kind):
    _check_interval(coverage, kind)
    if kind == "highest_density":
        raise TypeError(
            "predict_interval(kind='highest_density') gives each row a list of "
            "intervals of its own length, which a Dask array cannot hold: compute "
            "X first (X.compute()), or ask for kind='central'."
        )
    return _predictive_template(estimator, 2)


class PredictiveMixin:
    """The regressor's predictive distribution: samples, quantiles, intervals.

    The distribution is ``p(y | x) = sum_k w_k(x) p_k(y | x)``, the family's
    distribution around each routed expert's prediction, with the weights that
    ``predict`` mixes the predictions by, so that its mean is ``predict(X)``.
    """

    def _predictive(self, X):
        """The predictive mixture at raw ``X``, every check made before any work."""
        check_is_fitted(self)
        check_predictive(self)
        return predictive_mixture(self, self._validate_X(X))

    @rowwise(
        lambda self, n_samples, random_state: _predictive_template(
            self, _check_n_samples(n_samples)
        ),
        seeded="random_state",
    )
    def sample_y(self, X, n_samples=1, random_state=None):
        """Draw targets from the predictive distribution.

        For each row and draw, an expert is drawn by its weight (as ``routing``
        says: the gate's probabilities with ``"soft"``, the most probable expert
        with ``"hard"``, the renormalised ``top_k`` most probable with
        ``"top_k"``), then ``y`` from the family's distribution around that
        expert's prediction. See the user guide's "Predictive distribution"
        page.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        n_samples : int, default=1
            Draws per row, at least 1.

        random_state : int, RandomState instance or None, default=None
            Seeds the draws. With a Dask ``X`` each row chunk draws from a seed
            of its own, spawned from ``random_state``: the draws depend on the
            chunking.

        Returns
        -------
        y_samples : ndarray of shape (n_rows, n_samples)
            The draws, in float64 (integer-valued for the count families).

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> moe.sample_y(X[:3], n_samples=5, random_state=0).shape
        (3, 5)
        """
        n_samples = _check_n_samples(n_samples)
        random_state = check_random_state(random_state)
        mixture = self._predictive(X)
        return mixture.sample(n_samples, random_state)

    @rowwise(
        lambda self, quantiles: _predictive_template(
            self, _check_levels(quantiles).size
        )
    )
    def predict_quantiles(self, X, quantiles):
        """Quantiles of the predictive distribution.

        The ``q`` quantile is the root of the mixture's CDF, ``sum_k w_k(x)
        F_k(y) = q``, found for all rows at once between the experts' own ``q``
        quantiles (which bracket it) by Newton's method safeguarded by
        bisection, to about ``1e-12`` relative to that bracket. For the count
        families it is the smallest integer ``y`` with ``F(y) >= q``. The
        quantiles are non-decreasing in ``q`` by construction. The weights
        follow ``routing``, as in :meth:`sample_y`.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        quantiles : float or array-like of shape (n_quantiles,)
            Levels, each in the open interval (0, 1), in any order.

        Returns
        -------
        y_quantiles : ndarray of shape (n_rows, n_quantiles)
            One column per level, in the order given.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> q = moe.predict_quantiles(X[:3], [0.1, 0.5, 0.9])
        >>> q.shape, bool((q[:, 0] < q[:, 1]).all() and (q[:, 1] < q[:, 2]).all())
        ((3, 3), True)
        """
        levels = _check_levels(quantiles)
        mixture = self._predictive(X)
        return mixture_quantiles(mixture, levels)

    @rowwise(_interval_template)
    def predict_interval(self, X, coverage=0.9, kind="central"):
        """Prediction intervals of the predictive distribution.

        ``kind="central"`` gives the quantiles ``(1 - coverage) / 2`` and ``(1 +
        coverage) / 2`` (:meth:`predict_quantiles`), equal tails. ``kind=
        "highest_density"`` gives the highest-density region, ``{y : p(y | x) >=
        t}`` with mass ``coverage``: the shortest region of that mass, which for
        a mixture whose experts predict far apart is a union of intervals, one
        per mode. It is found on a grid of each expert's quantiles, the density
        taken as quadratic on each cell, the ends then bisected on the exact
        density; its mass is ``coverage`` to about ``1e-6`` (the user guide's
        "Predictive distribution" page). For the count families the intervals
        are integer ranges ``[a, b]``, both ends included: the central one has
        mass at least ``coverage``, the highest-density one is the fewest most
        probable counts with mass at least ``coverage``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Input samples; a Dask array or DataFrame gives a lazy Dask array
            chunked like its rows with ``kind="central"`` (user guide:
            "Predicting on a Dask array").

        coverage : float, default=0.9
            The mass of the interval, in the open interval (0, 1).

        kind : {"central", "highest_density"}, default="central"
            Equal tails, or the highest-density region.

        Returns
        -------
        intervals : ndarray of shape (n_rows, 2) or list of ndarray
            With ``"central"``, the lower and upper ends per row. With
            ``"highest_density"``, a list with one array of shape
            ``(n_intervals, 2)`` per row: its intervals' lower and upper ends,
            in increasing order, as many as the region has (one for a
            unimodal row, two for a row between two experts far apart).

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> moe.predict_interval(X[:3], coverage=0.8).shape
        (3, 2)
        >>> regions = moe.predict_interval(X[:3], kind="highest_density")
        >>> len(regions), regions[0].shape[1]
        (3, 2)
        """
        coverage = _check_interval(coverage, kind)
        mixture = self._predictive(X)
        if kind == "central":
            levels = np.array([(1 - coverage) / 2, (1 + coverage) / 2])
            return mixture_quantiles(mixture, levels)
        return highest_density_regions(mixture, coverage)


class UncertaintyMixin:
    """The classifier's predictive entropy, split by source."""

    def predict_uncertainty(self, X):
        """How uncertain each prediction is, and where the uncertainty comes from.

        The entropy of ``predict_proba``, ``H(sum_k w_k p_k)`` (in nats), is the
        experts' own expected entropy ``sum_k w_k H(p_k)`` (each expert unsure of
        the class) plus the gate's share: the mutual information between the
        expert and the label, ``sum_k w_k KL(p_k || sum_j w_j p_j)``, which is
        large where the experts that the gate mixes disagree. ``w_k`` are the
        weights ``routing`` gives (with ``"hard"`` routing, one expert per row,
        the gate's share is 0).

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Input samples; a Dask array or DataFrame gives lazy Dask arrays
            chunked like its rows (user guide: "Predicting on a Dask array").

        Returns
        -------
        uncertainty : Bunch
            Three arrays of shape (n_rows,), each at least 0: ``total``, the
            entropy of ``predict_proba``; ``within``, the experts' expected
            entropy; ``gate``, the gate's share, with ``total = within + gate``.
            Rounding can leave ``total - within`` a tiny negative (about
            ``1e-16``) where the experts agree: it is clipped to 0, so that
            ``gate >= 0``, and ``within`` is then ``total - gate``.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsClassifier
        >>> from skmoe.datasets import make_moe_classification
        >>> X, y = make_moe_classification(n_samples=300, random_state=0)
        >>> moe = MixtureOfExpertsClassifier(n_experts=2, n_init=1, random_state=0)
        >>> u = moe.fit(X, y).predict_uncertainty(X[:3])
        >>> parts = u.within + u.gate
        >>> u.total.shape, bool(abs(u.total - parts).max() < 1e-12)
        ((3,), True)
        """
        total_within_gate = self._uncertainty_columns(X)
        return Bunch(
            total=total_within_gate[:, 0],
            within=total_within_gate[:, 1],
            gate=total_within_gate[:, 2],
        )

    @rowwise(lambda self: np.empty((0, 3)))
    def _uncertainty_columns(self, X):
        """``predict_uncertainty``'s total, within and gate as three columns."""
        X = self._validate_X(X)

        def proba_and_entropy(expert, X_rows):
            proba = self._expert_predictions(expert, X_rows)
            return np.column_stack([proba, entr(proba).sum(axis=1)])

        check_routing(self.routing, self.top_k, len(self.experts_))
        mixed = mix_experts(
            self.experts_,
            self._expert_inputs(X),
            self.gate_.decision_function(self._gate_inputs(X)),
            proba_and_entropy,
            self.routing,
            self.top_k,
        )
        total = entr(mixed[:, :-1]).sum(axis=1)
        # Clip the rounding's tiny negatives (experts that agree) to 0.
        gate = np.maximum(total - mixed[:, -1], 0.0)
        within = np.maximum(total - gate, 0.0)
        return np.column_stack([total, within, gate])
