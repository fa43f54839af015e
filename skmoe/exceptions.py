"""Warnings and errors that skmoe raises beyond scikit-learn's."""


class ExpertCollapseWarning(UserWarning):
    """An expert's share of the data fell below ``collapse_threshold`` during EM.

    The fitted model's ``collapsed_`` lists each event and what was done.

    Examples
    --------
    >>> import warnings
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.exceptions import ExpertCollapseWarning
    >>> X, y = make_moe_regression(n_samples=600, n_experts=2, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(
    ...     n_experts=5, collapse_threshold=0.15, n_init=1, random_state=0
    ... )
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", ExpertCollapseWarning)
    ...     moe = moe.fit(X, y)
    >>> any(w.category is ExpertCollapseWarning for w in caught)
    True
    >>> moe.n_experts_, moe.collapsed_[0]["action"]
    (2, 'dropped')
    """


class ExpertCollapseError(RuntimeError):
    """An expert collapsed during EM and ``collapse="raise"`` was asked for.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.exceptions import ExpertCollapseError
    >>> X, y = make_moe_regression(n_samples=600, n_experts=2, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(
    ...     n_experts=5, collapse="raise", collapse_threshold=0.15, random_state=0
    ... )
    >>> try:
    ...     moe.fit(X, y)
    ... except ExpertCollapseError:
    ...     print("collapsed")
    collapsed
    """


class ExpertFitError(RuntimeError):
    """An expert's ``fit`` (or ``partial_fit``) raised, or its ``predict`` on the
    training rows right after; its own error is the cause.

    The message says which expert and which EM iteration or mini-batch step. The
    estimator is left as it was before the call: unfitted, or with its previous fit.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.exceptions import ExpertFitError
    >>> class Fragile(LinearRegression):
    ...     def fit(self, X, y, sample_weight=None):
    ...         raise MemoryError("out of memory")
    >>> X, y = make_moe_regression(n_samples=200, random_state=0)
    >>> try:
    ...     MixtureOfExpertsRegressor(Fragile(), random_state=0).fit(X, y)
    ... except ExpertFitError as error:
    ...     print(type(error.__cause__).__name__)
    MemoryError
    """


__all__ = ["ExpertCollapseError", "ExpertCollapseWarning", "ExpertFitError"]
