"""The EM driver on its own: a toy family, no estimator.

The driver's functions read a ``Problem`` and a frozen ``FitConfig`` and update
``Parts``; these tests build those by hand, with a family written here (Gaussian
noise of variance one, no parameter of its own), so that they exercise the loop
and the seams an estimator uses, and nothing of the estimators themselves.
"""

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from scipy.stats import norm
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import SoftmaxGate
from skmoe._driver import FitConfig, train
from skmoe._em import e_step, m_step, new_parts, run_em
from skmoe._parts import Problem
from skmoe._progress import SILENT_PROGRESS
from skmoe._start import initial_responsibilities
from skmoe._updaters import NormalEquations, WeightedFit
from skmoe.families import Family


class UnitNoise(Family):
    """``p_k(y | x) = N(y; f_k(x), 1)``: no parameter to fit."""

    def init_columns(self, target):
        return target[:, None]

    def expert_output(self, expert, X, target):
        return np.ravel(expert.predict(X))

    def log_likelihood(self, outputs, target, out=None):
        result = norm.logpdf(target[:, None], loc=outputs, scale=1.0)
        if out is None:
            return result
        out[...] = result
        return out


def _problem(experts, n_samples=400, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n_samples, 1))
    y = np.where(X[:, 0] < 0, 3 * X[:, 0], -3 * X[:, 0] + 1) + rng.normal(
        size=n_samples
    )
    return Problem(
        X=X,
        y=y,
        target=y,
        sample_weight=np.ones(n_samples),
        gate_columns=np.arange(1),
        expert_columns=np.arange(1),
        family=UnitNoise(),
        experts=experts,
        gate=SoftmaxGate(),
    )


def _start(problem, parts, config):
    return initial_responsibilities(
        problem.init_inputs(problem.X),
        problem.data,
        parts.family,
        config.init,
        len(parts.experts),
        seed=0,
        restart=0,
    )


def _mixture_log_likelihood(parts, problem):
    """``mean_i log sum_k g_k(x_i) N(y_i; f_k(x_i), 1)``, written out."""
    gate = softmax(parts.gate.decision_function(problem.X), axis=1)
    means = np.column_stack([e.predict(problem.X) for e in parts.experts])
    log_density = norm.logpdf(problem.y[:, None], loc=means, scale=1.0)
    return logsumexp(np.log(gate) + log_density, axis=1).mean()


def test_em_with_a_toy_family_never_decreases_its_objective():
    problem = _problem([LinearRegression(), LinearRegression()])
    config = FitConfig(init="kmeans", max_iter=100, tol=1e-10)
    parts = new_parts(problem)
    run = run_em(
        problem.data, parts, _start(problem, parts, config), config, SILENT_PROGRESS
    )
    assert run.n_iter > 3
    curve = np.asarray(run.curve)
    # The objective is the penalised log-likelihood; the gate's penalty is tiny.
    assert np.all(np.diff(curve) > -1e-6)
    assert run.log_likelihood == pytest.approx(
        _mixture_log_likelihood(parts, problem), abs=1e-10
    )
    slopes = sorted(float(expert.coef_[0]) for expert in parts.experts)
    assert slopes == pytest.approx([-3.0, 3.0], abs=0.3)


def test_e_step_matches_the_mixture_density_written_out():
    problem = _problem([LinearRegression(), LinearRegression()])
    config = FitConfig(init="random", max_iter=3)
    parts = new_parts(problem)
    run_em(problem.data, parts, _start(problem, parts, config), config, SILENT_PROGRESS)
    log_prob, resp = e_step(parts, problem.data)
    gate = softmax(parts.gate.decision_function(problem.X), axis=1)
    means = np.column_stack([e.predict(problem.X) for e in parts.experts])
    joint = np.log(gate) + norm.logpdf(problem.y[:, None], loc=means, scale=1.0)
    np.testing.assert_allclose(log_prob, logsumexp(joint, axis=1), rtol=1e-12)
    np.testing.assert_allclose(resp, softmax(joint, axis=1), rtol=1e-10, atol=1e-14)


def test_each_expert_gets_its_own_updater(monkeypatch):
    """A linear expert by its normal equations, a tree by its own fit, in one M-step."""
    problem = _problem([LinearRegression(), DecisionTreeRegressor(max_depth=2)])
    parts = new_parts(problem)
    assert [type(u) for u in parts.updaters] == [NormalEquations, WeightedFit]
    fitted = []
    for cls in (LinearRegression, DecisionTreeRegressor):
        original = cls.fit

        def recording(self, *args, original=original, **kwargs):
            fitted.append(type(self).__name__)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", recording)
    config = FitConfig(init="kmeans")
    resp = _start(problem, parts, config)
    outputs = m_step(parts, problem.data, resp, config, 1, 1)
    assert fitted == ["DecisionTreeRegressor"]
    np.testing.assert_allclose(
        outputs, np.column_stack([e.predict(problem.X) for e in parts.experts])
    )


@pytest.mark.parametrize("solver", ["em", "cem", "gradient"])
def test_train_keeps_the_best_restart(solver):
    problem = _problem([LinearRegression(), LinearRegression()])
    if solver == "gradient":
        problem.target = problem.data = None  # mini-batches encode their own rows
    config = FitConfig(
        solver=solver, n_init=3, max_iter=30, batch_size=50, random_state=0
    )
    best = train(problem, config, SILENT_PROGRESS)
    assert np.isfinite(best.log_likelihood)
    assert best.log_likelihood == pytest.approx(
        _mixture_log_likelihood(best.parts, _problem([])), abs=1e-10
    )
    # The first of the three restarts is the one run that n_init=1 makes.
    first = train(problem, replace(config, n_init=1), SILENT_PROGRESS)
    assert best.objective >= first.objective


def test_cem_fits_each_expert_on_its_own_rows_only():
    problem = _problem(
        [DecisionTreeRegressor(max_depth=1), DecisionTreeRegressor(max_depth=1)]
    )
    config = FitConfig(solver="cem", init="kmeans", max_iter=20)
    parts = new_parts(problem)
    run = run_em(
        problem.data, parts, _start(problem, parts, config), config, SILENT_PROGRESS
    )
    # Each row goes to one expert, whose fit sees it unweighted: the trees saw the
    # rows once between them (EM would give each tree all 400 rows, weighted).
    seen = [expert.tree_.n_node_samples[0] for expert in parts.experts]
    assert sum(seen) == problem.X.shape[0]
    assert min(seen) > 50
    assert run.converged
