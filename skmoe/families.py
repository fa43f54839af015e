"""Families: how the target scatters around each expert's prediction, ``p_k(y | x)``.

A family owns everything EM needs to know about the target: how to check and
encode it, what an expert outputs for the likelihood (a prediction of ``y``, or the
probability given to the observed class), the log-density of the target from that
output (with every constant, so that log-likelihoods compare with R's
``logLik``), its own parameters (a noise variance per expert, ...) and their
M-step, the sample weights each expert is refitted with, and its share of the
model's parameter count. The EM loop reads nothing else about the target, so a new
noise model is one subclass of :class:`Family`.

A family object is configuration until :meth:`Family.start` returns a copy set up
for one training target; EM then fits that copy's parameters, and the estimator
keeps the fitted copy as ``family_``.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)

from skmoe._chunks import column_sums, row_blocks
from skmoe._kernels import gaussian_log_likelihood
from skmoe._validation import check_magnitude

__all__ = ["Categorical", "Family", "Gaussian"]


class Family(BaseEstimator):
    """Base class of the families: the target's distribution around an expert.

    A subclass implements :meth:`expert_output` and :meth:`log_likelihood`, and
    overrides the other methods where its target or its parameters need it; the
    defaults describe a family without parameters of its own whose experts are
    refitted with weights ``responsibility * sample_weight``.

    Throughout, ``outputs`` is an ``(n_samples, n_experts)`` array with one column
    per expert of what :meth:`expert_output` returns, and ``target`` the target as
    :meth:`prepare` or :meth:`encode` encoded it. The developer page (docs) shows
    where EM calls each method.

    Attributes
    ----------
    n_parameters_per_expert : int
        Free parameters the family adds per expert, for BIC and AIC.

    output : str
        What an expert outputs for the likelihood; ``"prediction"`` is its
        ``predict``. A fast path that computes the same output on the way (the
        linear experts' normal equations) serves every family that declares it.

    non_finite_output : str
        How an error names an expert's non-finite output.

    Examples
    --------
    A family of Laplace noise with unit scale, in a few lines:

    >>> import numpy as np
    >>> from skmoe.families import Family
    >>> class UnitLaplace(Family):
    ...     def expert_output(self, expert, X, target):
    ...         return np.ravel(expert.predict(X))
    ...     def log_likelihood(self, outputs, target, out=None):
    ...         return -np.abs(target[:, None] - outputs) - np.log(2.0)
    >>> family = UnitLaplace().start(np.zeros(3), np.ones(3))
    >>> family.log_likelihood(np.zeros((3, 2)), np.array([0.0, 1.0, -1.0])).shape
    (3, 2)
    """

    n_parameters_per_expert = 0
    output = "prediction"
    non_finite_output = "gave NaN or infinity"

    # ---- the target

    def prepare(self, y, sample_weight):
        """Check and encode the training target.

        The family may learn what the target can be here (a classifier's
        classes).

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            The training target, as validated by the estimator.

        sample_weight : ndarray of shape (n_samples,)
            The sample weights.

        Returns
        -------
        y_expert : ndarray of shape (n_samples,)
            The target the experts are fitted on.

        target : ndarray of shape (n_samples,)
            The target the likelihood reads.
        """
        return y, y

    def declare(self, y, classes=None, partial=False):
        """Learn or check what the target can be, for mini-batch training.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            The training target, or one chunk of it.

        classes : array-like or None, default=None
            A classifier's classes, as ``partial_fit`` takes them.

        partial : bool, default=False
            True in ``partial_fit``, whose first call declares ``classes``.
        """

    def encode(self, y):
        """Encode a target as :meth:`prepare` does, for a fitted family.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            A target to score (``score_samples``) or to train on (a mini-batch).

        Returns
        -------
        target : ndarray of shape (n_samples,)
            The target the likelihood reads.
        """
        return y

    def init_columns(self, target):
        """Columns that stand for the target in the k-means initialisation.

        Parameters
        ----------
        target : ndarray of shape (n_samples,)
            The encoded target.

        Returns
        -------
        columns : ndarray of shape (n_samples, n_columns)
            Clustered with the inputs; ``n_columns`` may be 0.
        """
        return np.empty((target.shape[0], 0))

    def accepts_subsample(self, target):
        """Whether a subsample with this target can start a fit.

        Parameters
        ----------
        target : ndarray of shape (n_rows,)
            The encoded target of the subsample.

        Returns
        -------
        accepted : bool
            False makes EM start on all rows.
        """
        return True

    def check_expert(self, expert):
        """Raise ValueError if ``expert`` cannot give this family's outputs.

        Parameters
        ----------
        expert : estimator
            An unfitted expert.
        """

    def partial_fit_params(self):
        """Keyword arguments that every expert's ``partial_fit`` call takes.

        Returns
        -------
        params : dict
            For instance a classifier's ``classes``.
        """
        return {}

    # ---- the experts' outputs

    def predict(self, expert, X):
        """What the mixture averages over the experts at prediction time.

        Parameters
        ----------
        expert : estimator
            A fitted expert.

        X : ndarray of shape (n_samples, n_features)
            The expert's inputs.

        Returns
        -------
        prediction : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The expert's mean prediction (its ``predict``, by default).
        """
        return np.ravel(expert.predict(X))

    def expert_output(self, expert, X, target):
        """The output of one expert that :meth:`log_likelihood` reads.

        Parameters
        ----------
        expert : estimator
            A fitted expert.

        X : ndarray of shape (n_samples, n_features)
            The expert's inputs.

        target : ndarray of shape (n_samples,) or None
            The encoded target (None at prediction time).

        Returns
        -------
        output : ndarray of shape (n_samples,)
            One value per row.
        """
        raise NotImplementedError

    def expert_outputs(self, experts, X, target, known=None):
        """Every expert's output, one column each, checked to be finite.

        Parameters
        ----------
        experts : list of estimators
            The fitted experts.

        X : ndarray of shape (n_samples, n_features)
            The experts' inputs.

        target : ndarray of shape (n_samples,) or None
            The encoded target.

        known : dict, default=None
            Columns a fast path already computed, by expert index.

        Returns
        -------
        outputs : ndarray of shape (n_samples, n_experts)
            The outputs, in float64.
        """
        outputs = np.empty((X.shape[0], len(experts)), dtype=np.float64)
        known = {} if known is None else known
        for k, expert in enumerate(experts):
            if k in known:
                outputs[:, k] = known[k]
            else:
                outputs[:, k] = self.expert_output(expert, X, target)
            if not np.all(np.isfinite(outputs[:, k])):
                raise FloatingPointError(
                    f"expert {k} ({expert!r}) {self.non_finite_output}."
                )
        return outputs

    # ---- the likelihood and the family's own parameters

    def start(self, target, sample_weight):
        """A copy of this family set up for one training target, not yet fitted.

        Parameters
        ----------
        target : ndarray of shape (n_samples,)
            The encoded training target (of the first batch, in mini-batch
            training).

        sample_weight : ndarray of shape (n_samples,)
            The sample weights.

        Returns
        -------
        family : Family
            The copy; EM fits its parameters.
        """
        return copy.deepcopy(self)

    def log_likelihood(self, outputs, target, out=None):
        """Each expert's log-density of each row's target, ``log p_k(y_i | x_i)``.

        With every constant, so that log-likelihoods compare with R's ``logLik``.

        Parameters
        ----------
        outputs : ndarray of shape (n_samples, n_experts)
            The experts' outputs.

        target : ndarray of shape (n_samples,)
            The encoded target.

        out : ndarray of shape (n_samples, n_experts), default=None
            Where to write the result; may be ``outputs`` itself.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples, n_experts)
            ``out`` if given.
        """
        raise NotImplementedError

    def fit(self, outputs, target, weights):
        """The M-step of the family's own parameters.

        Parameters
        ----------
        outputs : ndarray of shape (n_samples, n_experts)
            The refitted experts' outputs.

        target : ndarray of shape (n_samples,)
            The encoded target.

        weights : ndarray of shape (n_samples, n_experts)
            The weights of :meth:`expert_weights`.

        Returns
        -------
        self : Family
            The fitted family.
        """
        return self

    def partial_fit(self, outputs, target, weights, rho):
        """The mini-batch counterpart of :meth:`fit`, on one batch.

        Parameters
        ----------
        outputs : ndarray of shape (n_rows, n_experts)
            The experts' outputs on the batch.

        target : ndarray of shape (n_rows,)
            The batch's encoded target.

        weights : ndarray of shape (n_rows, n_experts)
            The batch's weights of :meth:`expert_weights`.

        rho : float
            The step of the running means: 1 forgets the past.

        Returns
        -------
        self : Family
            The updated family.
        """
        return self

    def expert_weights(self, resp, sample_weight, unit_weight=False):
        """The sample weights each expert is refitted with.

        Parameters
        ----------
        resp : ndarray of shape (n_samples, n_experts)
            The responsibilities.

        sample_weight : ndarray of shape (n_samples,)
            The sample weights.

        unit_weight : bool, default=False
            Whether every sample weight is 1 (the product can be skipped).

        Returns
        -------
        weights : ndarray of shape (n_samples, n_experts)
            ``resp * sample_weight`` by default.
        """
        return resp if unit_weight else resp * sample_weight[:, None]

    def drop_expert(self, k):
        """Forget expert ``k``'s parameters: EM dropped it from the mixture.

        Parameters
        ----------
        k : int
            The expert's index.
        """

    def n_parameters(self, n_experts):
        """Free parameters the family adds to a model.

        Parameters
        ----------
        n_experts : int
            The model's number of experts.

        Returns
        -------
        n_parameters : int
            ``n_experts * n_parameters_per_expert`` by default.
        """
        return n_experts * self.n_parameters_per_expert

    def fitted_attributes(self):
        """The estimator attributes that show the fitted parameters.

        Returns
        -------
        attributes : dict
            By attribute name, such as ``noise_variance_``.
        """
        return {}


# The variance floor, relative to the target's variance: small enough never to bind
# on real noise, large enough to keep an expert that fits a few rows exactly finite.
_VARIANCE_FLOOR_RATIO = 1e-6
# The variance floor's own floor: log-densities stay finite above it.
_TINY = 1e4 * np.finfo(np.float64).tiny


class Gaussian(Family):
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

    def expert_output(self, expert, X, target):
        return np.ravel(expert.predict(X))

    def start(self, target, sample_weight):
        started = copy.deepcopy(self)
        for name in ("variance_", "_running"):
            started.__dict__.pop(name, None)
        mean = np.average(target, weights=sample_weight)
        variance = np.average((target - mean) ** 2, weights=sample_weight)
        # A constant target has no scale of its own; 1.0 gives it one.
        scale = variance if variance > 0 else 1.0
        started.variance_floor_ = max(_VARIANCE_FLOOR_RATIO * scale, _TINY)
        return started

    def log_likelihood(self, outputs, target, out=None):
        if out is None:
            out = np.empty(outputs.shape, dtype=np.float64)
        gaussian_log_likelihood(outputs, target, self.variance_, out)
        return out

    def fit(self, outputs, target, weights):
        squares = np.zeros(outputs.shape[1])
        for rows in row_blocks(*outputs.shape):  # no (n, K) temporary
            residuals = target[rows, None] - outputs[rows]
            squares += np.einsum("ik,ik,ik->k", weights[rows], residuals, residuals)
        totals = column_sums(weights)
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
        running = getattr(self, "_running", None)
        if running is None or running.shape != batch.shape or rho >= 1.0:
            self._running = batch
        else:
            running += rho * (batch - running)
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


class Categorical(Family):
    """The probability each classifier expert gives to the observed class.

    ``p_k(y | x)`` is the expert's ``predict_proba`` at ``y``, its columns aligned
    to the model's ``classes_`` even when the expert saw fewer classes, clipped to
    at least ``min_proba`` so that one confident expert that is wrong on one row
    cannot make the log-likelihood infinite.

    Parameters
    ----------
    min_proba : float, default=1e-12
        The smallest probability the likelihood takes.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, learnt by :meth:`prepare` or :meth:`declare`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import Categorical
    >>> family = Categorical()
    >>> _, target = family.prepare(np.array(["b", "a", "b"]), np.ones(3))
    >>> family.classes_.tolist(), target.tolist()
    (['a', 'b'], [1, 0, 1])
    """

    output = "probability of the observed class"
    non_finite_output = "gave NaN or infinite probabilities"

    def __init__(self, min_proba=1e-12):
        self.min_proba = min_proba

    def prepare(self, y, sample_weight):
        check_classification_targets(y)
        self.classes_, target = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "MixtureOfExpertsClassifier needs samples of at least 2 classes; the "
                f"data has only one class: {self.classes_.tolist()[0]!r}."
            )
        return y, target

    def declare(self, y, classes=None, partial=False):
        check_classification_targets(y)
        if partial:
            # Sets classes_ on the first call, refuses different classes later.
            _check_partial_fit_first_call(self, classes)
        else:
            # Chunk by chunk, so that no copy of a long y is sorted.
            chunk = 1 << 16
            self.classes_ = np.unique(
                np.concatenate(
                    [np.unique(y[i : i + chunk]) for i in range(0, y.shape[0], chunk)]
                )
            )
        if self.classes_.size < 2:
            raise ValueError(
                "MixtureOfExpertsClassifier needs at least 2 classes; got "
                f"{self.classes_.tolist()}."
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"partial_fit got labels {unknown.tolist()} that are not among the "
                f"classes {self.classes_.tolist()} declared on the first call; a "
                "model cannot add classes while it is trained."
            )

    def encode(self, y):
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y has labels never seen in fit: {unseen.tolist()}; the classes are "
                f"{self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y)

    def init_columns(self, target):
        # No columns: k-means on [x, one-hot(y)] splits the rows by class and
        # starts each logistic expert on one class, a start EM leaves slowly and
        # for worse optima (docs: core.rst, "Initialisation").
        return np.empty((target.shape[0], 0))

    def accepts_subsample(self, target):
        # An expert fitted where a class is missing would start without it.
        return np.unique(target).size == self.classes_.size

    def check_expert(self, expert):
        if not hasattr(expert, "predict_proba"):
            raise ValueError(
                f"{expert!r} cannot be an expert: it has no predict_proba, and a "
                "classifier expert's likelihood is the probability it gives to the "
                "observed class."
            )

    def partial_fit_params(self):
        return {"classes": self.classes_}

    def predict(self, expert, X):
        # predict_proba with one column per class of classes_.
        proba = expert.predict_proba(X)
        if expert.classes_.size == self.classes_.size:
            return proba
        aligned = np.zeros((proba.shape[0], self.classes_.size))
        aligned[:, np.searchsorted(self.classes_, expert.classes_)] = proba
        return aligned

    def expert_output(self, expert, X, target):
        return self.predict(expert, X)[np.arange(X.shape[0]), target]

    def log_likelihood(self, outputs, target, out=None):
        out = np.maximum(outputs, self.min_proba, out=out)
        return np.log(out, out=out)
