"""
Counts: a mixture of Poisson experts on flexmix's patent data
=============================================================

The number of patents of 70 pharmaceutical and biomedical companies in 1976,
against the logarithm of their R&D spending (``lgRD``), from flexmix's ``patent``
data (Wang, Cockburn and Puterman, 1998). flexmix's own example fits three
Poisson regressions on ``lgRD`` with a gate on R&D spending per sales (``RDS``)::

    flexmix(Patents ~ lgRD, data = patent, k = 3,
            model = FLXMRglm(family = "poisson"),
            concomitant = FLXPmultinom(~ RDS))

``family="poisson"`` fits the same model. We compare it with Gaussian experts on
the same counts, and with negative binomial experts, by log-likelihood and BIC.
"""

# %%
# The data
# --------
# The CSV was exported from flexmix by the repository's
# ``benchmarks/export_flexmix_data.R``. The counts are small for most companies
# and large for a few: their variance is many times their mean.
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import norm

from skmoe import MixtureOfExpertsRegressor

# The docs build runs the examples from their folder, and defines no __file__:
# the CSV is looked for upwards from the working directory.
csv = Path("benchmarks", "data", "patent.csv")
folder = next(d for d in [Path.cwd(), *Path.cwd().parents] if (d / csv).exists())
patent = pd.read_csv(folder / csv)
X, y = patent[["lgRD", "RDS"]], patent["Patents"].to_numpy(dtype=float)
print(
    f"{y.size} companies, patents from {y.min():.0f} to {y.max():.0f},"
    f" mean {y.mean():.1f}, variance {y.var():.0f}"
)

# %%
# Poisson experts
# ---------------
# Three experts on ``lgRD``, the gate on ``RDS``, ten restarts. The default expert
# of ``family="poisson"`` is an unpenalised ``PoissonRegressor`` (a log link):
# each expert's mean is ``exp(a_k + b_k lgRD)``. The log-likelihood includes the
# ``-log y!`` terms, so it is the number R's ``logLik`` gives: flexmix's best of
# ten random starts (flexmix 2.3-18, ``benchmarks/flexmix_poisson.R``) is
# -197.675 with 10 degrees of freedom.
models = {
    family: MixtureOfExpertsRegressor(
        family=family,
        n_experts=3,
        gate_features=["RDS"],
        expert_features=["lgRD"],
        n_init=10,
        random_state=0,
    ).fit(X, y)
    for family in ("poisson", "gaussian", "negative_binomial")
}
poisson = models["poisson"]
for k, expert in enumerate(poisson.experts_):
    print(
        f"expert {k}: mean = exp({expert.intercept_:+.3f} {expert.coef_[0]:+.3f}"
        f" lgRD), prior {poisson.predict_gate_proba(X)[:, k].mean():.2f}"
    )

# %%
# Gaussian experts on the same counts
# -----------------------------------
# ``family="gaussian"`` fits straight lines with a noise variance each. The
# comparison is by log-likelihood, the parameters it costs and BIC (lower is
# better). The number of parameters is R's ``df``; we read it off
# ``aic = -2 log L + 2 p``.
print("family              log-lik  parameters     BIC")
for family, moe in models.items():
    log_likelihood = moe.score_samples(X, y).sum()
    n_parameters = round((moe.aic(X, y) + 2 * log_likelihood) / 2)
    print(
        f"{family:<17} {log_likelihood:9.3f}  {n_parameters:10d}  {moe.bic(X, y):7.1f}"
    )

# %%
# The Poisson mixture's BIC is about 100 lower than the Gaussian's. The
# Gaussian's log-likelihood is that of a density, the Poisson's that of
# probabilities; at integer counts the density is close to the probability the
# Gaussian gives to the unit interval around each count, so the two compare.
# Both, and the probability the Gaussian mixture gives to the intervals below
# zero, negative counts, averaged over the companies:
gaussian = models["gaussian"]
gate, means = gaussian.predict_gate_proba(X), gaussian.predict_experts(X)
std = np.sqrt(gaussian.noise_variance_)
interval = norm.cdf((y[:, None] + 0.5 - means) / std) - norm.cdf(
    (y[:, None] - 0.5 - means) / std
)
below_zero = norm.cdf((-0.5 - means) / std)
print(f"Gaussian: log density {gaussian.score_samples(X, y).sum():.3f}")
print(
    f"  log probability of the intervals {np.log((gate * interval).sum(1)).sum():.3f}"
)
print(f"  probability of a negative count: {(gate * below_zero).sum(1).mean():.2f}")

# %%
# Overdispersed counts?
# ---------------------
# The counts' variance is far above their mean, but within an expert they may be
# Poisson: the mixture itself makes them overdispersed. ``family="negative_binomial"``
# adds a dispersion ``alpha_k`` per expert (variance ``mu + alpha_k mu^2``). Its
# log-likelihood above is a little higher, but not by enough to pay for three
# parameters more: BIC keeps the Poisson. The dispersions show why: two of the
# three are below ``1e-6``, where ``alpha mu^2`` adds less than a part in a
# thousand to the Poisson variance ``mu`` of these counts.
print(
    "dispersions:",
    np.array2string(models["negative_binomial"].dispersion_, precision=3),
)

# %%
# The fits drawn
# --------------
# Each company coloured by its most probable expert a posteriori (given its
# count), and each expert's mean over the range of ``lgRD``: exponential curves
# for the Poisson experts, straight lines for the Gaussian ones.
grid = pd.DataFrame({"lgRD": np.linspace(X.lgRD.min(), X.lgRD.max(), 200)})
grid["RDS"] = X.RDS.median()  # the experts do not see it
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
for ax, family in zip(axes, ("poisson", "gaussian"), strict=True):
    moe = models[family]
    assigned = moe.posterior_proba(X, y).argmax(axis=1)
    curves = moe.predict_experts(grid)
    for k in range(moe.n_experts_):
        (line,) = ax.plot(grid.lgRD, curves[:, k], label=f"expert {k}")
        rows = assigned == k
        ax.scatter(X.lgRD[rows], y[rows], s=14, color=line.get_color())
    ax.set(title=f'family="{family}"', xlabel="lgRD", ylim=(-20, 190))
    ax.legend(loc="upper left")
axes[0].set_ylabel("Patents")
fig.tight_layout()
plt.show()
