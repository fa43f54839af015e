"""Student-t noise: robust regression experts that outliers cannot drag."""

from numbers import Real

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, gammaln, polygamma
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import Interval, StrOptions

from skmoe._chunks import column_sums
from skmoe._kernels import (
    student_t_df_sums,
    student_t_log_likelihood,
    student_t_precisions,
    student_t_weights,
)
from skmoe.families._base import log_density_array, running_mean
from skmoe.families._gaussian import RealTarget, variance_floor, weighted_squares

# The degrees of freedom EM may reach: below 0.5 the tails are so heavy that an
# expert can explain any row badly and all rows alike; at 200 the t's
# log-density is within 0.01 of the Gaussian's up to two scales from the
# location.
_MIN_DF, _MAX_DF = 0.5, 200.0
# Where estimated degrees of freedom start: heavy enough tails that the first
# E-steps already give gross outliers little weight.
_START_DF = 4.0
# The first M-steps move the degrees of freedom by EM's equation, which moves
# them a little at a time while the experts find their regimes; maximising the
# likelihood in them from the start (ECME) led EM to worse optima in 2 of 5
# benchmark fits (docs: families.rst). Later M-steps take one Newton step of
# ECME, halved at most _MAX_HALVINGS times so that the likelihood never falls.
_EM_DF_STEPS, _MAX_HALVINGS = 10, 10
_NEGLIGIBLE = 1e-10
# What expert_weights keeps, in place of the sums of log u, for an ECME M-step.
_ECME = "ecme"


class StudentT(RealTarget):
    """Student-t noise around each expert's prediction (its location).

    ``p_k(y | x) = t(y; f_k(x), sigma_k, nu_k)``. EM treats the t as a Gaussian
    whose precision is a latent Gamma variable: each E-step gives row ``i`` the
    precision ``u_ik = (nu_k + 1) / (nu_k + (y_i - f_k(x_i))^2 / sigma_k^2)``,
    and each expert is refitted with weights ``resp * sample_weight * u``, so
    that rows far from an expert's line (outliers) weigh little in its fit. The
    scale is then ``sigma_k^2 = sum_i resp_ik w_i u_ik r_ik^2 / sum_i resp_ik
    w_i``, floored like the Gaussian variance. The degrees of freedom, in
    ``[0.5, 200]``, solve EM's one-dimensional equation (Peel & McLachlan, 2000)
    in the first ten M-steps; later ones take a Newton step towards the
    maximum of each expert's weighted t log-likelihood (ECME; Liu & Rubin,
    1995), which converges in far fewer iterations. Mini-batch training solves
    EM's equation from running sums. Any expert whose ``fit`` takes
    ``sample_weight`` works; the linear experts keep their fast path.

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
    fitted_state = ("scale_", "df_", "_pending", "_running", "_n_fits")

    def __init__(self, df="per_expert"):
        self.df = df

    def default_expert(self):
        return LinearRegression()

    def start(self, target, sample_weight):
        self._validate_params()
        started = super().start(target, sample_weight)
        started.variance_floor_ = variance_floor(target, sample_weight)
        return started

    def log_likelihood(self, outputs, target, out=None):
        out = log_density_array(outputs, out)
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
            self._pending = (column_sums(weights), None, weights)
            return weights
        if getattr(self, "_n_fits", 0) >= _EM_DF_STEPS:
            # ECME reads no sums of log u: the precisions only weigh the fits.
            self._pending = (column_sums(weights), _ECME, weights)
            return weights * latent
        out = np.empty(weights.shape, dtype=np.float64)
        totals, latent_sums = student_t_weights(weights, latent, out)
        self._pending = (totals, latent_sums, weights)
        return out

    def fit(self, outputs, target, weights):
        squares = weighted_squares(outputs, target, weights)
        totals, latent, plain = self._take_pending(weights)
        self._set_scales(squares, totals)
        self._n_fits = getattr(self, "_n_fits", 0) + 1
        if isinstance(self.df, str) and latent is _ECME:
            self._maximize_df(outputs, target, plain, totals)
        elif isinstance(self.df, str) and latent is not None:
            self._solve_df(totals, latent)
        self._running = None  # a later partial_fit starts from this fit
        return self

    def partial_fit(self, outputs, target, weights, rho):
        squares = weighted_squares(outputs, target, weights)
        totals, latent, _ = self._take_pending(weights)
        self._n_fits = 0  # the next batches keep the sums that EM's equation reads
        if latent is None or latent is _ECME:
            self._set_scales(squares, totals)
            return self
        batch = np.stack([squares, totals, latent]) / outputs.shape[0]
        self._running = running_mean(getattr(self, "_running", None), batch, rho)
        squares, totals, latent = self._running
        self._set_scales(squares, totals)
        if isinstance(self.df, str):
            self._solve_df(totals, latent)
        return self

    def _take_pending(self, weights):
        """The E-step's sums that :meth:`expert_weights` kept (``weights`` taken
        as the plain weights when it was not called)."""
        pending = getattr(self, "_pending", None)
        self._pending = None
        return (column_sums(weights), None, weights) if pending is None else pending

    def _set_scales(self, squares, totals):
        """The scales from the weighted residual squares; the first call also sets
        the degrees of freedom to their start."""
        fitted = totals > 0
        if not hasattr(self, "scale_"):
            self.scale_ = np.full(totals.size, np.sqrt(self.variance_floor_))
            start = _START_DF if isinstance(self.df, str) else float(self.df)
            self.df_ = np.full(totals.size, start)
        variances = squares / np.where(fitted, totals, 1.0)
        variances = np.where(fitted, variances, self.scale_**2)
        self.scale_ = np.sqrt(np.maximum(variances, self.variance_floor_))

    def _maximize_df(self, outputs, target, weights, totals):
        """One Newton step of each expert's degrees of freedom towards the
        maximum of its weighted t log-likelihood at its new location and scale
        (ECME), on ``log nu``, halved until the likelihood does not fall."""
        shared = self.df == "shared"
        df = self.df_
        value, first, second = _df_derivatives(
            outputs, target, weights, self.scale_, df, totals, shared
        )
        # In log nu: the gradient is nu f', the curvature nu^2 f'' + nu f'.
        gradient = df * first
        curvature = df**2 * second + gradient
        newton = -gradient / np.minimum(curvature, -np.finfo(np.float64).tiny)
        step = np.clip(np.where(curvature < 0, newton, np.sign(gradient)), -2.0, 2.0)
        # A step that would raise the log-likelihood by less than a 1e-10 part
        # per unit of weight is not worth the pass over the rows that checks it.
        weight = totals.sum() if shared else totals
        accepted = (np.abs(gradient * step) < _NEGLIGIBLE * weight) & (curvature < 0)
        bounds = np.log(_MIN_DF), np.log(_MAX_DF)
        for _ in range(_MAX_HALVINGS):
            if np.all(accepted):
                break
            trial = np.exp(np.clip(np.log(df) + step, *bounds))
            trial_value = _df_value(
                outputs, target, weights, self.scale_, trial, totals, shared
            )
            better = (trial_value >= value) & ~accepted
            self.df_ = np.where(better & (totals > 0), trial, self.df_)
            accepted |= better
            step = 0.5 * step

    def _solve_df(self, totals, latent):
        """The degrees of freedom that solve EM's equation (Peel & McLachlan,
        2000) from running sums: mini-batch training has no rows to maximise
        the likelihood over."""
        if self.df == "shared":
            total = totals.sum()
            if total > 0:
                self.df_ = np.full(
                    totals.size, _solve_df(latent.sum() / total, self.df_[0])
                )
            return
        for k in np.flatnonzero(totals > 0):
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


def _df_value(outputs, target, weights, scale, df, totals, shared):
    """Each expert's weighted t log-likelihood in its degrees of freedom, up to
    terms free of them; with ``shared``, their sum (the same in every entry)."""
    log_terms = student_t_df_sums(outputs, target, weights, scale, df, True)[0]
    value = (
        totals * (gammaln(0.5 * (df + 1.0)) - gammaln(0.5 * df) - 0.5 * np.log(df))
        - 0.5 * (df + 1.0) * log_terms
    )
    return np.full(df.size, value.sum()) if shared else value


def _df_derivatives(outputs, target, weights, scale, df, totals, shared):
    """:func:`_df_value` and its first and second derivatives in ``df``."""
    log_terms, ratio, curvature = student_t_df_sums(
        outputs, target, weights, scale, df, False
    )
    half = 0.5 * (df + 1.0)
    value = (
        totals * (gammaln(half) - gammaln(0.5 * df) - 0.5 * np.log(df))
        - half * log_terms
    )
    first = (
        totals * (0.5 * digamma(half) - 0.5 * digamma(0.5 * df) - 0.5 / df)
        - 0.5 * log_terms
        + half * ratio
    )
    second = (
        totals
        * (0.25 * polygamma(1, half) - 0.25 * polygamma(1, 0.5 * df) + 0.5 / df**2)
        + ratio
        - half * curvature
    )
    if shared:
        return tuple(np.full(df.size, part.sum()) for part in (value, first, second))
    return value, first, second


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
