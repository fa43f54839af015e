"""The serving path: prediction through linear experts without per-expert calls.

When every expert is a plain ``LinearRegression`` or ``Ridge`` (the regressor,
with a family whose prediction is the expert's own output) or a plain
``LogisticRegression`` (the classifier), the mixture's prediction is one matrix
product, the gate's and every expert's coefficients stacked against ``X``, and
a few passes of arithmetic (``_kernels/_serving.py``). The general path
validates the input once for the mixture and once more in each expert's
``predict``, and calls each expert on its own rows: for one row or a small batch
those calls cost many times the arithmetic (docs: performance.rst, "Serving: one
row at a time").

The coefficients are read from the fitted gate and experts at each call (the
stacking costs a few microseconds), so a refit, ``set_params`` or an edited
``coef_`` is seen at once. :func:`fast_prediction` returns None wherever it does
not apply (another type of expert or gate, a subclass, a family that transforms
the expert's output, an expert that saw fewer classes than the model, an
invalid ``routing`` or ``top_k``, ``ENABLED`` switched off), and the estimator
then takes the general path, with its errors.
"""

import math

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from skmoe._chunks import _CHUNK_FLOATS, row_blocks
from skmoe._gate import SoftmaxGate
from skmoe._kernels import serving_exponents, serving_mix
from skmoe._routing import check_routing, experts_per_row
from skmoe.families import Categorical, Family

#: The private switch: False sends every prediction through the general path
#: (the tests compare the two).
ENABLED = True

_LINEAR_REGRESSORS = (LinearRegression, Ridge)


def fast_prediction(estimator, X):
    """``predict`` (the classifier's ``predict_proba``) by the serving path, or None.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
    X : array-like of shape (n_samples, n_features)
        The input, not yet validated.

    Returns
    -------
    prediction : ndarray of shape (n_samples,) or (n_samples, n_classes), or None
    """
    if not ENABLED:
        return None
    state = estimator.__dict__
    experts, gate, family = (
        state.get("experts_"),
        state.get("gate_"),
        state.get("family_"),
    )
    if experts is None or type(gate) is not SoftmaxGate:
        return None
    n_experts = len(experts)
    try:
        check_routing(estimator.routing, estimator.top_k, n_experts)
    except ValueError:
        return None
    if type(family) is Categorical:
        n_classes = family.classes_.size
    elif isinstance(family, Family) and type(family).predict is Family.predict:
        n_classes = 0
    else:
        return None
    if gate.coef_.shape != (n_experts, state["gate_features_"].size):
        return None
    stacked = _stacked(experts, gate, state, n_classes)
    if stacked is None:
        return None
    coef, intercept = stacked
    X = _validated(estimator, X)
    k = experts_per_row(estimator.routing, estimator.top_k, n_experts)
    n_exponents = n_experts if n_classes == 0 else coef.shape[1]
    width = coef.shape[1] + n_exponents + 2 * n_experts + n_classes
    out = np.empty((X.shape[0], max(n_classes, 1)))
    if X.shape[0] * width <= _CHUNK_FLOATS:
        blocks = [slice(None)]
    else:
        blocks = row_blocks(X.shape[0], width)
    for rows in blocks:
        X_rows = X[rows]
        # The product into a Fortran array: its transpose, one output per row, is
        # what the kernels read, and BLAS writes it twice as fast as coef.T @ X.T.
        logits = np.empty((X_rows.shape[0], coef.shape[1]), order="F")
        np.matmul(X_rows, coef, out=logits)
        logits = logits.T
        exps = np.empty((n_exponents, logits.shape[1]))
        serving_exponents(logits, intercept, n_experts, n_classes, exps)
        np.exp(exps, out=exps)
        serving_mix(logits, exps, n_experts, n_classes, k, out[rows])
    return out if n_classes else out.ravel()


def validated_input(estimator, X):
    """``X`` as the estimator's validation (``_validate_X``) returns it.

    A float64 ndarray with the fitted number of columns, at least one row and
    finite values is what ``validate_data`` returns unchanged, and is taken as it
    is, without its checks' cost (about 0.1 ms, what a few rows' prediction
    costs); anything else goes through the estimator's own validation, with its
    errors and warnings.
    """
    if (
        type(X) is np.ndarray
        and X.dtype == np.float64
        and X.ndim == 2
        and X.shape[0] > 0
        and X.shape[1] == estimator.__dict__.get("n_features_in_")
        and "feature_names_in_" not in estimator.__dict__
        and math.isfinite(X.sum())
    ):
        return X
    return estimator._validate_X(X)


def _validated(estimator, X):
    """``X`` validated, in float64: a float32 input is cast after its validation,
    since the general path's products with the float64 coefficients compute in
    float64 too."""
    return validated_input(estimator, X).astype(np.float64, copy=False)


def _stacked(experts, gate, state, n_classes):
    """The gate's and the experts' coefficients and intercepts side by side, or
    None if an expert does not qualify.

    A regressor's expert qualifies if it is a fitted plain ``LinearRegression``
    or ``Ridge`` of one target with float64 coefficients (float32 ones, which
    its ``fit`` gives on float32 rows, make its own products float32).

    One column per output, the gate's ``K`` first, then each expert's ``C'``:
    1 for regression and for two classes (the log-odds of the second), the
    number of classes beyond; one row per feature of ``X``, zero where a part
    does not see the feature. The experts' arrays are gathered first and copied
    in by one assignment each: per-expert slicing was most of this function's
    cost, itself a fifth of a 1,000-row prediction (docs: performance.rst).
    """
    n_experts = len(experts)
    width = n_classes if n_classes > 2 else 1
    gate_features, expert_features = state["gate_features_"], state["expert_features_"]
    n_features = state["n_features_in_"]
    if n_classes == 0:
        qualifies, shape = _linear, (expert_features.size,)
    else:
        qualifies, shape = _logistic, (width, expert_features.size)
    coefs, intercepts = [], []
    for expert in experts:
        if not qualifies(expert, n_classes, shape):
            return None
        coefs.append(expert.coef_)
        intercepts.append(expert.intercept_)
    columns = n_experts * (1 + width)
    intercept = np.empty(columns)
    intercept[:n_experts] = gate.intercept_
    if n_classes == 0:
        intercept[n_experts:] = intercepts
        experts_coef = np.array(coefs).T
    else:
        intercept[n_experts:] = np.concatenate(intercepts)
        experts_coef = np.concatenate(coefs).T
    if _every_column(gate_features, n_features) and _every_column(
        expert_features, n_features
    ):
        coef = np.empty((n_features, columns))
        coef[:, :n_experts] = gate.coef_.T
        coef[:, n_experts:] = experts_coef
    else:
        coef = np.zeros((n_features, columns))
        coef[gate_features, :n_experts] = gate.coef_.T
        coef[expert_features, n_experts:] = experts_coef
    return coef, intercept


def _linear(expert, n_classes, shape):
    """Whether ``expert`` is a fitted plain ``LinearRegression`` or ``Ridge`` of
    one target with float64 coefficients."""
    return (
        type(expert) in _LINEAR_REGRESSORS
        and _float64(expert, shape)
        and getattr(expert.intercept_, "ndim", 0) == 0
    )


def _logistic(expert, n_classes, shape):
    """Whether ``expert`` is a fitted plain ``LogisticRegression`` with float64
    coefficients, that saw every class (the general path aligns the others'
    columns to ``classes_``) and whose probabilities are softmaxes."""
    if not (type(expert) is LogisticRegression and _float64(expert, shape)):
        return False
    intercept, classes = expert.intercept_, getattr(expert, "classes_", None)
    return (
        isinstance(intercept, np.ndarray)
        and intercept.shape == shape[:1]
        and isinstance(classes, np.ndarray)
        and classes.size == n_classes
        and _softmax_probabilities(expert, n_classes)
    )


def _float64(expert, shape):
    """Whether the expert is fitted, with float64 coefficients of ``shape``."""
    coef = getattr(expert, "coef_", None)
    return (
        isinstance(coef, np.ndarray)
        and coef.dtype == np.float64
        and coef.shape == shape
    )


def _softmax_probabilities(expert, n_classes):
    """Whether ``expert.predict_proba`` is the sigmoid of its log-odds (two
    classes) or the softmax of its logits (three or more).

    scikit-learn < 1.8 normalises one-versus-rest sigmoids instead for
    ``multi_class="ovr"`` and for liblinear, and gives a binary
    ``multi_class="multinomial"`` model the softmax of ``(-d, d)``.
    """
    multi_class = getattr(expert, "multi_class", "auto")
    if n_classes == 2:
        return multi_class != "multinomial"
    return multi_class in ("auto", "deprecated", "multinomial") and (
        expert.solver != "liblinear"
    )


def _every_column(indices, n_features):
    """Whether ``indices`` are ``0, ..., n_features - 1`` in order, tested cheaply
    for the few columns where the test matters."""
    return (
        indices.size == n_features
        and n_features <= 64
        and indices.tolist() == list(range(n_features))
    )
