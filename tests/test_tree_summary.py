"""The summary of a hierarchical mixture: its tree, node by node."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, make_hierarchy
from skmoe.datasets import (
    make_hierarchical_moe_regression,
    make_moe_classification,
    make_moe_regression,
)
from skmoe.inspection import MixtureSummary, summary


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def depth_two():
    X, y = make_hierarchical_moe_regression(n_samples=1000, depth=2, random_state=0)
    model = make_hierarchy(LinearRegression(), depth=2, n_init=1, random_state=0)
    model = _fit(model, X, y)
    return model, X, y, summary(model, X, y)


def _leaves(result):
    return [node for node in result.tree if node.is_leaf]


def test_the_leaves_priors_are_the_leaf_gate_probabilities(depth_two):
    model, X, _, result = depth_two
    priors = [node.prior for node in _leaves(result)]
    assert sum(priors) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(
        priors, model.predict_gate_proba(X, level=None).mean(axis=0), rtol=1e-12
    )


def test_the_nodes_are_listed_by_path_parents_first(depth_two):
    _, _, _, result = depth_two
    assert [node.label for node in result.tree] == [
        "expert 0",
        "expert 0 / expert 0",
        "expert 0 / expert 1",
        "expert 1",
        "expert 1 / expert 0",
        "expert 1 / expert 1",
    ]
    assert [node.depth for node in result.tree] == [1, 2, 2, 1, 2, 2]
    assert [node.estimator for node in result.tree] == [
        "MixtureOfExpertsRegressor",
        "LinearRegression",
        "LinearRegression",
    ] * 2


def test_the_first_level_is_the_experts_table(depth_two):
    _, _, _, result = depth_two
    first = [node for node in result.tree if node.depth == 1]
    for node, expert in zip(first, result.experts, strict=True):
        assert node.prior == pytest.approx(expert.prior, rel=1e-12)
        assert node.size == expert.size
        assert node.mean_posterior == pytest.approx(expert.mean_posterior, rel=1e-12)
        assert node.gate_coefficients == expert.gate_coefficients


def test_sizes_and_posteriors_follow_the_branches(depth_two):
    model, X, y, result = depth_two
    nodes = {node.path: node for node in result.tree}
    for path, node in nodes.items():
        children = [n for p, n in nodes.items() if p[:-1] == path]
        if children:
            assert sum(child.size for child in children) == node.size
            assert sum(c.mean_posterior for c in children) == pytest.approx(
                node.mean_posterior, rel=1e-10
            )
    assert sum(node.size for node in _leaves(result)) == len(y)
    # A leaf's posterior is the outer posterior times the inner one given the branch.
    outer = model.posterior_proba(X, y)
    inner = model.experts_[1].posterior_proba(X, y)
    leaf = nodes["expert 1", "expert 0"]
    assert leaf.mean_posterior == pytest.approx((outer[:, 1] * inner[:, 0]).mean())
    reached = (outer.argmax(axis=1) == 1) & (inner.argmax(axis=1) == 0)
    assert leaf.size == reached.sum()


def test_the_leaves_carry_their_own_numbers(depth_two):
    model, _, _, result = depth_two
    nodes = {node.path: node for node in result.tree}
    inner = model.experts_[0]
    leaf = nodes["expert 0", "expert 1"]
    expert = inner.experts_[1]
    assert leaf.coefficients == {
        "intercept": pytest.approx(expert.intercept_),
        "x0": pytest.approx(expert.coef_[0]),
    }
    assert leaf.noise_scale == pytest.approx(np.sqrt(inner.noise_variance_[1]))
    assert leaf.gate_coefficients["x0"] == pytest.approx(inner.gate_.coef_[1, 0])
    assert nodes["expert 0",].coefficients is None
    assert nodes["expert 0",].noise_scale is None


def test_the_printed_tree(depth_two):
    _, _, _, result = depth_two
    text = str(result)
    lines = text.splitlines()
    assert "Tree: 2 levels of gates, 4 leaves" in lines
    assert any(line.startswith("expert 1  ") for line in lines)
    assert any(line.startswith("  expert 1 / expert 0  ") for line in lines)
    # The inner mixtures have no coef_: the leaves' coefficients replace the
    # experts' (which would say "none").
    assert "Expert coefficients:" not in text
    leaf_table = lines[lines.index("Leaf coefficients:") + 1 :][:5]
    assert leaf_table[0].split() == ["intercept", "x0"]
    assert [line.split(" / ")[0] for line in leaf_table[1:]] == ["expert 0"] * 2 + [
        "expert 1"
    ] * 2
    assert "Gate coefficients (logits):" in lines
    title = "Inner gates' coefficients (logits), by the node each leads to:"
    inner_gates = lines[lines.index(title) + 1 :][:5]
    assert inner_gates[1].startswith("expert 0 / expert 0")
    # One row per node below the first level: the root's gate is in its own table.
    assert [line.rsplit(None, 2)[0] for line in inner_gates[1:]] == [
        node.label for node in result.tree if node.depth == 2
    ]


def test_the_tree_as_data(depth_two):
    _, _, _, result = depth_two
    assert MixtureSummary.from_dict(result.to_dict()) == result
    through_json = json.loads(json.dumps(result.to_dict()))
    assert MixtureSummary.from_dict(through_json) == result
    frame = result.to_frame(tree=True)
    assert list(frame.index) == [node.label for node in result.tree]
    assert frame.index.name == "node"
    assert list(frame.columns[:6]) == [
        "depth",
        "estimator",
        "is_leaf",
        "prior",
        "size",
        "mean_posterior",
    ]
    assert frame.loc[frame["is_leaf"], "prior"].sum() == pytest.approx(1.0)
    assert frame.loc["expert 1", "coef.x0"] != frame.loc["expert 1", "coef.x0"]  # NaN
    assert frame.loc["expert 1 / expert 1", "coef.x0"] == pytest.approx(
        result.tree[5].coefficients["x0"]
    )
    assert "tree" not in frame.attrs and "tree" not in result.to_frame().attrs
    assert len(result.to_frame()) == 2


def test_depth_three_shows_eight_leaves():
    X, y = make_hierarchical_moe_regression(n_samples=600, depth=3, random_state=1)
    tree = make_hierarchy(
        LinearRegression(), depth=3, n_init=1, max_iter=15, random_state=0
    )
    model = _fit(tree, X, y)
    result = summary(model, X, y)
    leaves = _leaves(result)
    assert len(leaves) == 8 and len(result.tree) == 14
    assert {node.depth for node in leaves} == {3}
    assert leaves[5].path == ("expert 1", "expert 0", "expert 1")
    np.testing.assert_allclose(
        [node.prior for node in leaves],
        model.predict_gate_proba(X, level=None).mean(axis=0),
        rtol=1e-12,
    )
    lines = str(result).splitlines()
    assert "Tree: 3 levels of gates, 8 leaves" in lines
    assert any(
        line.startswith("    expert 1 / expert 0 / expert 1  ") for line in lines
    )


def test_a_list_of_mixtures_names_its_branches():
    X, y = make_hierarchical_moe_regression(n_samples=400, random_state=1)
    lines = MixtureOfExpertsRegressor(n_experts=2, n_init=1, random_state=0)
    trees = MixtureOfExpertsRegressor(
        expert=DecisionTreeRegressor(max_depth=2, random_state=0),
        n_experts=2,
        n_init=1,
        random_state=0,
    )
    model = MixtureOfExpertsRegressor(
        expert=[("lines", lines), ("trees", trees)], n_init=1, random_state=0
    )
    result = summary(_fit(model, X, y), X, y)
    assert [node.label for node in result.tree] == [
        "lines",
        "lines / expert 0",
        "lines / expert 1",
        "trees",
        "trees / expert 0",
        "trees / expert 1",
    ]
    assert result.tree[4].estimator == "DecisionTreeRegressor"
    assert result.tree[4].coefficients is None
    assert result.tree[1].coefficients is not None
    text = str(result)
    assert "  trees / expert 1  " in text


def test_an_unbalanced_tree_in_path_order():
    X, y = make_hierarchical_moe_regression(n_samples=600, depth=2, random_state=3)
    shallow = MixtureOfExpertsRegressor(n_experts=2, n_init=1, random_state=0)
    deep = make_hierarchy(
        LinearRegression(), depth=2, n_init=1, max_iter=10, random_state=0
    )
    model = MixtureOfExpertsRegressor(
        expert=[("shallow", shallow), ("deep", deep)],
        n_init=1,
        max_iter=10,
        random_state=0,
    )
    result = summary(_fit(model, X, y), X, y)
    leaves = _leaves(result)
    assert [node.label for node in leaves] == [
        "shallow / expert 0",
        "shallow / expert 1",
        "deep / expert 0 / expert 0",
        "deep / expert 0 / expert 1",
        "deep / expert 1 / expert 0",
        "deep / expert 1 / expert 1",
    ]
    np.testing.assert_allclose(
        [node.prior for node in leaves],
        model.predict_gate_proba(X, level=None).mean(axis=0),
        rtol=1e-12,
    )
    assert "Tree: 3 levels of gates, 6 leaves" in str(result).splitlines()


def test_the_inner_models_columns_are_named_after_the_outer_ones():
    X, y = make_hierarchical_moe_regression(n_samples=400, random_state=0)
    noise = np.random.default_rng(0).normal(size=len(y))
    frame = pd.DataFrame({"noise": noise, "dose": X[:, 0]})
    model = make_hierarchy(
        LinearRegression(),
        depth=2,
        n_init=1,
        random_state=0,
        gate_features=["dose"],
        expert_features=["dose"],
    )
    # The inner models see one column, which the outer X calls "dose".
    model.set_params(expert__gate_features=None, expert__expert_features=None)
    model = _fit(model, frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the inner models are asked with arrays
        result = summary(model, frame, y)
    leaf = _leaves(result)[0]
    assert list(leaf.coefficients) == ["intercept", "dose"]
    assert list(leaf.gate_coefficients) == ["intercept", "dose"]


def test_a_nested_classifier_tree():
    X, y = make_moe_classification(n_samples=300, random_state=0)
    tree = make_hierarchy(
        LogisticRegression(), depth=2, n_init=1, max_iter=10, random_state=0
    )
    model = _fit(tree, X, y)
    result = summary(model, X, y)
    leaves = _leaves(result)
    assert [node.estimator for node in leaves] == ["LogisticRegression"] * 4
    assert sum(node.size for node in leaves) == len(y)
    assert all(node.noise_scale is None for node in leaves)
    assert sum(node.prior for node in leaves) == pytest.approx(1.0)
    assert "noise scale" not in str(result)


def test_a_flat_summary_has_no_tree():
    X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
    model = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    result = summary(model, X, y)
    assert result.tree == []
    text = str(result)
    assert "Tree" not in text and "Leaf coefficients" not in text
    assert "Inner gates" not in text
    assert "Expert coefficients:" in text.splitlines()
    with pytest.raises(ValueError, match=r"to_frame\(tree=True\) needs a hierarchi"):
        result.to_frame(tree=True)
    # A summary saved before the tree (no "tree" key) still loads.
    data = result.to_dict()
    del data["tree"]
    assert MixtureSummary.from_dict(data) == result


def test_a_one_level_classifier_of_mixtures_is_still_a_tree():
    X, y = make_moe_classification(n_samples=200, random_state=1)
    inner = MixtureOfExpertsClassifier(n_experts=1, n_init=1)
    model = _fit(MixtureOfExpertsClassifier(expert=inner, n_init=1), X, y)
    result = summary(model, X, y)
    assert [node.label for node in result.tree] == [
        "expert 0",
        "expert 0 / expert 0",
        "expert 1",
        "expert 1 / expert 0",
    ]
    # One child: its share of the parent is the whole.
    assert result.tree[1].prior == pytest.approx(result.tree[0].prior)
    assert result.tree[1].size == result.tree[0].size
