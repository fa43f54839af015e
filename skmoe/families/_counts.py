"""Count families: Poisson and negative binomial experts, on a log link."""

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import PoissonRegressor

from skmoe._chunks import column_sums
from skmoe._kernels import (
    negative_binomial_dispersion_objective,
    negative_binomial_log_likelihood,
    poisson_log_likelihood,
)
from skmoe.families._base import (
    check_positive_expert,
    check_positive_outputs,
    check_target_rows,
    log_density_array,
)
from skmoe.families._gaussian import RealTarget

# The dispersions EM may reach: at 1e-8 the negative binomial is the Poisson to
# every digit that matters; above 1e4 nearly every count would be zero.
_MIN_DISPERSION, _MAX_DISPERSION = 1e-8, 1e4


class _Counts(RealTarget):
    """A family of counts whose experts predict a non-negative mean."""

    def default_expert(self):
        return PoissonRegressor(alpha=0.0)

    def init_columns(self, target):
        # Counts are skewed: their logarithm separates regimes the way k-means
        # expects (spherical clusters).
        return np.log1p(target)[:, None]

    def check_expert(self, expert):
        super().check_expert(expert)
        check_positive_expert(expert, self.name, "non-negative")

    def expert_outputs(self, experts, X, target, known=None):
        outputs = super().expert_outputs(experts, X, target, known)
        check_positive_outputs(outputs, experts, self.name, allow_zero=True)
        return outputs

    def _check_counts(self, y, rates_allowed):
        check_target_rows(~(y >= 0), self.name, "non-negative targets")
        if not rates_allowed:
            check_target_rows(
                y != np.round(y),
                self.name,
                "integer counts",
                self._rates_advice,
            )


class Poisson(_Counts):
    """Poisson counts around each expert's predicted mean.

    ``p_k(y | x) = Poisson(y; mu_k(x))`` with ``mu_k`` the expert's prediction,
    which must not be negative; a zero mean (a tree's leaf of zero counts) gives
    a count above zero a large finite cost. The log-density includes ``-log y!``,
    so log-likelihoods compare with R's ``logLik`` of a ``glm`` or ``flexmix``
    fit. The family has no parameter of its own, and any expert whose ``fit``
    takes ``sample_weight`` works; the default is an unpenalised
    ``PoissonRegressor``, which EM fits by Newton steps warm-started from its
    last fit.

    The target must hold non-negative integer counts, unless ``fit`` is given
    ``sample_weight``: the target is then read as a rate (counts per unit of
    exposure) and the weights as the exposures, the scikit-learn convention.
    With one expert, its fit is that of the model with ``log(exposure)`` as an
    offset; with several, a weight scales a row's whole mixture log-likelihood,
    so the responsibilities do not see the exposure as an offset model's would
    (the user guide's "Families" page shows the difference).

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import Poisson
    >>> y = np.array([0.0, 1.0, 3.0])
    >>> family = Poisson().start(y, np.ones(3))
    >>> family.log_likelihood(np.full((3, 1), 1.0), y).ravel().round(4).tolist()
    [-1.0, -1.0, -2.7918]
    """

    name = "poisson"
    _rates_advice = (
        " For rates (counts per unit of exposure), pass the exposures as "
        "sample_weight (the user guide's Families page says how this compares "
        "with an offset)."
    )

    def prepare(self, y, sample_weight):
        y, _ = super().prepare(y, sample_weight)
        self._check_counts(y, rates_allowed=not np.all(sample_weight == 1.0))
        return y, y

    def encode(self, y):
        y = super().encode(y)
        check_target_rows(~(y >= 0), self.name, "non-negative targets")
        return y

    def log_likelihood(self, outputs, target, out=None):
        out = log_density_array(outputs, out)
        poisson_log_likelihood(outputs, target, out)
        return out


class NegativeBinomial(_Counts):
    """Overdispersed counts: the negative binomial (NB2) around each expert's mean.

    ``p_k(y | x) = NB(y; mu_k(x), alpha_k)`` with variance ``mu + alpha_k mu^2``:
    the dispersion ``alpha_k`` of each expert is estimated by maximum likelihood
    in the M-step, in ``[1e-8, 1e4]`` (at the lower end, the Poisson). The
    experts predict the mean, as for :class:`Poisson`, with the same default.
    An expert is refitted with weights ``resp * sample_weight / (1 + alpha_k
    mu_k)``, at the E-step's means: a weighted Poisson fit with these weights
    takes a Fisher-scoring step of the negative binomial's own likelihood for
    the mean, whose fixed point is its maximum (so EM's log-likelihood rises to
    the optimum, but need not rise at every iteration).

    The target must hold non-negative integer counts; sample weights are
    frequency weights (for exposures, use :class:`Poisson`).

    Attributes
    ----------
    dispersion_ : ndarray of shape (n_experts,)
        Each expert's dispersion ``alpha_k``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import NegativeBinomial
    >>> rng = np.random.default_rng(0)
    >>> y = rng.negative_binomial(2, 0.5, size=2000).astype(float)  # mean 2, alpha 0.5
    >>> family = NegativeBinomial().start(y, np.ones(y.size))
    >>> family = family.fit(np.full((y.size, 1), 2.0), y, np.ones((y.size, 1)))
    >>> float(family.dispersion_[0].round(1))
    0.5
    """

    name = "negative_binomial"
    n_parameters_per_expert = 1
    # The dispersion's maximum is no function of running sums.
    mini_batch = False
    fitted_state = ("dispersion_", "_pending")
    _rates_advice = (
        " Sample weights are frequency weights for this family; for rates with "
        "exposures, use family='poisson'."
    )

    def prepare(self, y, sample_weight):
        y, _ = super().prepare(y, sample_weight)
        self._check_counts(y, rates_allowed=False)
        return y, y

    def encode(self, y):
        y = super().encode(y)
        self._check_counts(y, rates_allowed=False)
        return y

    def log_likelihood(self, outputs, target, out=None):
        out = log_density_array(outputs, out)
        negative_binomial_log_likelihood(outputs, target, self.dispersion_, out)
        return out

    def latent_weights(self, outputs, target):
        if not hasattr(self, "dispersion_"):
            return None
        return 1.0 / (1.0 + self.dispersion_ * outputs)

    def expert_weights(self, resp, sample_weight, unit_weight=False, latent=None):
        weights = super().expert_weights(resp, sample_weight, unit_weight)
        # The dispersion's M-step weighs the rows by the responsibilities alone.
        self._pending = weights
        return weights if latent is None else weights * latent

    def fit(self, outputs, target, weights):
        pending = getattr(self, "_pending", None)
        weights = weights if pending is None else pending
        self._pending = None
        if not hasattr(self, "dispersion_"):
            self.dispersion_ = np.full(outputs.shape[1], 1.0)
        totals = column_sums(weights)
        counts, which = np.unique(target, return_inverse=True)
        for k in np.flatnonzero(totals > 0):
            self.dispersion_[k] = _fit_dispersion(
                outputs[:, k],
                target,
                weights[:, k],
                (counts, np.bincount(which, weights[:, k], counts.size)),
                self.dispersion_[k],
            )
        return self

    def drop_expert(self, k):
        self.dispersion_ = np.delete(self.dispersion_, k)

    def fitted_attributes(self):
        return {"dispersion_": self.dispersion_}


def _fit_dispersion(means, y, weights, count_weights, previous):
    """The dispersion that maximises the weighted log-likelihood at ``means``.

    A bounded search on its logarithm; the previous value is kept unless the
    search finds better, so that the M-step never lowers the likelihood.
    ``count_weights`` holds the distinct counts and their total weights.
    """
    weights = np.ascontiguousarray(weights)
    means = np.ascontiguousarray(means)

    def loss(log_alpha):
        return -negative_binomial_dispersion_objective(
            means, y, weights, *count_weights, np.exp(log_alpha)
        )

    bounds = (np.log(_MIN_DISPERSION), np.log(_MAX_DISPERSION))
    found = minimize_scalar(
        loss, bounds=bounds, method="bounded", options={"xatol": 1e-4}
    )
    if found.fun <= loss(np.log(previous)):
        return float(np.exp(found.x))
    return float(previous)
