"""A fit on Dask collections: the inputs checked, the chunks built on the workers,
and the training problem over them (``skmoe._distributed`` runs EM on it).

dask is an optional extra: nothing here imports it before a Dask collection
arrives (``_dask_inputs.is_dask_collection``).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier

from skmoe import _distributed_chunks as per_chunk
from skmoe._dask_inputs import (
    _check_known_chunks,
    _is_dask_dataframe,
    _is_dask_series,
)
from skmoe._distributed import ChunkedData
from skmoe._parts import Problem
from skmoe._truncated_newton import TRUNCATED_ABOVE
from skmoe._updaters import GLMNewton, LogisticNewton, NormalEquations, em_updater
from skmoe.families._base import Family
from skmoe.families._gaussian import Gaussian, floor_of_variance

_FAST_PATHS = (NormalEquations, LogisticNewton, GLMNewton)


def as_dask_array(value, name, ndim):
    """A Dask array of ``value``: a DataFrame's or Series' with its chunk sizes
    computed; its column names (or None)."""
    import dask.array as da

    names = None
    if _is_dask_dataframe(value):
        names = np.asarray(value.columns, dtype=object)
        value = value.to_dask_array(lengths=True)
    elif _is_dask_series(value):
        value = value.to_dask_array(lengths=True)
    elif not isinstance(value, da.Array):
        value = da.from_array(np.asarray(value))
    if value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {value.shape}.")
    _check_known_chunks(value, name)
    return value, names


def check_supported(estimator, family, prototypes):
    """Raise if this fit has no exact EM on chunks, before any work."""
    if estimator.solver != "em":
        raise ValueError(
            f"a fit on a Dask array runs exact EM, solver='em'; got "
            f"solver={estimator.solver!r}."
        )
    if estimator.responsibility_threshold > 0:
        raise ValueError(
            "a fit on a Dask array weights every row in every expert: "
            "responsibility_threshold must be 0."
        )
    if estimator.init_size is None:
        raise ValueError(
            "a fit on a Dask array starts on a subsample gathered to the client; "
            "init_size=None would gather every row. Set init_size to a number of "
            "rows, or 'auto'."
        )
    if type(family).fit is not Family.fit or type(family).start not in (
        Family.start,
        Gaussian.start,
    ):
        raise ValueError(
            f"the {family.name} family cannot be fitted on a Dask array: the M-step "
            "of its own parameters needs all rows at once, not sums over them. "
            "Use partial_fit with dask_ml.wrappers.Incremental, or fit in memory."
        )
    for k, expert in enumerate(prototypes):
        if type(em_updater(expert, family)) not in _FAST_PATHS:
            raise TypeError(
                f"{expert!r} (expert {k}) cannot be fitted by EM on a Dask array: "
                "only experts whose M-step is a sum over rows can (LinearRegression "
                "and Ridge, LogisticRegression, PoissonRegressor and "
                "GammaRegressor). For other experts, fit on one machine, spread "
                "restarts and grid searches over a cluster with joblib's Dask "
                "backend, or train by mini-batches with partial_fit and "
                "dask_ml.wrappers.Incremental (docs: scaling.rst)."
            )


def check_sizes(estimator, n_experts):
    """Raise if the gate or a logistic expert has more parameters than the
    factored Hessian on chunks allows (the classes known)."""
    n_gate = n_experts * (estimator.gate_features_.size + 1)
    n_classes = len(getattr(estimator, "classes_", ()))
    n_expert = n_classes * (estimator.expert_features_.size + 1)
    if max(n_gate, n_expert) > TRUNCATED_ABOVE:
        raise ValueError(
            f"a fit on a Dask array solves the gate and the logistic experts by "
            f"their factored Hessian, at most {TRUNCATED_ABOVE} parameters each; "
            f"this model has {max(n_gate, n_expert)}. Use fewer features or "
            "experts, or fit in memory."
        )


def chunk_futures(client, X, y, sample_weight):
    """Each array's row chunks as futures, after the chunkings are checked."""
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    named = {"X": X, "y": y}
    if sample_weight is not None:
        named["sample_weight"] = sample_weight
    for name, array in named.items():
        if array.chunks[0] != X.chunks[0]:
            raise ValueError(
                f"X and {name} must have the same row chunks; got {X.chunks[0]} "
                f"and {array.chunks[0]}."
            )
    futures = {
        name: client.compute(list(array.to_delayed().ravel()))
        for name, array in named.items()
    }
    return futures["X"], futures["y"], futures.get("sample_weight")


def chunked_data(client, futures, estimator, family):
    """The chunks built and checked on the workers, and their moments (two
    passes; a classifier's labels first)."""
    X, y, sample_weight = futures
    if is_classifier(estimator):
        labels = client.gather(client.map(per_chunk.classes, y))
        family.classes_ = np.unique(np.concatenate(labels))
        if family.classes_.size < 2:
            raise ValueError(
                "MixtureOfExpertsClassifier needs samples of at least 2 classes; "
                f"the data has only one class: {family.classes_.tolist()[0]!r}."
            )
    chunks = client.map(
        per_chunk.chunk_data,
        list(range(len(X))),
        X,
        y,
        sample_weight or [None] * len(X),
        gate_columns=estimator.gate_features_,
        expert_columns=estimator.expert_features_,
        family=family,
        classifier=is_classifier(estimator),
        pure=False,
    )
    real = not is_classifier(estimator)
    per = [
        m
        for _, m in client.gather(
            client.map(per_chunk.moments, chunks, real_target=real)
        )
    ]
    total = {key: sum(m[key] for m in per) for key in ("n", "weight")}
    if not total["weight"] > 0:
        raise ValueError("sample_weight sums to zero: there is nothing to fit.")
    mean = sum(m["sum_gate"] for m in per) / total["weight"]
    y_mean = sum(m["sum_y"] for m in per) / total["weight"] if real else None
    spreads = [
        s
        for _, s in client.gather(
            client.map(per_chunk.spread, chunks, mean=mean, y_mean=y_mean)
        )
    ]
    scale = np.sqrt(sum(s["sq_gate"] for s in spreads) / total["weight"])
    low = np.min([m["low"] for m in per], axis=0)
    high = np.max([m["high"] for m in per], axis=0)
    scale[(low == high) | (scale == 0)] = 1.0
    moments = {
        "per_chunk": per,
        "weight": total["weight"],
        "unit_weight": sample_weight is None,
        "gate_mean": mean,
        "gate_scale": scale,
        "expert_center": sum(m["sum_expert"] for m in per) / total["n"],
    }
    if real:
        moments["target_variance"] = sum(s["sq_y"] for s in spreads) / total["weight"]
    return ChunkedData(client, chunks, moments)


@dataclass(eq=False)
class ChunkedProblem:
    """:class:`~skmoe._parts.Problem` over row chunks on the workers."""

    data: ChunkedData
    gate_columns: np.ndarray
    expert_columns: np.ndarray
    family: object
    experts: list
    gate: object
    expert_names: list | None = None

    def start_family(self):
        family = Family.start(self.family, None, None)
        if isinstance(family, Gaussian):
            family.variance_floor_ = floor_of_variance(self.data.target_variance)
        return family

    def _problem(self, X, y, target, sample_weight):
        return Problem(
            X=X,
            y=y,
            target=target,
            sample_weight=sample_weight,
            gate_columns=self.gate_columns,
            expert_columns=self.expert_columns,
            family=self.family,
            experts=self.experts,
            gate=self.gate,
            expert_names=self.expert_names,
        )

    def sample(self, rows):
        """The rows' data and k-means inputs, gathered to the client."""
        problem = self._problem(*self.data.take_rows(rows))
        return problem.data, problem.init_inputs(problem.X)

    @property
    def X(self):
        # Read only by the start on all rows, for data too small to subsample.
        return self.data.all_rows[0]

    init_inputs = Problem.init_inputs


def chunked_inputs(estimator, X, y, sample_weight):
    """``X``, ``y`` and ``sample_weight`` as Dask arrays; sets ``n_features_in_``
    and ``feature_names_in_`` as ``validate_data`` would."""
    X, names = as_dask_array(X, "X", 2)
    y, _ = as_dask_array(y, "y", 1)
    if sample_weight is not None:
        sample_weight, _ = as_dask_array(sample_weight, "sample_weight", 1)
    for name, array in (("y", y), ("sample_weight", sample_weight)):
        if array is not None and array.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but {name} has {array.shape[0]}."
            )
    estimator.n_features_in_ = X.shape[1]
    if names is not None and all(isinstance(n, str) for n in names):
        estimator.feature_names_in_ = names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    return X, y, sample_weight


def chunked_problem(estimator, inputs, family, prototypes, names):
    """The :class:`ChunkedProblem` of a fit whose estimator-level checks passed:
    the chunks on the current client's workers, checked there."""
    check_supported(estimator, family, prototypes)
    client = current_client()
    data = chunked_data(client, chunk_futures(client, *inputs), estimator, family)
    estimator._learn_target(family)
    check_sizes(estimator, len(prototypes))
    return ChunkedProblem(
        data,
        estimator.gate_features_,
        estimator.expert_features_,
        family,
        prototypes,
        estimator._gate_prototype(),
        names,
    )


def current_client():
    """The ``distributed`` client a fit on Dask arrays runs on."""
    try:
        from distributed import get_client
    except ImportError as error:
        raise ImportError(
            "a fit on a Dask array runs EM on a Dask cluster: install "
            "dask[distributed] (pip install 'skmoe[dask]')."
        ) from error
    try:
        return get_client()
    except ValueError as error:
        raise ValueError(
            "a fit on a Dask array runs EM on a Dask cluster, and no client is "
            "running: start one first (distributed.Client(...), or "
            "Client(LocalCluster()) on one machine)."
        ) from error
