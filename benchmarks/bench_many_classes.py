"""Logistic experts and gates with many classes and features: truncated Newton.

Run from the repository root::

    python benchmarks/bench_many_classes.py           # the full suite (~10 minutes)
    python benchmarks/bench_many_classes.py --quick   # small sizes: a smoke test

The figures are printed and written to ``benchmarks/results/many_classes.txt``
(``many_classes_quick.txt`` with ``--quick``). Everything runs on one BLAS thread:
on this shared two-core machine a second thread made one ``LogisticRegression``
fit on digits ten times slower (0.03 s against 0.3 s), which would flatter
every ratio to it. "dense" is the factored Newton step (every problem below
``TRUNCATED_ABOVE`` parameters, as all were before); "CG" the truncated Newton
step (``skmoe/_truncated_newton.py``), forced for both by setting the threshold.

1. Crossover: default EM fits of 2 experts on
   ``make_moe_classification(3000, n_features=d, n_classes=K)`` for a grid of
   ``K (d + 1)``, the parameters of one expert: time dense against CG, the ratio
   and the log-likelihoods. Where CG gets faster sets ``TRUNCATED_ABOVE``.
2. Digits (1,797 x 64, 10 classes, standardised), 2 experts, defaults: the fit
   dense and with the default threshold, their log-likelihoods, and one
   ``LogisticRegression(max_iter=1000)`` fit; then a 5-fold ``cross_validate``
   of both, for the held-out log loss. Targets: the fit at most 5x the logistic
   regression at a log-likelihood no lower than dense's; ``cross_validate``
   under a minute.
3. Wide: ``make_moe_classification(20_000, n_features=300, n_experts=3,
   n_classes=20)``, 3 experts (``p = 6,020`` per expert): the time of each EM
   iteration (from the ``verbose=2`` log's timestamps) against one
   ``LogisticRegression`` fit to its optimum. Target: at most 3x. Dense is not
   run: its Hessian would be 6,020 square, 20,000 x 6,020^2 multiply-adds each.
"""

import logging
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
from _harness import command_line, quiet_fit, report, run, spread, time_calls, verdict
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmoe import MixtureOfExpertsClassifier, _newton
from skmoe.datasets import make_moe_classification

DENSE, CG = 10**12, 0


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats of one run of the suite."""

    crossover_n: int = 3000
    crossover_grid: tuple = (
        (4, 5),
        (10, 5),
        (4, 20),
        (10, 10),
        (4, 50),
        (10, 20),
        (10, 25),
        (20, 12),
        (4, 64),
        (10, 40),
    )
    repeats: int = 3
    wide_n: int = 20_000
    wide_features: int = 300
    wide_classes: int = 20
    wide_iterations: int = 12
    quick: bool = False


QUICK = Settings(
    crossover_n=1000,
    crossover_grid=((4, 5), (10, 20)),
    repeats=1,
    wide_n=2000,
    wide_features=60,
    wide_classes=10,
    wide_iterations=4,
    quick=True,
)


def _with_threshold(threshold, function):
    saved = _newton.TRUNCATED_ABOVE
    _newton.TRUNCATED_ABOVE = threshold
    try:
        return function()
    finally:
        _newton.TRUNCATED_ABOVE = saved


def _timed_fit(model, X, y, threshold, repeats):
    return time_calls(
        lambda: _with_threshold(threshold, lambda: quiet_fit(clone(model), X, y)),
        repeats,
    )


def crossover(settings):
    report("1. Crossover: default fits of 2 experts, dense Newton against CG")
    report(
        f"   {'K':>3s} {'d':>4s} {'K(d+1)':>7s}  {'dense':>26s}  {'CG':>26s}  "
        f"{'CG/dense':>8s}  {'LL dense':>10s} {'LL CG':>10s}"
    )
    for n_classes, n_features in settings.crossover_grid:
        X, y = make_moe_classification(
            settings.crossover_n,
            n_features=n_features,
            n_classes=n_classes,
            coef_scale=1.0,
            gate_scale=1.0,
            random_state=0,
        )
        model = MixtureOfExpertsClassifier(n_experts=2, random_state=0)
        dense, dense_fit = _timed_fit(model, X, y, DENSE, settings.repeats)
        cg, cg_fit = _timed_fit(model, X, y, CG, settings.repeats)
        ratio = statistics.median(cg) / statistics.median(dense)
        report(
            f"   {n_classes:3d} {n_features:4d} {n_classes * (n_features + 1):7d}  "
            f"{spread(dense):>26s}  {spread(cg):>26s}  {ratio:8.2f}  "
            f"{dense_fit.log_likelihood_:10.5f} {cg_fit.log_likelihood_:10.5f}"
        )
    report(f"   TRUNCATED_ABOVE = {_newton.TRUNCATED_ABOVE}")


def digits(settings):
    report("2. Digits, 2 experts, defaults")
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if settings.quick:
        X, y = X[::3], y[::3]
    lr_times, _ = time_calls(
        lambda: LogisticRegression(max_iter=1000).fit(X, y), 5 * settings.repeats
    )
    report(f"   LogisticRegression(max_iter=1000): {spread(lr_times)}")
    model = MixtureOfExpertsClassifier(n_experts=2, random_state=0)
    fits = {}
    default = _newton.TRUNCATED_ABOVE
    for name, threshold, repeats in (
        ("dense", DENSE, 1),
        ("default", default, settings.repeats),
    ):
        times, fitted = _timed_fit(model, X, y, threshold, repeats)
        fits[name] = (statistics.median(times), fitted)
        report(
            f"   {name:7s} fit: {spread(times)}, {fitted.n_iter_} iterations, "
            f"converged {fitted.converged_}, log-likelihood "
            f"{fitted.log_likelihood_:.6f}"
        )
    cg_time, cg_fit = fits["default"]
    dense_time, dense_fit = fits["dense"]
    ratio = cg_time / statistics.median(lr_times)
    gain = cg_fit.log_likelihood_ - dense_fit.log_likelihood_
    report(f"   default fit / dense fit: {cg_time / dense_time:.2f}")
    report(f"   default fit / LogisticRegression: {ratio:.0f}x")
    report(
        f"   target, at most 5x at LL >= dense's ({gain:+.2e}): "
        f"{verdict(ratio <= 5 and gain >= 0, settings)}"
    )
    start = time.perf_counter()
    scores = cross_validate(model, X, y, cv=5, scoring="neg_log_loss")
    elapsed = time.perf_counter() - start
    report(
        f"   5-fold cross_validate (n_jobs=None): {elapsed:.1f} s, held-out log "
        f"loss {-scores['test_score'].mean():.4f}; target under 60 s: "
        f"{verdict(elapsed < 60, settings)}"
    )
    reference = cross_validate(
        LogisticRegression(max_iter=1000), X, y, cv=5, scoring="neg_log_loss"
    )
    report(
        "   the same for one LogisticRegression(max_iter=1000): held-out log loss "
        f"{-reference['test_score'].mean():.4f}"
    )


class _IterationClock(logging.Handler):
    """The time of each ``iteration %d`` record of the ``verbose=2`` log."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.times = []

    def emit(self, record):
        if record.getMessage().lstrip().startswith("iteration"):
            self.times.append(time.perf_counter())


def wide(settings):
    report(
        f"3. Wide: {settings.wide_n} rows, {settings.wide_features} features, "
        f"{settings.wide_classes} classes, 3 experts"
    )
    X, y = make_moe_classification(
        settings.wide_n,
        n_features=settings.wide_features,
        n_experts=3,
        n_classes=settings.wide_classes,
        coef_scale=0.3,
        gate_scale=0.5,
        random_state=0,
    )
    lr_times, lr = time_calls(
        lambda: LogisticRegression(max_iter=5000).fit(X, y), settings.repeats
    )
    report(
        f"   LogisticRegression(max_iter=5000): {spread(lr_times)}, "
        f"{lr.n_iter_[0]} iterations"
    )
    model = MixtureOfExpertsClassifier(
        n_experts=3, n_init=1, max_iter=settings.wide_iterations, verbose=2
    )
    clock = _IterationClock()
    logger = logging.getLogger("skmoe")
    logger.addHandler(clock)
    try:
        start = time.perf_counter()
        fitted = _with_threshold(CG, lambda: quiet_fit(model, X, y))
        total = time.perf_counter() - start
    finally:
        logger.removeHandler(clock)
    # From the second record: the first iteration also holds the start.
    per_iteration = np.diff(clock.times)
    ratio = np.median(per_iteration) / statistics.median(lr_times)
    report(
        f"   MoE, CG, max_iter={settings.wide_iterations}: {total:.1f} s in all, "
        f"{fitted.n_iter_} iterations, log-likelihood {fitted.log_likelihood_:.5f}"
    )
    report(f"   per EM iteration after the first: {spread(per_iteration)}")
    report(
        f"   per iteration / LogisticRegression: {ratio:.2f}; target at most 3: "
        f"{verdict(ratio <= 3, settings)}"
    )


BENCHMARKS = {1: crossover, 2: digits, 3: wide}


def main(argv):
    quick, selected, output = command_line(argv, __doc__, BENCHMARKS, "many_classes")
    with threadpool_limits(1):
        run(
            "many classes",
            BENCHMARKS,
            selected,
            QUICK if quick else Settings(),
            output,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
