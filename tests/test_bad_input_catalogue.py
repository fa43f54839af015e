"""The bad-input catalogue: every bad input skmoe is tried with, in one list.

Each entry names a bad input, the call that receives it, the exact exception type and
a pattern its message must match (a message that names the problem). Every entry is
tried on a model that is already fitted (or, for the "before fit" entries, on a fresh
one): a regressor, a classifier, or a two-level hierarchy (a regressor whose experts
are regressor mixtures), by two tests:

- ``test_bad_input_is_refused_clearly``: the call raises exactly the expected type,
  with a matching message, and a failed fit fails before any expert is fitted;
- ``test_bad_input_leaves_the_model_unchanged``: after the failed call the model has
  the same attributes, equal fitted parameters and identical predictions.

``test_validation.py`` tests some of these cases one by one, with more detail on
each; this list is the one the reliability page counts.
"""

import copy
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._base import BaseMixtureOfExperts
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.families import Categorical
from skmoe.inference import coefficient_table

from test_validation import CountingClassifier, CountingRegressor, _State

N_SAMPLES = 60


@dataclass(frozen=True)
class BadInput:
    """One bad input: ``call(moe, X, y)`` must raise ``exception`` matching ``match``.

    ``params`` are set on the model just before the call: a bad parameter is only
    seen by the next ``fit``, or by the next prediction for the parameters read at
    predict time (``routing``, ``top_k``).
    """

    name: str
    call: Callable
    exception: type
    match: str
    estimator: str = "regressor"  # or "classifier", "hierarchy"
    params: dict = field(default_factory=dict)
    fitted: bool = True


def _set(A, value, index=(3, 1)):
    """A copy of ``A`` with one entry set to ``value`` (its dtype widened if needed)."""
    A = np.array(A, dtype=np.result_type(A, np.asarray(value)))
    A[index] = value
    return A


def _with_string(A):
    A = np.array(A, dtype=object)
    A[3, 1] = "a"
    return A


def _fit(X=None, y=None):
    """A call that refits the model, replacing X or y when given."""

    def call(moe, X_good, y_good):
        moe.fit(X_good if X is None else X(X_good), y_good if y is None else y(y_good))

    return call


def _refit_with_weights(make):
    """A call that refits the model with ``make(n_samples)`` as sample_weight."""

    def call(moe, X, y):
        moe.fit(X, y, sample_weight=make(len(y)))

    return call


def _method(name, X=None, y=None, with_y=False):
    """A call of a fitted model's method, replacing X or y when given."""

    def call(moe, X_good, y_good):
        args = [X_good if X is None else X(X_good)]
        if with_y:
            args.append(y_good if y is None else y(y_good))
        getattr(moe, name)(*args)

    return call


def _table(moe, X, y, **options):
    coefficient_table(moe, X, y, **options)


def _gate_level(level):
    """A call of ``predict_gate_proba(X, level=level)``."""
    return lambda moe, X, y: moe.predict_gate_proba(X, level=level)


def _counting_mixture(**params):
    return MixtureOfExpertsRegressor(
        expert=CountingRegressor(), n_experts=2, n_init=1, max_iter=5, **params
    )


def _named(X):
    return pd.DataFrame(X, columns=["x1", "x2"])


def _wider(X):
    return np.column_stack([X, X[:, 0]])


def _scaled(factor):
    return lambda A: A * factor


_NOT_FITTED = "is not fitted yet"

# fmt: off
CATALOGUE = [
    # ---- X at fit
    BadInput("nan_in_X", _fit(X=lambda X: _set(X, np.nan)), ValueError,
             "Input X contains NaN"),
    BadInput("inf_in_X", _fit(X=lambda X: _set(X, np.inf)), ValueError,
             "Input X contains infinity"),
    BadInput("minus_inf_in_X", _fit(X=lambda X: _set(X, -np.inf)), ValueError,
             "Input X contains infinity"),
    BadInput("empty_arrays", _fit(X=lambda X: X[:0], y=lambda y: y[:0]), ValueError,
             r"Found array with 0 sample\(s\)"),
    BadInput("no_columns", _fit(X=lambda X: X[:, :0]), ValueError,
             r"Found array with 0 feature\(s\)"),
    BadInput("one_row", _fit(X=lambda X: X[:1], y=lambda y: y[:1]), ValueError,
             "n_samples=1 should be >= n_experts=2"),
    BadInput("more_experts_than_rows", _fit(X=lambda X: X[:3], y=lambda y: y[:3]),
             ValueError, "n_samples=3 should be >= n_experts=5",
             params={"n_experts": 5}),
    BadInput("string_in_X", _fit(X=_with_string), ValueError,
             "could not convert string to float: 'a'"),
    BadInput("complex_X", _fit(X=lambda X: X + 1j), ValueError,
             "Complex data not supported"),
    BadInput("sparse_X", _fit(X=sp.csr_matrix), TypeError,
             "Sparse data was passed for X, but dense data is required"),
    BadInput("one_dimensional_X", _fit(X=lambda X: X[:, 0]), ValueError,
             "Expected 2D array, got 1D array"),
    BadInput("three_dimensional_X", _fit(X=lambda X: X[:, :, None]), ValueError,
             "Found array with dim 3"),
    BadInput("huge_X", _fit(X=_scaled(1e200)), ValueError, "too large"),
    BadInput("large_X", _fit(X=_scaled(1e155)), ValueError, "too large",
             params={"expert": LinearRegression()}),
    BadInput("tiny_X", _fit(X=_scaled(1e-310)), ValueError, "too small"),
    # ---- y at fit
    BadInput("nan_in_y", _fit(y=lambda y: _set(y, np.nan, 4)), ValueError,
             "Input y contains NaN"),
    BadInput("inf_in_y", _fit(y=lambda y: _set(y, np.inf, 4)), ValueError,
             "Input y contains infinity"),
    BadInput("complex_y", _fit(y=lambda y: y + 1j), ValueError,
             "Complex data not supported"),
    BadInput("string_in_y", _fit(y=lambda y: _set(y.astype(object), "a", 4)),
             ValueError, "could not convert string to float: 'a'"),
    BadInput("y_with_two_columns", _fit(y=lambda y: np.column_stack([y, y])),
             ValueError, r"y should be a 1d array, got an array of shape \(60, 2\)"),
    BadInput("y_of_other_length", _fit(y=lambda y: y[:-1]), ValueError,
             r"inconsistent numbers of samples: \[60, 59\]"),
    BadInput("y_none", _fit(y=lambda y: None), ValueError,
             "requires y to be passed, but the target y is None"),
    BadInput("huge_y", _fit(y=_scaled(1e200)), ValueError, "too large"),
    BadInput("large_y", _fit(y=_scaled(1e155)), ValueError, "too large"),
    BadInput("tiny_y", _fit(y=_scaled(1e-160)), ValueError, "too small"),
    # ---- sample_weight
    BadInput("sample_weight_of_other_length",
             _refit_with_weights(lambda n: np.ones(n - 1)), ValueError,
             r"sample_weight.shape == \(59,\), expected \(60,\)"),
    BadInput("all_zero_sample_weight", _refit_with_weights(np.zeros), ValueError,
             "Sample weights must contain at least one non-zero number"),
    BadInput("negative_sample_weight",
             _refit_with_weights(lambda n: _set(np.ones(n), -1.0, 5)), ValueError,
             "Negative values in data passed to `sample_weight`"),
    BadInput("nan_in_sample_weight",
             _refit_with_weights(lambda n: _set(np.ones(n), np.nan, 5)), ValueError,
             "Input sample_weight contains NaN"),
    BadInput("inf_in_sample_weight",
             _refit_with_weights(lambda n: _set(np.ones(n), np.inf, 5)), ValueError,
             "Input sample_weight contains infinity"),
    BadInput("two_dimensional_sample_weight",
             _refit_with_weights(lambda n: np.ones((n, 1))), ValueError,
             "Sample weights must be 1D array or scalar, got 2D array"),
    BadInput("huge_sample_weight", _refit_with_weights(lambda n: np.full(n, 1e200)),
             ValueError, "too large"),
    # ---- parameters, seen by the next fit
    BadInput("unknown_init", _fit(), InvalidParameterError,
             "The 'init' parameter of MixtureOfExpertsRegressor .* Got 'kmean'",
             params={"init": "kmean"}),
    BadInput("unknown_solver", _fit(), InvalidParameterError,
             "The 'solver' parameter .* Got 'lbfgs'", params={"solver": "lbfgs"}),
    BadInput("unknown_routing", _fit(), InvalidParameterError,
             "The 'routing' parameter .* Got 'sof'", params={"routing": "sof"}),
    BadInput("unknown_collapse", _fit(), InvalidParameterError,
             "The 'collapse' parameter .* Got 'keep'", params={"collapse": "keep"}),
    BadInput("zero_experts", _fit(), InvalidParameterError,
             r"The 'n_experts' parameter .* range \[1, inf\) or None\. Got 0",
             params={"n_experts": 0}),
    BadInput("top_k_zero", _fit(), InvalidParameterError,
             r"The 'top_k' parameter .* range \[1, inf\)\. Got 0",
             params={"routing": "top_k", "top_k": 0}),
    BadInput("top_k_not_an_integer", _fit(), InvalidParameterError,
             r"The 'top_k' parameter .* an int .* Got 1\.5",
             params={"routing": "top_k", "top_k": 1.5}),
    # A gate with fit and decision_function once passed validation and failed
    # inside EM with AttributeError: _fit. EM drives SoftmaxGate's own solver.
    BadInput("gate_that_is_not_a_softmax_gate", _fit(), InvalidParameterError,
             r"The 'gate' parameter .* an instance of 'skmoe\.SoftmaxGate' "
             r"or None\. Got LogisticRegression\(\)",
             params={"gate": LogisticRegression()}),
    BadInput("n_jobs_zero", _fit(), InvalidParameterError,
             r"The 'n_jobs' parameter .* Got 0 instead", params={"n_jobs": 0}),
    # True is an int to Python: these once reached KMeans and NumPy.
    BadInput("n_experts_boolean", _fit(), InvalidParameterError,
             r"The 'n_experts' parameter .* an int in the range \[1, inf\) or None\. "
             r"Got True",
             params={"n_experts": True}),
    BadInput("top_k_boolean", _fit(), InvalidParameterError,
             r"The 'top_k' parameter .* Got True",
             params={"routing": "top_k", "top_k": True}),
    BadInput("n_init_boolean", _fit(), InvalidParameterError,
             r"The 'n_init' parameter .* Got True", params={"n_init": True}),
    BadInput("init_size_below_n_experts", _fit(), ValueError,
             "init_size=2 is below n_experts=3: the subsample EM starts on needs "
             "at least one row per expert", params={"n_experts": 3, "init_size": 2}),
    BadInput("partial_fit_with_em", _method("partial_fit", with_y=True),
             AttributeError,
             "MixtureOfExpertsRegressor has partial_fit only with "
             "solver='gradient'.*this one has solver='em'"),
    BadInput("warm_start_by_mini_batches_with_another_expert", _fit(), ValueError,
             "warm_start=True with solver='gradient' continues the fitted experts, "
             "but the expert's parameters changed",
             params={"warm_start": True, "solver": "gradient",
                     "expert": LinearRegression(fit_intercept=False)}),
    BadInput("top_k_above_n_experts", _fit(), ValueError,
             "top_k must be an integer between 1 and n_experts=2; got 3",
             params={"routing": "top_k", "top_k": 3}),
    BadInput("init_array_of_wrong_shape", _fit(), ValueError,
             r"responsibilities of shape \(n_samples, n_experts\)=\(60, 2\); got "
             r"shape \(60, 3\)",
             params={"init": np.full((N_SAMPLES, 3), 1 / 3)}),
    BadInput("init_array_negative", _fit(), ValueError,
             "non-negative with rows summing to 1",
             params={"init": np.tile([1.5, -0.5], (N_SAMPLES, 1))}),
    BadInput("init_array_rows_not_summing_to_one", _fit(), ValueError,
             "non-negative with rows summing to 1",
             params={"init": np.full((N_SAMPLES, 2), 0.4)}),
    BadInput("gate_feature_out_of_range", _fit(), ValueError,
             r"gate_features has column indices \[5\] outside \[0, 2\)",
             params={"gate_features": [0, 5]}),
    BadInput("gate_feature_negative", _fit(), ValueError,
             r"gate_features has column indices \[-1\] outside \[0, 2\)",
             params={"gate_features": [-1]}),
    BadInput("gate_feature_twice", _fit(), ValueError,
             "gate_features lists a column more than once",
             params={"gate_features": [0, 0]}),
    BadInput("gate_feature_names_without_column_names", _fit(), ValueError,
             "gate_features names columns, but X has no column names",
             params={"gate_features": ["x1"]}),
    BadInput("gate_feature_unknown_name", _fit(X=_named), ValueError,
             r"gate_features names unknown columns: \['x3'\]",
             params={"gate_features": ["x3"]}),
    BadInput("gate_feature_mask_of_wrong_length", _fit(), ValueError,
             "gate_features is a boolean mask of length 3, but X has 2 features",
             params={"gate_features": [True, False, True]}),
    BadInput("gate_features_two_dimensional", _fit(), ValueError,
             "gate_features must be a 1-D list of columns; got 2-D",
             params={"gate_features": [[0], [1]]}),
    BadInput("gate_features_of_floats", _fit(), ValueError,
             "gate_features must hold column indices, column names or a boolean mask",
             params={"gate_features": [0.5]}),
    BadInput("no_expert_features", _fit(), ValueError,
             "expert_features selects no column: experts need inputs",
             params={"expert_features": []}),
    BadInput("warm_start_with_other_n_experts", _fit(), ValueError,
             "warm_start=True continues the previous fit, which needs the same "
             "n_experts",
             params={"warm_start": True, "n_experts": 3}),
    BadInput("warm_start_with_other_features", _fit(), ValueError,
             "warm_start=True continues the previous fit, which needs the same "
             "n_experts, features",
             params={"warm_start": True, "gate_features": [0]}),
    BadInput("expert_not_an_estimator", _fit(), InvalidParameterError,
             "The 'expert' parameter .* implementing 'fit' and 'predict'",
             params={"expert": "linear"}),
    BadInput("expert_without_sample_weight", _fit(), ValueError,
             r"KNeighborsRegressor\(\) cannot be an expert with solver='em': its fit "
             r"method takes no sample_weight.*Use solver='cem'",
             params={"expert": KNeighborsRegressor()}),
    BadInput("classifier_as_regressor_expert", _fit(), ValueError,
             r"DecisionTreeClassifier\(\) is a classifier, which cannot predict a "
             "real target's mean", params={"expert": DecisionTreeClassifier()}),
    # ---- the regressor's family, seen by the next fit
    BadInput("linear_expert_for_counts", _fit(y=lambda y: np.round(np.abs(y))),
             ValueError,
             r"LinearRegression\(\) cannot be an expert of the poisson family: a "
             "linear model's predictions are negative somewhere",
             params={"family": "poisson", "expert": LinearRegression()}),
    BadInput("unknown_family", _fit(), InvalidParameterError,
             "The 'family' parameter .* must be a str among",
             params={"family": "laplace"}),
    BadInput("family_not_a_family", _fit(), InvalidParameterError,
             "The 'family' parameter .* instance of 'skmoe.families.Family'",
             params={"family": LinearRegression()}),
    BadInput("classifier_family", _fit(), ValueError,
             "it is a classifier's family; use MixtureOfExpertsClassifier",
             params={"family": Categorical()}),
    BadInput("negative_counts", _fit(), ValueError,
             r"the poisson family needs non-negative targets; y has \d+ rows",
             params={"family": "poisson"}),
    BadInput("non_integer_counts", _fit(y=np.abs), ValueError,
             "the poisson family needs integer counts.*pass the exposures as "
             "sample_weight",
             params={"family": "poisson"}),
    BadInput("non_integer_negative_binomial", _fit(y=np.abs), ValueError,
             "the negative_binomial family needs integer counts",
             params={"family": "negative_binomial"}),
    BadInput("non_positive_gamma", _fit(), ValueError,
             "the gamma family needs positive targets",
             params={"family": "gamma"}),
    BadInput("negative_binomial_by_mini_batches",
             _fit(y=lambda y: np.round(np.abs(y))), ValueError,
             "the negative_binomial family cannot be trained by mini-batches",
             params={"family": "negative_binomial", "solver": "gradient"}),
    BadInput("warm_start_with_another_family", _fit(), ValueError,
             "warm_start=True continues the previous fit",
             params={"warm_start": True, "family": "student_t"}),
    # ---- the classifier at fit
    BadInput("classifier_nan_in_y", _fit(y=lambda y: _set(y, np.nan, 4)),
             ValueError, "Input y contains NaN", estimator="classifier"),
    BadInput("classifier_one_class", _fit(y=np.zeros_like), ValueError,
             "needs samples of at least 2 classes; the data has only one class",
             estimator="classifier"),
    BadInput("classifier_continuous_y", _fit(y=lambda y: y + 0.5), ValueError,
             "Unknown label type: continuous", estimator="classifier"),
    BadInput("classifier_y_with_two_columns",
             _fit(y=lambda y: np.column_stack([y, y])), ValueError,
             r"y should be a 1d array, got an array of shape \(60, 2\)",
             estimator="classifier"),
    BadInput("classifier_sparse_X", _fit(X=sp.csr_matrix), TypeError,
             "Sparse data was passed for X, but dense data is required",
             estimator="classifier"),
    BadInput("classifier_expert_without_predict_proba", _fit(), ValueError,
             r"SVC\(\) cannot be an expert: it has no predict_proba",
             estimator="classifier", params={"expert": SVC()}),
    # ---- hierarchies: mixtures as experts, seen by the next fit
    BadInput("list_of_a_mixture_and_a_flat_expert", _fit(), ValueError,
             r"needs that density of every expert; expert 'line' LinearRegression\(\) "
             "has none. Wrap it as a one-expert mixture",
             params={"expert": [("tree", _counting_mixture()),
                                ("line", LinearRegression())]}),
    BadInput("inner_classifier_mixture_in_a_regressor", _fit(), ValueError,
             "cannot be an expert of a regressor: a nested mixture must solve the "
             "outer model's task",
             params={"expert": MixtureOfExpertsClassifier(expert=CountingClassifier(),
                                                          n_experts=2)}),
    BadInput("inner_regressor_mixture_in_a_classifier", _fit(), ValueError,
             "cannot be an expert of a classifier: a nested mixture must solve the "
             "outer model's task", estimator="classifier",
             params={"expert": _counting_mixture()}),
    BadInput("family_on_a_hierarchy", _fit(y=lambda y: np.round(np.abs(y))),
             ValueError,
             r"family=Poisson\(\) is the density of a flat expert's target.*set the "
             "family on the inner mixtures", estimator="hierarchy",
             params={"family": "poisson"}),
    BadInput("hierarchy_by_mini_batches", _fit(), ValueError,
             "a mixture whose experts are mixtures cannot be trained by mini-batches"
             r".*its own EM.*Use solver='em' or solver='cem'", estimator="hierarchy",
             params={"solver": "gradient"}),
    BadInput("hierarchy_partial_fit", _method("partial_fit", with_y=True),
             ValueError,
             "a mixture whose experts are mixtures cannot be trained by mini-batches",
             estimator="hierarchy", params={"solver": "gradient"}),
    # ---- after fit
    BadInput("predict_wrong_feature_count", _method("predict", X=_wider), ValueError,
             "X has 3 features, but MixtureOfExpertsRegressor is expecting 2"),
    BadInput("posterior_proba_wrong_feature_count",
             _method("posterior_proba", X=_wider, with_y=True), ValueError,
             "X has 3 features, but MixtureOfExpertsRegressor is expecting 2"),
    BadInput("predict_experts_wrong_feature_count",
             _method("predict_experts", X=_wider), ValueError,
             "X has 3 features, but MixtureOfExpertsRegressor is expecting 2"),
    BadInput("bic_wrong_feature_count", _method("bic", X=_wider, with_y=True),
             ValueError,
             "X has 3 features, but MixtureOfExpertsRegressor is expecting 2"),
    BadInput("predict_nan_in_X", _method("predict", X=lambda X: _set(X, np.nan)),
             ValueError, "Input X contains NaN"),
    BadInput("predict_empty_X", _method("predict", X=lambda X: X[:0]), ValueError,
             r"Found array with 0 sample\(s\)"),
    BadInput("predict_sparse_X", _method("predict", X=sp.csr_matrix), TypeError,
             "Sparse data was passed for X, but dense data is required"),
    BadInput("predict_gate_proba_string_in_X",
             _method("predict_gate_proba", X=_with_string), ValueError,
             "could not convert string to float: 'a'"),
    BadInput("gate_level_zero", _gate_level(0), ValueError,
             "level must be an integer >= 1 or None; got 0", estimator="hierarchy"),
    BadInput("gate_level_string", _gate_level("a"), ValueError,
             "level must be an integer >= 1 or None; got 'a'", estimator="hierarchy"),
    BadInput("gate_level_below_the_leaves", _gate_level(3), ValueError,
             "level=3 is deeper than this model's tree, which has 2 levels of gates; "
             "level=None reads the leaves", estimator="hierarchy"),
    BadInput("gate_level_of_a_flat_mixture", _gate_level(2), ValueError,
             "level=2 is deeper than this model's tree, which has 1 level of gates"),
    BadInput("predict_top_k_above_fitted_experts", _method("predict"), ValueError,
             "top_k must be an integer between 1 and n_experts=2; got 3",
             params={"routing": "top_k", "top_k": 3}),
    BadInput("predict_top_k_boolean", _method("predict"), ValueError,
             "top_k must be an integer between 1 and n_experts=2; got True",
             params={"routing": "top_k", "top_k": True}),
    BadInput("score_samples_nan_in_y",
             _method("score_samples", y=lambda y: _set(y, np.nan, 4), with_y=True),
             ValueError, "Input y contains NaN"),
    BadInput("posterior_proba_y_of_other_length",
             _method("posterior_proba", y=lambda y: y[:-1], with_y=True), ValueError,
             r"y must be 1-D with one value per row of X \(60\); got shape \(59,\)"),
    BadInput("score_samples_y_with_two_columns",
             _method("score_samples", y=lambda y: np.column_stack([y, y]),
                     with_y=True), ValueError,
             r"y must be 1-D with one value per row of X \(60\); got shape \(60, 2\)"),
    BadInput("classifier_predict_proba_wrong_feature_count",
             _method("predict_proba", X=_wider), ValueError,
             "X has 3 features, but MixtureOfExpertsClassifier is expecting 2",
             estimator="classifier"),
    BadInput("classifier_posterior_proba_unseen_label",
             _method("posterior_proba", y=lambda y: _set(y, 7, 2), with_y=True),
             ValueError, r"y has labels never seen in fit: \[7\]",
             estimator="classifier"),
    BadInput("classifier_score_samples_unseen_label",
             _method("score_samples", y=lambda y: _set(y, 7, 2), with_y=True),
             ValueError, r"y has labels never seen in fit: \[7\]",
             estimator="classifier"),
    # ---- the predictive distribution and the coefficient table
    BadInput("quantile_above_one",
             lambda moe, X, y: moe.predict_quantiles(X, [0.5, 1.2]), ValueError,
             r"quantiles must be in the open interval \(0, 1\); got \[0.5, 1.2\]"),
    BadInput("quantile_zero", lambda moe, X, y: moe.predict_quantiles(X, [0.0]),
             ValueError, r"quantiles must be in the open interval \(0, 1\)"),
    BadInput("quantile_nan", lambda moe, X, y: moe.predict_quantiles(X, [np.nan]),
             ValueError, r"open interval \(0, 1\); got \[nan\]"),
    BadInput("interval_coverage_above_one",
             lambda moe, X, y: moe.predict_interval(X, coverage=1.5), ValueError,
             r"coverage must be in the open interval \(0, 1\); got 1.5"),
    BadInput("interval_coverage_zero",
             lambda moe, X, y: moe.predict_interval(X, coverage=0), ValueError,
             r"coverage must be in the open interval \(0, 1\); got 0"),
    BadInput("interval_unknown_kind",
             lambda moe, X, y: moe.predict_interval(X, kind="widest"), ValueError,
             "kind must be 'central' or 'highest_density'; got 'widest'"),
    BadInput("sample_y_no_samples", lambda moe, X, y: moe.sample_y(X, 0), ValueError,
             "n_samples must be at least 1; got 0"),
    BadInput("quantiles_nan_in_X",
             lambda moe, X, y: moe.predict_quantiles(_set(X, np.nan), [0.5]),
             ValueError, "Input X contains NaN"),
    BadInput("table_unknown_method",
             lambda moe, X, y: _table(moe, X, y, method="jackknife"),
             InvalidParameterError, "'method' parameter of coefficient_table"),
    BadInput("table_one_resample",
             lambda moe, X, y: _table(moe, X, y, method="bootstrap", n_resamples=1),
             InvalidParameterError, "'n_resamples' parameter of coefficient_table"),
    BadInput("table_confidence_level_one",
             lambda moe, X, y: _table(moe, X, y, confidence_level=1.0),
             InvalidParameterError, "'confidence_level' parameter of coefficient_"),
    BadInput("table_of_a_gradient_fit", lambda moe, X, y: _table(moe, X, y),
             ValueError, "method='observed' needs a model fitted by solver='em'",
             params={"solver": "gradient"}),
    BadInput("table_nan_in_y", lambda moe, X, y: _table(moe, X, _set(y, np.nan, 4)),
             ValueError, "Input y contains NaN"),
    BadInput("classifier_uncertainty_nan_in_X",
             _method("predict_uncertainty", X=lambda X: _set(X, np.nan)), ValueError,
             "Input X contains NaN", estimator="classifier"),
    # ---- before fit
    BadInput("predict_before_fit", _method("predict"), NotFittedError, _NOT_FITTED,
             fitted=False),
    BadInput("predict_proba_before_fit", _method("predict_proba"), NotFittedError,
             _NOT_FITTED, estimator="classifier", fitted=False),
    BadInput("score_samples_before_fit", _method("score_samples", with_y=True),
             NotFittedError, _NOT_FITTED, fitted=False),
    BadInput("posterior_proba_before_fit", _method("posterior_proba", with_y=True),
             NotFittedError, _NOT_FITTED, fitted=False),
    BadInput("bic_before_fit", _method("bic", with_y=True), NotFittedError,
             _NOT_FITTED, fitted=False),
    BadInput("aic_before_fit", _method("aic", with_y=True), NotFittedError,
             _NOT_FITTED, fitted=False),
]
# fmt: on


# ---- the test


@pytest.fixture(scope="module")
def fitted_models():
    """One fitted model of each kind with its data; each test works on a copy."""
    regression = make_moe_regression(n_samples=N_SAMPLES, n_experts=2, random_state=0)
    classification = make_moe_classification(n_samples=N_SAMPLES, random_state=0)
    params = {"n_init": 1, "max_iter": 10, "random_state": 0}
    regressor = MixtureOfExpertsRegressor(expert=CountingRegressor(), **params)
    classifier = MixtureOfExpertsClassifier(expert=CountingClassifier(), **params)
    hierarchy = MixtureOfExpertsRegressor(
        expert=_counting_mixture(random_state=0), **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {
            "regressor": (regressor.fit(*regression), *regression),
            "classifier": (classifier.fit(*classification), *classification),
            "hierarchy": (hierarchy.fit(*regression), *regression),
        }


def _leaf_counter(model):
    """The counting class of the model's (leaf) expert, below any mixtures."""
    expert = model.expert
    while isinstance(expert, BaseMixtureOfExperts):
        expert = expert.expert
    return type(expert)


def test_catalogue_names_are_unique():
    names = [entry.name for entry in CATALOGUE]
    assert len(set(names)) == len(names)


def _try(entry, fitted_models):
    """Make the entry's call on a copy of the fitted model (or a fresh one).

    Returns the error, whether the model's state is unchanged (``None`` if so, else
    the assertion) and the number of expert fits the call made.
    """
    fitted, X, y = fitted_models[entry.estimator]
    moe = copy.deepcopy(fitted) if entry.fitted else clone(fitted)
    counter = _leaf_counter(fitted)
    counter.n_fits = 0
    # The state is recorded with the good parameters, which are put back after the
    # call: a bad routing or top_k would make the recorded predictions fail.
    good_params = {name: getattr(moe, name) for name in entry.params}
    state = _State(moe, X)
    moe.set_params(**entry.params)
    with pytest.raises(Exception) as raised:
        entry.call(moe, X, y)
    n_fits = counter.n_fits
    moe.set_params(**good_params)
    return raised.value, lambda: state.assert_unchanged(moe, X), n_fits


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.name)
def test_bad_input_is_refused_clearly(fitted_models, entry):
    error, _, n_fits = _try(entry, fitted_models)
    assert type(error) is entry.exception, f"{type(error).__name__}: {error}"
    assert re.search(entry.match, str(error)), str(error)
    assert n_fits == 0, "the error came after experts were fitted"


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.name)
def test_bad_input_leaves_the_model_unchanged(fitted_models, entry):
    _, assert_unchanged, _ = _try(entry, fitted_models)
    assert_unchanged()
