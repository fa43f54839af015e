"""Inference: the observed information's standard errors, their coverage and cost.

Run from the repository root::

    python benchmarks/bench_inference.py           # the full suite (~5 minutes)
    python benchmarks/bench_inference.py --quick   # small sizes: a smoke test

The figures are printed and written to ``benchmarks/results/inference.txt``
(``inference_quick.txt`` with ``--quick``).

1. flexmix: on its NPreg example (``benchmarks/data/npreg.csv``), ``yn ~ x +
   I(x^2)`` with 2 components, without and with the concomitant model ``~ x``,
   the standard errors of ``coefficient_table`` against flexmix's
   ``summary(refit(m))`` in ``benchmarks/results/flexmix_refit.csv`` (written by
   ``benchmarks/flexmix_refit.R``, re-run here when R and flexmix are
   installed; the committed files are used otherwise). skmoe is fitted to the
   same optimum: its log-likelihood is compared with flexmix's at refit's
   parameters (``flexmix_refit_fit.csv``). Claim: every expert coefficient's
   standard error within 3% of flexmix's.
2. Coverage: data sets drawn from a known two-expert model (500 rows each, ``x ~
   U(-2, 2)``, the gate's logit ``0.3 + 1.5 x`` for expert 1, expert 0 ``1 + 2 x
   + N(0, 1)``, expert 1 ``-1 - x + N(0, 0.75^2)``), fitted by EM to ``tol=1e-10``;
   how often the 95% Wald intervals of the two experts' slopes and of the gate's
   slope hold the truth. Claim: 93-97% for each, over at least 200 data sets.
4. Bootstrap coverage: as 2, at a smaller count (each table is 150 refits),
   the 95% percentile intervals of ``method="bootstrap"`` (non-parametric, 150
   resamples, ``n_jobs=2``). Claim: 93-97% for each slope (noisier: the count
   is smaller).
3. Cost: the observed-information table of a 2-expert linear fit on 100,000 rows
   (``make_moe_regression``, 5 features) against the fit itself. Claim: the table
   costs less than the fit.
"""

import shutil
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from _harness import (
    HERE,
    command_line,
    quiet_fit,
    report,
    run,
    spread,
    time_calls,
    verdict,
)
from scipy.stats import binom

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.inference import InferenceWarning, coefficient_table

FLEXMIX_NAMES = {
    "(Intercept)": "intercept",
    "x": "x",
    "I(x^2)": "x^2",
    "prior": "intercept",  # the constant prior's logit, without ``~ x``
}


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats of one run of the suite."""

    quick: bool = False
    coverage_datasets: int = 1000
    coverage_rows: int = 500
    cost_rows: int = 100_000
    repeats: int = 5
    bootstrap_datasets: int = 300
    bootstrap_resamples: int = 150


QUICK = Settings(
    quick=True,
    coverage_datasets=20,
    cost_rows=10_000,
    repeats=2,
    bootstrap_datasets=4,
    bootstrap_resamples=20,
)


def bench_flexmix(settings):
    report("1. Standard errors against flexmix's summary(refit(m)), NPreg, k=2")
    reference = HERE / "results" / "flexmix_refit.csv"
    if shutil.which("Rscript") is None:
        report(f"  R not installed: comparing with the committed {reference.name}")
    else:
        subprocess.run(
            ["Rscript", str(HERE / "flexmix_refit.R")],
            cwd=HERE.parent,
            check=True,
            capture_output=True,
        )
    flexmix = pd.read_csv(reference, keep_default_na=False, na_values=[""])
    fit = pd.read_csv(HERE / "results" / "flexmix_refit_fit.csv")
    worst = 0.0
    for model, frame in flexmix.groupby("model", sort=False):
        ours = npreg_table(concomitant=model == "concomitant")
        em = frame["estimate"][frame["parameter"] == "logLik"].item()
        at_maximum = fit.query("model == @model and quantity == 'logLik_refit'")
        rows = matched_rows(frame[frame["parameter"] != "logLik"], ours)
        report(
            f"  {model}: log-likelihood skmoe {ours.attrs['log_likelihood']:.4f}, "
            f"flexmix's refit {at_maximum['estimate'].item():.4f} (its EM "
            f"{em:.4f}: its sigmas are degrees-of-freedom corrected, not the MLE)"
        )
        report("    component  parameter   flexmix se   skmoe se   difference")
        for (component, parameter), (theirs, mine) in rows.items():
            difference = mine / theirs - 1
            if not component.startswith("gate"):
                worst = max(worst, abs(difference))
            report(
                f"    {component:10s} {parameter:10s} {theirs:11.5f} {mine:10.5f} "
                f"{100 * difference:+10.3f}%"
            )
    report(
        f"  claim: every expert coefficient's standard error within 3% of "
        f"flexmix's (largest difference {100 * worst:.3f}%): "
        f"{verdict(worst <= 0.03, settings)}"
    )


def npreg_table(concomitant):
    """skmoe's coefficient table of flexmix's NPreg model, at its best optimum."""
    data = pd.read_csv(HERE / "data" / "npreg.csv")
    X = pd.DataFrame({"x": data["x"], "x^2": data["x"] ** 2})
    model = MixtureOfExpertsRegressor(
        n_experts=2,
        gate_features=["x"] if concomitant else [],
        n_init=10,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    )
    quiet_fit(model, X, data["yn"])
    table = coefficient_table(model, X, data["yn"])
    table.attrs["log_likelihood"] = float(model.score_samples(X, data["yn"]).sum())
    return table


def matched_rows(flexmix, ours):
    """``{(component, parameter): (flexmix se, skmoe se)}``, skmoe's experts
    matched to flexmix's components by their ``x`` coefficients."""
    experts = ours[ours["component"].str.startswith("expert")]
    theirs = flexmix[~flexmix["component"].str.startswith("concomitant")]
    slope = {
        c: f["estimate"][f["parameter"] == "x"].item()
        for c, f in theirs.groupby("component")
    }
    ours_slope = experts[experts["parameter"] == "x"].set_index("component")
    match = {c: (ours_slope["estimate"] - s).abs().idxmin() for c, s in slope.items()}
    rows = {}
    for _, row in theirs.iterrows():
        mine = experts[
            (experts["component"] == match[row["component"]])
            & (experts["parameter"] == FLEXMIX_NAMES[row["parameter"]])
        ]
        rows[row["component"], row["parameter"]] = (
            row["std_error"],
            mine["std_error"].item(),
        )
    gate = ours[ours["component"].str.startswith("gate")]
    for _, row in flexmix[
        flexmix["component"].str.startswith("concomitant")
    ].iterrows():
        name = FLEXMIX_NAMES[row["parameter"]]
        rows["gate", row["parameter"]] = (
            row["std_error"],
            gate["std_error"][gate["parameter"] == name].item(),
        )
    return rows


def bench_coverage(settings):
    report(
        f"2. Coverage of the 95% Wald intervals, {settings.coverage_datasets} data "
        f"sets of {settings.coverage_rows} rows from a known two-expert model"
    )
    coverage(settings, settings.coverage_datasets, {})


def bench_bootstrap_coverage(settings):
    options = {
        "method": "bootstrap",
        "n_resamples": settings.bootstrap_resamples,
        "n_jobs": 2,
    }
    report(
        f"4. Coverage of the 95% bootstrap percentile intervals "
        f"({settings.bootstrap_resamples} resamples), {settings.bootstrap_datasets} "
        f"data sets of {settings.coverage_rows} rows, as in 2"
    )
    coverage(settings, settings.bootstrap_datasets, options)


def coverage(settings, total, options):
    truth = {"expert slope 0": 2.0, "expert slope 1": -1.0, "gate slope": 1.5}
    covered = {name: 0 for name in truth}
    warned = 0
    for seed in range(total):
        X, y = coverage_data(settings.coverage_rows, seed)
        model = MixtureOfExpertsRegressor(
            n_experts=2, tol=1e-10, max_iter=5000, n_init=3, random_state=seed
        )
        quiet_fit(model, X, y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InferenceWarning)
            seeded = {"random_state": seed} if options else {}
            table = coefficient_table(model, X, y, **options, **seeded)
        warned += bool(caught)
        for name, (low, high) in coverage_intervals(table).items():
            covered[name] += low <= truth[name] <= high
    # Where 95% coverage puts the count, 95% of the time: the noise of the check.
    band = binom.ppf([0.025, 0.975], total, 0.95) / total
    report(
        f"  a true coverage of 95% gives {100 * band[0]:.1f}-{100 * band[1]:.1f}% "
        f"over {total} data sets, 95% of the time"
    )
    for name, count in covered.items():
        report(f"  {name:15s} {100 * count / total:5.1f}%  ({count} of {total})")
    report(f"  tables that warned: {warned}")
    met = all(0.93 <= count / total <= 0.97 for count in covered.values())
    report(
        f"  claim: each coverage 93-97% over at least 200 data sets: "
        f"{verdict(met and total >= 200, settings)}"
    )
    if options:
        report(f"  resamples kept, last table: {table.attrs['n_kept']}")


def coverage_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    second = rng.random(n) < 1 / (1 + np.exp(-(0.3 + 1.5 * x)))
    y = np.where(
        second,
        -1 - x + rng.normal(0, 0.75, n),
        1 + 2 * x + rng.normal(0, 1.0, n),
    )
    return x[:, None], y


def coverage_intervals(table):
    """The intervals of the slopes, the experts ordered as the truth's (expert 0
    the rising one); the gate's slope negated when the fit's labels are swapped."""
    slopes = table[table["parameter"] == "x0"]
    experts = slopes[slopes["component"].str.startswith("expert")]
    gate = slopes[slopes["component"] == "gate: expert 1"].iloc[0]
    swapped = experts["estimate"].iloc[0] < experts["estimate"].iloc[1]
    order = [1, 0] if swapped else [0, 1]
    out = {
        f"expert slope {k}": tuple(experts[["ci_low", "ci_high"]].iloc[j])
        for k, j in enumerate(order)
    }
    out["gate slope"] = (
        (-gate["ci_high"], -gate["ci_low"])
        if swapped
        else (gate["ci_low"], gate["ci_high"])
    )
    return out


def bench_cost(settings):
    n = settings.cost_rows
    report(f"3. Cost of the observed-information table: 2 linear experts, {n} rows")
    X, y = make_moe_regression(n, n_features=5, n_experts=2, random_state=0)
    model = MixtureOfExpertsRegressor(n_experts=2, random_state=0)
    fit_times, model = time_calls(lambda: quiet_fit(model, X, y), settings.repeats)
    table_times, table = time_calls(
        lambda: coefficient_table(model, X, y), settings.repeats
    )
    fit, cost = statistics.median(fit_times), statistics.median(table_times)
    report(
        f"  fit (defaults: n_init=3): {spread(fit_times)}, {model.n_iter_} iterations"
    )
    report(f"  coefficient_table:        {spread(table_times)}, {len(table)} rows")
    report(f"  ratio table / fit: {cost / fit:.3f}")
    report(
        f"  claim: the table costs less than the fit: {verdict(cost < fit, settings)}"
    )


def _warm_up():
    start = time.perf_counter()
    X, y = coverage_data(300, 0)
    model = quiet_fit(MixtureOfExpertsRegressor(n_init=1, max_iter=5), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        coefficient_table(model, X, y)
    return time.perf_counter() - start


BENCHMARKS = {
    1: bench_flexmix,
    2: bench_coverage,
    3: bench_cost,
    4: bench_bootstrap_coverage,
}


def main(argv=None):
    quick, selected, output = command_line(argv, __doc__, BENCHMARKS, "inference")
    settings = QUICK if quick else Settings()
    run("inference", BENCHMARKS, selected, settings, output, _warm_up)


if __name__ == "__main__":
    sys.exit(main())
