"""What the subsample start (``init_size``) costs and gives, against EM on all rows.

Run from the repository root: ``python benchmarks/bench_subsample_start.py``
(about 5 minutes). Prints the figures and writes them to
``benchmarks/results/subsample_start.txt``.

On 100,000 rows, one fit per case with BLAS on one thread, ``init_size="auto"``
(EM first converges on 10,000 rows) against ``init_size=None``, from the same
``init="auto"`` start and ``random_state``:

1. Regression: ``make_moe_regression`` with data seeds 0-3, 4 experts on 5 features
   and 8 on 10, ``n_init=1`` with seeds 0-2 (24 fits).
2. Classification, ``make_moe_classification`` (10 features, 4 experts, 3 classes),
   ``n_init=1``: data seed 0 with seeds 0-5, data seeds 1-3 with seeds 0-2 (15 fits).
3. The same classification with the default three restarts, data seeds 0-5, seed 0.

A fit's log-likelihood counts as the same when within 2e-5 of the other's.
"""

import statistics
import time
import warnings
from pathlib import Path

from threadpoolctl import threadpool_limits

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression

N_SAMPLES = 100_000
SAME = 2e-5


def _regression_cases():
    for data_seed in range(4):
        for n_experts, n_features in ((4, 5), (8, 10)):
            X, y = make_moe_regression(
                N_SAMPLES,
                n_features=n_features,
                n_experts=n_experts,
                random_state=data_seed,
            )
            for seed in range(3):
                label = f"data {data_seed} K={n_experts} d={n_features} seed {seed}"
                params = dict(n_experts=n_experts, n_init=1, random_state=seed)
                yield label, MixtureOfExpertsRegressor, params, X, y


def _classification_cases(n_init):
    data_seeds = range(6) if n_init > 1 else range(4)
    for data_seed in data_seeds:
        X, y = make_moe_classification(
            N_SAMPLES, n_features=10, n_experts=4, n_classes=3, random_state=data_seed
        )
        seeds = [0] if n_init > 1 else range(6 if data_seed == 0 else 3)
        for seed in seeds:
            label = f"data {data_seed} seed {seed}"
            params = dict(n_experts=4, n_init=n_init, random_state=seed)
            yield label, MixtureOfExpertsClassifier, params, X, y


def _compare(title, cases, report):
    report(title)
    outcomes, times = [], {"auto": [], None: []}
    for label, Estimator, params, X, y in cases:
        fits = {}
        for init_size in times:
            model = Estimator(init_size=init_size, **params)
            start = time.perf_counter()
            model.fit(X, y)
            times[init_size].append(time.perf_counter() - start)
            fits[init_size] = model
        gap = fits["auto"].log_likelihood_ - fits[None].log_likelihood_
        outcomes.append(
            "same" if abs(gap) <= SAME else "higher" if gap > 0 else "lower"
        )
        report(
            f"  {label:30s} "
            + "  ".join(
                f"init_size={size!r:6s} {times[size][-1]:6.2f} s "
                f"{fit.n_iter_:3d} it {fit.log_likelihood_:.5f}"
                for size, fit in fits.items()
            )
            + f"  subsample: {outcomes[-1]}"
        )
    ratios = [b / a for a, b in zip(times["auto"], times[None], strict=True)]
    report(
        f"  subsample start against all rows over {len(outcomes)} fits: "
        f"{outcomes.count('same')} same, {outcomes.count('higher')} higher, "
        f"{outcomes.count('lower')} lower log-likelihood; median time "
        f"{statistics.median(times['auto']):.2f} s against "
        f"{statistics.median(times[None]):.2f} s, total {sum(times['auto']):.1f} s "
        f"against {sum(times[None]):.1f} s; median ratio of times "
        f"{statistics.median(ratios):.2f}"
    )
    report()


def main():
    lines = []

    def report(line=""):
        print(line, flush=True)
        lines.append(line)

    warnings.simplefilter("ignore")
    with threadpool_limits(1, user_api="blas"):
        _compare("[1] regression, n_init=1", _regression_cases(), report)
        _compare("[2] classification, n_init=1", _classification_cases(1), report)
        _compare("[3] classification, n_init=3", _classification_cases(3), report)
    path = Path(__file__).parent / "results" / "subsample_start.txt"
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
