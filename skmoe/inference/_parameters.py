"""The parameters a coefficient table reports, read off a fitted mixture.

One layout serves the observed information and the bootstrap, so that both give
the same rows in the same order: per expert its coefficients (the intercept
first, a multinomial expert's classes against its first class) and its family's
parameters; a family parameter shared by all experts; then the gate's logits of
experts ``1 .. K-1`` against expert 0, the reference coding that identifies them
(flexmix's, for its concomitant model).
"""

from dataclasses import dataclass

import numpy as np

from skmoe.families import StudentT

#: Component name of a family parameter that every expert shares.
SHARED = "all experts"


@dataclass(frozen=True)
class Block:
    """Consecutive rows of the table that belong to one part of the model.

    Parameters
    ----------
    component : str
        The expert's name (``expert_names_``: ``"expert k"`` or a list's own
        name), ``"gate: "`` and the name, or :data:`SHARED`.

    names : list of str
        The parameters' names, one per row.

    estimates : ndarray of shape (len(names),)
        Their fitted values, in the units the table reports.

    kind : {"coefficients", "family", "gate"}
        Which part of the model the block belongs to.

    expert : int or None
        The expert of a coefficient or family block; the gate block's expert
        (``1 .. K-1``); None for a shared family parameter.
    """

    component: str
    names: list
    estimates: np.ndarray
    kind: str
    expert: int | None


def parameter_blocks(model, expert_names, gate_names):
    """The table's blocks of a fitted ``model``, in order.

    ``expert_names`` and ``gate_names`` name the experts' and the gate's input
    columns. An expert without ``coef_`` (a tree) contributes only its family's
    parameters.
    """
    blocks = []
    family = family_parameters(model.family_)
    labels = getattr(model, "expert_names_", None) or [
        f"expert {k}" for k in range(len(model.experts_))
    ]
    for k, expert in enumerate(model.experts_):
        names, values = expert_coefficients(expert, expert_names)
        if names:
            blocks.append(Block(labels[k], names, values, "coefficients", expert=k))
        own = [(name, value[k]) for name, value, shared in family if not shared]
        if own:
            names, values = zip(*own, strict=True)
            blocks.append(Block(labels[k], list(names), np.array(values), "family", k))
    for name, value, shared in family:
        if shared:
            blocks.append(Block(SHARED, [name], np.array([value[0]]), "family", None))
    gate = model.gate_
    for k in range(1, len(model.experts_)):
        values = np.concatenate(
            [
                [gate.intercept_[k] - gate.intercept_[0]],
                gate.coef_[k] - gate.coef_[0],
            ]
        )
        blocks.append(
            Block(f"gate: {labels[k]}", ["intercept", *gate_names], values, "gate", k)
        )
    return blocks


def family_parameters(family):
    """``(name, per-expert values, shared)`` of each estimated family parameter.

    The names are the estimator's fitted attributes without their trailing
    underscore. A Student-t's degrees of freedom are one shared parameter with
    ``df="shared"`` and none (they are fixed) with a number.
    """
    parameters = []
    for attribute, values in family.fitted_attributes().items():
        name = attribute.rstrip("_")
        shared = False
        if isinstance(family, StudentT) and name == "df":
            if family.df not in ("per_expert", "shared"):
                continue
            shared = family.df == "shared"
        parameters.append((name, np.asarray(values, dtype=np.float64), shared))
    return parameters


def expert_coefficients(expert, names):
    """An expert's coefficients as ``(names, values)``; empty without ``coef_``.

    A classifier with one row of coefficients per class is reported against its
    first class (``"class c: x0"`` is ``coef_[c] - coef_[0]``), which identifies
    the multinomial logits as the gate's reference coding does; a binary
    classifier's single row already is its second class against its first.
    """
    coef = getattr(expert, "coef_", None)
    if coef is None:
        return [], np.empty(0)
    if hasattr(coef, "toarray"):
        coef = coef.toarray()
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.ravel(getattr(expert, "intercept_", np.zeros(coef.shape[0])))
    intercept = np.broadcast_to(intercept, coef.shape[0]).astype(np.float64)
    names = list(names) if coef.shape[1] == len(names) else _numbered(coef)
    with_intercept = has_intercept(expert)
    row_names = (["intercept"] if with_intercept else []) + names
    if coef.shape[0] == 1:
        rows, labels = [(intercept[0], coef[0])], [None]
    else:
        rows = [
            (intercept[c] - intercept[0], coef[c] - coef[0])
            for c in range(1, coef.shape[0])
        ]
        labels = list(getattr(expert, "classes_", range(coef.shape[0])))[1:]
    all_names, values = [], []
    for label, (b, row) in zip(labels, rows, strict=True):
        prefix = "" if label is None else f"class {_plain(label)}: "
        all_names += [prefix + name for name in row_names]
        values += ([b] if with_intercept else []) + list(row)
    return all_names, np.array(values, dtype=np.float64)


def has_intercept(expert):
    """Whether the expert fits an intercept (``fit_intercept``, true by default)."""
    return bool(getattr(expert, "fit_intercept", True))


def _numbered(coef):
    return [f"coef{j}" for j in range(coef.shape[1])]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
