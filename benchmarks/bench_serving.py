"""Serving: the cost of predicting one row, or a small batch, with linear experts.

Run from the repository root, alone on a quiet machine::

    python benchmarks/bench_serving.py           # the full suite
    python benchmarks/bench_serving.py --quick   # few repeats: a smoke test

The figures are printed and written to ``benchmarks/results/serving.txt``
(``serving_quick.txt`` with ``--quick``). BLAS runs on one thread
(``threadpool_limits(1)``). Each timing is a loop of calls on the same input; the
contenders of a benchmark are timed in turn within each round, and a ratio is the
median over rounds of the ratio within a round. "general" is the path every
other model takes (``skmoe._fast_predict.ENABLED = False``); the models are the
same fitted objects. Times are microseconds per call, median (min-max) over
rounds. Each benchmark runs with ``n_features`` 2 (``make_moe_regression``'s
default) and 20.

1. One row, ``MixtureOfExpertsRegressor(n_experts=4)`` with ``LinearRegression``
   experts, fitted on 5,000 rows, ``predict`` of one row for each routing (soft,
   hard, top-2), against ``LinearRegression().predict`` of the same row. Target:
   at most 2x.
2. One row, ``MixtureOfExpertsClassifier(n_experts=4)`` with ``LogisticRegression``
   experts, 2 and 3 classes, ``predict_proba`` of one row against
   ``LogisticRegression().predict_proba``. Target: at most 2x.
3. 1,000 rows, the models of (1) and (2): ``predict`` (``predict_proba``) against
   the raw products in plain NumPy, ``X @ V.T + c`` (the gate's logits) and
   ``X @ W + b`` (every expert's outputs, ``W`` stacked beforehand). Target: at
   most 1.5x. Also shown: a whole prediction in plain NumPy (those products, the
   softmaxes and the weighted sum), and the general path.
"""

import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
from _harness import command_line, quiet_fit, report, run, time_calls, verdict
from scipy.special import expit
from sklearn.linear_model import LinearRegression, LogisticRegression
from threadpoolctl import threadpool_limits

import skmoe._fast_predict
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression

ROUTINGS = {
    "soft": {"routing": "soft"},
    "hard": {"routing": "hard"},
    "top-2": {"routing": "top_k", "top_k": 2},
}
N_EXPERTS = 4
N_TRAIN = 5_000
BATCH = 1_000


@dataclass(frozen=True)
class Settings:
    """Rounds and calls per timing of one run of the suite."""

    rounds: int = 25
    row_calls: int = 400
    batch_calls: int = 100
    widths: tuple = (2, 20)
    quick: bool = False


QUICK = Settings(rounds=3, row_calls=50, batch_calls=10)


def _per_call(function, calls):
    def loop():
        for _ in range(calls):
            function()

    return loop


def _on(function, X):
    return lambda: function(X)


def _race(contenders, settings, calls):
    """Per-call seconds of each contender, timed in turn in each round."""
    loops = {name: _per_call(function, calls) for name, function in contenders.items()}
    for loop in loops.values():
        loop()  # warm: numba dispatch, caches
    times = {name: [] for name in contenders}
    for _ in range(settings.rounds):
        for name, loop in loops.items():
            seconds, _ = time_calls(loop, 1)
            times[name].append(seconds[0] / calls)
    return times


def _us(times):
    median = statistics.median(times) * 1e6
    return f"{median:8.1f} us ({min(times) * 1e6:.1f}-{max(times) * 1e6:.1f})"


def _ratio(times, reference):
    return statistics.median(a / b for a, b in zip(times, reference, strict=True))


def _general(method):
    """``method`` called with the serving path switched off."""

    def call(*args):
        skmoe._fast_predict.ENABLED = False
        try:
            return method(*args)
        finally:
            skmoe._fast_predict.ENABLED = True

    return call


def _regressor(n_features):
    X, y = make_moe_regression(
        N_TRAIN, n_features=n_features, n_experts=N_EXPERTS, random_state=0
    )
    moe = MixtureOfExpertsRegressor(n_experts=N_EXPERTS, random_state=0)
    return X, quiet_fit(moe, X, y), LinearRegression().fit(X, y)


def _classifier(n_features, n_classes):
    X, y = make_moe_classification(
        N_TRAIN,
        n_features=n_features,
        n_experts=N_EXPERTS,
        n_classes=n_classes,
        random_state=0,
    )
    moe = MixtureOfExpertsClassifier(n_experts=N_EXPERTS, random_state=0)
    return X, quiet_fit(moe, X, y), LogisticRegression().fit(X, y)


def _one_row(settings, title, models, method, baseline_name):
    report(title)
    met = True
    for n_features, (X, moe, single) in models.items():
        row = X[:1]
        for routing, params in ROUTINGS.items():
            moe.set_params(**params)
            fast = getattr(moe, method)
            baseline = getattr(single, method)
            times = _race(
                {
                    "serving": _on(fast, row),
                    "general": _on(_general(fast), row),
                    baseline_name: _on(baseline, row),
                },
                settings,
                settings.row_calls,
            )
            ratio = _ratio(times["serving"], times[baseline_name])
            met &= ratio <= 2
            report(
                f"  d={n_features:<2} {routing:5s}: serving {_us(times['serving'])}, "
                f"general {_us(times['general'])}, {baseline_name} "
                f"{_us(times[baseline_name])}; serving / {baseline_name} "
                f"{ratio:.2f}, general / {baseline_name} "
                f"{_ratio(times['general'], times[baseline_name]):.2f}"
            )
    report(f"  target: serving at most 2x {baseline_name}: {verdict(met, settings)}")


def bench_regressor_row(settings):
    models = {d: _regressor(d) for d in settings.widths}
    _one_row(
        settings,
        "[1] one row, regressor, 4 LinearRegression experts: predict",
        models,
        "predict",
        "LinearRegression",
    )


def bench_classifier_row(settings):
    for n_classes in (2, 3):
        models = {d: _classifier(d, n_classes) for d in settings.widths}
        _one_row(
            settings,
            f"[2] one row, classifier, {n_classes} classes, 4 LogisticRegression "
            "experts: predict_proba",
            models,
            "predict_proba",
            "LogisticRegression",
        )


def _stacked(moe):
    """The raw products' matrices, as plain NumPy arrays, and the whole NumPy
    prediction for soft routing."""
    gate_coef, gate_intercept = moe.gate_.coef_.T.copy(), moe.gate_.intercept_
    experts = moe.experts_
    if hasattr(moe, "classes_"):
        coef = np.ascontiguousarray(np.concatenate([e.coef_ for e in experts]).T)
        intercept = np.concatenate([e.intercept_ for e in experts])
    else:
        coef = np.column_stack([e.coef_ for e in experts])
        intercept = np.array([e.intercept_ for e in experts])

    def products(X):
        return X @ gate_coef + gate_intercept, X @ coef + intercept

    def whole(X):
        logits, outputs = products(X)
        gate = np.exp(logits - logits.max(axis=1, keepdims=True))
        gate /= gate.sum(axis=1, keepdims=True)
        if not hasattr(moe, "classes_"):
            return np.einsum("ij,ij->i", gate, outputs)
        if moe.classes_.size == 2:
            positive = expit(outputs)
            proba = np.stack([1 - positive, positive], axis=2)
        else:
            proba = outputs.reshape(len(X), N_EXPERTS, -1)
            proba = np.exp(proba - proba.max(axis=2, keepdims=True))
            proba /= proba.sum(axis=2, keepdims=True)
        return np.einsum("ij,ijc->ic", gate, proba)

    return products, whole


def bench_batch(settings):
    report(f"[3] {BATCH:,} rows: against the raw products in plain NumPy")
    met = True
    for name, make, method in [
        ("regressor", _regressor, "predict"),
        ("classifier, 2 classes", lambda d: _classifier(d, 2), "predict_proba"),
        ("classifier, 3 classes", lambda d: _classifier(d, 3), "predict_proba"),
    ]:
        report(f"  {name}")
        for n_features in settings.widths:
            X, moe, _ = make(n_features)
            batch = X[:BATCH]
            products, whole = _stacked(moe)
            moe.set_params(routing="soft")
            assert np.allclose(whole(batch), getattr(moe, method)(batch), atol=1e-12)
            for routing, params in ROUTINGS.items():
                moe.set_params(**params)
                fast = getattr(moe, method)
                times = _race(
                    {
                        "serving": _on(fast, batch),
                        "general": _on(_general(fast), batch),
                        "products": _on(products, batch),
                        "numpy": _on(whole, batch),
                    },
                    settings,
                    settings.batch_calls,
                )
                ratio = _ratio(times["serving"], times["products"])
                met &= ratio <= 1.5
                report(
                    f"    d={n_features:<2} {routing:5s}: serving "
                    f"{_us(times['serving'])}, raw products "
                    f"{_us(times['products'])}: ratio {ratio:.2f}; whole NumPy "
                    f"soft prediction {_us(times['numpy'])} (serving / it "
                    f"{_ratio(times['serving'], times['numpy']):.2f}); general "
                    f"{_us(times['general'])}"
                )
    report(f"  target: serving at most 1.5x the raw products: {verdict(met, settings)}")


def _warm_up():
    start = time.perf_counter()
    for routing in ROUTINGS.values():
        X, moe, _ = _regressor(2)
        moe.set_params(**routing).predict(X[:10])
        X, moe, _ = _classifier(2, 3)
        moe.set_params(**routing).predict_proba(X[:10])
    return time.perf_counter() - start


BENCHMARKS = {1: bench_regressor_row, 2: bench_classifier_row, 3: bench_batch}


def main(argv=None):
    quick, selected, output = command_line(argv, __doc__, BENCHMARKS, "serving")
    settings = QUICK if quick else Settings()
    with threadpool_limits(1):
        run("serving", BENCHMARKS, selected, settings, output, _warm_up)


if __name__ == "__main__":
    sys.exit(main())
