"""The training driver: restarts side by side, each one run of EM, CEM or mini-batches.

:func:`train` takes a :class:`~skmoe._parts.Problem` and a frozen
:class:`FitConfig`, runs ``n_init`` restarts (one from a warm start) and returns
the best :class:`~skmoe._parts.Run`. It is the one place that reads
``config.solver`` to choose a loop: ``_em`` for EM and CEM, ``_gradient`` for
mini-batch training; :data:`DATA_READERS` says how each solver reads the data.
"""

import time
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import check_random_state

from skmoe._em import fitted_parts, run_restart
from skmoe._gradient import resolve_batch_size, run_mini_batch
from skmoe._progress import logger, verbose_logging
from skmoe._threads import single_threaded
from skmoe._validation import check_fit_weights, check_magnitude


@dataclass(frozen=True, eq=False)
class FitConfig:
    """The training parameters of one fit, validated and resolved.

    ``init`` is ``"auto"``, ``"kmeans"``, ``"random"`` or an array of initial
    responsibilities; ``batch_size`` is a number of rows (mini-batch training
    only).
    """

    solver: str = "em"
    max_iter: int = 200
    tol: float = 1e-5
    n_init: int = 1
    init: object = "auto"
    init_size: object = "auto"
    responsibility_threshold: float = 0.0
    collapse: str = "drop"
    collapse_threshold: float = 1e-3
    batch_size: int | None = None
    learning_rate: float = 0.05
    random_state: object = None
    n_jobs: int | None = None
    verbose: int = 0


def train(problem, config, progress, fitted=None):
    """The best of ``config.n_init`` runs, or one run continuing ``fitted``.

    One level of parallelism: the restarts if there are several (``n_jobs``
    processes), else the experts within each M-step (threads).
    """
    n_restarts = 1 if fitted is not None else config.n_init
    seeds = check_random_state(config.random_state).randint(
        np.iinfo(np.int32).max, size=n_restarts
    )
    if n_restarts > 1:
        restart_jobs, expert_jobs = config.n_jobs, 1
    else:
        restart_jobs, expert_jobs = 1, config.n_jobs or 1
    # Restarts on rows held by a Dask cluster share the client: threads.
    remote = getattr(problem.data, "steps", None) is not None
    with verbose_logging(config.verbose):
        runs = Parallel(n_jobs=restart_jobs, prefer="threads" if remote else None)(
            delayed(_run)(
                problem,
                config,
                seed,
                restart,
                progress.subtask("restart", max_subtasks=config.max_iter),
                expert_jobs,
                fitted,
            )
            for restart, seed in enumerate(seeds)
        )
        for restart, run in enumerate(runs if config.verbose else []):
            logger.info(
                "restart %d/%d: %s after %d iterations, log-likelihood %.6f (%.2f s)",
                restart + 1,
                n_restarts,
                "converged" if run.converged else "not converged",
                run.n_iter,
                run.log_likelihood,
                run.seconds,
            )
    # The first of equally good restarts wins, whatever the order they ended in.
    return max(runs, key=lambda run: run.objective)


def _run(problem, config, seed, restart, progress, expert_jobs, fitted):
    """One run of the solver ``config.solver``, timed, as one callback task."""
    start = time.perf_counter()
    progress.begin()
    with single_threaded("blas"):
        if config.solver == "gradient":
            run = run_mini_batch(problem, config, seed, restart, progress, fitted)
        else:
            warm = None
            if fitted is not None:
                warm = fitted_parts(*fitted[:3])
                warm.names = problem.expert_names
            run = run_restart(
                problem, config, seed, restart, progress, expert_jobs, warm
            )
    progress.end()
    run.seconds = time.perf_counter() - start
    return run


class _WholeData:
    """How EM and CEM read the training data: all of it, the target encoded once."""

    def sample_weight(self, sample_weight, X):
        sample_weight = check_fit_weights(sample_weight, X)
        check_magnitude(sample_weight, "sample_weight", allow_tiny=True)
        return sample_weight

    def batch_size(self, batch_size, n_samples, n_experts):
        return None

    def target(self, family, y, sample_weight):
        return family.prepare(y, sample_weight)


class _MiniBatches(_WholeData):
    """How mini-batch training reads it: batch by batch, nothing of size n_samples
    allocated (``X`` may be a memmap), so no unit weights either."""

    def sample_weight(self, sample_weight, X):
        return (
            None if sample_weight is None else super().sample_weight(sample_weight, X)
        )

    def batch_size(self, batch_size, n_samples, n_experts):
        return resolve_batch_size(batch_size, n_samples, n_experts, strict=True)

    def target(self, family, y, sample_weight):
        family.declare(y, None, partial=False)
        return y, None


#: How each solver reads the training data, by the name ``solver`` takes.
DATA_READERS = {"em": _WholeData(), "cem": _WholeData(), "gradient": _MiniBatches()}
