"""Expert likelihoods: ``p_k(y | x)`` from each expert's output.

A likelihood turns the experts' outputs, an ``(n_samples, n_experts)`` array, into
``log p_k(y_i | x_i)`` (the E-step's input) and fits its own noise parameters in the
M-step. Regression experts output their prediction of ``y``; classification experts
output the probability they give to the observed label.
"""

import numpy as np

from skmoe._chunks import column_sums, row_blocks
from skmoe._kernels import gaussian_log_likelihood


class GaussianLikelihood:
    """Gaussian noise around each expert's prediction, one variance per expert.

    Parameters
    ----------
    variance_floor : float
        Smallest variance an expert may take, so that an expert fitting a handful of
        rows exactly cannot drive the likelihood to infinity.
    """

    n_parameters_per_expert = 1

    def __init__(self, variance_floor):
        self.variance_floor = variance_floor

    def fit(self, outputs, y, weights):
        """Weighted residual variance of each expert, floored."""
        squares = np.zeros(outputs.shape[1])
        for rows in row_blocks(*outputs.shape):  # no (n, K) temporary
            residuals = y[rows, None] - outputs[rows]
            squares += np.einsum("ik,ik,ik->k", weights[rows], residuals, residuals)
        totals = column_sums(weights)
        variances = squares / np.maximum(totals, np.finfo(np.float64).tiny)
        fitted = totals > 0
        if not hasattr(self, "variance_"):
            self.variance_ = np.full(outputs.shape[1], self.variance_floor)
        self.variance_ = np.where(fitted, variances, self.variance_)
        self.variance_ = np.maximum(self.variance_, self.variance_floor)
        self._running = None  # a later partial_fit starts from this fit
        return self

    def partial_fit(self, outputs, y, weights, rho):
        """Blend one batch's weighted squared residuals into running means.

        The mini-batch counterpart of :meth:`fit`: each expert's variance is the
        ratio of the running means of ``sum_i w_ik (y_i - f_k(x_i))^2`` and of
        ``sum_i w_ik`` per row, updated with step ``rho`` (1 forgets the past).
        """
        batch = (
            np.stack(
                [
                    np.einsum("ik,ik->k", weights, (y[:, None] - outputs) ** 2),
                    weights.sum(axis=0),
                ]
            )
            / outputs.shape[0]
        )
        running = getattr(self, "_running", None)
        if running is None or running.shape != batch.shape or rho >= 1.0:
            self._running = batch
        else:
            running += rho * (batch - running)
        squared, totals = self._running
        if not hasattr(self, "variance_"):
            self.variance_ = np.full(outputs.shape[1], self.variance_floor)
        fitted = totals > 0
        variances = squared / np.where(fitted, totals, 1.0)
        self.variance_ = np.maximum(
            np.where(fitted, variances, self.variance_), self.variance_floor
        )
        return self

    def drop_expert(self, k):
        """Forget expert ``k``'s variance (it was dropped from the mixture)."""
        self.variance_ = np.delete(self.variance_, k)

    def log_likelihood(self, outputs, y, out=None):
        """``log N(y_i; outputs[i, k], variance_[k])``, shape (n_samples, n_experts).

        Written to ``out`` if given, which may be ``outputs`` itself.
        """
        if out is None:
            out = np.empty(outputs.shape, dtype=np.float64)
        gaussian_log_likelihood(outputs, y, self.variance_, out)
        return out


class CategoricalLikelihood:
    """The probability each classifier expert gives to the observed label.

    Parameters
    ----------
    min_proba : float, default=1e-12
        Probabilities are clipped to at least this value, so that one confident
        expert that is wrong on one row cannot make the log-likelihood infinite.
    """

    n_parameters_per_expert = 0

    def __init__(self, min_proba=1e-12):
        self.min_proba = min_proba

    def fit(self, outputs, y, weights):
        """Nothing to fit: the experts' probabilities are the whole model."""
        return self

    def partial_fit(self, outputs, y, weights, rho):
        """Nothing to fit, batch by batch either."""
        return self

    def drop_expert(self, k):
        """Nothing to forget: there is no parameter per expert."""

    def log_likelihood(self, outputs, y, out=None):
        """``log max(outputs, min_proba)``; ``outputs`` already picks the label.

        Written to ``out`` if given, which may be ``outputs`` itself.
        """
        out = np.maximum(outputs, self.min_proba, out=out)
        return np.log(out, out=out)
