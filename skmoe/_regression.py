"""Mixture of experts for regression: expert predictions and their family's noise."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context, clone
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import StrOptions

from skmoe._base import BaseMixtureOfExperts
from skmoe._dask_inputs import rowwise
from skmoe._partial_fit import mini_batch_only
from skmoe._predictive import PredictiveMixin
from skmoe.families import REGRESSION_FAMILIES, Family


class MixtureOfExpertsRegressor(PredictiveMixin, RegressorMixin, BaseMixtureOfExperts):
    """Mixture of experts for regression, fitted by EM.

    A softmax gate ``g(x)`` splits the input space among ``n_experts`` regressors;
    the model is ``p(y | x) = sum_k g_k(x) p_k(y | f_k(x))``, with ``p_k`` the
    family's distribution around expert ``k``'s prediction ``f_k(x)`` (by
    default ``N(y; f_k(x), sigma_k^2)``). ``predict`` returns the mixture's mean
    ``sum_k g_k(x) f_k(x)``.

    Parameters
    ----------
    expert : regressor or list of (str, regressor) tuples, default=None
        The expert, cloned once per expert, or a list of ``(name, estimator)``
        pairs, one expert each (user guide: "A list of different experts").
        With ``solver="em"`` its ``fit`` must take ``sample_weight``; with
        ``solver="gradient"`` it must have a ``partial_fit`` taking
        ``sample_weight``, or be a plain ``LinearRegression`` or ``Ridge``.
        ``None`` means the family's default: ``LinearRegression()`` for
        ``"gaussian"`` and ``"student_t"``, ``PoissonRegressor(alpha=0)`` for
        the counts, ``GammaRegressor(alpha=0)`` for ``"gamma"``.

    family : {"gaussian", "student_t", "poisson", "negative_binomial", "gamma"} \
            or Family, default="gaussian"
        How ``y`` scatters around each expert's prediction: Gaussian noise;
        Student-t noise (robust to outliers; its ``df`` estimated per expert
        unless given as ``StudentT(df=...)``); Poisson counts; overdispersed
        counts (NB2); positive, right-skewed amounts. The expert predicts the
        mean (the location for the Student-t). A :class:`skmoe.families.Family`
        object sets a family's options or adds a family of one's own; it is
        cloned at fit, and its parameters are reachable as ``family__df`` and
        so on. The family's fitted parameters are the attributes below. See the
        user guide's "Families" page.

    n_experts : int, default=None
        Number of experts: None is 2, or a list's length (the only value it can
        then take). ``fit`` needs as many rows; ``collapse="drop"`` may leave fewer.

    gate : SoftmaxGate, default=None
        The gate, cloned at fit. ``None`` means ``SoftmaxGate()``. Its parameters
        are reachable as ``gate__alpha`` and so on, also while it is ``None``. It
        must be a ``SoftmaxGate``: other gate objects are refused, because EM
        drives the gate through ``SoftmaxGate``'s own solver, a protocol that is
        not public.

    gate_features, expert_features : array-like, default=None
        Columns the gate and the experts see: indices, names (when ``X`` is a
        DataFrame) or a boolean mask; ``None`` means all. An empty
        ``gate_features`` gives constant mixing weights (the gate is then only
        intercepts): a plain mixture of regressions, or of classifiers for the
        classifier. ``expert_features`` must select at least one column. The
        k-means start (``init``) clusters the columns of both sets.

    routing : {"soft", "hard", "top_k"}, default="soft"
        How prediction mixes the experts: ``"soft"`` mixes all of them by the
        gate; ``"hard"`` uses each row's most probable expert; ``"top_k"`` its
        ``top_k`` most probable, with renormalised gate weights. Hard and top-k
        routing call each expert only on its own rows. Read at predict time, so
        ``set_params`` after fit needs no refit.

    top_k : int, default=2
        Experts per row with ``routing="top_k"``; at most ``n_experts`` (at
        predict time, the fitted ``n_experts_``).

    solver : {"em", "cem", "gradient"}, default="em"
        Training method. ``"em"``: expectation-maximisation on all rows, each
        expert refitted with its responsibilities as sample weights. ``"cem"``:
        classification EM (biased towards separated regions), each row assigned
        to its most responsible expert before every M-step, so that each expert
        fits on its own rows only and, unless ``fit`` is given ``sample_weight``,
        its ``fit`` need not take ``sample_weight``. ``"gradient"``: mini-batch
        training, with ``max_iter`` epochs of one step per batch (an Adam step on
        the gate, ``partial_fit`` on each expert, or online EM for the regressor's
        plain ``LinearRegression`` and ``Ridge`` experts); it enables
        :meth:`partial_fit` and keeps memory bounded by the batch. See the user
        guide's "Training" page.

    batch_size : int or "auto", default="auto"
        Rows per mini-batch with ``solver="gradient"``: ``"auto"`` is
        ``min(256, n_samples)``; an integer must be at least ``n_experts`` and, in
        ``fit``, at most ``n_samples``. The rows are cut into consecutive batches
        of ``batch_size`` (the last one takes the remainder), visited in a random
        order each epoch. Ignored by the other solvers.

    learning_rate : float, default=0.05
        Initial step size of the gate's Adam steps with ``solver="gradient"``; at
        step ``t`` it is ``learning_rate / sqrt(1 + (t - 1) / 10)``. Ignored by
        the other solvers.

    responsibility_threshold : float in [0, 1), default=0.0
        Sparse training: rows whose responsibility for an expert is below this
        are left out of that expert's fit, so that experts that are expensive to
        fit (trees, boosting) fit on their own share of the rows. 0 keeps every
        row. The dropped rows carry little weight, so the fit changes little, but
        EM is no longer exact and its log-likelihood may fall slightly between
        iterations. A classifier expert's rows may then hold a single class, which
        its ``fit`` must accept. Only with ``solver="em"``: CEM already fits each
        expert on its own rows, and mini-batch training ignores it.

    collapse : {"drop", "reseed", "raise"}, default="drop"
        What EM does with an expert whose share of the data (its total
        responsibility over the total sample weight) falls below
        ``collapse_threshold`` after an E-step: remove it, with its gate output
        (and, for the regressor, its noise variance), and go on with one expert
        fewer (as flexmix does; the last expert is kept); give it the rows the
        model explains worst and go on (an expert that collapses again is then
        dropped); or fail with ``ExpertCollapseError``. Every event is recorded in
        ``collapsed_`` and announced by an ``ExpertCollapseWarning``. EM and CEM
        only: mini-batch training never drops an expert.

    collapse_threshold : float in [0, 1), default=1e-3
        The share below which an expert has collapsed; 0 never collapses one (an
        expert left with no weight then keeps its previous fit).

    init : {"auto", "kmeans", "random"} or array-like of shape \
            (n_samples, n_experts), default="auto"
        Initial responsibilities: hard labels from k-means, random Dirichlet rows,
        or given. k-means clusters the standardised inputs (the columns of
        ``gate_features`` and ``expert_features``) and, for the regressor, the
        target too, ``[x, y]``; the classifier's k-means does not use the labels,
        on which it would split the rows by class, a start that EM leaves slowly
        and for worse optima. ``"auto"`` starts the first restart from k-means and
        the others at random: k-means finds regimes that are separate in the
        inputs, random starts find regimes that overlap (such as crossing curves),
        and the best run is kept (see ``n_init``). With ``solver="gradient"`` the
        start is made on the first batch. See the user guide, "Initialisation".

    n_init : int, default=3
        Number of runs (of EM, CEM or mini-batch training) from different
        initialisations; the one with the highest objective, the mean
        log-likelihood less the gate's penalty, is kept. A warm start makes one
        run.

    init_size : int, "auto" or None, default="auto"
        Each EM (or CEM) run first converges on a random subsample of this many
        rows (of positive weight), from the start ``init`` gives, then continues
        on all rows from there: the subsample shows the regimes, and few
        iterations on all rows remain. Only when the data has at least twice as
        many rows of positive weight and, for the classifier, the subsample holds
        every class (else EM starts on all rows); ``"auto"`` is 10,000 and None
        runs EM on all rows from the start. ``n_iter_``, ``log_likelihood_curve_``
        and the callbacks count the iterations on all rows. Ignored with
        ``solver="gradient"`` and by a warm start. With a single restart, the
        subsample start ended in a better local optimum than EM on all rows in 5
        of 24 regression benchmark fits and in a worse one in 1, but for the
        classifier in a worse one in 8 of 15 fits and in a better one in 3: there,
        ``init_size=None`` is the safer choice with ``n_init=1``. See the user
        guide, "Initialisation".

    max_iter : int, default=200
        Maximum number of EM (or CEM) iterations per run; epochs with
        ``solver="gradient"``.

    tol : float, default=1e-6
        A run stops when its objective changes by less than ``tol`` between
        iterations: with EM and CEM, the mean log-likelihood per unit of sample
        weight less the gate's penalty; with ``solver="gradient"``, the epoch's
        mean log-likelihood, each batch measured before its own step. For the
        classifier, ``LogisticRegression`` experts that EM fits by Newton's method
        (such as the default ``LogisticRegression()``, with ``solver="em"`` and
        ``responsibility_threshold=0``) take one Newton step per M-step; when the
        rule holds after such a step, EM runs one more iteration, which solves
        them (see the user guide, "Mixtures of experts fitted by EM").

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations (k-means, the random starts and the
        ``init_size`` subsample) and, with ``solver="gradient"``, the order of the
        batches.

    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted
        model (one run of ``solver``, no re-initialisation); ``n_experts``, the
        features and, for the classifier, the classes must not change.

    n_jobs : int, default=None
        Number of jobs that run the ``n_init`` restarts side by side through joblib
        or, with a single restart, threads that fit the experts of each M-step.
        ``None`` means 1 (for the restarts, unless in a ``joblib.parallel_config``
        context); -1 means all processors. The fit is bitwise the same for every
        value.

    verbose : int, default=0
        1 reports each restart, 2 also each iteration (each epoch with
        ``solver="gradient"``), through the ``skmoe`` logger (the iterations of
        restarts run in other processes are not shown).

    Attributes
    ----------
    experts_ : list of fitted regressors
        The experts.

    expert_names_, named_experts_ : list of str, Bunch
        The experts' names (a list's, else ``"expert k"``); the experts by name.

    gate_ : SoftmaxGate
        The fitted gate.

    noise_variance_ : ndarray of shape (n_experts,)
        Each expert's noise variance, with ``family="gaussian"``.

    scale_, df_ : ndarray of shape (n_experts,)
        Each expert's scale and degrees of freedom, with ``family="student_t"``.

    dispersion_ : ndarray of shape (n_experts,)
        Each expert's dispersion ``alpha`` (variance ``mu + alpha mu^2``), with
        ``family="negative_binomial"``.

    shape_ : ndarray of shape (n_experts,)
        Each expert's shape (variance ``mu^2 / shape``), with
        ``family="gamma"``.

    family_ : skmoe.families.Family
        The fitted family, which holds the parameters above (the Gaussian's
        as ``variance_``, with its variance floor).

    gate_features_, expert_features_ : ndarray of int
        Column indices the gate and the experts see.

    log_likelihood_ : float
        Mean log-likelihood per unit of sample weight of the kept run. After
        :meth:`partial_fit`, that of the rows of its last call, each batch
        measured before its own step.

    log_likelihood_curve_ : ndarray of shape (n_iter_,)
        Mean log-likelihood after each EM iteration of the kept run.

    n_experts_ : int
        Experts in the fitted model: ``n_experts`` less those dropped.

    collapsed_ : list of dict
        The expert collapses of the kept EM run, in order: ``iteration``,
        ``expert`` (its index at that moment), ``share`` and ``action``
        (``"dropped"``, ``"reseeded"`` or ``"kept: the last expert"``);
        iteration 0 is the EM on the ``init_size`` subsample.

    n_iter_ : int
        EM iterations of the kept run; epochs with ``solver="gradient"``; calls
        of :meth:`partial_fit` since the first.

    converged_ : bool
        Whether the kept run met ``tol``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    MixtureOfExpertsClassifier : The same model with classifier experts.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y = make_moe_regression(n_samples=500, n_experts=2, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> moe.predict_gate_proba(X[:2]).shape
    (2, 2)
    >>> from sklearn.linear_model import LinearRegression
    >>> single = LinearRegression().fit(X, y)
    >>> bool(moe.score(X, y) > single.score(X, y))
    True
    """

    _parameter_constraints = {
        **BaseMixtureOfExperts._parameter_constraints,
        "family": [StrOptions(set(REGRESSION_FAMILIES)), Family],
    }

    def __init__(
        self,
        expert=None,
        *,
        family="gaussian",
        n_experts=None,
        gate=None,
        gate_features=None,
        expert_features=None,
        routing="soft",
        top_k=2,
        solver="em",
        batch_size="auto",
        learning_rate=0.05,
        responsibility_threshold=0.0,
        collapse="drop",
        collapse_threshold=1e-3,
        init="auto",
        n_init=3,
        init_size="auto",
        max_iter=200,
        tol=1e-6,
        random_state=None,
        warm_start=False,
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            expert,
            n_experts=n_experts,
            gate=gate,
            gate_features=gate_features,
            expert_features=expert_features,
            routing=routing,
            top_k=top_k,
            solver=solver,
            batch_size=batch_size,
            learning_rate=learning_rate,
            responsibility_threshold=responsibility_threshold,
            collapse=collapse,
            collapse_threshold=collapse_threshold,
            init=init,
            n_init=n_init,
            init_size=init_size,
            max_iter=max_iter,
            tol=tol,
            random_state=random_state,
            warm_start=warm_start,
            n_jobs=n_jobs,
            verbose=verbose,
        )
        self.family = family

    def _nested_part(self, name):
        # As for gate=None: family__df works while family is a name.
        if name == "family" and isinstance(self.family, str):
            return REGRESSION_FAMILIES[self.family]()
        return super()._nested_part(name)

    def _default_expert(self):
        return self._family_prototype().default_expert() or LinearRegression()

    def _family_prototype(self):
        if isinstance(self.family, str):
            return REGRESSION_FAMILIES[self.family]()
        return self.family

    def _new_family(self):
        family = clone(self._family_prototype())
        if family.output != "prediction":
            raise ValueError(
                f"family={self.family!r} reads the {family.output}, not a "
                "prediction of y: it is a classifier's family; use "
                "MixtureOfExpertsClassifier."
            )
        return family

    def _learn_target(self, family):
        self._family_signature = repr(family)

    def _target_signature(self):
        # A warm start continues the fitted family: it must be the one asked for.
        return (self._family_signature,)

    @mini_batch_only
    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y, sample_weight=None):
        """Train on one chunk of a stream: one mini-batch step per batch.

        Only with ``solver="gradient"``. The rows are cut into consecutive batches
        of ``batch_size`` (a chunk smaller than ``batch_size`` is one batch) and
        each takes the same step as in ``fit``, so calling ``partial_fit`` on the
        batches of ``fit``, in its order, gives the same model. The first call
        initialises the model from its first batch (``init``, seeded by
        ``random_state``); later calls continue, also after ``fit``. A call that
        fails leaves the model as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data, with the features of the first call.

        y : array-like of shape (n_samples,)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(solver="gradient", random_state=0)
        >>> for start in range(0, 300, 100):  # the data arrives in three chunks
        ...     moe = moe.partial_fit(X[start : start + 100], y[start : start + 100])
        >>> moe.predict(X[:3]).shape
        (3,)
        """
        return self._partial_fit_keeping_state(X, y, sample_weight)

    @rowwise(lambda self: np.empty((0, len(self.experts_))))
    def predict_experts(self, X):
        """Each expert's own prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        Returns
        -------
        predictions : ndarray of shape (n_samples, n_experts)
            ``f_k(x)`` for every sample and expert.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> moe.predict_experts(X[:3]).shape  # one prediction per row and expert
        (3, 2)
        """
        X = self._validate_X(X)
        return self.family_.expert_outputs(self.experts_, self._expert_inputs(X), None)

    @rowwise(lambda self: np.empty(0))
    def predict(self, X):
        """Predict the mixture's mean, ``sum_k g_k(x) f_k(x)``, over routed experts.

        With ``routing="soft"`` every expert predicts every row. With ``"hard"``
        only each row's most probable expert does, and with ``"top_k"`` its
        ``top_k`` most probable ones, weighted by their renormalised gate
        probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted values.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> moe.predict(X[:3]).shape
        (3,)
        """
        return self._predict_mixture(X)
