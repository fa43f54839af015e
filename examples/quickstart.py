"""
Quickstart: a mixture of experts for regression and for classification
=======================================================================

A mixture of experts splits the input space with a softmax gate and hands each
region to an expert, here a plain linear model. We fit
:class:`~skmoe.MixtureOfExpertsRegressor` on flexmix's NPreg data, two curves that
cross, and :class:`~skmoe.MixtureOfExpertsClassifier` on data drawn from a mixture
of logistic experts, and print what they learned.
"""

# %%
# Regression: two crossing curves
# -------------------------------
# ``make_npreg`` returns one input ``x``; the experts regress on ``[x, x^2]`` and
# the gate sees ``x`` only (flexmix calls it a concomitant variable).
import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_npreg

X, y, params = make_npreg(random_state=0, return_params=True)
x = X[:, 0]
Z = np.column_stack([x, x**2])

reg = MixtureOfExpertsRegressor(
    n_experts=2, gate_features=[0], expert_features=[0, 1], random_state=0
).fit(Z, y)

print("Regression on NPreg (truth: y = 5x and y = 15 + 10x - x^2, noise std 3)")
for k, expert in enumerate(reg.experts_):
    b1, b2 = expert.coef_
    noise_std = np.sqrt(reg.noise_variance_[k])
    print(
        f"  expert {k}: y = {expert.intercept_:6.2f} {b1:+6.2f} x {b2:+6.2f} x^2"
        f"   noise std {noise_std:.2f}"
    )
print(f"  mean log-likelihood {reg.log_likelihood_:.4f} after {reg.n_iter_} iterations")

# %%
# The posterior ``p(expert | x, y)`` assigns each row to an expert. Expert
# numbers are arbitrary, so the accuracy is taken up to swapping the labels. Near
# the crossings no assignment can be sure: the generating model's own posterior
# sets the accuracy to expect.
assigned = reg.posterior_proba(Z, y).argmax(axis=1)
accuracy = max(np.mean(assigned == params.labels), np.mean(assigned != params.labels))
density = params.priors * norm.pdf(y[:, None], params.curves(x), params.noise_std)
bayes_accuracy = np.mean(density.argmax(axis=1) == params.labels)
print(
    f"  rows assigned to their true curve: {accuracy:.1%}"
    f" (by the generating model's own posterior: {bayes_accuracy:.1%})"
)

# %%
# Classification: regions with their own classifier
# -------------------------------------------------
# Each region of the input space has its own logistic expert; one logistic
# regression for the whole space cannot follow both.
X, y = make_moe_classification(n_samples=2000, n_classes=3, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

clf = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X_train, y_train)
single = LogisticRegression().fit(X_train, y_train)

print("\nClassification, 3 classes, 2 regions")
print(f"  mixture of experts test accuracy   {clf.score(X_test, y_test):.3f}")
print(f"  single logistic regression         {single.score(X_test, y_test):.3f}")

# %%
# The gate's share of the test rows per expert.
shares = clf.predict_gate_proba(X_test).mean(axis=0)
print("  gate share per expert              " + "  ".join(f"{s:.2f}" for s in shares))
