"""Prediction cost of soft, hard and top-k routing, and sparse training's accuracy.

Run from the repository root: ``python benchmarks/bench_routing.py``. Prints the
figures and writes them to ``benchmarks/results/routing.txt``.

- 8 random-forest experts (expensive to evaluate), 200,000 rows to predict: time of
  ``routing="soft"`` against ``"top_k"`` with k = 1 and 2. Targets: k = 1 at least 5x
  faster than soft, k = 2 at least 3x.
- 8 linear experts, same rows: ``"hard"`` must be no slower than ``"soft"``.
- Sparse training (``responsibility_threshold``) against dense EM on the same data:
  the log-likelihood must stay within 0.1%.

The forests are fitted on a 20,000-row subsample with a few EM iterations: the
benchmark measures prediction, and the fit only has to produce realistic experts.
"""

import statistics
import sys
import time
import warnings
from pathlib import Path

from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

N_ROWS = 200_000
N_EXPERTS = 8
REPEATS = 5


def _time(function, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def _routing_times(moe, X, settings):
    results = {}
    for name, params in settings.items():
        routed = clone(moe).set_params(**params)
        routed.__dict__.update({k: v for k, v in vars(moe).items() if k.endswith("_")})
        routed.predict(X[:1000])  # compile and warm caches outside the timing
        results[name] = _time(lambda routed=routed: routed.predict(X))
    return results


def main():
    lines = []

    def report(line=""):
        print(line, flush=True)
        lines.append(line)

    X, y = make_moe_regression(
        N_ROWS, n_features=4, n_experts=N_EXPERTS, random_state=0
    )
    report(f"data: make_moe_regression, n={N_ROWS}, d=4, {N_EXPERTS} regimes")
    report(f"timings: median (min-max) of {REPEATS} runs, seconds")

    forest = RandomForestRegressor(n_estimators=30, max_depth=12, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moe = MixtureOfExpertsRegressor(
            expert=forest, n_experts=N_EXPERTS, n_init=1, max_iter=5, random_state=0
        ).fit(X[:20_000], y[:20_000])
    settings = {
        "soft": {"routing": "soft"},
        "top_k=2": {"routing": "top_k", "top_k": 2},
        "top_k=1": {"routing": "top_k", "top_k": 1},
    }
    report("\n8 random-forest experts (30 trees, depth 12), predict 200,000 rows")
    forest_times = _routing_times(moe, X, settings)
    soft = forest_times["soft"][0]
    for name, (median, low, high) in forest_times.items():
        report(
            f"  {name:8s} {median:7.3f} ({low:.3f}-{high:.3f})  "
            f"speed-up vs soft {soft / median:5.2f}x"
        )

    # One restart: sparse and dense training are compared at equal settings, and
    # the gate's M-step at this size is slow until the performance work lands.
    linear = MixtureOfExpertsRegressor(n_experts=N_EXPERTS, n_init=1, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linear.fit(X, y)
    dense_seconds = time.perf_counter() - start
    report("\n8 linear experts, predict 200,000 rows")
    linear_times = _routing_times(
        linear, X, {"soft": {"routing": "soft"}, "hard": {"routing": "hard"}}
    )
    for name, (median, low, high) in linear_times.items():
        report(
            f"  {name:8s} {median:7.4f} ({low:.4f}-{high:.4f})  "
            f"speed-up vs soft {linear_times['soft'][0] / median:5.2f}x"
        )

    report("\nsparse training vs dense EM, linear experts, same 200,000 rows")
    report(
        f"  dense: mean log-likelihood {linear.log_likelihood_:.5f}, "
        f"{linear.n_iter_} iterations, fit {dense_seconds:.1f} s"
    )
    for threshold in (1e-4, 1e-3, 1e-2):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sparse = clone(linear).set_params(responsibility_threshold=threshold)
            sparse.fit(X, y)
        seconds = time.perf_counter() - start
        gap = (sparse.log_likelihood_ - linear.log_likelihood_) / abs(
            linear.log_likelihood_
        )
        report(
            f"  threshold {threshold:g}: mean log-likelihood "
            f"{sparse.log_likelihood_:.5f} vs dense {linear.log_likelihood_:.5f} "
            f"(relative {gap:+.2e}), {sparse.n_iter_} iterations, fit {seconds:.1f} s"
        )

    out = Path(__file__).parent / "results" / "routing.txt"
    out.write_text("\n".join(lines) + "\n")
    report(f"\nwritten to {out}")


if __name__ == "__main__":
    sys.exit(main())
