"""The family protocol: what EM reads about the target (docs: families.rst)."""

import copy
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator

from skmoe._validation import check_expert_rows


class FitBySums:
    """The M-step of a family's own parameters, as a function of sums over rows.

    A family whose M-step reads sums over rows alone overrides
    :meth:`fit_sums` and :meth:`fit_from_sums` instead of :meth:`fit`: the
    sums of row chunks then fit it on a Dask cluster. A family that overrides
    :meth:`fit` itself cannot be fitted on such chunks.
    """

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
        return self.fit_from_sums(self.fit_sums(outputs, target, weights))

    def fit_sums(self, outputs, target, weights):
        """The sums over rows that :meth:`fit_from_sums` solves from.

        Parameters
        ----------
        outputs : ndarray of shape (n_samples, n_experts)
            The refitted experts' outputs.

        target : ndarray of shape (n_samples,)
            The encoded target.

        weights : ndarray of shape (n_samples, n_experts)
            The weights of ``expert_weights``.

        Returns
        -------
        sums : tuple of ndarray
            Arrays that add up over row chunks; empty (the default) for a
            family without parameters of its own.
        """
        return ()

    def fit_from_sums(self, sums):
        """The M-step of the family's own parameters from :meth:`fit_sums`.

        Parameters
        ----------
        sums : tuple of ndarray
            What :meth:`fit_sums` returned, or its sum over row chunks.

        Returns
        -------
        self : Family
            The fitted family.
        """
        return self


class Family(FitBySums, BaseEstimator, metaclass=ABCMeta):
    """Base class of the families: the target's distribution around an expert.

    A subclass implements :meth:`expert_output` and :meth:`log_likelihood`, and
    overrides the other methods where its target or its parameters need it; the
    defaults describe a family without parameters of its own whose experts are
    refitted with weights ``responsibility * sample_weight``.

    Throughout, ``outputs`` is an ``(n_samples, n_experts)`` array with one column
    per expert of what :meth:`expert_output` returns, and ``target`` the target as
    :meth:`prepare` or :meth:`encode` encoded it. The developer page (docs) shows
    where EM calls each method; the user guide's "Families" page shows a family
    written from scratch.

    A family with latent variables (Student-t's precisions) returns them from
    :meth:`latent_weights` at each E-step; EM hands them to the next
    :meth:`expert_weights`, which opens the M-step, and :meth:`fit` closes it.

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

    mini_batch : bool
        Whether :meth:`partial_fit` can train the family's parameters, which
        ``solver="gradient"`` and ``partial_fit`` need.

    name : str
        How messages name the family (by default, its class name).

    fitted_state : tuple of str
        The attributes a fit sets (its parameters, running sums), which
        :meth:`start` leaves out of the copy it returns.

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
    mini_batch = True
    fitted_state = ()

    @property
    def name(self):
        return type(self).__name__

    # ---- the target

    def default_expert(self):
        """The expert of a model whose ``expert`` is None.

        Returns
        -------
        expert : estimator or None
            None leaves the choice to the estimator (``LinearRegression`` for
            the regressor).
        """
        return None

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

    @abstractmethod
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
                output = self.expert_output(expert, X, target)
                outputs[:, k] = check_expert_rows(
                    output, expert, X.shape[0], "outputs", index=k
                )
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
            The copy, without the attributes of ``fitted_state``; EM fits its
            parameters.
        """
        started = copy.deepcopy(self)
        for name in self.fitted_state:
            started.__dict__.pop(name, None)
        return started

    @abstractmethod
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

    def latent_weights(self, outputs, target):
        """The E-step's latent factors of each expert's weights, or None.

        Called by the E-step with the experts' outputs at the parameters that
        gave the responsibilities, before they are overwritten.

        Parameters
        ----------
        outputs : ndarray of shape (n_samples, n_experts)
            The experts' outputs.

        target : ndarray of shape (n_samples,)
            The encoded target.

        Returns
        -------
        latent : ndarray of shape (n_samples, n_experts) or None
            None (the default) for a family without latent variables.
        """
        return None

    def expert_weights(self, resp, sample_weight, unit_weight=False, latent=None):
        """The sample weights each expert is refitted with; opens the M-step.

        Parameters
        ----------
        resp : ndarray of shape (n_samples, n_experts)
            The responsibilities.

        sample_weight : ndarray of shape (n_samples,)
            The sample weights.

        unit_weight : bool, default=False
            Whether every sample weight is 1 (the product can be skipped).

        latent : ndarray of shape (n_samples, n_experts) or None, default=None
            What :meth:`latent_weights` returned at the E-step that gave
            ``resp``; None before the first E-step.

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


def running_mean(previous, batch, rho):
    """The running mean of a mini-batch statistic: ``batch`` if there is no
    ``previous`` of its shape or ``rho`` forgets the past, else a step of ``rho``
    from ``previous`` towards ``batch``."""
    if previous is None or previous.shape != batch.shape or rho >= 1.0:
        return batch
    return previous + rho * (batch - previous)


def check_positive_outputs(outputs, experts, family, allow_zero=False):
    """Raise ValueError naming the expert and rows whose mean is not positive."""
    for k, expert in enumerate(experts):
        column = outputs[:, k]
        bad = np.flatnonzero(column < 0 if allow_zero else column <= 0)
        if bad.size:
            needed = "non-negative" if allow_zero else "positive"
            raise ValueError(
                f"expert {k} ({expert!r}) predicted means that are not {needed} at "
                f"{bad.size} rows (the first: {bad[:5].tolist()}); the {family} "
                f"family needs {needed} means. Use an expert with a log link, such "
                "as PoissonRegressor, GammaRegressor or "
                "HistGradientBoostingRegressor(loss='poisson')."
            )


def check_positive_expert(expert, family, needed):
    """Raise ValueError, before any fit, for an expert whose means can be negative.

    A linear model predicts ``x @ coef``, which is negative somewhere whatever it
    is fitted to; it would only fail at the first M-step, after EM's work began.
    """
    from sklearn import linear_model

    identity_link = (
        linear_model.LinearRegression,
        linear_model.Ridge,
        linear_model.RidgeCV,
        linear_model.Lasso,
        linear_model.LassoCV,
        linear_model.ElasticNet,
        linear_model.ElasticNetCV,
        linear_model.Lars,
        linear_model.LassoLars,
        linear_model.BayesianRidge,
        linear_model.ARDRegression,
        linear_model.HuberRegressor,
        linear_model.QuantileRegressor,
        linear_model.SGDRegressor,
    )
    if isinstance(expert, identity_link):
        raise ValueError(
            f"{expert!r} cannot be an expert of the {family} family: a linear "
            f"model's predictions are negative somewhere, and the {family} family "
            f"needs {needed} means. Use an expert with a log link, such as "
            "PoissonRegressor, GammaRegressor or "
            "HistGradientBoostingRegressor(loss='poisson'), or a tree."
        )


def check_target_rows(bad, family, needs, advice=""):
    """Raise ValueError naming the rows of the target ``family`` cannot take."""
    rows = np.flatnonzero(bad)
    if rows.size:
        raise ValueError(
            f"the {family} family needs {needs}; y has {rows.size} rows that are "
            f"not (the first: {rows[:5].tolist()}).{advice}"
        )


def log_density_array(outputs, out):
    """``out``, or a new array the shape of ``outputs`` for a log-density."""
    return np.empty(outputs.shape, dtype=np.float64) if out is None else out
