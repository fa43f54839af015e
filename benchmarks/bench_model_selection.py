"""Parallel restarts, and choosing the number of experts by independent fits or splits.

Run from the repository root: ``python benchmarks/bench_model_selection.py``. Prints
the figures and writes them to ``benchmarks/results/model_selection.txt``.

- Restarts: ``MixtureOfExpertsRegressor(n_init=4)`` on 20,000 rows with 4 experts,
  fitted with ``n_jobs=1`` and ``n_jobs=2`` (joblib's default loky backend),
  alternating, 5 times each: the median wall times and their ratio, and a check
  that both fits are bitwise the same.
- Experts in threads: with one restart, ``n_jobs=2`` fits the experts of each
  M-step in two threads. 4 tree experts (depth 8) and 4 logistic-regression experts
  on 20,000 rows, 10 EM iterations, ``n_jobs=1`` against ``2``, alternating, 5
  times each.
- ``select_n_experts`` over counts 1..7 with ``strategy="independent"`` (3 restarts
  per count, the default) against ``strategy="split"`` (one run per count from the
  previous count's worst expert split in two), on data with 2, 3 and 5 regimes and
  5 data seeds each: how often each recovers the true count, the BIC of the model
  each fits at the true count, and the median time.
"""

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.model_selection import select_n_experts

REPEATS = 5
SEEDS = range(5)


def _restarts(report):
    X, y = make_moe_regression(n_samples=20_000, n_experts=4, random_state=0)
    moe = MixtureOfExpertsRegressor(n_experts=4, n_init=4, random_state=0)
    moe.set_params(n_jobs=2).fit(X[:2000], y[:2000])  # start the workers once
    times = {1: [], 2: []}
    fits = {}
    for _ in range(REPEATS):
        for n_jobs in times:
            start = time.perf_counter()
            fits[n_jobs] = moe.set_params(n_jobs=n_jobs).fit(X, y).predict(X)
            times[n_jobs].append(time.perf_counter() - start)
    serial, parallel = (statistics.median(times[n]) for n in (1, 2))
    report("Restarts: n_init=4, 4 experts, 20,000 rows, median of 5 fits each")
    report(f"  n_jobs=1: {serial:.2f} s   n_jobs=2: {parallel:.2f} s")
    report(f"  speed-up: {serial / parallel:.2f}x")
    same = np.array_equal(fits[1], fits[2])
    report(f"  predictions bitwise equal: {same}")


def _expert_threads(report):
    X, y = make_moe_regression(n_samples=20_000, n_experts=4, random_state=0)
    Xc, yc = make_moe_classification(n_samples=20_000, n_classes=3, random_state=0)
    params = {"n_experts": 4, "n_init": 1, "max_iter": 10, "tol": 0, "random_state": 0}
    tree = DecisionTreeRegressor(max_depth=8, random_state=0)
    cases = {
        "tree experts": (MixtureOfExpertsRegressor(tree, **params), X, y),
        "logistic experts": (MixtureOfExpertsClassifier(**params), Xc, yc),
    }
    report("")
    report("Experts in threads: one restart, 4 experts, 20,000 rows, 10 iterations")
    for name, (moe, A, b) in cases.items():
        times = {1: [], 2: []}
        for _ in range(REPEATS):
            for n_jobs in times:
                start = time.perf_counter()
                moe.set_params(n_jobs=n_jobs).fit(A, b)
                times[n_jobs].append(time.perf_counter() - start)
        serial, parallel = (statistics.median(times[n]) for n in (1, 2))
        report(
            f"  {name}: n_jobs=1 {serial:.2f} s, n_jobs=2 {parallel:.2f} s, "
            f"speed-up {serial / parallel:.2f}x"
        )


def _strategies(report):
    report("")
    report("select_n_experts, counts 1..7, 1,500 rows, 5 data seeds per true count")
    report(
        f"  {'true':>4}  {'strategy':<11}  {'recovered':>9}  "
        f"{'BIC at true count (median)':>26}  {'time (median)':>13}"
    )
    for true_count in (2, 3, 5):
        rows = {"independent": [], "split": []}
        for seed in SEEDS:
            X, y = make_moe_regression(
                n_samples=1500, n_experts=true_count, random_state=seed
            )
            for strategy, row in rows.items():
                start = time.perf_counter()
                best, results = select_n_experts(
                    MixtureOfExpertsRegressor(random_state=seed),
                    X,
                    y,
                    n_experts=range(1, 8),
                    strategy=strategy,
                )
                seconds = time.perf_counter() - start
                bic = results["bic"][results["param_n_experts"] == true_count][0]
                row.append((best.n_experts == true_count, bic, seconds))
        for strategy, row in rows.items():
            recovered = sum(hit for hit, _, _ in row)
            bic = statistics.median(b for _, b, _ in row)
            seconds = statistics.median(s for _, _, s in row)
            report(
                f"  {true_count:>4}  {strategy:<11}  {recovered:>7}/{len(row)}  "
                f"{bic:>26.1f}  {seconds:>11.2f} s"
            )


def main():
    lines = []

    def report(line=""):
        print(line, flush=True)
        lines.append(line)

    warnings.simplefilter("ignore")
    report(f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    _restarts(report)
    _expert_threads(report)
    _strategies(report)
    path = Path(__file__).parent / "results" / "model_selection.txt"
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
