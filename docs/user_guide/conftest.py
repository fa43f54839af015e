"""The user guide's pages run as doctests (``--doctest-glob`` in pyproject.toml).

scikit-learn >= 1.9 has fit callbacks, older versions none (skmoe supports both):
there, the examples that use ``sklearn.callback`` are skipped, not the pages.
"""

import doctest
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    if importlib.util.find_spec("sklearn.callback") is not None:
        return
    for item in items:
        test = getattr(item, "dtest", None)
        if test is None or Path(item.path).resolve().parent != HERE:
            continue
        for example in test.examples:
            if "sklearn.callback" in example.source or "ProgressBar" in example.source:
                example.options[doctest.SKIP] = True
