"""What every benchmark script shares: its report, timings, header and main loop.

The scripts run as ``python benchmarks/bench_<name>.py``, which puts this folder
on the import path.
"""

import argparse
import gc
import os
import platform
import statistics
import subprocess
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numba
import numpy as np
import scipy
import sklearn
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

import skmoe

HERE = Path(__file__).resolve().parent
_LINES = []


def report(line=""):
    """Print ``line`` and keep it for the results file."""
    print(line, flush=True)
    _LINES.append(line)


def time_calls(function, repeats):
    """Wall-clock seconds of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def spread(times):
    """``median (min-max)`` in s, or ms when the median is under a second."""
    median = statistics.median(times)
    scale, unit = (1e3, "ms") if median < 1 else (1.0, "s")
    return (
        f"{median * scale:8.3f} {unit:2s} "
        f"({min(times) * scale:.3f}-{max(times) * scale:.3f})"
    )


def verdict(met, settings):
    text = "met" if met else "NOT MET"
    return text + (" (quick sizes, not the target's)" if settings.quick else "")


def quiet_fit(model, X, y, **fit_params):
    """``model.fit`` without its ConvergenceWarning (the reports say converged)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def kmeans_labels(X, target_columns, n_experts, random_state=0):
    """skmoe's first-restart labels: k-means on the standardised inputs and target.

    The same steps and seed as ``init="kmeans"`` with ``random_state`` and unit
    weights; ``target_columns`` is what the family clusters for ``y``.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=1)
    points = StandardScaler().fit_transform(np.column_stack([X, target_columns]))
    kmeans = KMeans(n_clusters=n_experts, n_init=1, random_state=seed[0])
    return kmeans.fit(points).labels_


def _git_state():
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "skmoe"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with uncommitted changes in skmoe/" if dirty else "")


def run(title, benchmarks, selected, settings, output, warm_up=None, versions=""):
    """Run the ``selected`` benchmarks after a header, and write the results."""
    report(
        f"skmoe {title} benchmarks, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
        f"UTC, {'QUICK smoke-test sizes' if settings.quick else 'full sizes'}"
    )
    report(f"benchmarks run: {', '.join(str(number) for number in selected)}")
    report(
        f"skmoe {skmoe.__version__} at commit {_git_state()}; python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, scikit-learn {sklearn.__version__}, numba "
        f"{numba.__version__}{versions}"
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    report(f"{platform.machine()}, {os.cpu_count()} cores, load average {load}")
    report("timings: wall clock, median (min-max) over repeats")
    if warm_up is not None:
        report(f"warm-up fits (numba kernels loaded): {warm_up():.2f} s")
    for number in selected:
        report()
        start = time.perf_counter()
        benchmarks[number](settings)
        report(f"  ({time.perf_counter() - start:.1f} s for this benchmark)")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    report(f"\nload average at the end: {load}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(_LINES) + "\n")
    print(f"written to {output}")


def command_line(argv, description, benchmarks, results):
    """Parse ``--quick``, ``--only`` and ``--output``: whether the sizes are quick,
    the benchmarks to run, and the results file (``results/<results>.txt``, or
    ``<results>_quick.txt``, so that a smoke test never overwrites the figures)."""
    args, selected = parse(argv, description, benchmarks)
    return args.quick, selected, results_file(args.output, results, args.quick)


def parse(argv, description, benchmarks, add_options=None):
    """The parsed command line and the benchmarks selected; ``add_options(parser)``
    adds a script's own options to ``--quick``, ``--only`` and ``--output``."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and one repeat: smoke test"
    )
    parser.add_argument(
        "--only",
        type=int,
        nargs="+",
        choices=sorted(benchmarks),
        metavar="N",
        help=f"run only these benchmarks (1-{max(benchmarks)})",
    )
    parser.add_argument("--output", type=Path, help="results file to write")
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args(argv)
    return args, sorted(set(args.only or benchmarks))


def results_file(output, results, quick):
    """``output`` if given, else ``results/<results>.txt`` (``_quick.txt`` if quick)."""
    name = f"{results}_quick.txt" if quick else f"{results}.txt"
    return output or HERE / "results" / name
