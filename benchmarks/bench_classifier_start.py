"""Which k-means start serves logistic experts: the inputs, or the inputs and labels.

Run from the repository root: ``python benchmarks/bench_classifier_start.py``.
Prints the figures and writes them to ``benchmarks/results/classifier_start.txt``.

On data drawn from a mixture of logistic experts (``make_moe_classification``,
20,000 rows, six shapes of features, experts and classes, four data seeds each),
one EM run on all rows (``n_init=1``, ``max_iter=500``, ``init_size=None``) of
``MixtureOfExpertsClassifier`` from:

- ``init="kmeans"``: k-means on the standardised inputs (skmoe's start);
- k-means on the standardised ``[x, one-hot(y)]`` (skmoe's start before 0.1), given
  as ``init``;
- ``init="random"``: flat Dirichlet responsibilities.

For each: the mean log-likelihood per sample below the generating model's, the EM
iterations and the wall time.
"""

import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import log_softmax, logsumexp
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from skmoe import MixtureOfExpertsClassifier
from skmoe._gate import standardize
from skmoe.datasets import make_moe_classification

N_SAMPLES = 20_000
SHAPES = [(10, 4, 3), (2, 2, 2), (5, 3, 2), (10, 8, 3), (5, 4, 5), (3, 4, 2)]
SEEDS = range(4)


def _generating_log_likelihood(X, y, params):
    log_gate = log_softmax(X @ params.gate_coef.T + params.gate_intercept, axis=1)
    logits = np.einsum("nd,kcd->nkc", X, params.coef) + params.intercept
    log_expert = log_softmax(logits, axis=2)[np.arange(y.size), :, y]
    return float(np.mean(logsumexp(log_gate + log_expert, axis=1)))


def _labels_start(X, y, n_experts, seed):
    weight = np.ones(y.size)
    points = standardize(np.column_stack([X, np.eye(y.max() + 1)[y]]), weight)[0]
    labels = KMeans(n_clusters=n_experts, n_init=1, random_state=seed).fit(points)
    return np.eye(n_experts)[labels.labels_]


def main():
    lines = []

    def report(line=""):
        print(line, flush=True)
        lines.append(line)

    starts = ["kmeans (inputs)", "kmeans [x, one-hot(y)]", "random"]
    results = {start: [] for start in starts}
    report(f"One EM run per start, {N_SAMPLES:,} rows, n_init=1, max_iter=500")
    report("gap: generating model's mean log-likelihood minus the fit's, per sample")
    report(f"{'d':>3} {'K':>2} {'C':>2} seed  " + "  ".join(f"{s:>26}" for s in starts))
    warnings.simplefilter("ignore")
    with threadpool_limits(1, user_api="blas"):
        for n_features, n_experts, n_classes in SHAPES:
            for seed in SEEDS:
                X, y, params = make_moe_classification(
                    N_SAMPLES,
                    n_features=n_features,
                    n_experts=n_experts,
                    n_classes=n_classes,
                    random_state=seed,
                    return_params=True,
                )
                best = _generating_log_likelihood(X, y, params)
                inits = ["kmeans", _labels_start(X, y, n_experts, seed), "random"]
                cells = []
                for start, init in zip(starts, inits, strict=True):
                    moe = MixtureOfExpertsClassifier(
                        n_experts=n_experts,
                        init=init,
                        n_init=1,
                        init_size=None,
                        max_iter=500,
                        random_state=seed,
                    )
                    begin = time.perf_counter()
                    moe.fit(X, y)
                    seconds = time.perf_counter() - begin
                    gap = best - moe.log_likelihood_
                    results[start].append((gap, moe.n_iter_, seconds))
                    cells.append(f"{gap:8.4f} {moe.n_iter_:4d} it {seconds:5.2f} s")
                report(
                    f"{n_features:3d} {n_experts:2d} {n_classes:2d} {seed:4d}  "
                    + "  ".join(f"{c:>26}" for c in cells)
                )
    report()
    report(f"over {len(results[starts[0]])} data sets:")
    for start in starts:
        gaps, iterations, seconds = zip(*results[start], strict=True)
        best_count = sum(
            gap <= min(results[s][i][0] for s in starts) + 2e-3
            for i, gap in enumerate(gaps)
        )
        report(
            f"  {start:24s} gap mean {np.mean(gaps):.4f} median "
            f"{statistics.median(gaps):.4f} max {max(gaps):.3f}; within 0.002 of the "
            f"best start on {best_count}; iterations median "
            f"{statistics.median(iterations):.0f}; time total {sum(seconds):.1f} s"
        )
    path = Path(__file__).parent / "results" / "classifier_start.txt"
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
