"""Student-t noise: robust regression experts that outliers cannot drag."""

import copy
from numbers import Real

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import Interval, StrOptions

from skmoe._chunks import column_sums
from skmoe._kernels import (
    student_t_log_likelihood,
    student_t_precisions,
    student_t_weights,
)
from skmoe.families._base import running_mean
from skmoe.families._gaussian import RealTarget, variance_floor, weighted_squares

# The degrees of freedom EM may reach: below 0.5 the tails are so heavy that an
# expert can explain any row badly and all rows alike; above 200 the t is a
# Gaussian to four digits of every log-density.
_MIN_DF, _MAX_DF = 0.5, 200.0
# Where estimated degrees of freedom start: heavy enough tails that the first
# E-steps already give gross outliers little weight.
_START_DF = 4.0


class StudentT(RealTarget):
    """Student-t noise around each expert's prediction (its location).

    ``p_k(y | x) = t(y; f_k(x), sigma_k, nu_k)``. EM treats the t as a Gaussian
    whose precision is a latent Gamma variable: each E-step gives row ``i`` the
    precision ``u_ik = (nu_k + 1) / (nu_k + (y_i - f_k(x_i))^2 / sigma_k^2)``,
    and each expert is refitted with weights ``resp * sample_weight * u``, so
    that rows far from an expert's line (outliers) weigh little in its fit. The
    scale is then ``sigma_k^2 = sum_i resp_ik w_i u_ik r_ik^2 / sum_i resp_ik
    w_i``, floored like the Gaussian variance, and the degrees of freedom solve
    the M-step's one-dimensional equation (Peel & McLachlan, 2000), in
    ``[0.5, 200]``. Any expert whose ``fit`` takes ``sample_weight`` works; the
    linear experts keep their fast path.

    Parameters
    ----------
    df : {"per_expert", "shared"} or float, default="per_expert"
        The degrees of freedom ``nu``: estimated for each expert, estimated
        once for all experts, or fixed at the given value (1 is the Cauchy).
        Estimated degrees of freedom start at 4.

    Attributes
    ----------
    scale_ : ndarray of shape (n_experts,)
        Each expert's scale ``sigma_k`` (not its standard deviation, which is
        ``sigma_k sqrt(nu_k / (nu_k - 2))`` for ``nu_k > 2``).

    df_ : ndarray of shape (n_experts,)
        Each expert's degrees of freedom.

    variance_floor_ : float
        Smallest ``sigma_k^2`` an expert may take, set by :meth:`start`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import StudentT
    >>> y = np.array([0.0, 0.1, -0.1, 10.0])  # one outlier
    >>> family = StudentT(df=1.0).start(y, np.ones(4))
    >>> family = family.fit(np.zeros((4, 1)), y, np.ones((4, 1)))
    >>> u = family.latent_weights(np.zeros((4, 1)), y)  # the precisions
    >>> u.ravel().round(2).tolist()  # the outlier weighs a fifth of the others
    [2.0, 2.0, 2.0, 0.4]
    """

    _parameter_constraints = {
        "df": [
            StrOptions({"per_expert", "shared"}),
            Interval(Real, 0, None, closed="neither"),
        ],
    }
    name = "student_t"

    def __init__(self, df="per_expert"):
        self.df = df

    def default_expert(self):
        return LinearRegression()

    def start(self, target, sample_weight):
        self._validate_params()
        started = copy.deepcopy(self)
        for name in ("scale_", "df_", "_pending", "_running"):
            started.__dict__.pop(name, None)
        started.variance_floor_ = variance_floor(target, sample_weight)
        return started

    def log_likelihood(self, outputs, target, out=None):
        if out is None:
            out = np.empty(outputs.shape, dtype=np.float64)
        student_t_log_likelihood(outputs, target, self.scale_, self.df_, out)
        return out

    def latent_weights(self, outputs, target):
        if not hasattr(self, "scale_"):
            return None
        precisions = np.empty(outputs.shape, dtype=np.float64)
        student_t_precisions(outputs, target, self.scale_, self.df_, precisions)
        return precisions

    def expert_weights(self, resp, sample_weight, unit_weight=False, latent=None):
        weights = super().expert_weights(resp, sample_weight, unit_weight)
        if latent is None:  # the first M-step: every precision is 1
            self._pending = None
            return weights
        out = np.empty(weights.shape, dtype=np.float64)
        self._pending = student_t_weights(weights, latent, out)
        return out

    def fit(self, outputs, target, weights):
        squares = weighted_squares(outputs, target, weights)
        pending = getattr(self, "_pending", None)
        if pending is None:
            totals, latent = column_sums(weights), None
        else:
            totals, latent = pending
        self._pending = None
        self._update(squares, totals, latent)
        self._running = None  # a later partial_fit starts from this fit
        return self

    def partial_fit(self, outputs, target, weights, rho):
        n_rows = outputs.shape[0]
        squares = weighted_squares(outputs, target, weights)
        pending = getattr(self, "_pending", None)
        self._pending = None
        if pending is None:
            self._update(squares, column_sums(weights), None)
            return self
        batch = np.stack([squares, *pending]) / n_rows
        self._running = running_mean(getattr(self, "_running", None), batch, rho)
        self._update(*self._running)
        return self

    def _update(self, squares, totals, latent):
        """The scales from the residual squares and, with the E-step's
        ``latent`` sums, the degrees of freedom."""
        fitted = totals > 0
        n_experts = totals.size
        if not hasattr(self, "scale_"):
            self.scale_ = np.full(n_experts, np.sqrt(self.variance_floor_))
            start = _START_DF if isinstance(self.df, str) else float(self.df)
            self.df_ = np.full(n_experts, start)
        variances = squares / np.where(fitted, totals, 1.0)
        variances = np.where(fitted, variances, self.scale_**2)
        self.scale_ = np.sqrt(np.maximum(variances, self.variance_floor_))
        if latent is None or not isinstance(self.df, str):
            return
        if self.df == "shared":
            total = totals.sum()
            if total > 0:
                self.df_ = np.full(
                    n_experts, _solve_df(latent.sum() / total, self.df_[0])
                )
            return
        for k in np.flatnonzero(fitted):
            self.df_[k] = _solve_df(latent[k] / totals[k], self.df_[k])

    def drop_expert(self, k):
        self.scale_ = np.delete(self.scale_, k)
        self.df_ = np.delete(self.df_, k)

    def n_parameters(self, n_experts):
        if self.df == "per_expert":
            return 2 * n_experts
        return n_experts + (self.df == "shared")

    def fitted_attributes(self):
        return {"scale_": self.scale_, "df_": self.df_}


def _solve_df(mean_latent, df):
    """The degrees of freedom that solve the M-step's equation, in the bounds.

    ``mean_latent`` is the weighted mean of ``log u - u`` over the expert's rows,
    with ``u`` the precisions the E-step computed at ``df``.
    """
    offset = 1.0 + mean_latent + digamma(0.5 * (df + 1.0)) - np.log(0.5 * (df + 1.0))

    def equation(nu):
        return np.log(0.5 * nu) - digamma(0.5 * nu) + offset

    # log(x) - digamma(x) falls from infinity to 0: the equation falls with nu.
    if equation(_MAX_DF) >= 0:
        return _MAX_DF
    if equation(_MIN_DF) <= 0:
        return _MIN_DF
    return brentq(equation, _MIN_DF, _MAX_DF, xtol=1e-8)
