"""Gaussian noise around each expert's prediction."""

import numpy as np
from sklearn.base import is_classifier

from skmoe._chunks import column_sums, row_blocks
from skmoe._kernels import gaussian_log_likelihood
from skmoe._validation import check_magnitude
from skmoe.families._base import Family, log_density_array, running_mean

# The variance floor, relative to the target's variance: small enough never to bind
# on real noise, large enough to keep an expert that fits a few rows exactly finite.
_VARIANCE_FLOOR_RATIO = 1e-6
# The variance floor's own floor: log-densities stay finite above it.
_TINY = 1e4 * np.finfo(np.float64).tiny


class RealTarget(Family):
    """A family of real targets that read each expert's prediction."""

    non_finite_output = "predicted NaN or infinity"

    def prepare(self, y, sample_weight):
        y = np.asarray(y, dtype=np.float64)
        check_magnitude(y, "y")
        return y, y

    def encode(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
        return y

    def init_columns(self, target):
        return target[:, None]

    def check_expert(self, expert):
        if is_classifier(expert):
            raise ValueError(
                f"{expert!r} is a classifier, which cannot predict a real "
                f"target's mean for the {self.name} family; use a regressor, or "
                "MixtureOfExpertsClassifier for class labels."
            )

    def expert_output(self, expert, X, target):
        return np.ravel(expert.predict(X))


class Gaussian(RealTarget):
    """Gaussian noise around each expert's prediction, one variance per expert.

    ``p_k(y | x) = N(y; f_k(x), sigma_k^2)``. Each variance is the weighted mean
    squared residual of its expert, floored at ``1e-6`` times the target's variance
    so that an expert fitting a handful of rows exactly cannot drive the likelihood
    to infinity.

    Attributes
    ----------
    variance_floor_ : float
        Smallest variance an expert may take, set by :meth:`start`.

    variance_ : ndarray of shape (n_experts,)
        Each expert's noise variance, once fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import Gaussian
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> family = Gaussian().start(y, np.ones(4))
    >>> outputs = np.column_stack([y, y + 1.0])  # two experts' predictions
    >>> family = family.fit(outputs, y, np.ones((4, 2)))
    >>> family.variance_.round(8).tolist()  # the first expert fits exactly: floored
    [1.25e-06, 1.0]
    """

    n_parameters_per_expert = 1
    name = "gaussian"
    fitted_state = ("variance_", "_running")

    def start(self, target, sample_weight):
        started = super().start(target, sample_weight)
        started.variance_floor_ = variance_floor(target, sample_weight)
        return started

    def log_likelihood(self, outputs, target, out=None):
        out = log_density_array(outputs, out)
        gaussian_log_likelihood(outputs, target, self.variance_, out)
        return out

    def fit_sums(self, outputs, target, weights):
        return column_sums(weights), weighted_squares(outputs, target, weights)

    def fit_from_sums(self, sums):
        totals, squares = sums
        variances = squares / np.maximum(totals, np.finfo(np.float64).tiny)
        self._set_variances(variances, totals > 0)
        self._running = None  # a later partial_fit starts from this fit
        return self

    def partial_fit(self, outputs, target, weights, rho):
        # Each variance is the ratio of the running means of
        # sum_i w_ik (y_i - f_k(x_i))^2 and of sum_i w_ik per row.
        batch = (
            np.stack(
                [
                    np.einsum("ik,ik->k", weights, (target[:, None] - outputs) ** 2),
                    weights.sum(axis=0),
                ]
            )
            / outputs.shape[0]
        )
        self._running = running_mean(getattr(self, "_running", None), batch, rho)
        squared, totals = self._running
        fitted = totals > 0
        self._set_variances(squared / np.where(fitted, totals, 1.0), fitted)
        return self

    def _set_variances(self, variances, fitted):
        """Take ``variances`` where ``fitted``, keep the others; floor them all."""
        if not hasattr(self, "variance_"):
            self.variance_ = np.full(variances.size, self.variance_floor_)
        self.variance_ = np.maximum(
            np.where(fitted, variances, self.variance_), self.variance_floor_
        )

    def drop_expert(self, k):
        self.variance_ = np.delete(self.variance_, k)

    def fitted_attributes(self):
        return {"noise_variance_": self.variance_}


def variance_floor(target, sample_weight):
    """The smallest noise variance of a fit, relative to the target's variance."""
    mean = np.average(target, weights=sample_weight)
    return floor_of_variance(np.average((target - mean) ** 2, weights=sample_weight))


def floor_of_variance(variance):
    """:func:`variance_floor` of a target of weighted variance ``variance``."""
    # A constant target has no scale of its own; 1.0 gives it one.
    scale = variance if variance > 0 else 1.0
    return max(_VARIANCE_FLOOR_RATIO * scale, _TINY)


def weighted_squares(outputs, target, weights):
    """Per expert ``sum_i weights_ik (target_i - outputs_ik)^2``."""
    squares = np.zeros(outputs.shape[1])
    for rows in row_blocks(*outputs.shape):  # no (n, K) temporary
        residuals = target[rows, None] - outputs[rows]
        squares += np.einsum("ik,ik,ik->k", weights[rows], residuals, residuals)
    return squares
