"""
Robust experts: Student-t noise against gross outliers
======================================================

Three straight lines, each on its own interval of ``x``, as in
:doc:`plot_piecewise_regression`, but 5% of the targets are replaced by gross
outliers. Gaussian experts take the outliers at face value: one expert spends
itself on them and the other two share the three lines. With
``family="student_t"`` each expert's noise has heavy tails, the outliers weigh
little in its fit, and the three lines come back. The user guide's
:doc:`/user_guide/families` page describes how EM fits the t.
"""

# %%
# The data
# --------
# Noise of standard deviation 0.5 around the lines; one row in twenty has its
# target drawn uniformly over ``[-20, 30]``, far wider than the lines' range.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from skmoe import MixtureOfExpertsRegressor

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, size=900)
breakpoints = [3.0, 7.0]
slopes, intercepts = np.array([2.0, -1.5, 1.0]), np.array([0.0, 10.5, -7.0])
piece = np.searchsorted(breakpoints, x, side="right")
y = slopes[piece] * x + intercepts[piece] + 0.5 * rng.standard_normal(x.size)
outlier = rng.uniform(size=x.size) < 0.05
y[outlier] = rng.uniform(-20, 30, size=outlier.sum())
X = x[:, None]
X_train, X_test, y_train, y_test, outlier_train, _ = train_test_split(
    X, y, outlier, test_size=0.3, random_state=0
)
interval = np.searchsorted(breakpoints, X_train[:, 0], side="right")
print(
    f"{outlier_train.sum()} outliers among {y_train.size} training rows;"
    f" by interval: {np.bincount(interval[outlier_train]).tolist()}"
)

# %%
# Gaussian and Student-t experts
# ------------------------------
# The same model twice, three linear experts and the gate on ``x``; only the
# family differs. Expert numbers are arbitrary, so we list the experts by the
# mean ``x`` of the rows they are responsible for.
models = {
    family: MixtureOfExpertsRegressor(family=family, n_experts=3, random_state=0).fit(
        X_train, y_train
    )
    for family in ("gaussian", "student_t")
}


def by_position(moe):
    resp = moe.posterior_proba(X_train, y_train)
    return np.argsort(resp.T @ X_train[:, 0] / resp.sum(axis=0))


print(
    "true lines: "
    + ", ".join(f"{a:+.2f} x {b:+.2f}" for a, b in zip(slopes, intercepts, strict=True))
)
for family, moe in models.items():
    print(f"{family}:")
    outliers_weight = moe.posterior_proba(X_train, y_train)[outlier_train].sum(axis=0)
    for k in by_position(moe):
        expert = moe.experts_[k]
        if family == "gaussian":
            noise = f"noise std {np.sqrt(moe.noise_variance_[k]):5.2f}"
        else:
            noise = f"scale {moe.scale_[k]:.2f}, df {moe.df_[k]:4.2f}"
        print(
            f"  y = {expert.coef_[0]:+.2f} x {expert.intercept_:+6.2f}   {noise},"
            f" outliers' responsibility {outliers_weight[k]:4.1f}"
        )

# %%
# The Gaussian mixture has one expert with a noise standard deviation above 10:
# it explains the outliers, and its line means nothing. The middle and the last
# lines share the one expert left, whose slope is neither theirs. The Student-t
# experts find the three lines. Their degrees of freedom differ: the expert with
# the heaviest tails (df near 1, the Cauchy) takes the largest share of the
# outliers, more than fall in its own interval, and leaves the others fewer to
# account for.
#
# Held-out log-likelihood
# -----------------------
# ``score_samples`` gives ``log p(y | x)`` of each test row, outliers included;
# the mean per row is higher (better) for the Student-t.
for family, moe in models.items():
    print(
        f"{family:>9}: held-out log-likelihood per row"
        f" {moe.score_samples(X_test, y_test).mean():.3f},"
        f" training BIC {moe.bic(X_train, y_train):.1f}"
    )

# %%
# The fits drawn
# --------------
# Each expert's line where the gate prefers it (solid), over the true lines
# (dashed); a Gaussian expert that the gate prefers nowhere, the outliers'
# expert, is drawn dotted over the whole range.
grid = np.linspace(0, 10, 501)[:, None]
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
for ax, (family, moe) in zip(axes, models.items(), strict=True):
    ax.scatter(x[~outlier], y[~outlier], s=6, color="0.7")
    ax.scatter(x[outlier], y[outlier], s=14, marker="x", color="0.3", label="outlier")
    for b0, b1, lo, hi in zip(
        intercepts, slopes, [0, *breakpoints], [*breakpoints, 10], strict=True
    ):
        ax.plot([lo, hi], [b0 + b1 * lo, b0 + b1 * hi], "k--", linewidth=1)
    preferred = moe.predict_gate(grid)
    lines = moe.predict_experts(grid)
    for k in by_position(moe):
        own = preferred == k
        if own.any():
            ax.plot(grid[:, 0], np.where(own, lines[:, k], np.nan), linewidth=2.5)
        else:
            ax.plot(grid[:, 0], lines[:, k], ":", linewidth=2)
    ax.set(title=f'family="{family}"', xlabel="x", ylim=(-22, 32))
axes[0].set_ylabel("y")
axes[0].legend(loc="upper left")
fig.tight_layout()
plt.show()
