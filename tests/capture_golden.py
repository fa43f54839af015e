"""Write ``tests/data/golden.npz``: the outputs of every case in ``golden_cases``.

Run on the commit whose behaviour is the reference, with that commit's skmoe
importable (first 0c76f74, before the code was reshaped into parts; since then
fb4126e, whose outputs equal 0c76f74's, captured again when scikit-learn 1.9 changed
its trees)::

    python tests/capture_golden.py

``test_golden.py`` then checks every later commit against the file, in an
environment with the versions of NumPy, SciPy and scikit-learn the file records.
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


def main():
    sys.path.insert(0, str(HERE))
    from golden_cases import CASES

    arrays = {
        f"versions/{lib.__name__}": np.array(lib.__version__) for lib in LIBRARIES
    }
    for name, case in CASES.items():
        start = time.perf_counter()
        for key, value in case().items():
            arrays[f"{name}/{key}"] = value
        print(f"{name}: {time.perf_counter() - start:.2f} s", flush=True)
    path = HERE / "data" / "golden.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"{len(arrays)} arrays written to {path}")


if __name__ == "__main__":
    main()
