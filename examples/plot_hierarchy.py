"""
A hierarchical mixture of experts: a tree of gates
===================================================

A hierarchical mixture of experts (Jordan and Jacobs, 1994) is a mixture whose
experts are mixtures: the root's gate divides the inputs between its children,
each child's gate divides its share between its own experts, and each row's
probability of a leaf is the product of the gates along the leaf's path. Here
the data come from a binary tree of depth 2; we fit the same tree with
``make_hierarchy``, read its gates at both levels, and compare it on held-out
rows with a flat mixture of four experts.
"""

# %%
# The data and the two models
# ---------------------------
# ``make_hierarchical_moe_regression``: ``x`` uniform on ``[-1, 1]``; the root
# splits at ``x = 0``, its children at ``x = -0.5`` and ``x = 0.5``; each of the
# four leaves is a line with noise of standard deviation 0.3. The tree and the
# flat mixture have the same number of parameters (18). One start each: the
# tree's starts cluster the inputs, which finds the regions here.
import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor, make_hierarchy
from skmoe.datasets import make_hierarchical_moe_regression
from skmoe.inspection import summary

X_all, y_all, truth = make_hierarchical_moe_regression(
    n_samples=6000, depth=2, random_state=0, return_params=True
)
X, y, X_test, y_test = X_all[:2000], y_all[:2000], X_all[2000:], y_all[2000:]

tree = make_hierarchy(None, depth=2, branching=2, n_init=1, random_state=0).fit(X, y)
flat = MixtureOfExpertsRegressor(n_experts=4, n_init=1, random_state=0).fit(X, y)

print(f"generating model  {truth.log_likelihood(X_test, y_test).mean():.4f}")
for name, model in {"depth-2 tree": tree, "flat, 4 experts": flat}.items():
    score = model.score_samples(X_test, y_test).mean()
    print(f"{name:16}  {score:.4f}  (BIC {model.bic(X, y):.1f})")

# %%
# Both come within 0.01 of the generating model's held-out mean
# log-likelihood, and tie: on one feature a flat softmax gate can cut the line
# into the same four intervals. A tree pays off where the regions are not the
# cells of one softmax gate, for instance when each half of the input space is
# split along its own boundary; the user guide's "Hierarchical mixtures of
# experts" page measures both cases.
#
# The gates at each level
# -----------------------
# ``predict_gate_proba(X, level=1)`` is the root's gate; ``level=None`` gives
# the leaves, each the product of the gates along its path (expert 0's leaves
# first). The true leaf probabilities are dashed; the fitted leaves are matched
# to them by the leaf each one takes at the middle of its interval.
grid = np.linspace(-1, 1, 401)[:, None]
root = tree.predict_gate_proba(grid, level=1)
leaves = tree.predict_gate_proba(grid, level=None)
true_leaves = truth.leaf_proba(grid)
centres = np.array([-0.75, -0.25, 0.25, 0.75])[:, None]
order = tree.predict_gate_proba(centres, level=None).argmax(axis=1)

fig, axes = plt.subplots(3, 1, figsize=(7, 7.5), sharex=True)
axes[0].scatter(X[:, 0], y, s=3, alpha=0.3, color="0.4")
axes[0].plot(grid[:, 0], tree.predict(grid), color="k", lw=1.5, label="tree's mean")
axes[0].set_ylabel("y")
axes[0].legend(loc="upper left")
for k in range(root.shape[1]):
    axes[1].plot(grid[:, 0], root[:, k], lw=2, label=f"root: expert {k}")
axes[1].set_ylabel("level 1")
axes[1].legend(loc="center left")
for leaf, fitted in enumerate(order):
    color = f"C{leaf + 2}"
    axes[2].plot(grid[:, 0], leaves[:, fitted], color=color, lw=2)
    axes[2].plot(grid[:, 0], true_leaves[:, leaf], color=color, lw=1, ls="--")
axes[2].plot([], [], color="0.3", lw=2, label="fitted")
axes[2].plot([], [], color="0.3", lw=1, ls="--", label="true")
axes[2].legend(loc="center left")
axes[2].set_ylabel("leaves")
axes[2].set_xlabel("x")
axes[0].set_title("A depth-2 tree: the root's gate and the four leaves' products")
fig.tight_layout()
plt.show()

# %%
# Reading the fit
# ---------------
# The summary shows the whole tree: every node by its path, with its prior
# (the mean of the product of the gates along the path), its size and mean
# posterior, the leaves' noise, coefficients and the inner gates' logits; and
# the log-likelihood, parameters and BIC of the whole tree (``df`` counts every
# gate and leaf).
print(summary(tree, X, y))
