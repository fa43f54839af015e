"""
Adding a family: Laplace noise
==============================

skmoe ships Gaussian, Student-t, Poisson, negative binomial and Gamma experts.
Another noise model is a subclass of :class:`skmoe.families.Family`. Here we add
Laplace noise, ``p_k(y | x) = exp(-|y - f_k(x)| / b_k) / (2 b_k)``, with one scale
``b_k`` per expert, and test it on data whose noise is Laplace. The user guide's
:doc:`/user_guide/families` page lists what a family must and may implement.
"""

# %%
# The family
# ----------
# Two methods are required: ``expert_output``, what the likelihood reads from an
# expert (here its prediction, the location), and ``log_likelihood``, the
# log-density of every row under every expert, with its constant. The scales are
# the family's own parameters: ``start`` forgets those of an earlier fit (the
# attributes listed in ``fitted_state``), ``fit`` is their M-step,
# ``drop_expert`` forgets a dropped expert's, and ``fitted_attributes`` shows
# them on the estimator as ``scale_``.
#
# EM maximises, for each expert, ``sum_i w_ik log p_k(y_i | x_i)`` with weights
# ``w_ik = responsibility * sample_weight``. For the Laplace that is
# ``-sum_i w_ik |y_i - f_k(x_i)| / b_k - log(2 b_k) sum_i w_ik``: whatever
# ``b_k``, the best ``f_k`` minimises the weighted absolute error, so the expert
# must be a weighted median regression. (A ``LinearRegression`` expert would run,
# but its least-squares line is not the Laplace's maximum-likelihood location,
# and EM would no longer maximise the Laplace likelihood.) scikit-learn's
# ``QuantileRegressor(quantile=0.5, alpha=0)`` is one: it solves that problem
# exactly, as a linear program. Given ``f_k``, the best scale is the weighted
# mean absolute residual. As for the Gaussian's variance, a floor relative to
# the target's spread keeps an expert that fits a few rows exactly finite.
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.linear_model import QuantileRegressor
from sklearn.model_selection import train_test_split

from skmoe import MixtureOfExpertsRegressor
from skmoe.families import Family


class Laplace(Family):
    """Laplace noise around each expert's prediction, one scale per expert."""

    n_parameters_per_expert = 1  # b_k, for BIC and AIC
    mini_batch = False  # no partial_fit: solver="gradient" is refused
    fitted_state = ("scale_",)  # what start leaves out of its copy

    def default_expert(self):
        return QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs")

    def expert_output(self, expert, X, target):
        return np.ravel(expert.predict(X))

    def start(self, target, sample_weight):
        started = super().start(target, sample_weight)  # a copy, without scale_
        spread = np.average(np.abs(target - np.median(target)), weights=sample_weight)
        started.scale_floor_ = 1e-6 * spread if spread > 0 else 1e-6
        return started

    def log_likelihood(self, outputs, target, out=None):
        b = self.scale_
        return np.subtract(
            -np.abs(target[:, None] - outputs) / b, np.log(2 * b), out=out
        )

    def fit(self, outputs, target, weights):
        totals = weights.sum(axis=0)
        absolute = np.einsum("ik,ik->k", weights, np.abs(target[:, None] - outputs))
        previous = getattr(self, "scale_", np.full(totals.size, self.scale_floor_))
        scale = np.where(totals > 0, absolute / np.maximum(totals, 1e-300), previous)
        self.scale_ = np.maximum(scale, self.scale_floor_)
        return self

    def drop_expert(self, k):
        self.scale_ = np.delete(self.scale_, k)

    def fitted_attributes(self):
        return {"scale_": self.scale_}


# %%
# The log-density agrees with SciPy's:
family = Laplace().start(np.array([0.0, 1.0, 3.0]), np.ones(3))
family.scale_ = np.array([0.5, 2.0])
outputs = np.array([[0.0, 1.0], [0.5, 0.5], [2.0, 4.0]])
print(
    np.allclose(
        family.log_likelihood(outputs, np.array([0.0, 1.0, 3.0])),
        stats.laplace.logpdf([[0.0], [1.0], [3.0]], loc=outputs, scale=[0.5, 2.0]),
    )
)

# %%
# The data
# --------
# Two lines, each on its own half of ``x``, with Laplace noise of scale 0.3 on
# the left and 0.8 on the right.
rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, size=800)
side = (x > 0).astype(int)
slopes, intercepts, scales = [-1.0, 2.0], [1.0, -1.0], [0.3, 0.8]
y = np.choose(side, slopes) * x + np.choose(side, intercepts)
y += rng.laplace(scale=np.choose(side, scales))
X = x[:, None]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)

# %%
# The fit
# -------
# ``family=Laplace()`` takes the family's default expert. HiGHS, the linear
# program's solver, can fail when some weights are near its tolerance, about
# ``1e-8``: without the threshold below, this fit stops with an
# ``ExpertFitError``. ``responsibility_threshold=1e-6`` leaves the rows whose
# responsibility for an expert is below ``1e-6`` out of its fit.
laplace = MixtureOfExpertsRegressor(
    family=Laplace(), n_experts=2, responsibility_threshold=1e-6, random_state=0
).fit(X_train, y_train)
for k in np.argsort([expert.coef_[0] for expert in laplace.experts_]):
    expert = laplace.experts_[k]
    print(
        f"expert {k}: y = {expert.coef_[0]:+.3f} x {expert.intercept_:+.3f},"
        f" scale {laplace.scale_[k]:.3f}"
    )
print("true: y = -1 x + 1, scale 0.3; y = +2 x - 1, scale 0.8")

# %%
# Both experts are exact weighted fits and both scales are their maximum
# likelihood values, so EM's log-likelihood never falls (up to the rows the
# threshold leaves out):
steps = np.diff(laplace.log_likelihood_curve_)
print(f"{laplace.n_iter_} iterations, smallest step {steps.min():.2e}")

# %%
# Against the shipped families
# ----------------------------
# The same data with Gaussian and Student-t experts. On Laplace noise, the
# Laplace family has the highest held-out log-likelihood and the lowest BIC.
models = {
    "Laplace()": laplace,
    **{
        family: MixtureOfExpertsRegressor(
            family=family, n_experts=2, random_state=0
        ).fit(X_train, y_train)
        for family in ("gaussian", "student_t")
    },
}
for name, moe in models.items():
    print(
        f"{name:>10}: held-out log-likelihood per row"
        f" {moe.score_samples(X_test, y_test).mean():.4f},"
        f" BIC {moe.bic(X_train, y_train):.1f}"
    )

# %%
# The residuals drawn
# -------------------
# The training residuals of each row's most probable expert, divided by that
# expert's scale, against the standard Laplace density: a straight tent on a
# log scale. The Gaussian of the same variance falls off faster.
assigned = laplace.posterior_proba(X_train, y_train).argmax(axis=1)
predictions = laplace.predict_experts(X_train)
rows = np.arange(y_train.size)
standardised = (y_train - predictions[rows, assigned]) / laplace.scale_[assigned]
t = np.linspace(-7, 7, 281)
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.hist(standardised, bins=56, range=(-7, 7), density=True, color="0.75")
ax.plot(t, stats.laplace.pdf(t), label="Laplace(0, 1)")
ax.plot(t, stats.norm.pdf(t, scale=np.sqrt(2)), "--", label="Gaussian, variance 2")
ax.set(yscale="log", ylim=(1e-4, 1), xlabel="residual / scale", ylabel="density")
ax.legend()
fig.tight_layout()
plt.show()
