"""Write ``tests/data/golden.npz``: the outputs of every case in ``golden_cases``.

Run on the commit whose behaviour is the reference, with that commit's skmoe
importable (first 0c76f74, before the code was reshaped into parts; since then
fb4126e, whose outputs equal 0c76f74's, captured again when scikit-learn 1.9 changed
its trees)::

    python tests/capture_golden.py

``test_golden.py`` then checks every later commit against the file, in an
environment with the versions of NumPy, SciPy and scikit-learn the file records,
on a CPU like the one it records: the one numba compiles the kernels for and the
one OpenBLAS chose its kernels for. Rounding differs between them (FMA, vector
width), and a tree's split between tied thresholds or an L-BFGS path follows it:
on an AMD znver3 the tree cases differed by up to 6.6 from an Intel capture with
the same library versions. Captured from 53ece8b on znver3 / Haswell (numba's
CPU / OpenBLAS's kernels); since then the cases that changed on purpose were
recaptured alone, as the commits say. Recaptured in full on znver4 / SkylakeX
when EM's solves of single-stepped experts changed (issue 26): there, every case
but ``clf_default``, ``clf_float32``, ``clf_n_jobs_restarts`` and
``clf_subsample_start`` gave cc39dfb's outputs to 1e-8, and those four moved by
at most 3e-6 in the log-likelihood. Ten ``clf_*`` cases (the logistic ones
fitted by EM on multiclass data) recaptured on znver4 / SkylakeX after fd69679
(a logistic expert Newton has solved keeps Newton when a class's share in it
falls below 1e-10): their log-likelihoods moved by at most 1.7e-5 per sample,
up in four, down in six.

A commit that changes some cases' outputs on purpose recaptures those alone, and
keeps every other case as pinned (with the same library versions)::

    python tests/capture_golden.py CASE [CASE ...]

Run it with the tree's ``skmoe`` first on the path (``PYTHONPATH=.`` from the
repository root) if another copy is installed.
"""

import sys
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn

HERE = Path(__file__).resolve().parent
# The libraries whose numerics the outputs depend on (trees, L-BFGS, BLAS calls).
LIBRARIES = (np, scipy, sklearn)


def platform():
    """What the outputs depend on besides the libraries: the CPU's kind."""
    import llvmlite.binding
    import scipy.linalg  # noqa: F401 (loads SciPy's BLAS too)
    from threadpoolctl import threadpool_info

    np.ones((2, 2)) @ np.ones((2, 2))  # loads NumPy's BLAS
    blas = sorted({info.get("architecture", "?") for info in threadpool_info()} - {"?"})
    return {"cpu": llvmlite.binding.get_host_cpu_name(), "blas": ",".join(blas)}


def main(names=()):
    sys.path.insert(0, str(HERE))
    import skmoe

    from golden_cases import CASES

    print(f"skmoe from {Path(skmoe.__file__).parent}", flush=True)

    path = HERE / "data" / "golden.npz"
    versions = {
        f"versions/{lib.__name__}": np.array(lib.__version__) for lib in LIBRARIES
    }
    versions.update({f"platform/{k}": np.array(v) for k, v in platform().items()})
    unknown = set(names) - set(CASES)
    if unknown:
        raise SystemExit(f"no such case: {', '.join(sorted(unknown))}")
    if names:
        with np.load(path) as pinned:
            arrays = {key: pinned[key] for key in pinned.files}
        for key, version in versions.items():
            if str(arrays.get(key)) != str(version):
                raise SystemExit(
                    f"{path} was captured with {key} {arrays.get(key)}, not "
                    f"{version}: recapture every case"
                )
        for key in [key for key in arrays if key.split("/")[0] in names]:
            del arrays[key]
    else:
        arrays = dict(versions)
    for name, case in CASES.items():
        if names and name not in names:
            continue
        start = time.perf_counter()
        for key, value in case().items():
            arrays[f"{name}/{key}"] = value
        print(f"{name}: {time.perf_counter() - start:.2f} s", flush=True)
    path.parent.mkdir(exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"{len(arrays)} arrays written to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
