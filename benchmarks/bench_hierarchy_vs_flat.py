"""When a hierarchical mixture beats a flat one: a depth-2 binary tree against a
flat mixture of 4 linear experts, the same number of leaves.

Run from the repository root::

    python benchmarks/bench_hierarchy_vs_flat.py           # 5 seeds (a few minutes)
    python benchmarks/bench_hierarchy_vs_flat.py --quick   # 2 seeds, smaller sets

The figures are printed and written to
``benchmarks/results/hierarchy_vs_flat.txt`` (``hierarchy_vs_flat_quick.txt``
with ``--quick``); the user guide's "Hierarchical mixtures of experts" page
quotes them.

Every data set is drawn once per seed and split: the first ``n_train`` rows fit
the models, the other ``n_test`` rows score them. Per seed: the mean held-out
log-likelihood (``score_samples``) of the generating model and of each fit, the
BIC on the training rows, the number of free parameters, the fit's wall-clock
time and its iterations; then the medians over the seeds, and in how many
seeds one model is above the other by more than 0.001 per row. The models are
``make_hierarchy(None, depth=2, random_state=seed)`` and
``MixtureOfExpertsRegressor(n_experts=4, random_state=seed)``, with the
defaults otherwise (``n_init=3``) unless the name says ``n_init=10``.

1. Data from a depth-2 binary tree, ``make_hierarchical_moe_regression`` (one
   feature): the leaves are four intervals of ``x``, which a flat softmax gate
   can draw too.
2. Data from a flat mixture of 4 experts, ``make_moe_regression`` (two
   features, ``gate_scale=3``): the regions are cells of a softmax gate, which
   a product of two-way gates can only approximate.
3. Data from a tree whose two halves split at different heights: two features
   uniform on ``[-1, 1]``, the root splits at ``x0 = 0``, its left child at
   ``x1 = 0.5``, its right child at ``x1 = -0.5`` (logistic gates of slope
   20), leaves ``y = a x0 + b x1 + c + 0.3 N(0, 1)`` with ``(a, b, c)`` equal to
   ``(2, 1, -1.5)``, ``(-2, 1, 1.5)``, ``(2, -1, 1.5)``, ``(-2, -1, -1.5)``.
   No softmax gate over 4 linear logits draws these regions: the three
   boundaries on ``x0 = 0`` would force the two horizontal ones to be the
   same line.
"""

import sys
import time
from dataclasses import dataclass

import numpy as np
from _harness import command_line, quiet_fit, report, run
from scipy.special import expit, logsumexp, softmax
from scipy.stats import norm

from skmoe import MixtureOfExpertsRegressor, make_hierarchy
from skmoe.datasets import make_hierarchical_moe_regression, make_moe_regression


@dataclass(frozen=True)
class Settings:
    """Sizes and seeds of one run of the suite."""

    quick: bool = False
    n_train: int = 2_000
    n_test: int = 10_000
    seeds: tuple = (0, 1, 2, 3, 4)


QUICK = Settings(quick=True, n_train=1_000, n_test=2_000, seeds=(0, 1))

# Held-out mean log-likelihoods closer than this (per row) count as a tie.
TIE = 1e-3


def tree_data(n_samples, seed):
    """Case 1: rows of a generated depth-2 tree and each row's true log-likelihood."""
    X, y, truth = make_hierarchical_moe_regression(
        n_samples=n_samples, depth=2, random_state=seed, return_params=True
    )
    return X, y, truth.log_likelihood(X, y)


def flat_data(n_samples, seed):
    """Case 2: rows of a flat 4-expert mixture and their true log-likelihood."""
    X, y, truth = make_moe_regression(
        n_samples=n_samples,
        n_features=2,
        n_experts=4,
        random_state=seed,
        return_params=True,
    )
    log_gate = np.log(softmax(X @ truth.gate_coef.T + truth.gate_intercept, axis=1))
    means = X @ truth.coef.T + truth.intercept
    log_density = norm.logpdf(y[:, None], means, truth.noise_std)
    return X, y, logsumexp(log_gate + log_density, axis=1)


SLOPE = 20.0
LEAF_COEF = np.array([[2.0, 1.0], [-2.0, 1.0], [2.0, -1.0], [-2.0, -1.0]])
LEAF_INTERCEPT = np.array([-1.5, 1.5, 1.5, -1.5])
NOISE = 0.3


def offset_tree_data(n_samples, seed):
    """Case 3: a tree whose halves split at different heights, and the truth."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    right = expit(SLOPE * X[:, 0])
    upper_left = expit(SLOPE * (X[:, 1] - 0.5))
    upper_right = expit(SLOPE * (X[:, 1] + 0.5))
    proba = np.column_stack(
        [
            (1 - right) * (1 - upper_left),
            (1 - right) * upper_left,
            right * (1 - upper_right),
            right * upper_right,
        ]
    )
    leaf = np.minimum((rng.uniform(size=(n_samples, 1)) > proba.cumsum(1)).sum(1), 3)
    means = X @ LEAF_COEF.T + LEAF_INTERCEPT
    y = means[np.arange(n_samples), leaf] + NOISE * rng.standard_normal(n_samples)
    with np.errstate(divide="ignore"):
        log_proba = np.log(proba)
    log_density = norm.logpdf(y[:, None], means, NOISE)
    return X, y, logsumexp(log_proba + log_density, axis=1)


def tree(seed, n_init=3):
    return make_hierarchy(None, depth=2, n_init=n_init, random_state=seed)


def flat(seed, n_init=3):
    return MixtureOfExpertsRegressor(n_experts=4, n_init=n_init, random_state=seed)


def compare(settings, data, models):
    """Per seed and in medians: held-out log-likelihood, BIC, parameters, time."""
    n_train = settings.n_train
    report(
        f"  {n_train} training rows, {settings.n_test} held-out rows; "
        "held-out: mean log-likelihood per row"
    )
    report(
        "    seed  model                held-out  truth-fit      BIC  params"
        "    fit s  iterations"
    )
    rows = {name: [] for name in models}
    for seed in settings.seeds:
        X, y, log_likelihood = data(n_train + settings.n_test, seed)
        truth = log_likelihood[n_train:].mean()
        report(f"    {seed:4d}  {'generating model':18s} {truth:10.4f}")
        for name, make in models.items():
            model = make(seed)
            start = time.perf_counter()
            quiet_fit(model, X[:n_train], y[:n_train])
            seconds = time.perf_counter() - start
            held_out = model.score_samples(X[n_train:], y[n_train:]).mean()
            bic = model.bic(X[:n_train], y[:n_train])
            rows[name].append((held_out, truth - held_out, bic, seconds))
            report(
                f"    {seed:4d}  {name:18s} {held_out:10.4f} {truth - held_out:10.4f}"
                f" {bic:8.1f} {model._n_parameters():7d} {seconds:8.2f}"
                f" {model.n_iter_:11d}"
            )
    report("  medians over the seeds")
    for name, values in rows.items():
        held_out, gap, bic, seconds = np.median(np.array(values), axis=0)
        report(
            f"          {name:18s} {held_out:10.4f} {gap:10.4f} {bic:8.1f}"
            f" {'':7s} {seconds:8.2f}"
        )
    names = list(rows)
    for first, second in zip(names[::2], names[1::2], strict=True):
        gaps = [a[0] - b[0] for a, b in zip(rows[first], rows[second], strict=True)]
        above = sum(gap > TIE for gap in gaps)
        below = sum(gap < -TIE for gap in gaps)
        report(
            f"  {first} against {second}, held-out: above in {above}, below in "
            f"{below}, within {TIE} in {len(gaps) - above - below} of "
            f"{len(gaps)} seeds"
        )


def bench_tree_data(settings):
    report("1. Data from a depth-2 binary tree (make_hierarchical_moe_regression)")
    compare(settings, tree_data, {"depth-2 tree": tree, "flat, 4 experts": flat})


def bench_flat_data(settings):
    report("2. Data from a flat 4-expert mixture (make_moe_regression, 2 features)")
    compare(settings, flat_data, {"flat, 4 experts": flat, "depth-2 tree": tree})


def bench_offset_tree_data(settings):
    report("3. Data from a tree whose halves split at different heights (2 features)")
    compare(
        settings,
        offset_tree_data,
        {
            "depth-2 tree": tree,
            "flat, 4 experts": flat,
            "tree, n_init=10": lambda seed: tree(seed, n_init=10),
            "flat, n_init=10": lambda seed: flat(seed, n_init=10),
        },
    )


def _warm_up():
    start = time.perf_counter()
    X, y = make_hierarchical_moe_regression(n_samples=200, random_state=0)
    quiet_fit(make_hierarchy(None, depth=2, n_init=1, max_iter=5), X, y)
    return time.perf_counter() - start


BENCHMARKS = {1: bench_tree_data, 2: bench_flat_data, 3: bench_offset_tree_data}


def main(argv=None):
    quick, selected, output = command_line(
        argv, __doc__, BENCHMARKS, "hierarchy_vs_flat"
    )
    settings = QUICK if quick else Settings()
    run("hierarchy against flat", BENCHMARKS, selected, settings, output, _warm_up)


if __name__ == "__main__":
    sys.exit(main())
