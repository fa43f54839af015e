"""A balanced hierarchical mixture of experts, built by nesting."""

from numbers import Integral

from sklearn.base import clone, is_classifier

from skmoe._classification import MixtureOfExpertsClassifier
from skmoe._regression import MixtureOfExpertsRegressor


def make_hierarchy(expert, *, depth=2, branching=2, **params):
    """A balanced tree of mixtures: ``depth`` levels of gates over the leaves.

    A hierarchical mixture of experts (Jordan & Jacobs, 1994) is a mixture
    whose experts are mixtures, to any depth; this writes the nesting for a
    balanced tree. ``p(y | x)`` is the sum over the ``branching ** depth``
    leaves of the product of the gates along each leaf's path times the
    leaf's own density.

    Parameters
    ----------
    expert : estimator
        The leaf expert, cloned into every leaf. A classifier makes a tree of
        :class:`MixtureOfExpertsClassifier`, anything else of
        :class:`MixtureOfExpertsRegressor`.

    depth : int, default=2
        Levels of gates; 1 is a flat mixture.

    branching : int, default=2
        Children of every gate.

    **params
        Parameters of every level's mixture (``routing``, ``tol``,
        ``random_state``, ...), except ``n_init``, which is the root's (the
        inner levels start once per outer start, ``n_init=1``, since each outer
        restart refits them from scratch), and ``family``, which is the
        leaves' (set on the mixtures whose experts are the leaves; the levels
        above mix densities of their own).

    Returns
    -------
    model : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
        The root, unfitted.

    Examples
    --------
    >>> from skmoe import make_hierarchy
    >>> from skmoe.datasets import make_hierarchical_moe_regression
    >>> X, y = make_hierarchical_moe_regression(n_samples=500, random_state=0)
    >>> tree = make_hierarchy(None, depth=2, n_init=1, random_state=0).fit(X, y)
    >>> tree.predict_gate_proba(X[:2], level=None).shape
    (2, 4)
    """
    for name, value, low in (("depth", depth, 1), ("branching", branching, 2)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    if "n_experts" in params:
        raise ValueError(
            "make_hierarchy sets each level's expert and n_experts "
            "(from expert and branching); pass branching instead of n_experts."
        )
    mixture = (
        MixtureOfExpertsClassifier
        if expert is not None and is_classifier(expert)
        else MixtureOfExpertsRegressor
    )
    # The family is the leaves' noise: the levels above mix densities of their own.
    gate_params = {key: value for key, value in params.items() if key != "family"}
    node = None if expert is None else clone(expert)
    for level in range(depth):
        level_params = params if level == 0 else gate_params
        if level < depth - 1:
            level_params = {**level_params, "n_init": 1}
        node = mixture(expert=node, n_experts=branching, **level_params)
    return node
