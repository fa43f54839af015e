"""A property test over the estimators' parameter space (issue 24).

Hypothesis draws combinations of constructor parameters, valid and invalid
(booleans for integers, zero and negative counts, unknown names, thresholds out of
range, experts and gates of the wrong kind, column selections that do not fit),
and a small data set. Every fit must either succeed with finite outputs, or raise
one of the exception types the reliability page lists, with a message naming a
parameter that was set, before any EM work starts (the training driver is never
called). Errors that can only arise during EM (an expert's own fit failing, a
collapse with ``collapse="raise"``) must be the documented types and name what
failed. The cases are derandomised; ``MAX_EXAMPLES`` is what the reliability page
reports.
"""

import re
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError

import skmoe._base
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, SoftmaxGate
from skmoe.exceptions import ExpertCollapseError, ExpertCollapseWarning, ExpertFitError

MAX_EXAMPLES = {"regressor": 300, "classifier": 100}

#: What a refused fit may raise before any work, and what EM itself may raise.
BEFORE_WORK = (InvalidParameterError, ValueError, TypeError)
DURING_WORK = (ExpertFitError, ExpertCollapseError)

# fmt: off
# Each parameter's values: (valid, invalid). Valid values can still clash with
# each other or with the data (top_k above n_experts, KNeighbors with EM).
_COMMON = {
    "n_experts": ([1, 2, 3], [0, -1, True, 2.5, "2", None]),
    "routing": (["soft", "hard", "top_k"], ["sof"]),
    "top_k": ([1, 2, 3], [0, True, 1.5]),
    "solver": (["em", "cem", "gradient"], ["lbfgs"]),
    "batch_size": (["auto", 1, 8, 64, 10**6], [0, True]),
    "learning_rate": ([0.05, 1.0, 1e3], [0.0, -1.0]),
    "responsibility_threshold": ([0.0, 0.1, 0.5, 0.99], [1.0, -0.1]),
    "collapse": (["drop", "reseed", "raise"], ["keep"]),
    "collapse_threshold": ([0.0, 1e-3, 0.5], [1.0, -1.0]),
    "init": (["auto", "kmeans", "random"], ["kmean"]),
    "n_init": ([1, 2], [0, True]),
    "init_size": (["auto", None, 1, 2, 10, 1000], [0, True]),
    "tol": ([0.0, 1e-6, 1e3], [-1.0]),
    "warm_start": ([False, True], [1]),
    "n_jobs": ([None, 1, 2], [0]),
    "gate": ([None, SoftmaxGate(alpha=0.0), SoftmaxGate(alpha=10.0)],
             [SoftmaxGate(max_iter=True), LogisticRegression()]),
    "gate_features": ([None, [0], [], [5], [0, 0]], [["a"], [True], [0.5]]),
    "expert_features": ([None, [0], [], [-1]], [[1.5]]),
}
_REGRESSOR = {
    **_COMMON,
    "expert": ([None, Ridge(), DecisionTreeRegressor(max_depth=2),
                KNeighborsRegressor(n_neighbors=2), LinearRegression()],
               ["linear", DecisionTreeClassifier()]),
    "family": (["gaussian", "student_t", "poisson", "negative_binomial", "gamma"],
               ["laplace"]),
}
_CLASSIFIER = {
    **_COMMON,
    "expert": ([None, LogisticRegression(), DecisionTreeClassifier(max_depth=2)],
               [DecisionTreeRegressor(), "logistic"]),
}
# fmt: on

_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow],
}


def _parameters(space, invalid):
    """Some of the parameters, each drawn from its valid values (and, with
    ``invalid``, one in five from its invalid ones)."""
    # max_iter is always set, and small: the property is about what a fit
    # accepts, and 200 iterations of every generated fit would take minutes.
    max_iter = st.sampled_from([1, 5] * 4 + ([0, True] if invalid else []))
    return st.fixed_dictionaries(
        {"max_iter": max_iter},
        optional={
            name: st.sampled_from(valid * 4 + (bad if invalid else []))
            for name, (valid, bad) in space.items()
        },
    )


_DATA = st.tuples(
    st.sampled_from([3, 8, 30, 120]),  # rows
    st.integers(1, 3),  # features
    st.sampled_from(["real", "counts", "positive"]),  # target
    st.integers(0, 2**16),  # seed
)


def _data(n_samples, n_features, target, seed, classifier):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if classifier:
        y = (X[:, 0] + 0.5 * rng.normal(size=n_samples) > 0).astype(int)
        y[:2] = [0, 1]  # two classes even in three rows: the data are not the test
        return X, y
    mean = X[:, 0] + 0.3 * rng.normal(size=n_samples)
    y = {
        "real": mean,
        "counts": rng.poisson(np.exp(mean)).astype(float),
        "positive": np.exp(mean),
    }[target]
    return X, y


def _names(params):
    """What a message may name: the parameters set and the string values."""
    names = set(params)
    names |= {value for value in params.values() if isinstance(value, str)}
    for value in params.values():
        if hasattr(value, "get_params"):
            names.add(type(value).__name__)
    return names


def _check(estimator_class, params, data, classifier):
    X, y = _data(*data, classifier)
    moe = estimator_class(random_state=0, **params)
    started = []
    train = skmoe._base.train

    def recording_train(*args, **kwargs):
        started.append(True)
        return train(*args, **kwargs)

    with (
        mock.patch.object(skmoe._base, "train", recording_train),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", ExpertCollapseWarning)
        try:
            moe.fit(X, y)
        except BEFORE_WORK + DURING_WORK as error:
            message = str(error)
            if isinstance(error, DURING_WORK):
                assert started, f"{type(error).__name__} before EM: {message}"
                assert re.search(r"expert|collapse", message), message
                return "during"
            assert not started, f"refused only after EM started: {error!r}"
            named = [name for name in _names(params) if name in message]
            assert named or "n_samples" in message, (
                f"the message names none of {sorted(_names(params), key=str)}: "
                f"{message}"
            )
            return "refused"
    assert started
    outputs = [moe.predict(X), moe.predict_gate_proba(X), moe.score_samples(X, y)]
    if classifier:
        outputs.append(moe.predict_proba(X))
        np.testing.assert_allclose(outputs[-1].sum(axis=1), 1.0, atol=1e-9)
    assert all(np.all(np.isfinite(np.asarray(o, dtype=float))) for o in outputs)
    np.testing.assert_allclose(outputs[1].sum(axis=1), 1.0, atol=1e-9)
    return "fitted"


OUTCOMES = {}


def _count(name, outcome):
    OUTCOMES.setdefault(name, {}).setdefault(outcome, 0)
    OUTCOMES[name][outcome] += 1


_ESTIMATORS = {
    "regressor": (MixtureOfExpertsRegressor, _REGRESSOR),
    "classifier": (MixtureOfExpertsClassifier, _CLASSIFIER),
}


@pytest.mark.parametrize("invalid", [False, True], ids=["valid", "mixed"])
@pytest.mark.parametrize("kind", list(_ESTIMATORS))
def test_parameter_space(kind, invalid):
    estimator, space = _ESTIMATORS[kind]

    @settings(max_examples=MAX_EXAMPLES[kind], **_SETTINGS)
    @given(_parameters(space, invalid), _DATA)
    def check(params, data):
        outcome = _check(estimator, params, data, classifier=kind == "classifier")
        _count(f"{kind}-{'mixed' if invalid else 'valid'}", outcome)

    check()


def test_the_reliability_page_lists_the_exception_types():
    page = (Path(__file__).parents[1] / "docs/user_guide/reliability.rst").read_text()
    for error in BEFORE_WORK + DURING_WORK:
        assert error.__name__ in page, error.__name__
