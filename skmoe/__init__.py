"""skmoe: mixtures of experts for scikit-learn.

A softmax gate divides the input space and each region is handled by an expert, any
scikit-learn estimator; the mixture is fitted by EM.
"""

from skmoe._classification import MixtureOfExpertsClassifier
from skmoe._gate import SoftmaxGate
from skmoe._hierarchy import make_hierarchy
from skmoe._regression import MixtureOfExpertsRegressor

__version__ = "0.1.0.dev0"

# The public path, which pickle, skops and the docs record (not the private module).
for _public in (
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
    make_hierarchy,
):
    _public.__module__ = __name__
del _public

__all__ = [
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsRegressor",
    "SoftmaxGate",
    "__version__",
    "make_hierarchy",
]
