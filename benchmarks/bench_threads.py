"""What the thread limits of a fit cost and save (docs: core.rst, "Threads").

Run from the repository root::

    python benchmarks/bench_threads.py           # about a minute
    python benchmarks/bench_threads.py --quick   # fewer repeats

The figures are printed and written to ``benchmarks/results/threads.txt``.

1. The k-means start: scikit-learn's ``KMeans(n_init=1)`` on the rows a start
   clusters (10,000 and 20,000 rows, 2 and 6 standardised columns), on every
   OpenMP thread against one, on the machine as it is and with one other process
   spinning on a core. Claim: one thread is never more than 1.5x slower, so that
   ``_start`` may hold k-means to one thread.
2. Setting the limit: ``threadpool_limits`` (which looks the loaded libraries up
   at every call) against a ``ThreadpoolController`` made once (what
   ``skmoe._threads`` does), and a 300-row fit for scale.
"""

import multiprocessing
import sys
from dataclasses import dataclass
from functools import partial

import numpy as np
from _harness import command_line, quiet_fit, report, run, spread, time_calls, verdict
from sklearn.cluster import KMeans
from threadpoolctl import ThreadpoolController, threadpool_limits

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression


@dataclass(frozen=True)
class Settings:
    quick: bool = False
    repeats: int = 21


QUICK = Settings(quick=True, repeats=3)


def _spin():
    while True:
        pass


def _kmeans(points, threads):
    with threadpool_limits(threads, user_api="openmp"):
        KMeans(n_clusters=4, n_init=1, random_state=0).fit(points)


def bench_kmeans(settings):
    report("1. The k-means start on all OpenMP threads against one")
    report("    rows  columns  other load   all threads            one thread    ratio")
    rng = np.random.default_rng(0)
    worst = 0.0
    for busy in (False, True):
        spinner, load = None, "one spinner" if busy else "none"
        if busy:
            spinner = multiprocessing.Process(target=_spin, daemon=True)
            spinner.start()
        try:
            for n_rows, n_columns in ((10_000, 2), (20_000, 6)):
                points = rng.normal(size=(n_rows, n_columns))
                every, _ = time_calls(partial(_kmeans, points, None), settings.repeats)
                one, _ = time_calls(partial(_kmeans, points, 1), settings.repeats)
                ratio = np.median(one) / np.median(every)
                worst = max(worst, ratio)
                report(
                    f"  {n_rows:6d}  {n_columns:7d}  {load:11s}"
                    f" {spread(every)}  {spread(one)}  {ratio:5.2f}"
                )
        finally:
            if spinner is not None:
                spinner.terminate()
    report(
        f"  claim: one thread at most 1.5x slower (worst {worst:.2f}): "
        f"{verdict(worst <= 1.5, settings)}"
    )


def bench_limit_cost(settings):
    report("2. Setting the BLAS limit, against a small fit")
    repeats = 10 * settings.repeats
    lookups, _ = time_calls(_limit_by_lookup, repeats)
    controller = ThreadpoolController()
    cached, _ = time_calls(lambda: _limit_by(controller), repeats)
    X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
    fits, _ = time_calls(
        lambda: quiet_fit(MixtureOfExpertsRegressor(random_state=0), X, y),
        settings.repeats,
    )
    report(f"    threadpool_limits, libraries looked up:  {spread(lookups)}")
    report(f"    one ThreadpoolController's limit:        {spread(cached)}")
    report(f"    a 300-row fit (2 experts), for scale:    {spread(fits)}")


def _limit_by_lookup():
    with threadpool_limits(1, user_api="blas"):
        pass


def _limit_by(controller):
    with controller.limit(limits=1, user_api="blas"):
        pass


BENCHMARKS = {1: bench_kmeans, 2: bench_limit_cost}


def main(argv=None):
    quick, selected, output = command_line(argv, __doc__, BENCHMARKS, "threads")
    run("threads", BENCHMARKS, selected, QUICK if quick else Settings(), output)


if __name__ == "__main__":
    sys.exit(main())
