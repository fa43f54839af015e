"""
Choosing the number of experts: grid search and BIC
===================================================

Data drawn from a mixture of three linear experts, and two ways to recover the
three:

- :class:`~sklearn.model_selection.GridSearchCV` over ``n_experts`` and the gate's
  penalty ``gate__alpha``, scored on held-out data;
- the Bayesian information criterion of a model fitted on all the data,
  ``select_n_experts``, over ``n_experts``.

Both should find three experts.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.model_selection import select_n_experts

X, y = make_moe_regression(n_samples=1000, n_features=2, n_experts=3, random_state=0)
counts = [1, 2, 3, 4, 5]

# %%
# Grid search on held-out data
# ----------------------------
# The score is the held-out mean log-likelihood per row,
# ``mean(score_samples(X, y))``: it rewards a model for the density it puts on the
# held-out targets, not just its mean prediction. (The default R^2 works too, but
# it is nearly flat beyond the right count, so noise decides between 3, 4 and 5.)
# ``gate__alpha`` reaches the default gate's penalty without spelling out
# ``gate=SoftmaxGate()``.


def held_out_log_likelihood(estimator, X, y):
    return estimator.score_samples(X, y).mean()


alphas = [1e-6, 1e-2]
search = GridSearchCV(
    MixtureOfExpertsRegressor(random_state=0),
    {"n_experts": counts, "gate__alpha": alphas},
    scoring=held_out_log_likelihood,
    cv=3,
).fit(X, y)
print("grid search best:", search.best_params_)
for p, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"  n_experts={p['n_experts']}  gate__alpha={p['gate__alpha']:<6g}", end="")
    print(f"  held-out log-likelihood {score:.4f}")

# %%
# BIC on all the data
# -------------------
# ``bic(X, y) = -2 log L + p log n``, with ``p`` the free parameters of the gate,
# the experts and their noise variances; lower is better.
# :func:`~skmoe.model_selection.select_n_experts` fits every count and returns the
# best model with a table of the criterion, like flexmix's ``stepFlexmix``.
best, results = select_n_experts(
    MixtureOfExpertsRegressor(random_state=0), X, y, n_experts=counts
)
bic = results["bic"]
print("BIC best: n_experts =", best.n_experts)
for k, value in zip(counts, bic, strict=True):
    print(f"  n_experts={k}  BIC {value:8.1f}")

# %%
# The two curves
# --------------
# Left: the held-out log-likelihood climbs steeply up to three experts and then
# falls slowly, as the extra experts fit noise; the heavier penalty smooths the
# gate's boundaries, which these sharp regimes do not want, and costs a little
# from two experts on (with one expert there is no gate to penalise). Right: BIC
# falls to its minimum at three experts and rises after it, as each expert adds
# parameters without explaining more.
scores = search.cv_results_["mean_test_score"]
params = search.cv_results_["params"]
fig, (ax_cv, ax_bic) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for alpha in alphas:
    curve = [
        s for s, p in zip(scores, params, strict=True) if p["gate__alpha"] == alpha
    ]
    ax_cv.plot(counts, curve, marker="o", label=f"gate__alpha={alpha:g}")
ax_cv.set(
    xlabel="n_experts",
    ylabel="held-out log-likelihood per row",
    title="GridSearchCV (3 folds)",
    xticks=counts,
)
ax_cv.legend()
ax_bic.plot(counts, bic, marker="o", color="C3")
ax_bic.plot(counts[int(np.argmin(bic))], min(bic), "k*", markersize=14)
ax_bic.set(xlabel="n_experts", ylabel="BIC", title="BIC, fitted on all rows")
ax_bic.set_xticks(counts)
plt.show()

# %%
# Cross-validation works with any expert and any score, and costs one fit per
# fold and candidate (30 fits here). BIC needs one fit per count (5 here) but only
# applies to experts with a fixed number of parameters, such as linear models; for
# trees or forests ``bic`` raises an error and cross-validation is the way.
