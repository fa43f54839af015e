"""What the summary's tables are made of: a fitted model's numbers by name.

Coefficients by feature name (per class for multinomial experts), the classes an
expert sees no rows of, each expert's family parameters, and the plain-text
tables the summary prints; shared by the summary of the experts
(``_summary.py``), of a hierarchy's tree (``_tree.py``) and the coefficient table
(``skmoe.inference``).
"""

import numpy as np
from sklearn.base import is_classifier


def _feature_names(names, columns):
    """Names of ``columns`` of X: the DataFrame's, else ``x<j>``."""
    if names is None:
        return [f"x{j}" for j in columns]
    return [str(name) for name in names[columns]]


def _named(coef, intercept, names):
    """``{"intercept": b, name: coefficient, ...}`` as plain floats."""
    coef = np.ravel(coef)
    if coef.size != len(names):
        names = [f"coef{j}" for j in range(coef.size)]
    named = {} if intercept is None else {"intercept": float(intercept)}
    named.update({name: float(value) for name, value in zip(names, coef, strict=True)})
    return named


#: Less responsibility than this, in rows, summed over a class's rows: unseen.
UNSEEN_MASS = 1e-3


def _family_parameters(estimator):
    """The fitted mixture's noise variances (None but for the Gaussian) and its
    family's other parameters by name (``scale``, ``df``, ...), one value per
    expert."""
    noise_variance = getattr(estimator, "noise_variance_", None)
    family_parameters = {
        name.rstrip("_"): values
        for name, values in estimator.family_.fitted_attributes().items()
        if name != "noise_variance_"
    }
    return noise_variance, family_parameters


def _unseen_classes(estimator, posterior, y):
    """Per expert, the classes of a classifier whose rows it sees none of."""
    if not is_classifier(estimator):
        return [[] for _ in range(posterior.shape[1])]
    codes = np.searchsorted(estimator.classes_, np.asarray(y))
    mass = np.stack(
        [np.bincount(codes, r, minlength=len(estimator.classes_)) for r in posterior.T]
    )
    return [[_plain(c) for c in estimator.classes_[row < UNSEEN_MASS]] for row in mass]


def _expert_coefficients(expert, names, unseen=()):
    """An expert's coefficients by name, per class for multinomial experts (but
    for the ``unseen`` classes)."""
    coef = getattr(expert, "coef_", None)
    if coef is None:
        return None
    if hasattr(coef, "toarray"):
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    intercept = getattr(expert, "intercept_", None)
    if coef.ndim == 1 or coef.shape[0] == 1:
        if intercept is not None:
            intercept = np.ravel(intercept)[0]
        return _named(coef, intercept, names)
    labels = getattr(expert, "classes_", np.arange(coef.shape[0]))
    if len(labels) != coef.shape[0]:
        labels = np.arange(coef.shape[0])
    if intercept is not None:
        intercept = np.broadcast_to(np.ravel(intercept), coef.shape[0])
    return {
        _plain(label): _named(row, None if intercept is None else intercept[i], names)
        for i, (label, row) in enumerate(zip(labels, coef, strict=True))
        if _plain(label) not in unseen
    }


def _plain(value):
    """A NumPy scalar as the Python scalar it holds."""
    return value.item() if isinstance(value, np.generic) else value


def _flat_coefficients(coefficients):
    """``((class label or None, name), value)`` pairs of a coefficient dict."""
    if coefficients is None:
        return []
    pairs = []
    for key, value in coefficients.items():
        if isinstance(value, dict):
            pairs += [((key, name), v) for name, v in value.items()]
        else:
            pairs.append(((None, key), value))
    return pairs


def _format_number(value):
    if value is None:
        return "-"
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _table(header, rows):
    """Lines of a plain-text table: first column left-aligned, others right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines
