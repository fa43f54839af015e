"""
A list of different experts: a line beside a step
==================================================

When the regimes of the data have different shapes, the experts can differ
too. ``expert`` takes a list of ``(name, estimator)`` pairs, one expert each.
Here the data is a line left of zero and a step function right of it: a linear
expert fits the first regime, a shallow tree the second, and neither kind fits
both. We compare the mixed model with the two mixtures of one kind on held-out
data, then draw the fit, each row coloured by the expert the gate chooses.
"""

# %%
# The data and three models
# -------------------------
# ``make_line_and_step``: ``x`` uniform on ``[-3, 3]``; ``y = 1 + 2x`` left of
# zero, ``-2`` then ``4`` (beyond ``x = 1.5``) right of it; noise of standard
# deviation 0.1. The models are scored by their mean held-out log-likelihood,
# ``score_samples``, on data drawn apart. The trees' weighted fits are not exact
# M-steps, so EM with tree experts need not settle to ``tol``: the warning that
# says so is silenced here.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_line_and_step

X, y = make_line_and_step(n_samples=3000, random_state=2)
X_test, y_test = make_line_and_step(n_samples=3000, random_state=3)

experts = {
    "line + step": [
        ("line", LinearRegression()),
        ("step", DecisionTreeRegressor(max_depth=3)),
    ],
    "two lines": LinearRegression(),
    "two trees": DecisionTreeRegressor(max_depth=3),
}
models = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, expert in experts.items():
        models[name] = MixtureOfExpertsRegressor(expert, random_state=0).fit(X, y)

for name, model in models.items():
    score = model.score_samples(X_test, y_test).mean()
    print(f"{name:12} held-out mean log-likelihood {score:6.3f}")

# %%
# The mixed model is far ahead: two lines cannot follow the step, and two trees
# follow the line only in stairs. A sharp model also pays heavily for a test row
# that lands on the wrong side of a jump (a tree's threshold lies midway between
# two training rows): on other draws of the data one such row can cost the mean
# a large part of its lead (see the user guide, "A list of different experts").
#
# Where each expert works
# -----------------------
# The names follow the fitted experts: ``expert_names_``, ``named_experts_``,
# and the labels of the summary and the displays.
moe = models["line + step"]
print(moe.expert_names_, moe.named_experts_.step)
chosen = moe.predict_gate(X_test)
left = X_test[:, 0] < 0
print(f"rows with x < 0 routed to 'line': {np.mean(chosen[left] == 0):.3f}")
print(f"rows with x >= 0 routed to 'step': {np.mean(chosen[~left] == 1):.3f}")

# %%
# Each point is coloured by the gate's choice, and each expert's prediction is
# drawn across the whole axis, dashed outside the region the gate gives it.
grid = np.linspace(-3, 3, 601)[:, None]
predictions = moe.predict_experts(grid)
gate_choice = moe.predict_gate(grid)
colors = ["C0", "C1"]

fig, ax = plt.subplots(figsize=(7, 4))
assigned = moe.predict_gate(X)
for k, name in enumerate(moe.expert_names_):
    ax.scatter(X[assigned == k, 0], y[assigned == k], s=4, alpha=0.3, color=colors[k])
    own = np.where(gate_choice == k, predictions[:, k], np.nan)
    ax.plot(grid[:, 0], predictions[:, k], color=colors[k], lw=1, ls="--")
    ax.plot(grid[:, 0], own, color=colors[k], lw=2.5, label=f"expert {name!r}")
ax.set_ylim(-4, 6)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("A linear expert and a tree, each on its own region")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
