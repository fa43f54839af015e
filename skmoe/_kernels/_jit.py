"""The decorator every kernel is compiled with."""

import numba


def jit(function):
    """``numba.njit`` with an on-disk cache when there is somewhere to write it.

    The kernels release the GIL (``nogil``), so that experts solved in threads
    (``n_jobs`` with one restart) run them side by side.

    numba looks for a writable cache directory when a function is decorated and
    raises RuntimeError when it finds none (a read-only installation with a
    read-only home). Then the kernels are compiled in memory on first use instead,
    at each start: slower to start, never unusable.
    """
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:
        return numba.njit(nogil=True)(function)
