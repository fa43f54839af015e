"""Write ``tests/data/golden.npz``: the outputs of every case in ``golden_cases``.

Run once, on the commit whose behaviour is the reference (0c76f74, before the code
was reshaped into parts), with that commit's skmoe installed::

    python tests/capture_golden.py

``test_golden.py`` then checks every later commit against the file.
"""

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main():
    sys.path.insert(0, str(HERE))
    from golden_cases import CASES

    arrays = {}
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
