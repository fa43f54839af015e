"""
Sparse routing: top-k prediction is faster
==========================================

With ``routing="soft"`` every expert predicts every row. With ``routing="top_k"``
each row goes to its ``top_k`` most probable experts only, and with
``routing="hard"`` to its most probable one; each expert is then called once, on
its own rows. For experts that are expensive to evaluate, such as random forests,
prediction gets faster as ``top_k`` falls, and a little less accurate. Routing is
read at predict time, so one fitted model serves every setting.
"""

# %%
# Eight regimes, eight forest experts
# -----------------------------------
# 10,000 training rows from a mixture of eight linear experts with sharp regions.
# Each expert is a random forest; ``responsibility_threshold=0.01`` fits each
# forest on the rows it is responsible for (sparse training, see the routing
# page of the user guide), and ``tol=1e-3`` stops EM once the forests' fits
# settle (five iterations here).
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

X, y = make_moe_regression(
    n_samples=60_000, n_features=4, n_experts=8, gate_scale=10.0, random_state=0
)
X_train, y_train, X_test, y_test = X[:10_000], y[:10_000], X[10_000:], y[10_000:]

forest = RandomForestRegressor(
    n_estimators=30, max_depth=10, min_samples_leaf=5, random_state=0
)
moe = MixtureOfExpertsRegressor(
    expert=forest,
    n_experts=8,
    init="kmeans",
    n_init=1,
    tol=1e-3,
    responsibility_threshold=0.01,
    random_state=0,
)
start = perf_counter()
moe.fit(X_train, y_train)
print(f"fit: {perf_counter() - start:.1f} s, {moe.n_iter_} EM iterations")

# %%
# Prediction time and accuracy per routing
# ----------------------------------------
# 50,000 test rows; the time is the median of three calls to ``predict``.
settings = [("soft", {"routing": "soft"})]
settings += [(f"top_k={k}", {"routing": "top_k", "top_k": k}) for k in (4, 2)]
settings += [("hard", {"routing": "hard"})]

rows = []
for name, params in settings:
    moe.set_params(**params)
    times = []
    for _ in range(3):
        start = perf_counter()
        y_pred = moe.predict(X_test)
        times.append(perf_counter() - start)
    rows.append((name, np.median(times), r2_score(y_test, y_pred)))

soft_time = rows[0][1]
print(f"{'routing':8}  {'predict (s)':>11}  {'speed-up':>8}  {'test R^2':>8}")
for name, seconds, r2 in rows:
    print(f"{name:8}  {seconds:11.3f}  {soft_time / seconds:7.1f}x  {r2:8.3f}")

# %%
# The trade-off
# -------------
# Hard routing runs one forest per row instead of eight. It loses accuracy near the
# boundaries between regions, where a row's second most probable expert still
# carries real weight; ``top_k=2`` keeps that expert and most of the accuracy at a
# fraction of the cost. Compare the settings on held-out data, e.g. with
# ``GridSearchCV(moe, {"routing": ["top_k"], "top_k": [1, 2, 4]})``: no refit is
# needed between them.
names = [r[0] for r in rows]
fig, (ax_time, ax_r2) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
bars = ax_time.bar(names, [soft_time / r[1] for r in rows], color="C0")
ax_time.bar_label(bars, fmt="%.1fx")
ax_time.set(ylabel="speed-up of predict over soft", title="Prediction speed")
ax_time.margins(y=0.15)
bars = ax_r2.bar(names, [r[2] for r in rows], color="C2")
ax_r2.bar_label(bars, fmt="%.3f")
ax_r2.set(ylabel="test R^2", title="Accuracy", ylim=(0.5, 0.9))
plt.show()
