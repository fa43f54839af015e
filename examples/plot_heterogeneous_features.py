"""
The gate and the experts on different columns
=============================================

Often one set of variables says *which regime* a row is in and another *how the
target depends on the inputs within a regime*. Here, a household's daily energy
use: the outdoor temperature decides whether the house is heated, left alone or
cooled, and within each regime the use grows with the floor area and the number
of occupants, with different slopes. ``gate_features`` gives the gate the
temperature only and ``expert_features`` gives the experts the other two columns
(flexmix calls the gate's inputs *concomitant variables*).
"""

# %%
# The data
# --------
# A DataFrame, so that columns can be chosen by name. Heating below 10 degrees,
# cooling above 22, neither in between.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from skmoe import MixtureOfExpertsRegressor
from skmoe.inspection import GateDisplay, summary

rng = np.random.default_rng(0)
n = 3000
X = pd.DataFrame(
    {
        "temperature": rng.uniform(-10, 35, n),
        "floor_area": rng.uniform(50, 250, n),
        "occupants": rng.integers(1, 6, n).astype(float),
    }
)
regime = np.digitize(X.temperature, [10.0, 22.0])  # 0 heat, 1 neither, 2 cool
intercept = np.array([5.0, 2.0, 4.0])[regime]
per_m2 = np.array([0.06, 0.01, 0.04])[regime]
per_occupant = np.array([0.5, 1.0, 0.3])[regime]
y = intercept + per_m2 * X.floor_area + per_occupant * X.occupants
y += 0.5 * rng.standard_normal(n)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# Two models
# ----------
# The first gives each part its own columns. The second lets the gate and the
# experts see all three, the default.
split = MixtureOfExpertsRegressor(
    n_experts=3,
    gate_features=["temperature"],
    expert_features=["floor_area", "occupants"],
    random_state=0,
).fit(X_train, y_train)
shared = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X_train, y_train)

for name, model in [("split columns", split), ("all columns", shared)]:
    info = summary(model, X_test, y_test)
    print(
        f"{name:14} test R^2 {model.score(X_test, y_test):.4f}"
        f"   parameters {info.n_parameters:2d}   test BIC {info.bic:8.1f}"
    )

# %%
# Both models predict about as well; the split one has fewer parameters and a lower BIC,
# and it is easier to read: the gate's coefficients concern the temperature only,
# and each expert's coefficients the floor area and the occupants only.
print(summary(split, X_test, y_test))

# %%
# The gate over the temperature
# -----------------------------
# The gate hands the rows from the heating expert to the idle one near 10 degrees
# and to the cooling one near 22. In the top panel each expert's prediction is
# drawn with the floor area and the occupants at their median, so each regime's
# line is flat in the temperature: the temperature only picks the regime.
display = GateDisplay.from_estimator(split, X_test, y_test)
display.figure_.set_size_inches(7, 5.5)
for ax in (display.ax_, display.ax_experts_):
    for boundary in (10.0, 22.0):
        ax.axvline(boundary, color="k", linestyle=":", linewidth=1)
plt.show()
