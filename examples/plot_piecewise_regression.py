"""
Piecewise linear regression in one dimension
============================================

Three straight lines, each on its own interval of ``x``. A mixture of three linear
experts learns both the lines and where each one holds: the gate's probabilities
switch from one expert to the next at the breakpoints.
:class:`~skmoe.inspection.GateDisplay` draws the two together.
"""

# %%
# The data
# --------
# The target follows three lines, on ``x < 3``, ``3 <= x < 7`` and ``x >= 7``,
# with Gaussian noise of standard deviation 0.5.
import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.inspection import GateDisplay

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, size=600)
breakpoints = [3.0, 7.0]
slopes, intercepts = np.array([2.0, -1.5, 1.0]), np.array([0.0, 10.5, -7.0])
piece = np.searchsorted(breakpoints, x, side="right")
y = slopes[piece] * x + intercepts[piece] + 0.5 * rng.standard_normal(x.size)
X = x[:, None]

# %%
# The model
# ---------
# Three ``LinearRegression`` experts (the default expert) and the softmax gate on
# ``x``. Expert numbers are arbitrary; we print the experts in the order of the
# interval where the gate prefers them.
moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)

grid = np.linspace(0, 10, 1001)[:, None]
first = np.argmax(moe.predict_gate_proba(grid) > 0.5, axis=0)
for k in np.argsort(first):
    expert = moe.experts_[k]
    print(
        f"expert {k}: y = {expert.coef_[0]:+.2f} x {expert.intercept_:+.2f},"
        f" noise std {np.sqrt(moe.noise_variance_[k]):.2f},"
        f" preferred by the gate from x = {grid[first[k], 0]:.2f}"
    )
print(
    f"true lines: slopes {slopes}, intercepts {intercepts}, breakpoints {breakpoints}"
)

# %%
# The gate drawn
# --------------
# The top panel shows the data, coloured by the expert each row belongs to a
# posteriori (given its ``y``), and each expert's line over the whole range; the
# bottom panel the gate's probability of each expert. The gate hands over from
# one expert to the next where the lines change, and each line is used only where
# it holds.
display = GateDisplay.from_estimator(moe, X, y)
display.figure_.set_size_inches(7, 5.5)
for ax in (display.ax_, display.ax_experts_):
    for b in breakpoints:
        ax.axvline(b, color="k", linestyle=":", linewidth=1)
plt.show()

# %%
# The mixture's prediction is ``sum_k g_k(x) f_k(x)``: the gate's weights times the
# experts' lines. Away from the breakpoints one weight is close to 1 and the
# prediction is that expert's line; at a breakpoint the gate blends the two
# neighbouring lines over a short interval.
print(f"R^2 on the training data: {moe.score(X, y):.3f}")
