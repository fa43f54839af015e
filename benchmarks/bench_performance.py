"""Speed and memory of skmoe's EM against plain NumPy/SciPy, numba, flexmix and sklearn.

Run from the repository root, alone on a quiet machine::

    python benchmarks/bench_performance.py            # the full suite
    python benchmarks/bench_performance.py --only 1 2 # a subset, by number
    python benchmarks/bench_performance.py --quick    # tiny sizes: a smoke test

The figures are printed and written to ``benchmarks/results/performance.txt``
(``performance_quick.txt`` with ``--quick``, so a smoke test never overwrites the
real figures). Timings are wall-clock seconds, median (min-max) over repeats.
``--quick`` sizes say nothing about the targets. "The same log-likelihood" means
mean log-likelihoods per sample within 1e-6, a tenth of the EM tolerance.

1. EM fit, linear experts, n = 100,000, d = 5, K = 4 (``make_moe_regression``):
   ``MixtureOfExpertsRegressor(n_experts=4, n_init=1)`` against a vectorised
   NumPy/SciPy EM written here (weighted ``lstsq`` per expert, Gaussian noise per
   expert, ``logsumexp`` E-step, softmax gate on soft targets by L-BFGS-B with an
   analytic gradient and skmoe's penalty convention, warm-started). Both start from
   the same k-means responsibilities (skmoe's own first-restart initialisation), use
   ``tol=1e-5`` on the change of the penalised mean log-likelihood and the same
   ``max_iter``; both run with BLAS on one thread, as skmoe's EM does. Target:
   skmoe >= 20x faster, at the same or a better log-likelihood.
2. The fused E-step kernel at n = 1,000,000, K = 8 on precomputed logits and expert
   log-likelihoods: ``skmoe._kernels.e_step`` against a minimal serial numba kernel
   doing the same arithmetic. Target: skmoe within 1.5x of it.
3. The EM of (1) against R's flexmix (``FLXMRglm(family="gaussian")`` experts,
   ``FLXPmultinom`` concomitant gate) through ``Rscript benchmarks/flexmix_fit.R``,
   timing the fit inside R. flexmix starts from the same k-means partition
   (``cluster=``) and keeps every component (``minprior=0``). flexmix stops on
   ``|dL| / (|L| + 0.1) < tolerance`` with ``L`` the total log-likelihood; the
   tolerance passed is ``1e-5 / (|l| + 0.1 / n)`` with ``l`` skmoe's final mean
   log-likelihood, which is skmoe's ``|dl| < 1e-5`` at that optimum. Target: skmoe
   >= 100x faster, at the same or a better log-likelihood. Skipped without
   ``Rscript`` and flexmix (``apt-get install r-base-core r-cran-flexmix``).
4. Logistic experts, n = 100,000, d = 10, 3 classes, K = 4
   (``make_moe_classification``): a whole ``MixtureOfExpertsClassifier(n_experts=4,
   n_init=1)`` fit against one ``LogisticRegression()`` fit. Target: <= 15x.
5. Peak memory of a fit (n = 1,000,000, d = 10, K = 8, linear experts, ``n_init=1``,
   ``max_iter=5``) in a fresh process, over the baseline after the data exists:
   tracemalloc's peak (NumPy's allocations) and the peak RSS (``ru_maxrss``, its
   high-water mark reset after the data is made), against ``n*d*8 + n*K*8`` bytes
   (X and the responsibilities). Target: <= 3x. The same for float32 X, against
   ``n*d*4 + n*K*8`` bytes.
6. First-call cost in fresh processes: ``import skmoe`` and the first and second
   small fit (n = 1000) in one process, with the numba cache warm; the cold-cache
   run (an empty ``NUMBA_CACHE_DIR``) that warms it is shown too. No target.
7. Scaling: the fit of (1) at n = 10^4, 10^5, 10^6 with ``max_iter=10, tol=0``
   (same start as (1)): seconds per iteration and per iteration and row, which stay
   flat if a fit is linear in n. No target.
"""

import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from _harness import (
    HERE,
    command_line,
    kmeans_labels,
    quiet_fit,
    report,
    run,
    spread,
    time_calls,
    verdict,
)
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._kernels import e_step
from skmoe.datasets import make_moe_classification, make_moe_regression

TOL = 1e-5
MAX_ITER = 200
GATE_ALPHA = 1e-6
# "The same log-likelihood": mean log-likelihoods per sample within this, a tenth
# of the EM tolerance (two EMs stopped by the same tol differ by about that much).
LL_SLACK = 1e-6


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats of one run of the suite."""

    em_n: int = 100_000
    estep_n: int = 1_000_000
    flexmix_n: int = 100_000
    clf_n: int = 100_000
    memory_n: int = 1_000_000
    first_call_n: int = 1_000
    scaling_n: tuple = (10_000, 100_000, 1_000_000)
    fit_repeats: int = 3
    kernel_repeats: int = 7
    flexmix_repeats: int = 3
    process_repeats: int = 3
    quick: bool = False


QUICK = Settings(
    em_n=5_000,
    estep_n=20_000,
    flexmix_n=5_000,
    clf_n=5_000,
    memory_n=20_000,
    first_call_n=1_000,
    scaling_n=(2_000, 5_000, 20_000),
    fit_repeats=1,
    kernel_repeats=1,
    flexmix_repeats=1,
    process_repeats=1,
    quick=True,
)

# ---- reporting and timing


# ---- data and the shared start


def _kmeans_responsibilities(X, y, n_experts, random_state=0):
    """skmoe's first-restart start: k-means on the standardised ``[X, y]``.

    The same steps and seed as ``init="auto"`` with ``random_state``, so the fits
    below start where skmoe's default fit starts.
    """
    return np.eye(n_experts)[kmeans_labels(X, y, n_experts, random_state)]


@functools.cache
def _regression_problem(n_samples, n_features=5, n_experts=4):
    X, y = make_moe_regression(
        n_samples, n_features=n_features, n_experts=n_experts, random_state=0
    )
    return X, y, _kmeans_responsibilities(X, y, n_experts)


@functools.cache
def _skmoe_em(n_samples, repeats, init_size="auto"):
    """Timings and fitted model of skmoe's EM from the shared start (1 and 3).

    By default EM starts on a subsample of the rows; ``init_size=None`` runs it on
    all rows from the start, the same algorithm as the references.
    """
    X, y, init = _regression_problem(n_samples)
    model = MixtureOfExpertsRegressor(
        n_experts=init.shape[1],
        n_init=1,
        init=init,
        init_size=init_size,
        tol=TOL,
        max_iter=MAX_ITER,
        random_state=0,
    )
    return time_calls(lambda: quiet_fit(model, X, y), repeats)


def _report_skmoe_fits(n_samples, settings, reference_times, reference_ll, target):
    """skmoe's default fit and its all-rows EM against a reference, and verdicts.

    The target is ``target`` times faster at the same or a better log-likelihood.
    """
    ratios = {}
    for init_size, name in (("auto", "skmoe"), (None, "skmoe, init_size=None")):
        times, model = _skmoe_em(n_samples, settings.fit_repeats, init_size)
        ratio = statistics.median(reference_times) / statistics.median(times)
        gap = model.log_likelihood_ - reference_ll
        ratios[init_size] = ratio, gap
        report(
            f"  {name:22s} {spread(times)}  {model.n_iter_:3d} iterations "
            f"converged={model.converged_}  mean log-lik "
            f"{model.log_likelihood_:.8f}  {ratio:6.2f}x faster, log-lik "
            f"{gap:+.1e} ({'ok' if gap >= -LL_SLACK else 'WORSE'})"
        )
    for init_size, (ratio, gap) in ratios.items():
        met = ratio >= target and gap >= -LL_SLACK
        report(
            f"  init_size={init_size!r}: target >= {target}x at the same or a "
            f"better log-lik (>= -{LL_SLACK:g}): {verdict(met, settings)}"
        )


# ---- the NumPy/SciPy reference EM (benchmark 1)


def _reference_gate_objective(flat, design, targets, alpha):
    """Mean cross-entropy of the softmax gate on soft targets, plus the penalty.

    ``design`` is ``[standardised X, 1]``; the last column of the parameters is the
    intercept, which is not penalised. Returns the value and its gradient.
    """
    params = flat.reshape(targets.shape[1], design.shape[1])
    logits = design @ params.T
    normalizer = logsumexp(logits, axis=1)
    coef = params[:, :-1]
    n_samples = design.shape[0]
    value = (normalizer.sum() - np.sum(targets * logits)) / n_samples
    value += 0.5 * alpha * np.sum(coef * coef)
    residual = np.exp(logits - normalizer[:, None])
    residual -= targets
    grad = residual.T @ design / n_samples
    grad[:, :-1] += alpha * coef
    return value, grad.ravel()


def _reference_em(X, y, init, tol=TOL, max_iter=MAX_ITER, alpha=GATE_ALPHA):
    """EM for a mixture of linear experts with a softmax gate, in NumPy/SciPy.

    The same model, start, penalty and stopping rule as skmoe's EM; returns the
    final mean log-likelihood, the iterations run and whether ``tol`` was met.
    """
    n_samples, n_experts = init.shape
    design = np.column_stack([X, np.ones(n_samples)])
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 1e-12 * (1.0 + np.abs(mean)), scale, 1.0)
    gate_design = np.column_stack([(X - mean) / scale, np.ones(n_samples)])
    variance_floor = 1e-6 * (np.var(y) or 1.0)
    gate_params = np.zeros(n_experts * gate_design.shape[1])
    resp = init
    previous, converged, n_iter = None, False, 0
    while n_iter < max_iter and not converged:
        n_iter += 1
        # M-step: weighted least squares and noise variance per expert, then gate.
        means = np.empty((n_samples, n_experts))
        for k in range(n_experts):
            root = np.sqrt(resp[:, k])
            coef = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
            means[:, k] = design @ coef
        squared = (y[:, None] - means) ** 2
        variances = np.einsum("ik,ik->k", resp, squared) / resp.sum(axis=0)
        variances = np.maximum(variances, variance_floor)
        gate_params = minimize(
            _reference_gate_objective,
            gate_params,
            args=(gate_design, resp, alpha),
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-6},
        ).x
        # E-step.
        params = gate_params.reshape(n_experts, -1)
        logits = gate_design @ params.T
        log_gate = logits - logsumexp(logits, axis=1, keepdims=True)
        log_expert = -0.5 * np.log(2 * np.pi * variances) - squared / (2 * variances)
        joint = log_gate + log_expert
        log_prob = logsumexp(joint, axis=1, keepdims=True)
        resp = np.exp(joint - log_prob)
        log_likelihood = log_prob.mean()
        objective = log_likelihood - 0.5 * alpha * np.sum(params[:, :-1] ** 2)
        converged = previous is not None and abs(objective - previous) < tol
        previous = objective
    return log_likelihood, n_iter, converged


def bench_em_reference(settings):
    """1. skmoe's EM against the NumPy/SciPy EM above."""
    n = settings.em_n
    X, y, init = _regression_problem(n)
    report(
        f"[1] EM fit, linear experts, n={n:,}, d=5, K=4, same k-means start, "
        f"tol={TOL:g}, max_iter={MAX_ITER}, BLAS on 1 thread for both"
    )

    def reference():
        with threadpool_limits(1, user_api="blas"):
            return _reference_em(X, y, init)

    ref_times, (ref_ll, ref_iter, ref_converged) = time_calls(
        reference, settings.fit_repeats
    )
    report(
        f"  {'numpy/scipy':22s} {spread(ref_times)}  {ref_iter:3d} iterations "
        f"converged={ref_converged}  mean log-lik {ref_ll:.8f}"
    )
    _report_skmoe_fits(n, settings, ref_times, ref_ll, target=20)
    report(
        "  (skmoe's default starts EM on 10,000 of the rows, then runs it on all; "
        "init_size=None runs the references' algorithm. The reference solves the "
        "gate to gtol=1e-6 each M-step; skmoe's gate takes one Newton step, so the "
        "iterations differ)"
    )


# ---- the E-step kernel (benchmark 2)


@numba.njit
def _minimal_e_step(logits, log_likelihood, responsibilities, log_prob):
    """Serial fused E-step: log-softmax, add, logsumexp, normalise; nothing else."""
    n_samples, n_experts = logits.shape
    for i in range(n_samples):
        top = logits[i, 0]
        joint_top = logits[i, 0] + log_likelihood[i, 0]
        for k in range(1, n_experts):
            top = max(top, logits[i, k])
            joint_top = max(joint_top, logits[i, k] + log_likelihood[i, k])
        gate_total = 0.0
        joint_total = 0.0
        for k in range(n_experts):
            gate_total += np.exp(logits[i, k] - top)
            weight = np.exp(logits[i, k] + log_likelihood[i, k] - joint_top)
            responsibilities[i, k] = weight
            joint_total += weight
        log_prob[i] = joint_top + np.log(joint_total) - top - np.log(gate_total)
        for k in range(n_experts):
            responsibilities[i, k] /= joint_total


def bench_e_step(settings):
    """2. skmoe's fused E-step kernel against a minimal numba kernel."""
    n, n_experts = settings.estep_n, 8
    report(
        f"[2] E-step kernel, n={n:,}, K={n_experts}, precomputed inputs, one thread "
        "(skmoe: numba row passes around NumPy's vectorised exp, by blocks of rows)"
    )
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((n, n_experts))
    log_likelihood = rng.standard_normal((n, n_experts)) - 2.0
    resp = {name: np.empty((n, n_experts)) for name in ("skmoe", "minimal")}
    log_prob = {name: np.empty(n) for name in ("skmoe", "minimal")}
    kernels = {"skmoe": e_step, "minimal": _minimal_e_step}
    times = {}
    for name, kernel in kernels.items():
        kernel(logits[:10], log_likelihood[:10], resp[name][:10], log_prob[name][:10])
        times[name], _ = time_calls(
            lambda kernel=kernel, name=name: kernel(
                logits, log_likelihood, resp[name], log_prob[name]
            ),
            settings.kernel_repeats,
        )
    labels = {"skmoe": "skmoe e_step", "minimal": "minimal numba"}
    for name in kernels:
        per_row = statistics.median(times[name]) / n * 1e9
        report(f"  {labels[name]:14s} {spread(times[name])}  {per_row:5.1f} ns/row")
    agree = np.allclose(resp["skmoe"], resp["minimal"]) and np.allclose(
        log_prob["skmoe"], log_prob["minimal"]
    )
    report(f"  outputs agree: {agree}")
    ratio = statistics.median(times["skmoe"]) / statistics.median(times["minimal"])
    report(
        f"  skmoe / minimal {ratio:.2f}x   target <= 1.5x: "
        f"{verdict(ratio <= 1.5, settings)}"
    )


# ---- flexmix (benchmark 3)


def _flexmix_available(rscript):
    check = 'quit(status = !requireNamespace("flexmix", quietly = TRUE))'
    return subprocess.run([rscript, "-e", check], capture_output=True).returncode == 0


def _run_flexmix(rscript, csv, n_experts, labels, tolerance):
    command = [
        rscript,
        str(HERE / "flexmix_fit.R"),
        str(csv),
        str(n_experts),
        str(labels),
        f"{tolerance:.17g}",
        str(MAX_ITER),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("seconds=")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"flexmix_fit.R failed:\n{done.stderr[-2000:]}")
    return dict(re.findall(r"(\S+)=(\S+)", lines[-1]))


def bench_flexmix(settings):
    """3. skmoe's EM against R's flexmix from the same partition."""
    n = settings.flexmix_n
    report(f"[3] EM fit against R flexmix, n={n:,}, d=5, K=4, same k-means start")
    rscript = shutil.which("Rscript")
    if rscript is None or not _flexmix_available(rscript):
        report(
            "  skipped: Rscript or the flexmix package is missing "
            "(apt-get install r-base-core r-cran-flexmix)"
        )
        return
    X, y, init = _regression_problem(n)
    _, model = _skmoe_em(n, settings.fit_repeats, None)
    # skmoe stops on |d mean loglik| < TOL; flexmix on |dL| / (|L| + 0.1) < tol
    # with L = n * mean loglik: equal at skmoe's optimum for this tolerance.
    tolerance = TOL / (abs(model.log_likelihood_) + 0.1 / n)
    with tempfile.TemporaryDirectory() as tmp:
        csv, labels = Path(tmp) / "data.csv", Path(tmp) / "labels.txt"
        header = ",".join(["y"] + [f"x{j + 1}" for j in range(X.shape[1])])
        np.savetxt(
            csv,
            np.column_stack([y, X]),
            delimiter=",",
            header=header,
            comments="",
            fmt="%.17g",
        )
        np.savetxt(labels, init.argmax(axis=1) + 1, fmt="%d")
        runs = [
            _run_flexmix(rscript, csv, init.shape[1], labels, tolerance)
            for _ in range(settings.flexmix_repeats)
        ]
    flexmix_times = [float(run["seconds"]) for run in runs]
    run = runs[-1]
    flexmix_ll = float(run["loglik"]) / n
    report(
        f"  flexmix {run['flexmix']} on R {run['R']} ({run['blas']}): control "
        f"iter.max={MAX_ITER}, tolerance={tolerance:.3g} (relative), minprior=0; "
        "cluster = the k-means labels"
    )
    report(
        f"  {'flexmix':22s} {spread(flexmix_times)}  {int(run['iter']):3d} "
        f"iterations converged={run['converged'] == '1'}  mean log-lik "
        f"{flexmix_ll:.8f}  (k={run['k']}; R's proc.time around flexmix())"
    )
    _report_skmoe_fits(n, settings, flexmix_times, flexmix_ll, target=100)


# ---- logistic experts (benchmark 4)


def bench_classifier(settings):
    """4. A whole classifier MoE fit against one LogisticRegression fit.

    EM with logistic experts has local optima that the start decides, so the fit
    of ``random_state=0`` is timed, then one fit of each of five seeds shows where
    the default and the all-rows EM (``init_size=None``) end.
    """
    n = settings.clf_n
    report(
        f"[4] logistic experts, n={n:,}, d=10, 3 classes, K=4: whole MoE fit "
        "(k-means start included) vs one LogisticRegression()"
    )
    X, y = make_moe_classification(
        n, n_features=10, n_experts=4, n_classes=3, random_state=0
    )
    logistic_times, _ = time_calls(
        lambda: quiet_fit(LogisticRegression(), X, y), settings.fit_repeats
    )
    report(f"  {'LogisticRegression()':28s} {spread(logistic_times)}")

    def moe(init_size, seed):
        return MixtureOfExpertsClassifier(
            n_experts=4, n_init=1, init_size=init_size, random_state=seed
        )

    ratios = {}
    for init_size in ("auto", None):
        model = moe(init_size, 0)
        times, model = time_calls(
            functools.partial(quiet_fit, model, X, y), settings.fit_repeats
        )
        ratios[init_size] = statistics.median(times) / statistics.median(logistic_times)
        report(
            f"  {'MoE, init_size=' + repr(init_size):28s} {spread(times)}  "
            f"{model.n_iter_:3d} iterations converged={model.converged_}  mean "
            f"log-lik {model.log_likelihood_:.5f}  {ratios[init_size]:6.2f}x"
        )
    report(
        f"  MoE / LogisticRegression {ratios['auto']:.2f}x (all rows: "
        f"{ratios[None]:.2f}x)   target <= 15x: "
        f"{verdict(ratios['auto'] <= 15, settings)}"
    )
    seeds = range(5)
    ends = {
        init_size: [
            time_calls(functools.partial(quiet_fit, moe(init_size, seed), X, y), 1)
            for seed in seeds
        ]
        for init_size in ("auto", None)
    }
    best = max(fit.log_likelihood_ for runs in ends.values() for _, fit in runs)
    for init_size, runs in ends.items():
        seconds = statistics.median(times[0] for times, _ in runs)
        log_liks = [fit.log_likelihood_ for _, fit in runs]
        at_best = sum(value > best - 1e-3 for value in log_liks)
        report(
            f"  random_state 0-4, init_size={init_size!r}: median "
            f"{seconds:.2f} s ({seconds / statistics.median(logistic_times):.1f}x), "
            f"{at_best}/5 within 1e-3 of the best log-lik {best:.5f}; log-liks "
            + " ".join(f"{value:.4f}" for value in log_liks)
        )


# ---- peak memory (benchmark 5)

_MEMORY_CHILD = """
import gc, json, resource, sys, tracemalloc, warnings
from sklearn.exceptions import ConvergenceWarning
from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

n, d, k, max_iter = map(int, sys.argv[1:5])
dtype = sys.argv[5]

def fit(X, y, max_iter):
    model = MixtureOfExpertsRegressor(
        n_experts=k, n_init=1, max_iter=max_iter, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)

fit(*make_moe_regression(2000, n_features=d, n_experts=k, random_state=0), 2)
X, y = make_moe_regression(n, n_features=d, n_experts=k, random_state=0)
X = X.astype(dtype)
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # the peak RSS restarts from the current RSS
    reset = True
except OSError:
    reset = False
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
fit(X, y, max_iter)
traced_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "traced_peak": traced_peak, "maxrss_delta": (after - before) * 1024,
    "maxrss_before": before * 1024, "reset": reset,
}))
"""


def bench_memory(settings):
    """5. Peak memory of a fit in a fresh process, against X + responsibilities."""
    n, d, k, max_iter = settings.memory_n, 10, 8, 5
    report(
        f"[5] peak memory of a fit, n={n:,}, d={d}, K={k}, n_init=1, "
        f"max_iter={max_iter} (k-means start included), fresh process"
    )
    mib = 2.0**20
    for dtype, x_bytes in (("float64", 8), ("float32", 4)):
        args = [str(value) for value in (n, d, k, max_iter)]
        done = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, *args, dtype],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout.splitlines()[-1])
        reference = n * d * x_bytes + n * k * 8
        report(
            f"  {dtype} X: X + responsibilities (n*d*{x_bytes} + n*K*8): "
            f"{reference / mib:8.1f} MiB"
        )
        for key, label in (
            ("traced_peak", "tracemalloc peak (NumPy)"),
            ("maxrss_delta", "peak RSS increase      "),
        ):
            ratio = result[key] / reference
            report(
                f"    {label}: {result[key] / mib:8.1f} MiB = {ratio:.2f}x   "
                f"target <= 3x: {verdict(ratio <= 3, settings)}"
            )
        if not result["reset"]:
            report(
                "    (the peak RSS could not be reset after the data was made: the "
                "RSS figure is a lower bound)"
            )


# ---- first-call cost (benchmark 6)

_FIRST_CALL_CHILD = """
import json, sys, time, warnings
start = time.perf_counter()
import skmoe
import_seconds = time.perf_counter() - start
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

X, y = make_moe_regression(int(sys.argv[1]), n_features=5, n_experts=4, random_state=0)
model = MixtureOfExpertsRegressor(n_experts=4, n_init=1, random_state=0)
fits = []
for _ in range(2):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clone(model).fit(X, y)
    fits.append(time.perf_counter() - start)
print(json.dumps({"import": import_seconds, "first": fits[0], "second": fits[1]}))
"""


def bench_first_call(settings):
    """6. ``import skmoe`` and the first fit against the second, fresh processes."""
    n = settings.first_call_n
    report(
        f"[6] first-call cost, fresh processes: import skmoe, then two fits "
        f"(n={n:,}, d=5, K=4, n_init=1) in one process"
    )
    with tempfile.TemporaryDirectory() as cache:
        # A numba cache of our own: the first process compiles into it (cold),
        # the next ones load from it (warm), whatever skmoe's __pycache__ holds.
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)

        def child():
            done = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL_CHILD, str(n)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            return json.loads(done.stdout.splitlines()[-1])

        cold = child()
        warm = [child() for _ in range(settings.process_repeats)]
    processes = "process" if len(warm) == 1 else "processes"
    report(f"  numba cache warm ({len(warm)} {processes}, median (min-max)):")
    for key, label in (
        ("import", "import skmoe"),
        ("first", "first fit   "),
        ("second", "second fit  "),
    ):
        report(f"    {label} {spread([run[key] for run in warm])}")
    report(
        f"  numba cache cold (1 process, compiles the kernels): import "
        f"{cold['import']:.3f} s, first fit {cold['first']:.3f} s, second fit "
        f"{cold['second']:.3f} s"
    )


# ---- scaling (benchmark 7)


def _fixed_iterations_fit(n_samples, n_iter, repeats):
    X, y, init = _regression_problem(n_samples)
    model = MixtureOfExpertsRegressor(
        n_experts=4,
        n_init=1,
        init=init,
        init_size=None,
        max_iter=n_iter,
        tol=0,
        random_state=0,
    )
    return time_calls(lambda: quiet_fit(model, X, y), repeats)


def bench_scaling(settings):
    """7. Seconds per EM iteration against n, at a fixed number of iterations."""
    n_iter = 10
    report(
        f"[7] scaling of the fit of [1] (d=5, K=4, same k-means start, all rows "
        f"from the start: init_size=None), max_iter={n_iter}, tol=0"
    )
    rows = []
    for n in settings.scaling_n:
        times, model = _fixed_iterations_fit(n, n_iter, settings.fit_repeats)
        rows.append((n, [seconds / model.n_iter_ for seconds in times]))
    base = statistics.median(rows[len(rows) // 2][1]) / rows[len(rows) // 2][0]
    for n, per_iter in rows:
        per_row = statistics.median(per_iter) / n
        report(
            f"  n={n:>9,}  per iteration {spread(per_iter)}  "
            f"{per_row * 1e9:7.1f} ns/row/iteration  "
            f"({per_row / base:.2f}x the per-row cost at n={rows[len(rows) // 2][0]:,})"
        )


def _warm_up():
    """Load the numba kernels and lazy imports, so no timing pays for them."""
    start = time.perf_counter()
    X, y = make_moe_regression(500, n_features=5, n_experts=4, random_state=0)
    quiet_fit(MixtureOfExpertsRegressor(n_experts=4, n_init=1, max_iter=3), X, y)
    X, y = make_moe_classification(500, n_features=10, n_classes=3, random_state=0)
    quiet_fit(MixtureOfExpertsClassifier(n_experts=2, n_init=1, max_iter=3), X, y)
    return time.perf_counter() - start


BENCHMARKS = {
    1: bench_em_reference,
    2: bench_e_step,
    3: bench_flexmix,
    4: bench_classifier,
    5: bench_memory,
    6: bench_first_call,
    7: bench_scaling,
}


def main(argv=None):
    quick, selected, output = command_line(argv, __doc__, BENCHMARKS, "performance")
    settings = QUICK if quick else Settings()
    run(
        "performance",
        BENCHMARKS,
        selected,
        settings,
        output,
        _warm_up if set(selected) - {5, 6} else None,
    )


if __name__ == "__main__":
    sys.exit(main())
