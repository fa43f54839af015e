"""What the distributed benchmarks share: data built lazily on the workers from one
model, a local cluster, and the fit they time.

Every row chunk is drawn from the same mixture (``TrueModel``, fixed parameters)
with a seed of its own, so a chunk is the same wherever and whenever it is drawn:
on a worker inside a Dask graph, on a worker that writes it to a ``.npy`` file, or
in this process for the in-memory comparison.
"""

import warnings
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from _harness import quiet_fit
from distributed import LocalCluster
from distributed import get_client as distributed_client
from scipy.special import softmax

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

N_EXPERTS = 3
BYTES_PER_VALUE = 8

ClusterFit = namedtuple("ClusterFit", "log_likelihood n_iter converged passes")


@dataclass(frozen=True)
class TrueModel:
    """The parameters of ``make_moe_regression``'s generating process, fixed."""

    gate_coef: np.ndarray
    gate_intercept: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    noise: float

    @classmethod
    def from_seed(cls, n_features, seed=0):
        _, _, params = make_moe_regression(
            n_samples=1,
            n_features=n_features,
            n_experts=N_EXPERTS,
            random_state=seed,
            return_params=True,
        )
        return cls(
            params.gate_coef,
            params.gate_intercept,
            params.coef,
            params.intercept,
            float(params.noise_std[0]),
        )

    @property
    def n_features(self):
        return self.coef.shape[1]


def draw_chunk(model, n_rows, seed, index):
    """Chunk ``index`` of the data: ``X ~ N(0, I)``, each row's expert drawn from
    the gate, ``y`` that expert's line plus Gaussian noise (float64)."""
    rng = np.random.default_rng([seed, index, 0])
    X = rng.standard_normal((n_rows, model.n_features))
    proba = softmax(X @ model.gate_coef.T + model.gate_intercept, axis=1)
    labels = (rng.uniform(size=(n_rows, 1)) > np.cumsum(proba, axis=1)).sum(axis=1)
    labels = np.minimum(labels, N_EXPERTS - 1)
    y = np.einsum("ij,ij->i", X, model.coef[labels]) + model.intercept[labels]
    y += model.noise * rng.standard_normal(n_rows)
    return X, y


def draw_start(n_rows, seed, index):
    """Chunk ``index`` of the initial responsibilities (random Dirichlet rows)."""
    rng = np.random.default_rng([seed, index, 1])
    return rng.dirichlet(np.ones(N_EXPERTS), size=n_rows)


def row_chunks(n_rows, chunk_rows):
    """Row counts of the chunks: ``chunk_rows`` each, the last one shorter."""
    full, rest = divmod(n_rows, chunk_rows)
    return (chunk_rows,) * full + ((rest,) if rest else ())


def generated_arrays(model, chunks, seed=0):
    """``X`` and ``y`` as Dask arrays whose chunks are drawn where they are computed."""
    draws = [
        dask.delayed(draw_chunk, pure=True, nout=2)(model, rows, seed, index)
        for index, rows in enumerate(chunks)
    ]
    return _stack(model, chunks, [d[0] for d in draws], [d[1] for d in draws])


def write_chunk(model, n_rows, seed, index, directory):
    """Draw chunk ``index`` and save it as ``X_<index>.npy`` and ``y_<index>.npy``."""
    X, y = draw_chunk(model, n_rows, seed, index)
    for name, array in (("X", X), ("y", y)):
        np.save(Path(directory) / f"{name}_{index:05d}.npy", array)
    return X.nbytes + y.nbytes


def write_chunks(client, model, chunks, directory, seed=0):
    """Every chunk drawn and written by the workers; the bytes written."""
    futures = client.map(
        write_chunk,
        [model] * len(chunks),
        chunks,
        [seed] * len(chunks),
        range(len(chunks)),
        [str(directory)] * len(chunks),
        pure=False,
    )
    return sum(client.gather(futures))


def file_arrays(model, chunks, directory):
    """``X`` and ``y`` as Dask arrays whose chunks are the files of
    :func:`write_chunks`, opened with ``np.load(mmap_mode="r")`` where computed."""
    load = dask.delayed(np.load, pure=True)
    files = [
        [load(str(Path(directory) / f"{name}_{i:05d}.npy"), mmap_mode="r") for i in ids]
        for name, ids in (("X", range(len(chunks))), ("y", range(len(chunks))))
    ]
    return _stack(model, chunks, *files)


def _stack(model, chunks, X_parts, y_parts):
    X = da.concatenate(
        [
            da.from_delayed(part, shape=(rows, model.n_features), dtype=np.float64)
            for part, rows in zip(X_parts, chunks, strict=True)
        ]
    )
    y = da.concatenate(
        [
            da.from_delayed(part, shape=(rows,), dtype=np.float64)
            for part, rows in zip(y_parts, chunks, strict=True)
        ]
    )
    return X, y


def start_responsibilities(chunks, seed=0):
    """The initial responsibilities as a Dask array, chunked like ``chunks``."""
    draw = dask.delayed(draw_start, pure=True)
    return da.concatenate(
        [
            da.from_delayed(draw(rows, seed, index), (rows, N_EXPERTS), np.float64)
            for index, rows in enumerate(chunks)
        ]
    )


def in_memory(model, chunks, seed=0):
    """``X``, ``y`` and the initial responsibilities of the same chunks, here."""
    draws = [draw_chunk(model, rows, seed, i) for i, rows in enumerate(chunks)]
    starts = [draw_start(rows, seed, i) for i, rows in enumerate(chunks)]
    return (
        np.concatenate([X for X, _ in draws]),
        np.concatenate([y for _, y in draws]),
        np.concatenate(starts),
    )


def local_cluster(n_workers, memory_limit="auto", local_directory=None):
    """Worker processes of one thread each on the loopback, no dashboard."""
    with warnings.catch_warnings():
        # The scheduler's HTTP server moves off a port in use; nothing to say.
        warnings.filterwarnings("ignore", "Port .* is already in use")
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=memory_limit,
            local_directory=local_directory,
        )


def fit_on_cluster(client, X, y, max_iter, tol=0.0):
    """Exact EM on the chunks of the Dask arrays ``X``, ``y`` where the workers
    hold them (``fit`` on Dask arrays runs on ``client``, the current one); small
    sums come back, the rows never do. A :class:`ClusterFit`."""
    assert client is distributed_client()
    model = _estimator(max_iter, tol)
    quiet_fit(model, X, y)
    return ClusterFit(model.log_likelihood_, model.n_iter_, model.converged_, None)


def in_memory_fit(X, y, init, max_iter, tol=0.0):
    """The same fit in memory: the same start (the subsample EM starts on is the
    same rows), so the same iterates. ``init`` is unused (kept for the callers)."""
    model = _estimator(max_iter, tol)
    quiet_fit(model, X, y)
    return ClusterFit(model.log_likelihood_, model.n_iter_, model.converged_, None)


def _estimator(max_iter, tol):
    return MixtureOfExpertsRegressor(
        n_experts=N_EXPERTS, n_init=1, max_iter=max_iter, tol=tol, random_state=0
    )


def warm_up(client, n_workers):
    """A small fit with two chunks per worker: every worker loads the kernels."""
    model = TrueModel.from_seed(3)
    X, y = generated_arrays(model, row_chunks(2000 * n_workers, 1000))
    fit_on_cluster(client, X, y, max_iter=3)
