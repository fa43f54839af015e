"""
How sure the model is: standard errors and predictive intervals
===============================================================

Two regimes of a response: a low, gently rising line where ``x`` is small, a
high, falling one where it is large, with a gate between them that is uncertain
over the middle.
A :class:`~skmoe.MixtureOfExpertsRegressor` with two linear experts fits them;
:func:`skmoe.inference.coefficient_table` says how sure each of its numbers is,
and the predictive distribution gives intervals that follow each regime, where
a single interval around the mean would cover neither.
"""

# %%
# The data and the fit
# --------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skmoe import MixtureOfExpertsRegressor
from skmoe.inference import coefficient_table
from skmoe.inspection import summary

rng = np.random.default_rng(0)
n = 600
x = rng.uniform(0, 10, n)
second = rng.random(n) < 1 / (1 + np.exp(-(x - 5)))
y = np.where(second, 10 - 0.4 * x, 1 + 0.5 * x) + rng.normal(0, 0.8, n)
X = pd.DataFrame({"x": x})

# A small tol: the standard errors describe the likelihood's maximum, and the
# table warns when the fit stops short of it.
moe = MixtureOfExpertsRegressor(n_experts=2, tol=1e-10, random_state=0).fit(X, y)

# %%
# The coefficient table
# ---------------------
# One row per parameter: each expert's intercept, slope and noise variance, and
# the gate's logit of expert 1 against expert 0. The standard errors come from
# the observed information of the whole mixture's likelihood, so the experts'
# intervals account for the uncertainty of which rows belong to them.
table = coefficient_table(moe, X, y)
print(table.round(4).to_string(index=False))

# %%
# ``summary`` prints the same numbers per component, as flexmix's
# ``summary(refit(m))`` does.
print(summary(moe, X, y, inference="observed"))

# %%
# The bootstrap agrees: refits on resampled rows, each warm-started from the
# fit, with their experts matched to the original ones.
boot = coefficient_table(moe, X, y, method="bootstrap", n_resamples=100, random_state=0)
print(
    pd.DataFrame(
        {
            "parameter": table["component"] + ": " + table["parameter"],
            "observed": table["std_error"],
            "bootstrap": boot["std_error"],
        }
    )
    .round(4)
    .to_string(index=False)
)

# %%
# Predictive intervals that follow the regimes
# --------------------------------------------
# The mixture is a full conditional distribution. Where the gate hesitates, it
# has two modes; the central 90% interval then spans both, while the
# highest-density region splits into one interval per regime.
grid = pd.DataFrame({"x": np.linspace(0, 10, 201)})
central = moe.predict_interval(grid, coverage=0.9)
regions = moe.predict_interval(grid, coverage=0.9, kind="highest_density")

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(x, y, s=6, color="0.6", label="data")
ax.plot(grid["x"], moe.predict(grid), color="k", label="mean prediction")
ax.fill_between(
    grid["x"], central[:, 0], central[:, 1], alpha=0.15, label="central 90%"
)
for row, intervals in zip(grid["x"][::2], regions[::2], strict=True):
    for low, high in intervals:
        ax.plot([row, row], [low, high], color="tab:orange", alpha=0.6, lw=1)
ax.plot([], [], color="tab:orange", label="highest density 90%")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="lower right")
ax.set_title("Two regimes: the intervals follow each one")
plt.show()

# %%
# Coverage on new data
# --------------------
# On fresh rows from the same model, the central interval holds about 90% of
# the targets.
x_new = rng.uniform(0, 10, 5000)
second_new = rng.random(5000) < 1 / (1 + np.exp(-(x_new - 5)))
y_new = np.where(second_new, 10 - 0.4 * x_new, 1 + 0.5 * x_new)
y_new = y_new + rng.normal(0, 0.8, 5000)
bounds = moe.predict_interval(pd.DataFrame({"x": x_new}), coverage=0.9)
inside = (bounds[:, 0] <= y_new) & (y_new <= bounds[:, 1])
print(f"central 90% interval covers {inside.mean():.1%} of 5,000 new targets")
