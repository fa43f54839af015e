"""Exact EM on a Dask array larger than any one worker's memory limit (issue 25).

Run from the repository root, alone on a quiet machine::

    python benchmarks/bench_distributed_memory.py           # 1.5 GB, 1 GB limits
    python benchmarks/bench_distributed_memory.py --quick   # a smoke test

The figures are printed and written to ``benchmarks/results/distributed_memory.txt``
(``distributed_memory_quick.txt`` at any other sizes). ``--help`` lists the sizes.

1. A ``LocalCluster`` of 2 worker processes (one thread each, loopback, no
   dashboard) with ``memory_limit`` below the array's size (full: X and y 1.5 GB,
   1 GB per worker; 3 features, 3 experts), fitted by ``_cluster.fit_on_cluster``
   (exact EM, 5 iterations: the memory held is the same from the first; the rows
   stay on the workers). The array is built lazily, for each
   ``--source``: ``generated``, every row chunk drawn on a worker from a seed of its
   own (one model for all chunks), or ``files``, the chunks first written to
   ``.npy`` files by the workers, then read back with ``np.load(mmap_mode="r")``
   inside the graph. Reported: each worker's peak memory against its limit (the
   kernel's peak resident set, ``VmHWM``, reset just before the fit, and psutil's
   RSS, the measure Dask holds against the limit, sampled every 20 ms by a thread
   of this process: its peak and the file-backed part of it), the peaks of what
   the scheduler counts as managed and as spilled, the bytes spilled to disk and
   read back (the workers' own counters), pauses and lost workers (the workers'
   logs, the scheduler's events), the fit's log-likelihood, iterations and time,
   and the peak of this process (client and scheduler), which never holds the
   array. Claim: the fit completes with no worker lost, on an array larger than
   a worker's limit.
"""

import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace

import dask
import distributed
import psutil
from _cluster import (
    BYTES_PER_VALUE,
    TrueModel,
    file_arrays,
    fit_on_cluster,
    generated_arrays,
    local_cluster,
    row_chunks,
    warm_up,
    write_chunks,
)
from _harness import parse, report, results_file, run, verdict
from dask.utils import parse_bytes
from distributed import Client

SOURCES = ("generated", "files")


@dataclass(frozen=True)
class Settings:
    quick: bool = False
    array_size: int = 1_500_000_000
    memory_limit: int = 1_000_000_000
    chunk_size: int = 16_000_000
    n_features: int = 3
    n_workers: int = 2
    max_iter: int = 5
    tol: float = 1e-6
    sources: tuple = SOURCES
    interval: float = 0.02


FULL = Settings()
QUICK = Settings(quick=True, array_size=160_000_000, memory_limit=700_000_000)


# ---------------------------------------------------------------------------
# Memory, as the workers' processes see it


class MemorySampler(threading.Thread):
    """Every ``interval`` seconds, in a thread of this process: each worker
    process's RSS by psutil (its peak, and the file-backed part, ``shared``, at
    that moment), and the scheduler's view of each worker (the peaks of the bytes
    it counts as managed in memory and as spilled to disk, from the heartbeats)."""

    def __init__(self, pids, scheduler, interval):
        super().__init__(daemon=True)
        self.processes = {address: psutil.Process(pid) for address, pid in pids.items()}
        self.scheduler = scheduler
        self.interval = interval
        self.rss = dict.fromkeys(pids, (0, 0))
        self.managed = dict.fromkeys(pids, 0)
        self.spilled = dict.fromkeys(pids, 0)
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            for address, process in self.processes.items():
                try:
                    memory = process.memory_info()
                except psutil.NoSuchProcess:
                    continue
                if memory.rss > self.rss[address][0]:
                    self.rss[address] = (memory.rss, memory.shared)
            for address, worker in list(self.scheduler.workers.items()):
                if address in self.managed:
                    view = worker.memory
                    self.managed[address] = max(self.managed[address], view.managed)
                    self.spilled[address] = max(self.spilled[address], view.spilled)
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self):
        self._done.set()
        self.join()


def _mb(n_bytes):
    return f"{n_bytes / 1e6:,.0f} MB"


def _status(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def _reset_peak():
    """Reset the kernel's peak resident set (``VmHWM``) of this process."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def _worker_state(dask_worker):
    """A worker's pid, kernel peak and RSS, spill counters and status."""
    digests = dask_worker.digests_total

    def total(kind, unit):
        return sum(
            value
            for key, value in digests.items()
            if isinstance(key, tuple) and key[-2:] == (kind, unit)
        )

    return {
        "pid": os.getpid(),
        "peak": _status("VmHWM"),
        "rss": _status("VmRSS"),
        "written": total("disk-write", "bytes"),
        "writes": total("disk-write", "count"),
        "read": total("disk-read", "bytes"),
        "reads": total("disk-read", "count"),
        "status": dask_worker.status.name,
    }


def _log_count(logs, text):
    return {
        address: sum(text in message for _, message in lines)
        for address, lines in logs.items()
    }


def _worker_events(client, action, since):
    return [
        event
        for stamp, event in client.get_events("all")
        if stamp >= since and event.get("action") == action
    ]


# ---------------------------------------------------------------------------
# The benchmark


def _arrays(client, source, model, chunks, directory):
    """X and y of ``source``, built lazily; for files, the chunks written first."""
    if source == "generated":
        return generated_arrays(model, chunks)
    start = time.perf_counter()
    written = write_chunks(client, model, chunks, directory)
    report(
        f"  files: {_mb(written)} in {2 * len(chunks)} .npy files, written "
        f"by the workers in {time.perf_counter() - start:.1f} s; read back by "
        f"np.load(mmap_mode='r') inside the graph"
    )
    return file_arrays(model, chunks, directory)


def bench_memory(settings):
    report("1. Exact EM on an array larger than a worker's memory limit")
    for source in settings.sources:
        report()
        _fit_with_limits(settings, source)


def _fit_with_limits(settings, source):
    row_bytes = BYTES_PER_VALUE * (settings.n_features + 1)
    n_rows = settings.array_size // row_bytes
    chunk_rows = max(1, settings.chunk_size // row_bytes)
    chunks = row_chunks(n_rows, chunk_rows)
    array_bytes = n_rows * row_bytes
    limit = settings.memory_limit
    thresholds = dask.config.get("distributed.worker.memory")
    report(f"  source: {source}")
    report(
        f"  array: {n_rows:,} rows x {settings.n_features} features, X and y "
        f"{_mb(array_bytes)} (float64); {len(chunks)} row chunks of "
        f"{chunk_rows:,} rows ({_mb(chunk_rows * row_bytes)} each)"
    )
    report(
        f"  cluster: {settings.n_workers} worker processes, 1 thread each, "
        f"memory_limit {_mb(limit)} each (array / limit = "
        f"{array_bytes / limit:.2f}); Dask's thresholds of the limit: target "
        f"{thresholds['target']:.0%}, spill {thresholds['spill']:.0%}, pause "
        f"{thresholds['pause']:.0%}, terminate {thresholds['terminate']:.0%}"
    )
    directory = tempfile.mkdtemp(prefix="skmoe-bench-")
    try:
        with (
            local_cluster(settings.n_workers, limit, directory) as cluster,
            Client(cluster) as client,
        ):
            warm_up(client, settings.n_workers)
            model = TrueModel.from_seed(settings.n_features)
            X, y = _arrays(client, source, model, chunks, directory)
            _measure_fit(settings, cluster, client, X, y, array_bytes > limit)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _measure_fit(settings, cluster, client, X, y, larger_than_limit):
    """The fit, with the workers' memory sampled, and what happened to them."""
    before = client.run(_worker_state)
    client.run(_reset_peak)
    _reset_peak()
    since = time.time()
    sampler = MemorySampler(
        {address: state["pid"] for address, state in before.items()},
        cluster.scheduler,
        settings.interval,
    )
    sampler.start()
    start = time.perf_counter()
    fit = failure = None
    try:
        fit = fit_on_cluster(client, X, y, settings.max_iter, settings.tol)
    except Exception as error:  # reported: how the fit failed is the result
        failure = error
    elapsed = time.perf_counter() - start
    sampler.stop()
    client_peak = _status("VmHWM")
    if failure is None:
        report(
            f"  fit: {fit.n_iter} iterations (max_iter={settings.max_iter}, "
            f"tol={settings.tol:g}, converged: {fit.converged}), mean "
            f"log-likelihood {fit.log_likelihood:.6f}, {fit.passes or '-'} passes "
            f"over the chunks, {elapsed:.1f} s (the data built inside the fit)"
        )
    else:
        report(
            f"  fit FAILED after {elapsed:.1f} s: {type(failure).__name__}: {failure}"
        )
    lost = _report_workers(settings, client, before, sampler, since)
    report(
        f"  this process (client and scheduler): peak RSS {_mb(client_peak)} over "
        f"the fit; the array is not gathered"
    )
    completed = failure is None and not lost
    report(
        f"  claim: completes with no worker lost on an array larger than a "
        f"worker's limit: {verdict(completed and larger_than_limit, settings)}"
        + ("" if larger_than_limit else "; the array is not larger than the limit")
    )


def _report_workers(settings, client, before, sampler, since):
    """Each worker's peaks and spilling; the number of workers lost."""
    after = client.run(_worker_state)
    logs = client.get_worker_logs()
    pauses = _log_count(logs, "Pausing worker")
    unmanaged = _log_count(logs, "Unmanaged memory use is high")
    removed = _worker_events(client, "remove-worker", since)
    added = _worker_events(client, "add-worker", since)
    names = {address: f"worker {i}" for i, address in enumerate(sorted(before))}
    limit = settings.memory_limit
    report(
        f"  memory per worker over the fit: RSS, the measure Dask holds against "
        f"the limit ({sampler.samples} samples, every "
        f"{settings.interval * 1e3:.0f} ms), and the kernel's peak (VmHWM)"
    )
    report(
        "    worker    before   kernel peak   sampled peak (file-backed)"
        "   peak/limit   Dask's peak managed, spilled"
    )
    for address in sorted(after):
        name = names.get(address, "new worker")
        rss, shared = sampler.rss.get(address, (0, 0))
        was = before.get(address, {}).get("rss")
        report(
            f"    {name:8s} {_mb(was) if was else '-':>7s}   "
            f"{_mb(after[address]['peak']):>11s}   {_mb(rss):>12s} "
            f"({_mb(shared):>7s})    {after[address]['peak'] / limit:10.0%}   "
            f"{_mb(sampler.managed.get(address, 0)):>11s}, "
            f"{_mb(sampler.spilled.get(address, 0))}"
        )
    report("  spilling and pausing over the fit (the workers' counters and logs)")
    for address in sorted(after):
        now, was = after[address], before.get(address, dict.fromkeys(after[address], 0))
        report(
            f"    {names.get(address, 'new worker'):8s} written to disk "
            f"{_mb(now['written'] - was['written'])} in "
            f"{now['writes'] - was['writes']} evictions, read back "
            f"{_mb(now['read'] - was['read'])} in {now['reads'] - was['reads']}; "
            f"paused {pauses.get(address, 0)} times; 'unmanaged memory use is "
            f"high' {unmanaged.get(address, 0)} times; {now['status']}"
        )
    report(
        f"  workers removed during the fit (the scheduler's events): "
        f"{len(removed)}, added: {len(added)}"
    )
    return len(removed) + len(set(after) - set(before))


def _add_options(parser):
    sizes = "default: {} ({} with --quick)"
    for option, name, help_text in (
        ("--array-size", "array_size", "bytes of X and y, e.g. 1.5GB"),
        ("--memory-limit", "memory_limit", "each worker's memory_limit, e.g. 1GB"),
        ("--chunk-size", "chunk_size", "bytes of X and y per row chunk"),
    ):
        full, quick = getattr(FULL, name), getattr(QUICK, name)
        parser.add_argument(
            option,
            type=parse_bytes,
            help=f"{help_text}; " + sizes.format(_mb(full), _mb(quick)),
        )
    parser.add_argument("--features", type=int, help=f"default: {FULL.n_features}")
    parser.add_argument(
        "--max-iter",
        type=int,
        help=sizes.format(FULL.max_iter, QUICK.max_iter),
    )
    parser.add_argument(
        "--source",
        nargs="+",
        choices=SOURCES,
        help="where the chunks come from; default: both, one after the other",
    )


def settings_from(args):
    """The settings of the command line; quick unless the sizes are the full ones."""
    settings = QUICK if args.quick else FULL
    given = {
        "array_size": args.array_size,
        "memory_limit": args.memory_limit,
        "chunk_size": args.chunk_size,
        "n_features": args.features,
        "max_iter": args.max_iter,
        "sources": tuple(args.source) if args.source else None,
    }
    settings = replace(settings, **{k: v for k, v in given.items() if v is not None})
    full = replace(settings, quick=False, sources=FULL.sources) == FULL
    return replace(settings, quick=not full)


BENCHMARKS = {1: bench_memory}


def main(argv=None):
    args, selected = parse(argv, __doc__, BENCHMARKS, _add_options)
    settings = settings_from(args)
    output = results_file(args.output, "distributed_memory", settings.quick)
    versions = f", dask {dask.__version__}, distributed {distributed.__version__}"
    run("distributed memory", BENCHMARKS, selected, settings, output, versions=versions)


if __name__ == "__main__":
    sys.exit(main())
