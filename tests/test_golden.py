"""The public outputs of many configurations, against those pinned before a refactor.

``data/golden.npz`` holds what the commit before the code was reshaped into parts
(0c76f74) gave for every case of ``golden_cases.py``; today's code must give the
same to 1e-8, relative to each array's largest magnitude (a gate probability of
1e-17 is zero at that scale). A case whose outputs change on purpose is captured
again with ``python tests/capture_golden.py``, and the commit says why.
"""

from pathlib import Path

import numpy as np
import pytest

from golden_cases import CASES

GOLDEN = np.load(Path(__file__).parent / "data" / "golden.npz")
RTOL = 1e-8


def test_every_case_is_pinned():
    pinned = {key.split("/")[0] for key in GOLDEN.files}
    assert pinned == set(CASES)


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
