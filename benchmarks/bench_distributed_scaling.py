"""Exact EM's time per iteration on 1, 2 and 4 Dask worker processes (issue 25).

Against the in-memory fit of the same rows, which gives the overhead.

Run from the repository root, alone on a quiet machine::

    python benchmarks/bench_distributed_scaling.py           # 10,000,000 rows
    python benchmarks/bench_distributed_scaling.py --quick   # 200,000 rows, 2 repeats

The figures are printed and written to ``benchmarks/results/distributed_scaling.txt``
(``distributed_scaling_quick.txt`` at any other sizes). ``--help`` lists the options.

1. The data: 3 features, 3 experts, 16 row chunks drawn from one model
   (``_cluster.TrueModel``), on the workers and persisted there before the fits;
   the same rows drawn in this process for the in-memory fit. The time per
   iteration is that of a fit with ``max_iter=8`` minus one with ``max_iter=2``
   (``tol=0``, so both run every iteration), over 6: median (min-max) of 3
   repeats, the two fits alternating. In memory: the same
   ``MixtureOfExpertsRegressor`` (``n_init=1``, ``random_state=0``: the same
   subsample start, hence the same iterates) in this process, with no cluster
   running. Distributed: ``_cluster.fit_on_cluster`` on a fresh ``LocalCluster``
   of 1, 2 and 4 worker processes of one thread each. On a machine with fewer
   cores than workers the processes share the cores: the output says so, and
   projects nothing.
"""

import os
import statistics
import sys
import time
from dataclasses import dataclass, replace

import dask
import distributed
from _cluster import (
    BYTES_PER_VALUE,
    N_EXPERTS,
    TrueModel,
    fit_on_cluster,
    generated_arrays,
    in_memory,
    in_memory_fit,
    local_cluster,
    row_chunks,
    warm_up,
)
from _harness import parse, report, results_file, run, spread
from distributed import Client, wait


@dataclass(frozen=True)
class Settings:
    quick: bool = False
    rows: int = 10_000_000
    n_chunks: int = 16
    n_features: int = 3
    workers: tuple = (1, 2, 4)
    iterations: tuple = (2, 8)
    repeats: int = 3


FULL = Settings()
QUICK = Settings(quick=True, rows=200_000, iterations=(2, 7), repeats=2)


def _per_iteration(fit, settings):
    """Seconds per iteration of each repeat, the last long fit, and the short
    fits' times: ``fit(max_iter)`` timed at both iteration counts, alternating."""
    short, long = settings.iterations
    per_iteration, short_times, result = [], [], None
    for _ in range(settings.repeats):
        times = {}
        for max_iter in (short, long):
            start = time.perf_counter()
            result = fit(max_iter)
            times[max_iter] = time.perf_counter() - start
        per_iteration.append((times[long] - times[short]) / (long - short))
        short_times.append(times[short])
    return per_iteration, result, short_times


def bench_scaling(settings):
    chunk_rows = -(-settings.rows // settings.n_chunks)
    chunks = row_chunks(settings.rows, chunk_rows)
    short, long = settings.iterations
    model = TrueModel.from_seed(settings.n_features)
    size = settings.rows * (settings.n_features + 1) * BYTES_PER_VALUE
    counts = ", ".join(map(str, settings.workers))
    report(f"1. Time per EM iteration: in memory, and on {counts} worker processes")
    report(
        f"  {settings.rows:,} rows x {settings.n_features} features (X and y "
        f"{size / 1e6:,.0f} MB), {N_EXPERTS} experts, {len(chunks)} row chunks of "
        f"{chunk_rows:,} rows; per iteration: (fit of {long} - fit of {short} "
        f"iterations) / {long - short}, tol=0, {settings.repeats} repeats"
    )
    memory, reference = _in_memory(settings, model, chunks)
    report(f"  in memory (this process):    {spread(memory)} per iteration")
    report(
        "    workers   per iteration                fit of "
        f"{short} (setup included)     vs 1 worker   vs in memory   passes   "
        f"log-likelihood gap"
    )
    medians = {}
    for n_workers in settings.workers:
        per_iteration, fitted, short_times = _on_cluster(
            settings, model, chunks, n_workers
        )
        medians[n_workers] = statistics.median(per_iteration)
        speedup = f"{medians[1] / medians[n_workers]:.2f}x" if 1 in medians else "-"
        report(
            f"    {n_workers:7d}   {spread(per_iteration)}   {spread(short_times)}"
            f"   {speedup:>11s}   "
            f"{medians[n_workers] / statistics.median(memory):11.2f}x   "
            f"{fitted.passes or '-':>6}   "
            f"{abs(fitted.log_likelihood - reference):.1e}"
        )
    _implications(settings, medians, statistics.median(memory))


def _in_memory(settings, model, chunks):
    """The in-memory timings and the long fit's log-likelihood."""
    X, y, init = in_memory(model, chunks)
    per_iteration, fitted, _ = _per_iteration(
        lambda max_iter: in_memory_fit(X, y, init, max_iter), settings
    )
    return per_iteration, fitted.log_likelihood


def _on_cluster(settings, model, chunks, n_workers):
    """The timings on a fresh cluster of ``n_workers``, the data persisted on it."""
    with local_cluster(n_workers) as cluster, Client(cluster) as client:
        warm_up(client, n_workers)
        X, y = client.persist(list(generated_arrays(model, chunks)))
        wait([X, y])
        return _per_iteration(
            lambda max_iter: fit_on_cluster(client, X, y, max_iter), settings
        )


def _implications(settings, medians, memory):
    """What the figures say on this machine, and what they cannot."""
    cores = os.cpu_count()
    report(f"  on this machine ({cores} cores):")
    if 1 in medians:
        report(
            f"    one worker against in memory: {medians[1] / memory:.2f}x the time "
            f"per iteration, the same arithmetic on one core: the cost of the "
            f"passes (scheduling, the model sent, the sums gathered) and of "
            f"recomputing per chunk what the in-memory fit keeps"
        )
    for n_workers, median in medians.items():
        if n_workers == 1 or 1 not in medians:
            continue
        speedup = medians[1] / median
        if n_workers <= cores:
            report(
                f"    {n_workers} workers: {speedup:.2f}x one worker's speed "
                f"(at most {n_workers}x on {n_workers} free cores; the machine is "
                f"shared, see the load average)"
            )
        else:
            report(
                f"    {n_workers} workers: {speedup:.2f}x one worker's speed, with "
                f"{n_workers} processes on {cores} cores: oversubscribed, so this "
                f"measures the processes taking turns, not scaling"
            )
    report(
        "    nothing here measures more cores or machines than this one has; the "
        "figures are not projected"
    )


def _add_options(parser):
    parser.add_argument(
        "--rows",
        type=int,
        help=f"default: {FULL.rows:,} ({QUICK.rows:,} with --quick)",
    )
    parser.add_argument(
        "--chunks", type=int, help=f"row chunks; default: {FULL.n_chunks}"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        help="worker processes, one cluster each; default: 1 2 4",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        nargs=2,
        metavar=("SHORT", "LONG"),
        help=f"the two fits' max_iter; default: {' '.join(map(str, FULL.iterations))}"
        f" ({' '.join(map(str, QUICK.iterations))} with --quick)",
    )
    parser.add_argument("--repeats", type=int, help=f"default: {FULL.repeats}")


def settings_from(args):
    """The settings of the command line; quick unless the sizes are the full ones."""
    settings = QUICK if args.quick else FULL
    given = {
        "rows": args.rows,
        "n_chunks": args.chunks,
        "workers": tuple(args.workers) if args.workers else None,
        "iterations": tuple(args.iterations) if args.iterations else None,
        "repeats": args.repeats,
    }
    settings = replace(settings, **{k: v for k, v in given.items() if v is not None})
    return replace(settings, quick=replace(settings, quick=False) != FULL)


BENCHMARKS = {1: bench_scaling}


def main(argv=None):
    args, selected = parse(argv, __doc__, BENCHMARKS, _add_options)
    settings = settings_from(args)
    output = results_file(args.output, "distributed_scaling", settings.quick)
    versions = f", dask {dask.__version__}, distributed {distributed.__version__}"
    run(
        "distributed scaling", BENCHMARKS, selected, settings, output, versions=versions
    )


if __name__ == "__main__":
    sys.exit(main())
