"""Gamma noise: positive, right-skewed amounts around each expert's mean."""

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma
from sklearn.linear_model import GammaRegressor

from skmoe._chunks import column_sums
from skmoe._kernels import gamma_log_likelihood, gamma_shape_statistics
from skmoe.families._base import (
    check_positive_expert,
    check_positive_outputs,
    check_target_rows,
    log_density_array,
    running_mean,
)
from skmoe.families._gaussian import RealTarget

# The shapes EM may reach: a coefficient of variation between 100 and 1e-3. The
# upper bound plays the Gaussian variance floor's part for an expert that fits a
# few rows exactly.
_MIN_SHAPE, _MAX_SHAPE = 1e-4, 1e6


class Gamma(RealTarget):
    """Gamma noise around each expert's predicted mean, one shape per expert.

    ``p_k(y | x) = Gamma(y; mean mu_k(x), shape s_k)``, whose variance is
    ``mu^2 / s_k``. The experts predict the mean, which must be positive; the
    default is an unpenalised ``GammaRegressor`` (log link). The mean's fit does
    not depend on the shape, so experts are refitted with the plain weights
    ``resp * sample_weight``; each shape is then its maximum-likelihood value,
    the root of ``log s - digamma(s) = mean(y / mu - log(y / mu)) - 1`` over the
    expert's weighted rows, in ``[1e-4, 1e6]``. The target must be positive.

    Attributes
    ----------
    shape_ : ndarray of shape (n_experts,)
        Each expert's shape ``s_k``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import Gamma
    >>> rng = np.random.default_rng(0)
    >>> y = rng.gamma(shape=3.0, scale=2.0 / 3.0, size=5000)  # mean 2, shape 3
    >>> family = Gamma().start(y, np.ones(y.size))
    >>> family = family.fit(np.full((y.size, 1), 2.0), y, np.ones((y.size, 1)))
    >>> float(family.shape_[0].round(1))
    3.0
    """

    name = "gamma"
    n_parameters_per_expert = 1
    fitted_state = ("shape_", "_running")

    def default_expert(self):
        return GammaRegressor(alpha=0.0)

    def prepare(self, y, sample_weight):
        y, _ = super().prepare(y, sample_weight)
        check_target_rows(~(y > 0), self.name, "positive targets")
        return y, y

    def encode(self, y):
        y = super().encode(y)
        check_target_rows(~(y > 0), self.name, "positive targets")
        return y

    def init_columns(self, target):
        return np.log(target)[:, None]

    def check_expert(self, expert):
        super().check_expert(expert)
        check_positive_expert(expert, self.name, "positive")

    def expert_outputs(self, experts, X, target, known=None):
        outputs = super().expert_outputs(experts, X, target, known)
        check_positive_outputs(outputs, experts, self.name)
        return outputs

    def log_likelihood(self, outputs, target, out=None):
        out = log_density_array(outputs, out)
        gamma_log_likelihood(outputs, target, self.shape_, out)
        return out

    def fit_sums(self, outputs, target, weights):
        return gamma_shape_statistics(outputs, target, weights), column_sums(weights)

    def fit_from_sums(self, sums):
        self._update(*sums)
        self._running = None  # a later partial_fit starts from this fit
        return self

    def partial_fit(self, outputs, target, weights, rho):
        batch = (
            np.stack(
                [gamma_shape_statistics(outputs, target, weights), weights.sum(axis=0)]
            )
            / outputs.shape[0]
        )
        self._running = running_mean(getattr(self, "_running", None), batch, rho)
        self._update(*self._running)
        return self

    def _update(self, statistics, totals):
        if not hasattr(self, "shape_"):
            self.shape_ = np.ones(totals.size)
        for k in np.flatnonzero(totals > 0):
            self.shape_[k] = _solve_shape(-1.0 - statistics[k] / totals[k])

    def drop_expert(self, k):
        self.shape_ = np.delete(self.shape_, k)

    def fitted_attributes(self):
        return {"shape_": self.shape_}


def _solve_shape(target):
    """The shape ``s`` with ``log s - digamma(s) = target``, in the bounds."""

    def equation(s):
        return np.log(s) - digamma(s) - target

    # log(s) - digamma(s) falls from infinity to 0.
    if equation(_MAX_SHAPE) >= 0:
        return _MAX_SHAPE
    if equation(_MIN_SHAPE) <= 0:
        return _MIN_SHAPE
    return brentq(equation, _MIN_SHAPE, _MAX_SHAPE, xtol=1e-10, rtol=1e-12)
