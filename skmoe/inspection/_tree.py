"""The tree of a hierarchical mixture in numbers: the summary's "Tree" section.

A mixture whose experts are mixtures is a tree of gates over leaves. Each node
below the root is named by its path, the experts' labels from the root down
(``("expert 0", "expert 1")``, a list's own names where it has them), and
summarised as the summary summarises an expert:

- its prior, the mean over ``X`` of the product of the gates along its path (the
  leaves' priors are ``predict_gate_proba(X, level=None).mean(axis=0)`` and sum
  to one);
- its mean posterior, the same product of the posteriors given ``y`` (each inner
  mixture's ``posterior_proba`` on its own inputs);
- its size, the rows that reach it when each row takes, at every gate on the
  way, its most probable child given ``y``: the first level's sizes are the
  summary's, and the children's sizes sum to their parent's.

Leaves also carry their coefficients and family parameters (read off the
mixture they belong to), and every node the coefficients of its parent gate's
logit.
"""

import textwrap
from dataclasses import dataclass, field

import numpy as np

from skmoe._fitted import FittedMixtureMixin
from skmoe.inspection._plotting import expert_labels, fitted_expert_names
from skmoe.inspection._summary_parts import (
    _expert_coefficients,
    _family_parameters,
    _feature_names,
    _flat_coefficients,
    _format_number,
    _named,
    _table,
    _unseen_classes,
)


@dataclass(frozen=True)
class NodeSummary:
    """What a fitted hierarchical mixture says about one node of its tree.

    Parameters
    ----------
    path : tuple of str
        The experts' labels from the root down to this node, as each mixture on
        the way names its experts (``expert_names_``: a list's own names, else
        ``"expert k"``).

    estimator : str
        Class name of the node's estimator: a mixture for an inner node, the
        expert's for a leaf.

    is_leaf : bool
        Whether the node is a leaf (an expert that is no mixture).

    prior : float
        Mean over ``X`` of the product of the gates along the path.

    size : int
        Rows that reach the node when each row takes, at every gate, the child
        that is most probable a posteriori (given ``y``).

    mean_posterior : float
        Mean over ``(X, y)`` of the product of the posteriors along the path.

    gate_coefficients : dict or None
        The coefficients of the parent gate's logit for this node by gate
        feature name, and its intercept under ``"intercept"``; ``None`` for a
        gate without ``coef_``.

    coefficients : dict or None, default=None
        A leaf's coefficients, as :class:`ExpertSummary` holds an expert's;
        ``None`` for an inner node and for leaves without ``coef_``.

    noise_scale : float or None, default=None
        Standard deviation of a leaf's Gaussian noise.

    family_parameters : dict, default={}
        A leaf's other family parameters by name (``scale``, ``df``, ...).

    unseen_classes : list, default=[]
        The classes a (classifier) leaf sees no rows of, left out of its
        ``coefficients``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from skmoe import make_hierarchy
    >>> from skmoe.datasets import make_hierarchical_moe_regression
    >>> from skmoe.inspection import summary
    >>> X, y = make_hierarchical_moe_regression(n_samples=500, random_state=0)
    >>> tree = make_hierarchy(LinearRegression(), depth=2, n_init=1, random_state=0)
    >>> nodes = summary(tree.fit(X, y), X, y).tree
    >>> [node.label for node in nodes][:3]
    ['expert 0', 'expert 0 / expert 0', 'expert 0 / expert 1']
    >>> round(sum(node.prior for node in nodes if node.is_leaf), 6)
    1.0
    """

    path: tuple
    estimator: str
    is_leaf: bool
    prior: float
    size: int
    mean_posterior: float
    gate_coefficients: dict | None
    coefficients: dict | None = None
    noise_scale: float | None = None
    family_parameters: dict = field(default_factory=dict)
    unseen_classes: list = field(default_factory=list)

    @property
    def depth(self):
        """Gates between the root and the node: 1 for the root's experts."""
        return len(self.path)

    @property
    def label(self):
        """The path as the printed summary shows it, ``"expert 0 / expert 1"``."""
        return " / ".join(self.path)


def is_hierarchy(estimator):
    """Whether some expert of the fitted ``estimator`` is itself a mixture."""
    return any(isinstance(e, FittedMixtureMixin) for e in estimator.experts_)


def tree_nodes(estimator, X, y, names):
    """Every node below the root of the fitted ``estimator``, parents first.

    ``X`` is what the estimator sees and ``names`` its column names (or None);
    an empty list for a flat mixture.
    """
    if not is_hierarchy(estimator):
        return []
    nodes = []
    n_samples = len(y)
    _add_children(
        estimator,
        X,
        np.asarray(y),
        names,
        root=estimator,
        path=(),
        prior=np.ones(n_samples),
        posterior=np.ones(n_samples),
        reached=np.ones(n_samples, dtype=bool),
        nodes=nodes,
    )
    return nodes


def _add_children(
    mixture, X, y, names, *, root, path, prior, posterior, reached, nodes
):
    """Append the nodes below ``mixture`` (which sees ``X``) to ``nodes``."""
    gate = mixture.predict_gate_proba(X)
    responsibilities = mixture.posterior_proba(X, y)
    choice = np.argmax(responsibilities, axis=1)
    X_expert = mixture._expert_inputs(mixture._validate_X(X))
    expert_names = _feature_names(names, mixture.expert_features_)
    gate_names = _feature_names(names, mixture.gate_features_)
    gate_coef = getattr(mixture.gate_, "coef_", None)
    noise_variance, family_parameters = _family_parameters(mixture)
    labels = expert_labels(fitted_expert_names(mixture), len(mixture.experts_))
    for k, expert in enumerate(mixture.experts_):
        child_path = (*path, labels[k])
        child_prior = prior * gate[:, k]
        child_posterior = posterior * responsibilities[:, k]
        child_reached = reached & (choice == k)
        is_leaf = not isinstance(expert, FittedMixtureMixin)
        leaf = {}
        if is_leaf:
            unseen = _unseen_classes(root, child_posterior[:, None], y)[0]
            leaf = {
                "coefficients": _expert_coefficients(expert, expert_names, unseen),
                "noise_scale": (
                    None
                    if noise_variance is None
                    else float(np.sqrt(noise_variance[k]))
                ),
                "family_parameters": {
                    name: float(values[k]) for name, values in family_parameters.items()
                },
                "unseen_classes": unseen,
            }
        nodes.append(
            NodeSummary(
                path=child_path,
                estimator=type(expert).__name__,
                is_leaf=is_leaf,
                prior=float(child_prior.mean()),
                size=int(child_reached.sum()),
                mean_posterior=float(child_posterior.mean()),
                gate_coefficients=(
                    None
                    if gate_coef is None
                    else _named(gate_coef[k], mixture.gate_.intercept_[k], gate_names)
                ),
                **leaf,
            )
        )
        if not is_leaf:
            _add_children(
                expert,
                X_expert,
                y,
                np.asarray(expert_names, dtype=object),
                root=root,
                path=child_path,
                prior=child_prior,
                posterior=child_posterior,
                reached=child_reached,
                nodes=nodes,
            )


# ---- the printed section


def tree_lines(nodes):
    """The printed tree: one row per node, indented by depth, then the leaves'
    coefficients."""
    leaves = [node for node in nodes if node.is_leaf]
    depth = max(node.depth for node in nodes)
    lines = ["", f"Tree: {depth} levels of gates, {len(leaves)} leaves"]
    header = ["", "prior", "size", "mean posterior"]
    has_noise = any(node.noise_scale is not None for node in leaves)
    if has_noise:
        header.append("noise scale")
    family_names = list(
        dict.fromkeys(name for node in leaves for name in node.family_parameters)
    )
    header += family_names
    width = max(len(node.estimator) for node in nodes)
    header.append("estimator".ljust(width))
    rows = []
    for node in nodes:
        row = [
            "  " * (node.depth - 1) + node.label,
            f"{node.prior:.3f}",
            str(node.size),
            f"{node.mean_posterior:.3f}",
        ]
        if has_noise:
            row.append(_format_number(node.noise_scale))
        row += [
            _format_number(node.family_parameters[name])
            if name in node.family_parameters
            else "-"
            for name in family_names
        ]
        row.append(node.estimator.ljust(width))
        rows.append(row)
    lines += _table(header, rows)
    lines += textwrap.wrap(
        "(prior and mean posterior: the products of the gates and of the "
        "posteriors along the path; size: the rows that take, at every gate, "
        "their most probable child given y)",
        width=88,
    )
    lines.append("")
    lines += _by_node("Leaf coefficients:", leaves, "coefficients")
    lines += [
        f"({node.label} sees no rows of class "
        f"{', '.join(map(str, node.unseen_classes))}: left out)"
        for node in leaves
        if node.unseen_classes
    ]
    return lines


def inner_gate_lines(nodes):
    """The inner gates' coefficients, one row per node they lead to."""
    inner = [node for node in nodes if node.depth > 1]
    return [
        "",
        *_by_node(
            "Inner gates' coefficients (logits), by the node each leads to:",
            inner,
            "gate_coefficients",
        ),
    ]


def _by_node(title, nodes, attribute):
    """A table of one coefficient dict per node: a row per node, a column per
    coefficient."""
    values = [dict(_flat_coefficients(getattr(node, attribute))) for node in nodes]
    if not any(values):
        return [f"{title} none (no coef_)"]
    keys = list(dict.fromkeys(key for row in values for key in row))
    header = [""] + [
        name if label is None else f"class {label}: {name}" for label, name in keys
    ]
    rows = [
        [node.label] + [_format_number(row[key]) if key in row else "-" for key in keys]
        for node, row in zip(nodes, values, strict=True)
    ]
    return [title, *_table(header, rows)]
