"""Mixtures as experts: hierarchical mixtures of experts by nesting."""

import copy
import pickle
import warnings
from itertools import permutations

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, make_hierarchy
from skmoe._nested import InnerEM, _start_state
from skmoe._parts import Data
from skmoe.datasets import make_hierarchical_moe_regression, make_moe_classification


def _inner(**params):
    return MixtureOfExpertsRegressor(n_experts=2, n_init=1, random_state=0, **params)


@pytest.fixture(scope="module")
def hierarchy():
    X, y, truth = make_hierarchical_moe_regression(
        n_samples=2000, depth=2, random_state=0, return_params=True
    )
    # One start: the outer k-means on the inputs alone finds the tree.
    model = MixtureOfExpertsRegressor(
        expert=_inner(), n_experts=2, n_init=1, tol=1e-8, random_state=0
    )
    return model.fit(X, y), X, y, truth


def test_the_likelihood_is_the_hierarchical_one(hierarchy):
    model, X, y, _ = hierarchy
    inner = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, rtol=0, atol=1e-10)
    assert model.log_likelihood_ == pytest.approx(expected.mean(), abs=1e-10)


def test_the_log_likelihood_never_decreases(hierarchy):
    model, *_ = hierarchy
    assert model.converged_
    assert np.diff(model.log_likelihood_curve_).min() > -1e-10


def test_recovers_both_levels_of_the_generating_tree(hierarchy):
    model, X, y, truth = hierarchy
    # At least the generating model's log-likelihood (the fit has the same
    # parameters, at their maximum on these rows).
    assert model.score_samples(X, y).sum() >= truth.true_log_likelihood
    gate = model.predict_gate_proba(X)
    leaves = np.column_stack(
        [gate[:, [k]] * e.predict_gate_proba(X) for k, e in enumerate(model.experts_)]
    )
    true_leaves = truth.leaf_proba(X)
    error = min(
        np.abs(leaves[:, list(order)] - true_leaves).mean()
        for order in permutations(range(4))
    )
    assert error < 0.02
    root = true_leaves[:, :2].sum(axis=1)
    assert min(np.abs(gate[:, k] - root).mean() for k in range(2)) < 0.01


def test_prediction_is_the_mixture_of_the_inner_predictions(hierarchy):
    model, X, _, _ = hierarchy
    inner = np.column_stack([e.predict(X) for e in model.experts_])
    expected = (model.predict_gate_proba(X) * inner).sum(axis=1)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12, atol=1e-12)


def test_bic_counts_the_inner_parameters(hierarchy):
    model, X, y, _ = hierarchy
    # Outer gate 2; each inner mixture: gate 2, two lines 4, two variances 2.
    assert model._n_parameters() == 2 + 2 * (2 + 4 + 2)
    assert model.bic(X, y) == pytest.approx(
        -2 * model.score_samples(X, y).sum() + 18 * np.log(len(y))
    )


def test_depth_three_by_nesting_twice():
    X, y = make_hierarchical_moe_regression(n_samples=800, depth=3, random_state=1)
    middle = MixtureOfExpertsRegressor(
        expert=_inner(), n_experts=2, n_init=1, random_state=0
    )
    model = MixtureOfExpertsRegressor(
        expert=middle, n_experts=2, n_init=1, max_iter=30, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 iterations
        model.fit(X, y)
    assert np.diff(model.log_likelihood_curve_).min() > -1e-10
    inner = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, atol=1e-10)


def test_the_fitted_inner_models_keep_their_parameters(hierarchy):
    model, *_ = hierarchy
    for expert in model.experts_:
        assert expert.warm_start is False
        assert expert.max_iter == 200
    assert pickle.loads(pickle.dumps(model)).score_samples is not None


def test_an_inner_em_step_is_the_inner_models_own_weighted_em_step(hierarchy):
    model, X, y, _ = hierarchy
    weight = np.random.default_rng(0).uniform(0.1, 1.0, size=len(y))
    direct, public = copy.deepcopy(model.experts_[0]), copy.deepcopy(model.experts_[0])
    rows = Data(X_gate=X, X_expert=X, y=y, target=y, sample_weight=np.ones(len(y)))
    state = _start_state(direct, rows, n_iter=0)
    InnerEM()._step(direct, state, weight)
    public.set_params(warm_start=True, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        public.fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(direct.gate_.coef_, public.gate_.coef_, rtol=1e-10)
    for mine, theirs in zip(direct.experts_, public.experts_, strict=True):
        np.testing.assert_allclose(mine.coef_, theirs.coef_, rtol=1e-10)
    np.testing.assert_allclose(
        direct.noise_variance_, public.noise_variance_, rtol=1e-10
    )
    np.testing.assert_allclose(state.log_prob, public.score_samples(X, y), atol=1e-10)


def _leaf_cdf(model, X, value):
    leaves = model.predict_gate_proba(X, level=None)
    inner = [leaf for expert in model.experts_ for leaf in expert.experts_]
    sigma = np.sqrt(np.concatenate([e.noise_variance_ for e in model.experts_]))
    means = np.column_stack([leaf.predict(X) for leaf in inner])
    return (leaves * stats.norm.cdf((value[:, None] - means) / sigma)).sum(axis=1)


def test_the_predictive_distribution_is_the_mixture_of_the_leaves(hierarchy):
    model, X, *_ = hierarchy
    rows = X[:50]
    quantiles = model.predict_quantiles(rows, [0.1, 0.5, 0.9])
    for column, level in enumerate([0.1, 0.5, 0.9]):
        cdf = _leaf_cdf(model, rows, quantiles[:, column])
        np.testing.assert_allclose(cdf, level, atol=1e-9)
    draws = model.sample_y(rows[:5], n_samples=20_000, random_state=0)
    spread = draws.std(axis=1) / np.sqrt(draws.shape[1])
    assert np.all(np.abs(draws.mean(axis=1) - model.predict(rows[:5])) < 5 * spread)
    assert model.predict_experts(rows).shape == (50, 2)


def test_hard_routing_predicts_from_the_chosen_path_only(hierarchy):
    model, X, *_ = hierarchy
    hard = copy.deepcopy(model).set_params(routing="hard")
    for expert in hard.experts_:
        expert.set_params(routing="hard")
    interval = hard.predict_interval(X[:200], coverage=0.8)
    outer = model.predict_gate_proba(X[:200]).argmax(axis=1)
    assert np.all(np.diff(interval, axis=1) > 0)
    chosen = np.array(
        [
            model.experts_[k].predict_gate_proba(X[i : i + 1]).argmax() + 2 * k
            for i, k in enumerate(outer)
        ]
    )
    sigma = np.sqrt(np.concatenate([e.noise_variance_ for e in model.experts_]))
    width = interval[:, 1] - interval[:, 0]
    np.testing.assert_allclose(width, 2 * stats.norm.ppf(0.9) * sigma[chosen])


def test_a_hierarchy_with_leaves_of_different_families_has_no_predictive():
    X, y = make_hierarchical_moe_regression(n_samples=300, random_state=0)
    model = MixtureOfExpertsRegressor(
        expert=[("normal", _inner()), ("robust", _inner(family="student_t"))],
        n_init=1,
        random_state=0,
    ).fit(X, y)
    with pytest.raises(TypeError, match="one family at every leaf"):
        model.predict_quantiles(X[:3], 0.5)


class _GaussianLine(LinearRegression):
    """A line with its own unit-variance Gaussian density: an expert with a
    density of its own that is not a skmoe mixture."""

    def score_samples(self, X, y):
        return stats.norm.logpdf(y, loc=self.predict(X))


def test_an_expert_with_its_own_density_but_no_distribution_is_named():
    X, y = make_hierarchical_moe_regression(n_samples=300, random_state=0)
    model = MixtureOfExpertsRegressor(expert=_GaussianLine(), n_init=1).fit(X, y)
    expected = logsumexp(
        np.log(model.predict_gate_proba(X))
        + np.column_stack([e.score_samples(X, y) for e in model.experts_]),
        axis=1,
    )
    np.testing.assert_allclose(model.score_samples(X, y), expected, atol=1e-10)
    with pytest.raises(TypeError, match="_GaussianLine in this tree"):
        model.predict_quantiles(X[:2], 0.5)


def test_nested_classifier():
    X, y = make_moe_classification(n_samples=400, random_state=0)
    inner = MixtureOfExpertsClassifier(
        expert=LogisticRegression(), n_experts=2, n_init=1, random_state=0
    )
    model = MixtureOfExpertsClassifier(
        expert=inner, n_experts=2, n_init=1, max_iter=20, random_state=0
    ).fit(X, y)
    inner_log = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner_log, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, atol=1e-10)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_a_family_for_nested_experts_is_refused():
    X, y = make_hierarchical_moe_regression(n_samples=100, random_state=0)
    model = MixtureOfExpertsRegressor(expert=_inner(), family="poisson")
    with pytest.raises(ValueError, match="set the family on the inner mixtures"):
        model.fit(X, np.abs(np.round(y)))


def test_an_inner_classifier_in_a_regressor_is_refused():
    X, y = make_hierarchical_moe_regression(n_samples=100, random_state=0)
    inner = MixtureOfExpertsClassifier(n_experts=2)
    with pytest.raises(ValueError, match="must solve the outer model's task"):
        MixtureOfExpertsRegressor(expert=inner).fit(X, y)


def test_a_list_mixing_a_mixture_and_a_flat_expert_names_the_flat_one():
    X, y = make_hierarchical_moe_regression(n_samples=100, random_state=0)
    model = MixtureOfExpertsRegressor(
        expert=[("tree", _inner()), ("line", LinearRegression())]
    )
    with pytest.raises(ValueError, match="expert 'line' LinearRegression"):
        model.fit(X, y)
    assert not hasattr(model, "experts_")


def test_a_list_of_different_inner_mixtures_is_a_hierarchy():
    X, y = make_hierarchical_moe_regression(n_samples=600, random_state=1)
    lines = _inner()
    trees = _inner(expert=DecisionTreeRegressor(max_depth=2))
    model = MixtureOfExpertsRegressor(
        expert=[("lines", lines), ("trees", trees)], n_init=1, random_state=0
    ).fit(X, y)
    assert model.expert_names_ == ["lines", "trees"]
    assert isinstance(model.named_experts_["trees"].experts_[0], DecisionTreeRegressor)
    inner = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, atol=1e-10)


def test_a_tree_is_a_gaussian_expert_not_a_density():
    X, y = make_hierarchical_moe_regression(n_samples=200, random_state=0)
    model = MixtureOfExpertsRegressor(
        expert=DecisionTreeRegressor(max_depth=2), n_init=1, random_state=0
    ).fit(X, y)
    assert type(model.family_).__name__ == "Gaussian"
    assert isinstance(model.experts_[0], DecisionTreeRegressor)


class _CountingLine(LinearRegression):
    """A line that counts the rows it is asked to predict."""

    predicted_rows = 0

    def predict(self, X):
        type(self).predicted_rows += len(X)
        return super().predict(X)


def test_make_hierarchy_builds_the_balanced_tree():
    tree = make_hierarchy(Ridge(alpha=0.5), depth=3, branching=3, tol=1e-7)
    levels = []
    node = tree
    while isinstance(node, MixtureOfExpertsRegressor):
        levels.append((node.n_experts, node.n_init, node.tol))
        node = node.expert
    assert levels == [(3, 3, 1e-7), (3, 1, 1e-7), (3, 1, 1e-7)]
    assert isinstance(node, Ridge) and node.alpha == 0.5
    classifier = make_hierarchy(LogisticRegression(), depth=2)
    assert isinstance(classifier.expert, MixtureOfExpertsClassifier)


def test_make_hierarchy_sets_the_family_on_the_leaves_mixtures():
    X, y = make_hierarchical_moe_regression(n_samples=400, random_state=0)
    tree = make_hierarchy(None, depth=2, family="student_t", n_init=1, random_state=0)
    assert tree.family == "gaussian"
    tree.fit(X, y)
    assert [type(e.family_).__name__ for e in tree.experts_] == ["StudentT"] * 2
    flat = make_hierarchy(None, depth=1, family="student_t").fit(X, y)
    assert type(flat.family_).__name__ == "StudentT"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"depth": 0}, "depth must be an integer >= 1"),
        ({"branching": 1}, "branching must be an integer >= 2"),
        ({"depth": True}, "depth must be an integer >= 1"),
        ({"branching": 2.5}, "branching must be an integer >= 2; got 2.5"),
        ({"n_experts": 3}, "sets each level's expert and n_experts"),
    ],
)
def test_make_hierarchy_refuses_bad_shapes(params, match):
    with pytest.raises(ValueError, match=match):
        make_hierarchy(LinearRegression(), **params)


def test_gate_probabilities_at_every_level(hierarchy):
    model, X, _, _ = hierarchy
    top = model.predict_gate_proba(X)
    np.testing.assert_array_equal(model.predict_gate_proba(X, level=1), top)
    leaves = model.predict_gate_proba(X, level=2)
    expected = np.hstack(
        [top[:, [k]] * e.predict_gate_proba(X) for k, e in enumerate(model.experts_)]
    )
    np.testing.assert_allclose(leaves, expected, rtol=1e-14)
    np.testing.assert_array_equal(model.predict_gate_proba(X, level=None), leaves)
    with pytest.raises(
        ValueError,
        match="level=3 is deeper than this model's tree, "
        "which has 2 levels of gates; level=None reads the leaves",
    ):
        model.predict_gate_proba(X, level=3)
    np.testing.assert_allclose(leaves.sum(axis=1), 1.0)
    for level in (0, 1.5, True):
        with pytest.raises(ValueError, match="level must be an integer >= 1 or None"):
            model.predict_gate_proba(X, level=level)


def test_hard_routing_descends_only_the_chosen_branches():
    X, y = make_hierarchical_moe_regression(n_samples=600, depth=3, random_state=2)
    tree = make_hierarchy(
        _CountingLine(), depth=3, n_init=1, max_iter=15, routing="hard", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tree.fit(X, y)
    _CountingLine.predicted_rows = 0
    prediction = tree.predict(X)
    # One leaf per row, not eight.
    assert _CountingLine.predicted_rows == len(X)
    leaves = tree.predict_gate_proba(X, level=None)
    assert leaves.shape == (len(X), 8)
    assert np.isfinite(prediction).all()


def test_a_level_is_read_to_the_deepest_branch_and_no_deeper():
    X, y = make_hierarchical_moe_regression(n_samples=300, random_state=3)
    deep = make_hierarchy(LinearRegression(), depth=2, n_init=1, max_iter=5)
    model = MixtureOfExpertsRegressor(
        expert=[("shallow", _inner(max_iter=5)), ("deep", deep)],
        n_init=1,
        max_iter=5,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    # The shallow branch ends in its leaves, the deep one goes on.
    assert model.predict_gate_proba(X, level=2).shape == (300, 4)
    leaves = model.predict_gate_proba(X, level=3)
    assert leaves.shape == (300, 6)
    np.testing.assert_array_equal(model.predict_gate_proba(X, level=None), leaves)
    with pytest.raises(
        ValueError,
        match="level=4 is deeper than this model's tree, which has 3 levels of gates",
    ):
        model.predict_gate_proba(X, level=4)
    flat = MixtureOfExpertsRegressor(n_init=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"level=2 .* which has 1 level of gates;"):
        flat.predict_gate_proba(X, level=2)


def test_mini_batch_training_of_nested_experts_is_refused_with_the_reason():
    X, y = make_hierarchical_moe_regression(n_samples=100, random_state=0)
    match = (
        "each inner mixture is fitted by its own EM.*Use solver='em' or solver='cem'"
    )
    for inner in (_inner(), _inner(solver="gradient")):
        model = MixtureOfExpertsRegressor(expert=inner, solver="gradient")
        with pytest.raises(ValueError, match=match):
            model.fit(X, y)
        # partial_fit once took inner mini-batch mixtures for flat Gaussian experts.
        with pytest.raises(ValueError, match=match):
            model.partial_fit(X, y)
        assert not hasattr(model, "experts_")
