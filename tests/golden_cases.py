"""Configurations whose public outputs are pinned by ``tests/data/golden.npz``.

Each case fits an estimator through the public API only, so the same code ran on
the commit before the code was reshaped into parts (0c76f74) and runs on every
commit since: ``python tests/capture_golden.py`` wrote the file there, and
``test_golden.py`` checks that today's code gives the same outputs. The cases
cover every solver, routing, both fast paths, trees and neighbours, the
initialisations, sample weights, float32 input, ``n_jobs``, the subsample start,
warm starts and ``partial_fit``.
"""

import warnings

import numpy as np
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
)
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, SoftmaxGate
from skmoe.datasets import make_moe_classification, make_moe_regression


def _regression(n_samples=400, n_features=3, n_experts=3, seed=0):
    return make_moe_regression(
        n_samples=n_samples,
        n_features=n_features,
        n_experts=n_experts,
        random_state=seed,
    )


def _classification(n_samples=400, n_classes=3, seed=0):
    return make_moe_classification(
        n_samples=n_samples, n_features=3, n_classes=n_classes, random_state=seed
    )


def _weights(n_samples, seed=1):
    return np.random.RandomState(seed).uniform(0.2, 3.0, size=n_samples)


def _fit(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, **fit_params)


def _outputs(model, X, y):
    """The public outputs pinned for one fitted model."""
    out = {
        "predict": model.predict(X),
        "gate_proba": model.predict_gate_proba(X),
        "score_samples": model.score_samples(X, y),
        "posterior": model.posterior_proba(X, y),
        "n_iter": np.array([model.n_iter_]),
        "n_experts": np.array([model.n_experts_]),
        "log_likelihood": np.array([model.log_likelihood_]),
    }
    if hasattr(model, "predict_proba"):
        out["predict_proba"] = model.predict_proba(X)
    for routing in ("hard", "top_k"):
        routed = model.set_params(routing=routing, top_k=min(2, model.n_experts_))
        key = f"{routing}_predict"
        out[key] = (
            routed.predict_proba(X)
            if hasattr(routed, "predict_proba")
            else routed.predict(X)
        )
    model.set_params(routing="soft")
    return out


def _regressor_case(X, y, fit_params=None, **params):
    params.setdefault("random_state", 0)
    params.setdefault("n_init", 1)  # restarts are pinned by the cases that ask for them
    model = _fit(MixtureOfExpertsRegressor(**params), X, y, **(fit_params or {}))
    return _outputs(model, X, y)


def _classifier_case(X, y, fit_params=None, **params):
    params.setdefault("random_state", 0)
    params.setdefault("n_init", 1)
    model = _fit(MixtureOfExpertsClassifier(**params), X, y, **(fit_params or {}))
    return _outputs(model, X, y)


def _warm_start(Estimator, X, y, n_experts, first_max_iter):
    """A short fit, then ``warm_start`` continues it to convergence."""
    model = Estimator(
        n_experts=n_experts, max_iter=first_max_iter, warm_start=True, random_state=0
    )
    _fit(model, X, y)
    _fit(model.set_params(max_iter=50), X, y)
    return _outputs(model, X, y)


def _partial_fit_regressor():
    X, y = _regression()
    model = MixtureOfExpertsRegressor(solver="gradient", batch_size=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for start in range(0, 400, 100):
            model.partial_fit(X[start : start + 100], y[start : start + 100])
    return _outputs(model, X, y)


def _partial_fit_classifier():
    X, y = _classification()
    model = MixtureOfExpertsClassifier(
        SGDClassifier(loss="log_loss", random_state=0),
        solver="gradient",
        batch_size=50,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for start in range(0, 400, 100):
            model.partial_fit(
                X[start : start + 100], y[start : start + 100], classes=np.unique(y)
            )
    return _outputs(model, X, y)


def _given_init():
    X, y = _regression()
    init = np.random.RandomState(3).dirichlet(np.ones(3), size=X.shape[0])
    return _regressor_case(X, y, n_experts=3, init=init, n_init=1)


def _float32(maker, case, **params):
    X, y = maker()
    return case(X.astype(np.float32), y, **params)


def _cases():
    reg, clf = _regression, _classification
    return {
        "reg_default": lambda: _regressor_case(*reg(), n_experts=3, n_init=3),
        "reg_kmeans_one_restart": lambda: _regressor_case(
            *reg(), n_experts=3, init="kmeans", n_init=1
        ),
        "reg_random_init": lambda: _regressor_case(
            *reg(), n_experts=3, init="random", n_init=2
        ),
        "reg_given_init": _given_init,
        "reg_ridge": lambda: _regressor_case(
            *reg(), n_experts=3, expert=Ridge(alpha=2.0)
        ),
        "reg_no_intercept": lambda: _regressor_case(
            *reg(), n_experts=2, expert=LinearRegression(fit_intercept=False)
        ),
        "reg_sample_weight": lambda: _regressor_case(
            *reg(), n_experts=3, fit_params={"sample_weight": _weights(400)}
        ),
        "reg_float32": lambda: _float32(reg, _regressor_case, n_experts=3),
        "reg_features": lambda: _regressor_case(
            *reg(), n_experts=3, gate_features=[0, 1], expert_features=[1, 2]
        ),
        "reg_constant_gate": lambda: _regressor_case(
            *reg(), n_experts=2, gate_features=[]
        ),
        "reg_gate_alpha": lambda: _regressor_case(
            *reg(), n_experts=3, gate=SoftmaxGate(alpha=1e-2)
        ),
        "reg_tree": lambda: _regressor_case(
            *reg(),
            n_experts=2,
            expert=DecisionTreeRegressor(max_depth=3, random_state=0),
            n_init=1,
            max_iter=20,
        ),
        "reg_threshold": lambda: _regressor_case(
            *reg(), n_experts=3, responsibility_threshold=0.05
        ),
        "reg_threshold_tree": lambda: _regressor_case(
            *reg(),
            n_experts=2,
            expert=DecisionTreeRegressor(max_depth=3, random_state=0),
            responsibility_threshold=0.1,
        ),
        "reg_cem": lambda: _regressor_case(*reg(), n_experts=3, solver="cem"),
        "reg_cem_neighbours": lambda: _regressor_case(
            *reg(),
            n_experts=2,
            solver="cem",
            expert=KNeighborsRegressor(n_neighbors=5),
            n_init=1,
            max_iter=20,
        ),
        "reg_cem_weighted": lambda: _regressor_case(
            *reg(),
            n_experts=3,
            solver="cem",
            fit_params={"sample_weight": _weights(400)},
        ),
        "reg_gradient": lambda: _regressor_case(
            *reg(), n_experts=3, solver="gradient", batch_size=64, max_iter=20
        ),
        "reg_gradient_weighted": lambda: _regressor_case(
            *reg(),
            n_experts=2,
            solver="gradient",
            batch_size=64,
            max_iter=10,
            fit_params={"sample_weight": _weights(400)},
        ),
        "reg_partial_fit": _partial_fit_regressor,
        "reg_subsample_start": lambda: _regressor_case(
            *reg(n_samples=600), n_experts=3, init_size=200
        ),
        "reg_n_jobs_restarts": lambda: _regressor_case(
            *reg(), n_experts=3, n_init=3, n_jobs=2
        ),
        "reg_n_jobs_experts": lambda: _regressor_case(
            *reg(),
            n_experts=3,
            n_init=1,
            n_jobs=2,
            max_iter=20,
            expert=DecisionTreeRegressor(max_depth=2, random_state=0),
        ),
        "reg_collapse_drop": lambda: _regressor_case(
            *reg(n_experts=2), n_experts=5, collapse_threshold=0.05, max_iter=30
        ),
        "reg_collapse_reseed": lambda: _regressor_case(
            *reg(n_experts=2),
            n_experts=5,
            collapse="reseed",
            collapse_threshold=0.05,
            max_iter=30,
        ),
        "reg_warm_start": lambda: _warm_start(
            MixtureOfExpertsRegressor, *reg(), n_experts=3, first_max_iter=5
        ),
        "clf_default": lambda: _classifier_case(*clf(), n_experts=2, n_init=3),
        "clf_binary": lambda: _classifier_case(*clf(n_classes=2), n_experts=3),
        "clf_logistic_c": lambda: _classifier_case(
            *clf(), n_experts=2, n_init=1, expert=LogisticRegression(C=0.5)
        ),
        "clf_no_intercept": lambda: _classifier_case(
            *clf(),
            n_experts=2,
            n_init=1,
            max_iter=40,
            expert=LogisticRegression(fit_intercept=False),
        ),
        "clf_liblinear": lambda: _classifier_case(
            *clf(n_classes=2),
            n_experts=2,
            n_init=1,
            max_iter=30,
            expert=LogisticRegression(solver="liblinear"),
        ),
        "clf_sample_weight": lambda: _classifier_case(
            *clf(),
            n_experts=2,
            n_init=1,
            max_iter=40,
            fit_params={"sample_weight": _weights(400)},
        ),
        "clf_float32": lambda: _float32(clf, _classifier_case, n_experts=2),
        "clf_features": lambda: _classifier_case(
            *clf(), n_experts=2, gate_features=[0], expert_features=[1, 2]
        ),
        "clf_tree": lambda: _classifier_case(
            *clf(),
            n_experts=2,
            n_init=1,
            max_iter=20,
            expert=DecisionTreeClassifier(max_depth=3, random_state=0),
        ),
        "clf_cem_tree": lambda: _classifier_case(
            *clf(),
            n_experts=2,
            solver="cem",
            expert=DecisionTreeClassifier(max_depth=3, random_state=0),
        ),
        "clf_threshold_tree": lambda: _classifier_case(
            *clf(),
            n_experts=2,
            expert=DecisionTreeClassifier(max_depth=3, random_state=0),
            responsibility_threshold=0.05,
            n_init=1,
            max_iter=20,
        ),
        "clf_gradient": lambda: _classifier_case(
            *clf(),
            n_experts=2,
            solver="gradient",
            batch_size=64,
            max_iter=5,
            expert=SGDClassifier(loss="log_loss", random_state=0),
        ),
        "clf_partial_fit": _partial_fit_classifier,
        "clf_subsample_start": lambda: _classifier_case(
            *clf(n_samples=600), n_experts=2, init_size=200
        ),
        "clf_n_jobs_restarts": lambda: _classifier_case(
            *clf(), n_experts=2, n_init=3, n_jobs=2
        ),
        "clf_n_jobs_experts": lambda: _classifier_case(
            *clf(), n_experts=3, n_init=1, n_jobs=2, max_iter=30
        ),
        "clf_warm_start": lambda: _warm_start(
            MixtureOfExpertsClassifier, *clf(), n_experts=2, first_max_iter=4
        ),
    }


CASES = _cases()
