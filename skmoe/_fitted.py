"""What a fitted mixture of experts answers: its gate, its likelihood, its size.

The public methods both estimators share once fitted: the gate's probabilities and
choices, the per-sample log-likelihood and responsibilities (an E-step of the
fitted model), BIC and AIC, and the routed mixing of the experts' predictions that
``predict`` and ``predict_proba`` use.
"""

from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from skmoe._dask_inputs import rowwise
from skmoe._em import e_step
from skmoe._fast_predict import fast_prediction, validated_input
from skmoe._parts import Data, Parts, columns, gate_inputs
from skmoe._routing import check_routing, mix_experts
from skmoe._validation import check_expert_rows


class FittedMixtureMixin:
    """The methods that read a fitted mixture: gate, likelihood, criteria."""

    # ---- prediction-time helpers

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _gate_inputs(self, X):
        return gate_inputs(X, self.gate_features_)

    def _expert_inputs(self, X):
        return columns(X, self.expert_features_)

    def _predict_mixture(self, X):
        """The mixture's prediction of raw ``X``: the serving path where it applies
        (``_fast_predict``), else validation and the routed mixing."""
        prediction = fast_prediction(self, X)
        if prediction is None:
            prediction = self._mix_experts(validated_input(self, X))
        return prediction

    def _mix_experts(self, X):
        """Mix the family's predictions over each row's experts as ``routing`` says."""
        check_routing(self.routing, self.top_k, len(self.experts_))
        return mix_experts(
            self.experts_,
            self._expert_inputs(X),
            self.gate_.decision_function(self._gate_inputs(X)),
            self._expert_predictions,
            self.routing,
            self.top_k,
        )

    def _expert_predictions(self, expert, X):
        """``family_.predict(expert, X)``, checked to give one row per row of X."""
        prediction = self.family_.predict(expert, X)
        return check_expert_rows(prediction, expert, len(X), "predictions")

    def _e_step(self, X, y):
        """Per-sample log-likelihood and responsibilities of the fitted model."""
        X = self._validate_X(X)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must be 1-D with one value per row of X ({X.shape[0]}); got shape "
                f"{y.shape}."
            )
        data = Data(
            X_gate=self._gate_inputs(X),
            X_expert=self._expert_inputs(X),
            y=y,
            target=self.family_.encode(y),
            sample_weight=np.ones(X.shape[0]),
        )
        return e_step(self._fitted_parts(), data, for_m_step=False)

    def _fitted_parts(self):
        return Parts(self.experts_, [], self.gate_, self.family_)

    # ---- public methods

    @rowwise(lambda self, level: self._gate_template(level))
    def predict_gate_proba(self, X, level=1):
        """Gate probabilities: how much each expert is trusted at each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        level : int or None, default=1
            In a hierarchical mixture (experts that are mixtures), how deep to
            read: 1 is this model's gate; at level ``l`` each expert that is a
            mixture is replaced by its own nodes at level ``l - 1``, each with
            the product of the gates along its path; None reads down to the
            leaves. An expert that is not a mixture stays one column at every
            deeper level (a branch shallower than the tree ends in it). The
            columns are in path order: expert 0's nodes first. A level deeper
            than the deepest branch is refused (1 is the only level of a flat
            mixture).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_nodes)
            ``g_k(x)`` (at level 1), or the products along the paths; rows sum
            to one.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> proba = moe.predict_gate_proba(X[:3])
        >>> proba.shape, proba.sum(axis=1).round(12).tolist()
        ((3, 2), [1.0, 1.0, 1.0])
        """
        _check_level(level)
        X = self._validate_X(X)
        self._check_depth(level)
        return self._path_proba(X, level)

    def _check_depth(self, level):
        depth = self._depth()
        if level is not None and level > depth:
            raise ValueError(
                f"level={level} is deeper than this model's tree, which has "
                f"{depth} level{'s' if depth > 1 else ''} of gates; level=None "
                "reads the leaves."
            )

    def _gate_template(self, level):
        """No rows of ``predict_gate_proba(X, level)``, the level checked."""
        _check_level(level)
        self._check_depth(level)
        return np.empty((0, self._n_nodes(level)))

    def _n_nodes(self, level):
        """The number of columns of ``_path_proba(X, level)``."""
        if level == 1:
            return len(self.experts_)
        deeper = None if level is None else level - 1
        return sum(
            expert._n_nodes(deeper) if isinstance(expert, FittedMixtureMixin) else 1
            for expert in self.experts_
        )

    def _depth(self):
        """Levels of gates on the deepest path: 1 for a flat mixture."""
        return 1 + max(
            (
                expert._depth()
                for expert in self.experts_
                if isinstance(expert, FittedMixtureMixin)
            ),
            default=0,
        )

    def _path_proba(self, X, level):
        """``predict_gate_proba(X, level)`` of validated ``X``."""
        proba = self.gate_.predict_proba(self._gate_inputs(X))
        if level == 1:
            return proba
        X_expert = self._expert_inputs(X)
        deeper = None if level is None else level - 1
        return np.hstack(
            [
                proba[:, [k]]
                * expert._path_proba(validated_input(expert, X_expert), deeper)
                if isinstance(expert, FittedMixtureMixin)
                else proba[:, [k]]
                for k, expert in enumerate(self.experts_)
            ]
        )

    @rowwise(lambda self: np.empty(0, dtype=np.intp))
    def predict_gate(self, X):
        """The expert each sample is routed to: the gate's most probable one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        Returns
        -------
        experts : ndarray of shape (n_samples,)
            Index of ``argmax_k g_k(x)``.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> experts = moe.predict_gate(X)
        >>> experts.shape, sorted(set(experts.tolist()))
        ((300,), [0, 1])
        """
        return np.argmax(self.predict_gate_proba(X), axis=1)

    @rowwise(lambda self: np.empty(0))
    def score_samples(self, X, y):
        """Log-likelihood of each sample, ``log p(y | x)`` under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ``log sum_k g_k(x_i) p_k(y_i | x_i)``.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> log_prob = moe.score_samples(X, y)
        >>> log_prob.shape, bool(abs(log_prob.mean() - moe.log_likelihood_) < 1e-9)
        ((300,), True)
        """
        log_prob, _ = self._e_step(X, y)
        return log_prob

    @rowwise(lambda self: np.empty((0, len(self.experts_))))
    def posterior_proba(self, X, y):
        """Responsibilities: the probability each expert generated ``y`` given ``x``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (a Dask array or DataFrame: a lazy result, by chunk).

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        responsibilities : ndarray of shape (n_samples, n_experts)
            ``r_ik ∝ g_k(x_i) p_k(y_i | x_i)``; rows sum to one.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> responsibilities = moe.posterior_proba(X, y)
        >>> rows = responsibilities.sum(axis=1).round(12)
        >>> responsibilities.shape, float(rows.min()), float(rows.max())
        ((300, 2), 1.0, 1.0)
        """
        _, responsibilities = self._e_step(X, y)
        return responsibilities

    def bic(self, X, y):
        """Bayesian information criterion on ``(X, y)``; lower is better.

        ``-2 log L + p log n`` with ``p`` the number of free parameters: the gate's
        ``(n_gate_features + 1) * (n_experts - 1)``, each expert's coefficients and
        intercepts, and each expert's noise variance (regression).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        bic : float
            The criterion.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> one = MixtureOfExpertsRegressor(n_experts=1, random_state=0).fit(X, y)
        >>> bool(moe.bic(X, y) < one.bic(X, y))  # two regimes beat one
        True
        """
        log_prob = self.score_samples(X, y)
        return -2 * log_prob.sum() + self._n_parameters() * np.log(log_prob.shape[0])

    def aic(self, X, y):
        """Akaike information criterion on ``(X, y)``; lower is better.

        ``-2 log L + 2 p``, with ``p`` counted as in :meth:`bic`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,)
            Targets of the samples.

        Returns
        -------
        aic : float
            The criterion.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> bool(moe.aic(X, y) < moe.bic(X, y))  # log(300) > 2: BIC penalises more
        True
        """
        return -2 * self.score_samples(X, y).sum() + 2 * self._n_parameters()

    def _n_parameters(self):
        """Free parameters of the fitted model; raises for non-parametric experts."""
        check_is_fitted(self)
        n_experts = len(self.experts_)
        gate = (self.gate_features_.size + 1) * (n_experts - 1)
        experts = sum(_expert_n_parameters(expert) for expert in self.experts_)
        return gate + experts + self.family_.n_parameters(n_experts)


def _check_level(level):
    if level is not None and (
        isinstance(level, bool) or not isinstance(level, Integral) or level < 1
    ):
        raise ValueError(f"level must be an integer >= 1 or None; got {level!r}.")


def _expert_n_parameters(expert):
    """Free parameters of a fitted linear expert (``coef_`` and ``intercept_``),
    or of a nested mixture (its own count)."""
    if hasattr(expert, "_n_parameters"):
        return expert._n_parameters()
    coef = getattr(expert, "coef_", None)
    if coef is None:
        raise ValueError(
            f"BIC and AIC need each expert's number of parameters, which is not "
            f"defined for {expert!r}: it has no coef_ (trees, nearest neighbours and "
            "other non-parametric models have no fixed size). Compare such models "
            "by cross-validation instead."
        )
    coef = np.atleast_2d(coef)
    has_intercept = getattr(expert, "fit_intercept", True)
    n_outputs, n_features = coef.shape
    if is_classifier(expert) and n_outputs > 1:
        # Multinomial logits are defined up to a shift shared by all classes.
        return (n_outputs - 1) * (n_features + has_intercept)
    return n_outputs * (n_features + has_intercept)
