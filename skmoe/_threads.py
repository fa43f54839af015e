"""One thread for BLAS in EM, and for OpenMP in its k-means start.

EM's BLAS calls are skinny (n x d by d x K) and lose more to thread start-up and
synchronisation than they gain (docs: core.rst, "Threads"); so does scikit-learn's
OpenMP k-means on the at most 2 * ``AUTO_INIT_SIZE`` rows a start clusters, by far
when other processes hold the cores (10,000 rows of 2 columns, 2 cores, one other
busy process: 150 ms on 2 threads, 10 ms on one).

The limits go through one ``threadpoolctl`` controller, made at the first fit:
``threadpool_limits`` looks the loaded libraries up at every call, about 3 ms, more
than a small fit's EM. A library loaded after the first fit (a BLAS that some
expert brings) keeps its own threads.
"""

from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller():
    return ThreadpoolController()


def single_threaded(user_api):
    """A context in which the libraries of ``user_api`` ("blas", "openmp") use one
    thread."""
    return _controller().limit(limits=1, user_api=user_api)
