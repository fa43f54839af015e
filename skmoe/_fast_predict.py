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
        stacked = _logistic_coefficients(experts, state, n_classes)
    elif isinstance(family, Family) and type(family).predict is Family.predict:
        n_classes = 0
        stacked = _linear_coefficients(experts, state)
    else:
        return None
    if stacked is None or gate.coef_.shape != (n_experts, state["gate_features_"].size):
        return None
    coef, intercept = _with_gate(gate, state, *stacked)
    X = _validated(estimator, X)
    k = experts_per_row(estimator.routing, estimator.top_k, n_experts)
    n_exponents = n_experts if n_classes == 0 else coef.shape[0]
    width = coef.shape[0] + n_exponents + 2 * n_experts + n_classes
    out = np.empty((X.shape[0], max(n_classes, 1)))
    if X.shape[0] * width <= _CHUNK_FLOATS:
        blocks = [slice(None)]
    else:
        blocks = row_blocks(X.shape[0], width)
    for rows in blocks:
        logits = coef @ X[rows].T
        exps = np.empty((n_exponents, logits.shape[1]))
        serving_exponents(logits, intercept, n_experts, n_classes, exps)
        np.exp(exps, out=exps)
        serving_mix(logits, exps, n_experts, n_classes, k, out[rows])
    return out if n_classes else out.ravel()


def _validated(estimator, X):
    """``X`` as the general path's validation returns it, in float64.

    A float64 ndarray with the fitted number of columns, at least one row and
    finite values is what ``validate_data`` returns unchanged, and is taken as it
    is; anything else goes through the estimator's own validation, with its
    errors and warnings. A float32 input is cast after it: the general path's
    products with the float64 coefficients compute in float64 too.
    """
    if (
        type(X) is np.ndarray
        and X.dtype == np.float64
        and X.ndim == 2
        and X.shape[0] > 0
        and X.shape[1] == estimator.n_features_in_
        and "feature_names_in_" not in estimator.__dict__
        and math.isfinite(X.sum())
    ):
        return X
    return estimator._validate_X(X).astype(np.float64, copy=False)


def _linear_coefficients(experts, state):
    """The experts' coefficients, one row each, and intercepts; or None.

    Only for plain ``LinearRegression`` and ``Ridge`` experts of one target on the
    fitted expert columns, with float64 coefficients (float32 ones make the
    expert's own products float32).
    """
    shape = state["expert_features_"].shape
    intercepts = []
    for expert in experts:
        if type(expert) not in _LINEAR_REGRESSORS or not _float64(expert, shape):
            return None
        intercepts.append(expert.intercept_)
    intercepts = np.array(intercepts, dtype=np.float64)
    if intercepts.shape != (len(experts),):
        return None
    return np.array([expert.coef_ for expert in experts]), intercepts


def _logistic_coefficients(experts, state, n_classes):
    """The experts' coefficients, ``C'`` rows each, and intercepts; or None.

    ``C'`` is 1 for two classes (the log-odds of the second) and the number of
    classes beyond. Only for plain ``LogisticRegression`` experts that saw every
    class (the general path aligns the others' columns to ``classes_``), on the
    fitted expert columns, whose probabilities are those softmaxes, with float64
    coefficients.
    """
    width = 1 if n_classes == 2 else n_classes
    shape = (width, state["expert_features_"].size)
    for expert in experts:
        if (
            type(expert) is not LogisticRegression
            or not _float64(expert, shape)
            or np.shape(expert.intercept_) != (width,)
            or np.size(getattr(expert, "classes_", ())) != n_classes
            or not _softmax_probabilities(expert, n_classes)
        ):
            return None
    coef = np.concatenate([expert.coef_ for expert in experts])
    return coef, np.concatenate([expert.intercept_ for expert in experts])


def _float64(expert, shape):
    """Whether the expert is fitted, with float64 coefficients of ``shape``."""
    coef = getattr(expert, "coef_", None)
    return type(coef) is np.ndarray and coef.dtype == np.float64 and coef.shape == shape


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


def _with_gate(gate, state, expert_coef, expert_intercept):
    """The gate's rows above the experts', over every feature of ``X`` (zero where
    a part does not see the feature), and their intercepts."""
    n_experts = gate.intercept_.size
    gate_features, expert_features = state["gate_features_"], state["expert_features_"]
    coef = np.zeros((n_experts + expert_coef.shape[0], state["n_features_in_"]))
    coef[:n_experts, gate_features] = gate.coef_
    coef[n_experts:, expert_features] = expert_coef
    intercept = np.empty(coef.shape[0])
    intercept[:n_experts] = gate.intercept_
    intercept[n_experts:] = expert_intercept
    return coef, intercept
