"""EM against CEM and mini-batch gradient training, and mini-batch memory on a memmap.

Run from the repository root, alone on a quiet machine::

    python benchmarks/bench_solvers.py           # the full suite
    python benchmarks/bench_solvers.py --quick   # tiny sizes: a smoke test

The figures are printed and written to ``benchmarks/results/solvers.txt``
(``solvers_quick.txt`` with ``--quick``). Timings are wall-clock seconds, median
(min-max) over repeats.

1. Mean log-likelihood and fit time of ``solver="em"``, ``"cem"`` and
   ``"gradient"`` on the data of ``bench_performance.py``'s EM comparison
   (``make_moe_regression(100_000, n_features=5, n_experts=4, random_state=0)``),
   linear experts, ``n_init=1``, ``random_state=0`` (so EM and CEM start from the
   same k-means responsibilities; the gradient solver runs k-means on its first
   batch). EM and CEM stop at ``tol=1e-5``; the gradient solver runs at most 20
   epochs with the default ``batch_size`` (256) and ``learning_rate``, and stops
   when an epoch's mean log-likelihood changes by less than ``1e-4``. Every
   log-likelihood is the final model's over all rows (``log_likelihood_``).
   Targets: gradient within 1% of EM, CEM within 3% (relative to EM's |mean
   log-likelihood|).
2. Peak memory of one epoch of ``solver="gradient"`` (``batch_size=10_000``) on a
   ``numpy.memmap`` of 10,000,000 rows x 5 features (400 MB on disk; y in memory),
   in a fresh process, over the baseline after the data is mapped and the code warm:
   tracemalloc's peak (NumPy's allocations, exact) and the peak of the anonymous
   resident memory (``RssAnon`` of ``/proc/self/status``, sampled every 2 ms; the
   mapped file's pages are file-backed, which ``ru_maxrss`` would count as they are
   read). Against one batch, ``batch_size * (n_features + 1) * 8`` bytes (its rows
   of X and y). Target: a small multiple.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning

import skmoe
from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

HERE = Path(__file__).resolve().parent
_LINES = []


def report(line=""):
    """Print ``line`` and keep it for the results file."""
    print(line, flush=True)
    _LINES.append(line)


def _spread(times):
    median = statistics.median(times)
    return f"{median:7.2f} s ({min(times):.2f}-{max(times):.2f})"


# ---- 1. log-likelihood of the three solvers

SOLVERS = {
    "em": {"solver": "em"},
    "cem": {"solver": "cem"},
    "gradient": {"solver": "gradient", "max_iter": 20, "tol": 1e-4},
}


def bench_log_likelihood(n_samples, repeats):
    X, y = make_moe_regression(n_samples, n_features=5, n_experts=4, random_state=0)
    report(
        f"[1] mean log-likelihood by solver, n={n_samples:,}, d=5, K=4, linear "
        f"experts, n_init=1, random_state=0 ({repeats} fits each)"
    )
    results = {}
    for name, params in SOLVERS.items():
        model = MixtureOfExpertsRegressor(n_experts=4, n_init=1, random_state=0)
        model.set_params(**params)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
            times.append(time.perf_counter() - start)
        results[name] = model.log_likelihood_
        steps = "epochs" if name == "gradient" else "iterations"
        report(
            f"  {name:9s} mean log-lik {model.log_likelihood_:.6f}  "
            f"{model.n_iter_:3d} {steps:10s} converged={model.converged_!s:5s} "
            f" fit {_spread(times)}"
        )
    em = results["em"]
    for name, target in (("gradient", 0.01), ("cem", 0.03)):
        gap = (em - results[name]) / abs(em)
        verdict = "met" if gap <= target else "NOT MET"
        report(
            f"  {name} vs EM: relative gap {gap:+.4%} (EM higher is positive), "
            f"target <= {target:.0%}: {verdict}"
        )


# ---- 2. memory of mini-batch training on a memmap

_MEMORY_CHILD = r"""
import json, resource, sys, threading, time, tracemalloc, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from skmoe import MixtureOfExpertsRegressor

path, batch_size = sys.argv[1], int(sys.argv[2])
X = np.load(path + "/X.npy", mmap_mode="r")
y = np.load(path + "/y.npy")
model = MixtureOfExpertsRegressor(
    n_experts=4, n_init=1, solver="gradient", batch_size=batch_size, max_iter=1,
    random_state=0,
)

def anon_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

warnings.simplefilter("ignore", ConvergenceWarning)
model.fit(X[:50_000], y[:50_000])  # numba, lazy imports: not part of the figure
peak = baseline = anon_kib()
done = threading.Event()

def sample():
    global peak
    while not done.is_set():
        peak = max(peak, anon_kib())
        time.sleep(0.002)

sampler = threading.Thread(target=sample)
sampler.start()
tracemalloc.start()
start = time.perf_counter()
model.fit(X, y)
seconds = time.perf_counter() - start
traced_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
done.set()
sampler.join()
print(json.dumps({
    "traced_peak": traced_peak,
    "anon_peak_delta": (peak - baseline) * 1024,
    "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "seconds": seconds,
    "log_likelihood": model.log_likelihood_,
}))
"""


def _write_memmap(directory, n_samples, n_features, chunk=1_000_000):
    """``make_moe_regression``'s model, drawn chunk by chunk into ``X.npy``."""
    _, _, params = make_moe_regression(
        10, n_features=n_features, n_experts=4, random_state=0, return_params=True
    )
    X = np.lib.format.open_memmap(
        directory / "X.npy", "w+", np.float64, (n_samples, n_features)
    )
    y = np.empty(n_samples)
    rng = np.random.RandomState(1)
    for start in range(0, n_samples, chunk):
        rows = slice(start, min(start + chunk, n_samples))
        X_chunk = rng.standard_normal((rows.stop - rows.start, n_features))
        logits = X_chunk @ params.gate_coef.T + params.gate_intercept
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        cumulative = np.cumsum(proba / proba.sum(axis=1, keepdims=True), axis=1)
        labels = (rng.uniform(size=(len(X_chunk), 1)) > cumulative).sum(axis=1)
        labels = np.minimum(labels, 3)
        y[rows] = np.einsum("ij,ij->i", X_chunk, params.coef[labels])
        y[rows] += params.intercept[labels] + 0.5 * rng.standard_normal(len(X_chunk))
        X[rows] = X_chunk
    X.flush()
    del X
    np.save(directory / "y.npy", y)


def bench_memmap_memory(n_samples, batch_size):
    n_features = 5
    report(
        f"[2] peak memory, solver='gradient', one epoch, batch_size={batch_size:,}, "
        f"X a numpy.memmap of {n_samples:,} x {n_features} "
        f"({n_samples * n_features * 8 / 2**20:,.0f} MiB on disk), fresh process"
    )
    with tempfile.TemporaryDirectory() as directory:
        _write_memmap(Path(directory), n_samples, n_features)
        done = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, directory, str(batch_size)],
            capture_output=True,
            text=True,
            check=True,
        )
        head = slice(0, 100_000)
        X_head = np.load(Path(directory) / "X.npy", mmap_mode="r")[head]
        y_head = np.load(Path(directory) / "y.npy", mmap_mode="r")[head]
        em = MixtureOfExpertsRegressor(n_experts=4, n_init=1, random_state=0)
        em_log_likelihood = em.fit(np.array(X_head), np.array(y_head)).log_likelihood_
    result = json.loads(done.stdout.splitlines()[-1])
    batch = batch_size * (n_features + 1) * 8
    mib = 2.0**20
    report(f"  one batch (batch_size * (d + 1) * 8 bytes):  {batch / mib:8.2f} MiB")
    for key, label in (
        ("traced_peak", "tracemalloc peak (NumPy, exact)"),
        ("anon_peak_delta", "peak RssAnon increase (sampled)"),
    ):
        report(
            f"  {label}: {result[key] / mib:8.2f} MiB = "
            f"{result[key] / batch:5.1f}x one batch"
        )
    report(
        f"  (ru_maxrss {result['maxrss'] / mib:,.0f} MiB counts the mapped file's "
        f"pages as they are read; y, {n_samples * 8 / mib:,.0f} MiB, is in memory "
        "before the baseline)"
    )
    report(
        f"  epoch plus final log-likelihood pass: {result['seconds']:.1f} s, "
        f"mean log-lik {result['log_likelihood']:.6f} (EM on the first 100,000 "
        f"rows, on those rows: {em_log_likelihood:.6f})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    args = parser.parse_args(argv)
    n_fit, repeats, n_memmap = (
        (5_000, 1, 200_000) if args.quick else (100_000, 3, 10_000_000)
    )
    report(f"skmoe solver benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    report(
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, skmoe {skmoe.__version__}, {platform.machine()}"
    )
    report()
    bench_log_likelihood(n_fit, repeats)
    report()
    bench_memmap_memory(n_memmap, 10_000)
    name = "solvers_quick.txt" if args.quick else "solvers.txt"
    (HERE / "results" / name).write_text("\n".join(_LINES) + "\n")


if __name__ == "__main__":
    main()
