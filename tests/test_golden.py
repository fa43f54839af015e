"""The public outputs of many configurations, against those pinned before a refactor.

``data/golden.npz`` holds what the reference commit gave for every case of
``golden_cases.py`` (capture_golden.py says which); today's code must give the same
to 1e-8, relative to each array's largest magnitude (a gate probability of 1e-17
is zero at that scale). A case whose outputs change on purpose is captured again
with ``python tests/capture_golden.py``, and the commit says why.

Other versions of NumPy, SciPy or scikit-learn than the file's give other outputs
(scikit-learn 1.9's trees split differently), and so does another kind of CPU
(capture_golden.py says why), so the cases are skipped there: they guard a change
of skmoe, made in one environment, not the libraries or the machine.
"""

from pathlib import Path

import numpy as np
import pytest
from capture_golden import LIBRARIES, platform

from golden_cases import CASES

GOLDEN = np.load(Path(__file__).parent / "data" / "golden.npz")
RTOL = 1e-8
CHANGED = {
    lib.__name__: (str(GOLDEN[f"versions/{lib.__name__}"]), lib.__version__)
    for lib in LIBRARIES
    if str(GOLDEN[f"versions/{lib.__name__}"]) != lib.__version__
}
CHANGED.update(
    {
        name: (str(GOLDEN.get(f"platform/{name}", "unknown")), value)
        for name, value in platform().items()
        if str(GOLDEN.get(f"platform/{name}", "unknown")) != value
    }
)


def test_every_case_is_pinned():
    pinned = {key.split("/")[0] for key in GOLDEN.files} - {"versions", "platform"}
    assert pinned == set(CASES)


@pytest.mark.skipif(
    bool(CHANGED), reason=f"outputs pinned in another environment: {CHANGED}"
)
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_outputs_as_before_the_refactor(name):
    outputs = CASES[name]()
    expected_keys = {
        key.split("/")[1] for key in GOLDEN.files if key.startswith(name + "/")
    }
    assert set(outputs) == expected_keys
    for key, actual in outputs.items():
        expected = GOLDEN[f"{name}/{key}"]
        assert np.shape(actual) == expected.shape, key
        scale = np.max(np.abs(expected)) if expected.size else 0.0
        np.testing.assert_allclose(
            actual, expected, rtol=RTOL, atol=RTOL * scale, err_msg=f"{name}/{key}"
        )
