"""
Dense models or a mixture of experts?
=====================================

A single linear model, a single gradient-boosting model and a mixture of linear
experts, fitted on two data sets:

- **regimes**: the input space is split into four regions, and in each region the
  target is a different linear function of the inputs (drawn by
  :func:`~skmoe.datasets.make_moe_regression`; near the borders of the regions the
  regime is itself random, so even the generating model cannot predict every row);
- **smooth**: Friedman's first benchmark function,
  ``10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4``, one smooth non-linear
  surface with no regimes.

For each model we print the held-out R^2 and mean squared error, and the time to
fit, and draw them side by side.
"""

# %%
# The data
# --------
# 10,000 rows each, three quarters to train and one quarter to test.
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

datasets = {
    "regimes": make_moe_regression(
        n_samples=10_000,
        n_features=4,
        n_experts=4,
        noise=0.5,
        gate_scale=10.0,
        random_state=0,
        return_params=True,
    ),
    "smooth": make_friedman1(n_samples=10_000, noise=0.5, random_state=0),
}

# %%
# The models
# ----------
# The mixture has four experts, the number of regimes; on the smooth data it is
# given the same four. Each expert is a plain ``LinearRegression``. Every model
# is fitted on one thread (skmoe's fit holds BLAS to one thread anyway), so that
# the times compare the algorithms, not how many cores each one grabs: on a
# shared machine, gradient boosting's OpenMP threads made its fit time vary
# from 1.4 to 37 seconds between runs, against 0.13 seconds on one thread.
models = {
    "LinearRegression": LinearRegression(),
    "HistGradientBoosting": HistGradientBoostingRegressor(random_state=0),
    "MoE, 4 linear experts": MixtureOfExpertsRegressor(n_experts=4, random_state=0),
}

results = []
for data_name, (X, y, *truth) in datasets.items():
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    if truth:
        # The best possible prediction: the generating model's own mean.
        (params,) = truth
        gate = softmax(X_test @ params.gate_coef.T + params.gate_intercept, axis=1)
        experts = X_test @ params.coef.T + params.intercept
        y_best = np.sum(gate * experts, axis=1)
        results.append(
            (
                data_name,
                "generating model",
                r2_score(y_test, y_best),
                mean_squared_error(y_test, y_best),
                np.nan,
            )
        )
    for model_name, model in models.items():
        with threadpool_limits(limits=1):
            start = perf_counter()
            model.fit(X_train, y_train)
            fit_time = perf_counter() - start
        y_pred = model.predict(X_test)
        results.append(
            (
                data_name,
                model_name,
                r2_score(y_test, y_pred),
                mean_squared_error(y_test, y_pred),
                fit_time,
            )
        )

print(f"{'data':8}  {'model':22}  {'test R^2':>8}  {'test MSE':>9}  {'fit (s)':>7}")
for data_name, model_name, r2, mse, fit_time in results:
    fit = "" if np.isnan(fit_time) else f"{fit_time:7.2f}"
    print(f"{data_name:8}  {model_name:22}  {r2:8.3f}  {mse:9.3f}  {fit:>7}")

# %%
# Side by side
# ------------
# On the regimes the mixture of linear experts is the right model: it finds the
# four regions and one line in each, and its held-out error is that of the
# generating model itself (dashed line), the best any model can do. Gradient
# boosting gets part of the way by cutting the regions and the slopes into many
# small steps, and a single line cannot follow four different slopes. On the
# smooth surface there are no regimes to find: boosting wins, and four linear
# pieces are only a rough approximation, though still far better than one.
#
# Gradient boosting is the fastest to fit of the flexible models here. EM costs
# more, and much more on the smooth data: with no regimes to lock on to, it
# takes many iterations to settle (127, 200 and 84 for its three restarts in
# our run).
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained", sharey=True)
names = list(models)
for ax, data_name in zip(axes, datasets, strict=True):
    rows = {r[1]: r for r in results if r[0] == data_name}
    r2 = [rows[name][2] for name in names]
    bars = ax.barh(names, r2, color=["C7", "C2", "C0"])
    labels = [f"{rows[name][2]:.3f} ({rows[name][4]:.1f} s)" for name in names]
    ax.bar_label(bars, labels=labels, padding=3)
    if "generating model" in rows:
        best = rows["generating model"][2]
        ax.axvline(best, color="k", linestyle="--", lw=1, label="generating model")
        ax.legend(loc="upper right")
    ax.set_xlim(0, 1.35)
    ax.set_xlabel("test R^2 (fit time)")
    ax.set_title(f"{data_name} data")
axes[0].invert_yaxis()
plt.show()

# %%
# When each wins
# --------------
# A mixture of experts pays off when the data really come in regimes, each well
# described by a simple model: it is then as accurate as a flexible model and
# far easier to read (:doc:`/auto_examples/plot_gate_assignments_real_data`).
# When the target is one smooth surface, a flexible single model such as gradient
# boosting is the better and simpler choice. The figures measured for the user
# guide are in :doc:`/user_guide/dense_vs_moe`.
