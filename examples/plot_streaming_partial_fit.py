"""
Training on a stream: ``partial_fit`` with ``SGDRegressor`` experts
===================================================================

When the data arrives in chunks, or does not fit in memory, a mixture of experts
can be trained one chunk at a time with ``solver="gradient"`` and
:meth:`~skmoe.MixtureOfExpertsRegressor.partial_fit`. Each chunk is cut into
mini-batches; for each batch the model computes the responsibilities of its
experts, takes one Adam step on the gate, and hands the batch to every expert's
own ``partial_fit`` with the responsibilities as sample weights.

Here the experts are :class:`~sklearn.linear_model.SGDRegressor`, the data comes
from a known mixture of three linear experts, and the stream's model is compared
with the EM fit on all the data at once.
"""

# %%
# A stream of chunks
# ------------------
# ``make_moe_regression`` draws the data; a generator hands it out in chunks of
# 5,000 rows, as a file read piece by piece or a message queue would. 20,000 rows
# are held out to compare the models.
import time

from sklearn.linear_model import SGDRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

X, y = make_moe_regression(n_samples=220_000, n_features=3, n_experts=3, random_state=0)
X_test, y_test = X[:20_000], y[:20_000]
X_train, y_train = X[20_000:], y[20_000:]


def stream(chunk_size=5_000):
    for start in range(0, len(y_train), chunk_size):
        yield X_train[start : start + chunk_size], y_train[start : start + chunk_size]


# %%
# Training chunk by chunk
# -----------------------
# The first call initialises the model from its first batch (k-means on the
# standardised ``[x, y]``); later calls continue. After each call,
# ``log_likelihood_`` is the mean log-likelihood of that chunk, each batch measured
# *before* the model learned from it: an honest running estimate of how well the
# model predicts data it has not seen.
moe = MixtureOfExpertsRegressor(
    expert=SGDRegressor(random_state=0),
    n_experts=3,
    solver="gradient",
    batch_size=500,
    random_state=0,
)
start = time.perf_counter()
rows_seen = []
for chunk, (X_chunk, y_chunk) in enumerate(stream(), start=1):
    moe.partial_fit(X_chunk, y_chunk)
    rows_seen.append(chunk * len(y_chunk))
    if chunk % 8 == 0:
        print(
            f"chunk {chunk:2d}: {rows_seen[-1]:7,} rows seen, mean log-likelihood "
            f"of the chunk before learning it {moe.log_likelihood_:.4f}"
        )
stream_seconds = time.perf_counter() - start

# %%
# The stream's model against EM on all the data
# ---------------------------------------------
# EM with ``LinearRegression`` experts on the whole training set is the exact
# maximum-likelihood fit of this model; one pass over the stream comes close.
start = time.perf_counter()
em = MixtureOfExpertsRegressor(n_experts=3, n_init=1, random_state=0).fit(
    X_train, y_train
)
em_seconds = time.perf_counter() - start

stream_ll = moe.score_samples(X_test, y_test).mean()
em_ll = em.score_samples(X_test, y_test).mean()
print(
    f"\nheld-out mean log-likelihood, stream ({stream_seconds:.1f} s): {stream_ll:.4f}"
)
print(f"held-out mean log-likelihood, EM     ({em_seconds:.1f} s): {em_ll:.4f}")
print(f"relative gap: {(em_ll - stream_ll) / abs(em_ll):.2%}")

# %%
# The running estimate against the EM level
# -----------------------------------------
# matplotlib is optional: the plot is skipped without it.
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(rows_seen, moe.log_likelihood_curve_, marker="o", label="stream")
    ax.axhline(em_ll, color="black", linestyle="--", label="EM, all data (held out)")
    ax.set_xlabel("rows seen")
    ax.set_ylabel("mean log-likelihood")
    ax.set_ylim(em_ll - 0.5, em_ll + 0.1)
    ax.legend()
    fig.tight_layout()
