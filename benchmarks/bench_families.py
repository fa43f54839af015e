"""skmoe's regression families against R's flexmix, and the Student-t's cost.

Run from the repository root, alone on a quiet machine::

    python benchmarks/bench_families.py           # the full suite (about 5 minutes)
    python benchmarks/bench_families.py --quick   # small sizes: a smoke test

The figures are printed and written to ``benchmarks/results/families.txt``
(``families_quick.txt`` with ``--quick``, so a smoke test never overwrites the
real figures). Timings are wall-clock seconds, median (min-max) over repeats;
``--quick`` sizes say nothing about the targets. Total log-likelihoods are
``n * log_likelihood_`` (the mean per unit weight times n), R's ``logLik``.
flexmix runs through ``Rscript benchmarks/flexmix_poisson.R`` with
``minprior=0``; it stops on ``|dL| / (|L| + 0.1) < tolerance`` with ``L`` the
total log-likelihood, skmoe on ``|dl| < tol`` with ``l`` the mean one (less the
gate's penalty): flexmix's tolerance ``t`` is skmoe's ``t * (|l| + 0.1 / n)``.
Without ``Rscript`` and flexmix the R parts are skipped with a note.

1. flexmix's own Poisson examples: ``patent`` (``Patents ~ lgRD``, 3 experts, gate
   on ``RDS``) and ``NPreg`` (``yp ~ x``, 2 experts, constant gate), from
   ``benchmarks/data``. skmoe: the default estimator (but ``family``,
   ``n_experts`` and the features) with ``random_state`` 0-9, each its default
   ``n_init`` restarts, and one ``n_init=10`` fit; the same seeds at flexmix's
   stopping rule (``tol`` mapped from flexmix's default 1e-6) and tight (mapped
   from 1e-10, ``max_iter=2000``). flexmix: the best of 10 random starts
   (``set.seed(1..10)``), at its default tolerance 1e-6 and tight (1e-10, 2000
   iterations). Claim: skmoe's best of 10 reaches flexmix's best of 10.
2. Speed, Poisson experts: ``make_moe_regression(100_000, n_features=5,
   n_experts=4, family="poisson")``, gate and experts on all features. Both start
   from the k-means labels of skmoe's first restart (k-means on the standardised
   ``[X, log1p(y)]``, seeded as ``random_state=0``): skmoe as one-hot ``init``
   with ``init_size=None, n_init=1, tol=1e-5``, flexmix as ``cluster=`` with the
   mapped tolerance. Target: skmoe >= 20x faster at the same or a better
   log-likelihood. Also skmoe's default start (``init="auto"``,
   ``init_size="auto"``) with ``n_init`` 1 and 3.
3. Student-t against Gaussian experts (``LinearRegression``), 100,000 rows, d=5,
   K=4, on Student-t data (``family="student_t"``, df=3) and on Gaussian data
   (the default ``make_moe_regression``), both families from the same k-means
   start, ``init_size=None, n_init=1, tol=1e-5``. Target: the t's fit at most 2x
   the Gaussian's time.
4. The E-step of each family (its log-densities and latent weights, the gate,
   the responsibilities) from a fitted model's experts' outputs, against the
   Gaussian's: what a family adds to the E-step's floor (performance.rst).
"""

import functools
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
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

from skmoe import MixtureOfExpertsRegressor
from skmoe._em import e_step
from skmoe._parts import Data
from skmoe.datasets import make_moe_regression

TOL = 1e-5
MAX_ITER = 200
FLEXMIX_TOLERANCE = 1e-6
TIGHT_TOLERANCE, TIGHT_MAX_ITER = 1e-10, 2000
# "The same log-likelihood": mean log-likelihoods within a tenth of the EM tolerance.
LL_SLACK = 1e-6
# A start "at the optimum": its total log-likelihood within this of the tight one.
AT_OPTIMUM = 1e-3
EXAMPLES = {
    "patent": dict(
        target="Patents", n_experts=3, gate_features=["RDS"], expert_features=["lgRD"]
    ),
    "npreg": dict(target="yp", n_experts=2, gate_features=[], expert_features=["x"]),
}


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats of one run of the suite."""

    n_starts: int = 10
    speed_n: int = 100_000
    student_n: int = 100_000
    fit_repeats: int = 3
    flexmix_repeats: int = 1
    quick: bool = False


QUICK = Settings(n_starts=2, speed_n=5_000, student_n=5_000, fit_repeats=1, quick=True)

# ---- reporting and timing


def _mapped_tol(flexmix_tolerance, mean_log_lik, n_samples):
    """skmoe's ``tol`` equal to flexmix's relative ``tolerance`` at ``l``."""
    return flexmix_tolerance * (abs(mean_log_lik) + 0.1 / n_samples)


# ---- flexmix through Rscript


def _rscript():
    """The ``Rscript`` executable if it has flexmix, else None."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    check = 'quit(status = !requireNamespace("flexmix", quietly = TRUE))'
    found = subprocess.run([rscript, "-e", check], capture_output=True)
    return rscript if found.returncode == 0 else None


def _flexmix(rscript, *args):
    """The key=value line of ``flexmix_poisson.R`` called with ``args``, as a dict."""
    command = [rscript, str(HERE / "flexmix_poisson.R"), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("seconds=")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"flexmix_poisson.R failed:\n{done.stderr[-2000:]}")
    return dict(re.findall(r"(\S+)=(\S+)", lines[-1]))


def _skip_note():
    report(
        "  flexmix skipped: Rscript or the flexmix package is missing "
        "(apt-get install r-base-core r-cran-flexmix)"
    )


# ---- 1. flexmix's Poisson examples


def _example_data(name):
    spec = EXAMPLES[name]
    data = pd.read_csv(HERE / "data" / f"{name}.csv")
    columns = list(dict.fromkeys(spec["gate_features"] + spec["expert_features"]))
    return data[columns], data[spec["target"]].to_numpy(dtype=float)


def _example_model(name, **params):
    spec = EXAMPLES[name]
    return MixtureOfExpertsRegressor(
        family="poisson",
        n_experts=spec["n_experts"],
        gate_features=spec["gate_features"],
        expert_features=spec["expert_features"],
        **params,
    )


def _seed_fits(name, X, y, n_starts, **params):
    """Fits of ``random_state`` 0 to ``n_starts - 1``, the seconds they took."""
    start = time.perf_counter()
    fits = [
        quiet_fit(_example_model(name, random_state=seed, **params), X, y)
        for seed in range(n_starts)
    ]
    return fits, time.perf_counter() - start


def _report_skmoe_starts(label, fits, seconds, n_samples, optimum):
    totals = [fit.log_likelihood_ * n_samples for fit in fits]
    best = int(np.argmax(totals))
    at_optimum = sum(total > optimum - AT_OPTIMUM for total in totals)
    report(
        f"  {label:32s} best {totals[best]:.6f} (random_state={best}, "
        f"{fits[best].n_iter_} it, tol={fits[best].tol:.3g})  "
        f"{at_optimum}/{len(fits)} at the optimum  {seconds:.2f} s in all"
    )
    report("    log-liks " + " ".join(f"{total:.4f}" for total in totals))
    return fits[best], totals[best]


def _report_flexmix_starts(label, run, optimum):
    totals = [float(value) for value in run["logliks"].split(",")]
    at_optimum = sum(total > optimum - AT_OPTIMUM for total in totals)
    report(
        f"  {label:32s} best {float(run['loglik']):.6f} (start "
        f"{run['best_start']}, {run['iter']} it, df={run['df']})  "
        f"{at_optimum}/{len(totals)} at the optimum  "
        f"{float(run['seconds']):.2f} s in all (in R)"
    )
    report("    log-liks " + " ".join(f"{total:.4f}" for total in totals))
    report("    iterations " + run["iters"])


def bench_example(name, settings, rscript):
    """One of flexmix's Poisson examples: best of n starts, both sides."""
    spec = EXAMPLES[name]
    X, y = _example_data(name)
    n, k = len(y), settings.n_starts
    gate = "~ " + " + ".join(spec["gate_features"]) if spec["gate_features"] else "1"
    report(
        f"  -- {name}: n={n}, {spec['target']} ~ "
        f"{' + '.join(spec['expert_features'])}, {spec['n_experts']} experts, "
        f"gate {gate}"
    )
    flexmix = tight = None
    if rscript is not None:
        flexmix = _flexmix(rscript, name, k, FLEXMIX_TOLERANCE)
        tight = _flexmix(rscript, name, k, TIGHT_TOLERANCE, TIGHT_MAX_ITER)
    defaults, default_seconds = _seed_fits(name, X, y, k)
    default_best = max(defaults, key=lambda fit: fit.log_likelihood_)
    l_best = default_best.log_likelihood_
    rule, rule_seconds = _seed_fits(
        name, X, y, k, tol=_mapped_tol(FLEXMIX_TOLERANCE, l_best, n)
    )
    tight_fits, tight_seconds = _seed_fits(
        name,
        X,
        y,
        k,
        tol=_mapped_tol(TIGHT_TOLERANCE, l_best, n),
        max_iter=TIGHT_MAX_ITER,
    )
    restarts_seconds, restarts = time_calls(
        lambda: quiet_fit(_example_model(name, n_init=k, random_state=0), X, y), 1
    )
    skmoe_tight = max(fit.log_likelihood_ for fit in tight_fits) * n
    optimum = skmoe_tight if tight is None else max(float(tight["loglik"]), skmoe_tight)
    report(
        f"  'at the optimum': within {AT_OPTIMUM:g} of the best tight log-lik "
        f"{optimum:.6f}; skmoe default n_init={defaults[0].n_init}, "
        f"tol={defaults[0].tol:g}"
    )
    if flexmix is not None:
        _report_flexmix_starts(f"flexmix, {k} starts, tol 1e-6", flexmix, optimum)
        _report_flexmix_starts(f"flexmix, {k} starts, tight", tight, optimum)
    else:
        _skip_note()
    best, best_total = _report_skmoe_starts(
        f"skmoe defaults, seeds 0-{k - 1}", defaults, default_seconds, n, optimum
    )
    _report_skmoe_starts(
        "skmoe at flexmix's rule (1e-6)", rule, rule_seconds, n, optimum
    )
    _report_skmoe_starts(
        f"skmoe tight (1e-10, {TIGHT_MAX_ITER} it)",
        tight_fits,
        tight_seconds,
        n,
        optimum,
    )
    restart_total = restarts.log_likelihood_ * n
    report(
        f"  {f'skmoe n_init={k}, random_state=0':32s} {restart_total:.6f} "
        f"({restarts.n_iter_} it)  {restarts_seconds[0]:.2f} s"
    )
    per_row = best.score_samples(X, y).sum()
    bic = -2 * best_total + best._n_parameters() * np.log(n)
    report(
        f"  skmoe parameters {best._n_parameters()}, bic {best.bic(X, y):.4f} "
        f"(-2L + p log n = {bic:.4f}); score_samples sums to n * log_likelihood_: "
        f"{np.isclose(per_row, best_total, rtol=0, atol=1e-8)}"
    )
    if flexmix is None:
        return None
    flexmix_best, tight_best = float(flexmix["loglik"]), float(tight["loglik"])
    report(
        f"  parameters: flexmix df {flexmix['df']}, skmoe _n_parameters() "
        f"{best._n_parameters()}: "
        f"{'same' if int(flexmix['df']) == best._n_parameters() else 'DIFFERENT'}"
    )
    rows = (
        ("skmoe defaults best", best_total),
        ("skmoe at flexmix's rule best", max(f.log_likelihood_ for f in rule) * n),
        (f"skmoe n_init={k}", restart_total),
        ("skmoe tight best", skmoe_tight),
    )
    for label, total in rows:
        report(
            f"  {label:30s} - flexmix best: {total - flexmix_best:+.2e}   "
            f"- flexmix tight: {total - tight_best:+.2e}"
        )
    met = best_total >= flexmix_best
    report(
        f"  claim: skmoe's best of {k} (defaults) >= flexmix's best of {k}: "
        f"{verdict(met, settings)}"
    )
    return met


def bench_examples(settings):
    """1. flexmix's Poisson examples, patent and NPreg."""
    report(
        f"[1] flexmix's Poisson examples: best of {settings.n_starts} starts, "
        "total log-likelihoods (R's logLik)"
    )
    rscript = _rscript()
    for name in EXAMPLES:
        bench_example(name, settings, rscript)


# ---- the shared k-means start


def _shared_start_model(family, init, **params):
    return MixtureOfExpertsRegressor(
        family=family,
        n_experts=init.shape[1],
        init=init,
        init_size=None,
        n_init=1,
        tol=TOL,
        max_iter=MAX_ITER,
        random_state=0,
        **params,
    )


# ---- 2. speed of the Poisson fit


def _flexmix_csv(rscript, X, y, labels, tolerance, repeats):
    with tempfile.TemporaryDirectory() as tmp:
        csv, labels_file = Path(tmp) / "data.csv", Path(tmp) / "labels.txt"
        header = ",".join(["y"] + [f"x{j + 1}" for j in range(X.shape[1])])
        np.savetxt(
            csv,
            np.column_stack([y, X]),
            delimiter=",",
            header=header,
            comments="",
            fmt="%.17g",
        )
        np.savetxt(labels_file, labels + 1, fmt="%d")
        n_experts = labels.max() + 1
        return [
            _flexmix(
                rscript, csv, n_experts, labels_file, f"{tolerance:.17g}", MAX_ITER
            )
            for _ in range(repeats)
        ]


def bench_poisson_speed(settings):
    """2. skmoe's Poisson EM against flexmix's, from the same k-means start."""
    n, n_experts = settings.speed_n, 4
    X, y = make_moe_regression(
        n, n_features=5, n_experts=n_experts, family="poisson", random_state=0
    )
    labels = kmeans_labels(X, np.log1p(y), n_experts)
    init = np.eye(n_experts)[labels]
    report(
        f"[2] Poisson EM, n={n:,}, d=5, K={n_experts} "
        f"(make_moe_regression(family='poisson'), counts 0-{y.max():.0f}, mean "
        f"{y.mean():.2f}), same k-means start, tol={TOL:g}, max_iter={MAX_ITER}"
    )
    model = _shared_start_model("poisson", init)
    times, model = time_calls(lambda: quiet_fit(model, X, y), settings.fit_repeats)
    own = quiet_fit(
        MixtureOfExpertsRegressor(
            family="poisson",
            n_experts=n_experts,
            init="kmeans",
            init_size=None,
            n_init=1,
            tol=TOL,
            random_state=0,
        ),
        X,
        y,
    )
    same = own.n_iter_ == model.n_iter_ and np.isclose(
        own.log_likelihood_, model.log_likelihood_, rtol=0, atol=1e-12
    )
    report(
        f"  the labels are skmoe's own start (init='kmeans', random_state=0 gives "
        f"the same fit): {same}"
    )
    report(
        f"  {'skmoe, init=labels':24s} {spread(times)}  {model.n_iter_:3d} it "
        f"converged={model.converged_}  log-lik {model.log_likelihood_ * n:.4f} "
        f"(mean {model.log_likelihood_:.8f})"
    )
    flexmix_times = None
    rscript = _rscript()
    if rscript is None:
        _skip_note()
    else:
        # skmoe's |dl| < TOL at its optimum, in flexmix's relative terms.
        tolerance = TOL / (abs(model.log_likelihood_) + 0.1 / n)
        runs = _flexmix_csv(rscript, X, y, labels, tolerance, settings.flexmix_repeats)
        flexmix_times = [float(run["seconds"]) for run in runs]
        run = runs[-1]
        flexmix_ll = float(run["loglik"]) / n
        report(
            f"  {'flexmix, cluster=labels':24s} {spread(flexmix_times)}  "
            f"{int(run['iter']):3d} it converged={run['converged'] == '1'}  log-lik "
            f"{float(run['loglik']):.4f} (mean {flexmix_ll:.8f})  df={run['df']}, "
            f"tolerance={tolerance:.3g} (relative), flexmix {run['flexmix']} on R "
            f"{run['R']} ({run['blas']}); R's proc.time around flexmix()"
        )
        ratio = statistics.median(flexmix_times) / statistics.median(times)
        gap = model.log_likelihood_ - flexmix_ll
        report(
            f"  skmoe - flexmix: log-lik {gap * n:+.4f} total ({gap:+.2e} mean, "
            f"{'ok' if gap >= -LL_SLACK else 'WORSE'}); skmoe {ratio:.1f}x faster"
        )
        met = ratio >= 20 and gap >= -LL_SLACK
        report(
            f"  target: skmoe >= 20x faster at the same or a better log-lik "
            f"(>= -{LL_SLACK:g} mean): {verdict(met, settings)}"
        )
    for n_init in (1, 3):
        default = MixtureOfExpertsRegressor(
            family="poisson",
            n_experts=n_experts,
            n_init=n_init,
            tol=TOL,
            random_state=0,
        )
        times, default = time_calls(
            lambda m=default: quiet_fit(m, X, y), settings.fit_repeats
        )
        line = (
            f"  {f'skmoe default, n_init={n_init}':24s} {spread(times)}  "
            f"{default.n_iter_:3d} it converged={default.converged_}  log-lik "
            f"{default.log_likelihood_ * n:.4f} (mean {default.log_likelihood_:.8f})"
        )
        if flexmix_times is not None:
            ratio = statistics.median(flexmix_times) / statistics.median(times)
            gap = default.log_likelihood_ - flexmix_ll
            line += f"  {ratio:.1f}x faster, log-lik {gap * n:+.4f} total"
        report(line)
    report(
        "  (default: init='auto', init_size='auto', EM first on 10,000 rows; "
        "n_iter counts the iterations on all rows)"
    )


# ---- 3. Student-t against Gaussian


def bench_student_t(settings):
    """3. Student-t experts against Gaussian ones, same data and start."""
    n, n_experts = settings.student_n, 4
    report(
        f"[3] Student-t against Gaussian, linear experts, n={n:,}, d=5, "
        f"K={n_experts}, same k-means start, tol={TOL:g}, max_iter={MAX_ITER}"
    )
    ratios = {}
    for data_family in ("student_t", "gaussian"):
        X, y = make_moe_regression(
            n, n_features=5, n_experts=n_experts, family=data_family, random_state=0
        )
        init = np.eye(n_experts)[kmeans_labels(X, y, n_experts)]
        report(f"  -- data: make_moe_regression(family={data_family!r})")
        medians = {}
        for family in ("gaussian", "student_t"):
            model = _shared_start_model(family, init)
            times, model = time_calls(
                functools.partial(quiet_fit, model, X, y), settings.fit_repeats
            )
            medians[family] = statistics.median(times), model.n_iter_
            extra = (
                "  df " + " ".join(f"{df:.1f}" for df in model.df_)
                if family == "student_t"
                else ""
            )
            report(
                f"  {family:10s} {spread(times)}  {model.n_iter_:3d} it "
                f"converged={model.converged_}  "
                f"{statistics.median(times) / model.n_iter_ * 1e3:6.1f} ms/it  "
                f"mean log-lik {model.log_likelihood_:.6f}{extra}"
            )
        (t_time, t_iter), (g_time, g_iter) = medians["student_t"], medians["gaussian"]
        ratio = t_time / g_time
        ratios[data_family] = ratio
        report(
            f"  t / Gaussian: time {ratio:.2f}x, per iteration "
            f"{(t_time / t_iter) / (g_time / g_iter):.2f}x, iterations "
            f"{t_iter} / {g_iter}"
        )
    for data_family, ratio in ratios.items():
        report(
            f"  target: t <= 2x the Gaussian's time, {data_family} data: "
            f"{ratio:.2f}x, {verdict(ratio <= 2, settings)}"
        )


def bench_e_step(settings):
    """4. The E-step of each family against the Gaussian's, same gate and experts."""
    n, n_experts = settings.student_n, 4
    report(
        f"[4] E-step per family, n={n:,}, d=5, K={n_experts}: log-densities, latent "
        "weights and responsibilities, from the experts' outputs"
    )
    medians = {}
    for family in ("gaussian", "student_t", "poisson", "negative_binomial", "gamma"):
        X, y = make_moe_regression(
            n, n_features=5, n_experts=n_experts, family=family, random_state=0
        )
        model = quiet_fit(
            MixtureOfExpertsRegressor(
                family=family, n_experts=n_experts, n_init=1, max_iter=5
            ),
            X,
            y,
        )
        parts = model._fitted_parts()
        data = Data(
            X_gate=X,
            X_expert=X,
            y=y,
            target=model.family_.encode(y),
            sample_weight=np.ones(n),
        )
        outputs = model.family_.expert_outputs(model.experts_, X, data.target)

        def run(parts=parts, data=data, outputs=outputs):
            e_step(parts, data, outputs.copy())

        times, _ = time_calls(run, 7 * settings.fit_repeats)
        medians[family] = statistics.median(times)
        report(
            f"  {family:18s} {spread(times)}  "
            f"{medians[family] / medians['gaussian']:.2f}x the Gaussian's"
        )


# ---- the run


def _warm_up():
    """Load the numba kernels and lazy imports, so no timing pays for them."""
    start = time.perf_counter()
    for family in ("poisson", "gaussian", "student_t", "negative_binomial", "gamma"):
        X, y = make_moe_regression(
            500, n_features=5, n_experts=4, family=family, random_state=0
        )
        quiet_fit(
            MixtureOfExpertsRegressor(family=family, n_experts=4, n_init=1, max_iter=3),
            X,
            y,
        )
    return time.perf_counter() - start


BENCHMARKS = {
    1: bench_examples,
    2: bench_poisson_speed,
    3: bench_student_t,
    4: bench_e_step,
}


def main(argv=None):
    quick, selected, output = command_line(argv, __doc__, BENCHMARKS, "families")
    settings = QUICK if quick else Settings()
    run(
        "family",
        BENCHMARKS,
        selected,
        settings,
        output,
        _warm_up,
        versions=f", pandas {pd.__version__}",
    )


if __name__ == "__main__":
    sys.exit(main())
