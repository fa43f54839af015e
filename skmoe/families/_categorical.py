"""The classifier experts' probability of the observed class."""

import numpy as np
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)

from skmoe.families._base import Family


class Categorical(Family):
    """The probability each classifier expert gives to the observed class.

    ``p_k(y | x)`` is the expert's ``predict_proba`` at ``y``, its columns aligned
    to the model's ``classes_`` even when the expert saw fewer classes, clipped to
    at least ``min_proba`` so that one confident expert that is wrong on one row
    cannot make the log-likelihood infinite.

    Parameters
    ----------
    min_proba : float, default=1e-12
        The smallest probability the likelihood takes.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, learnt by :meth:`prepare` or :meth:`declare`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.families import Categorical
    >>> family = Categorical()
    >>> _, target = family.prepare(np.array(["b", "a", "b"]), np.ones(3))
    >>> family.classes_.tolist(), target.tolist()
    (['a', 'b'], [1, 0, 1])
    """

    output = "probability of the observed class"
    non_finite_output = "gave NaN or infinite probabilities"

    def __init__(self, min_proba=1e-12):
        self.min_proba = min_proba

    def prepare(self, y, sample_weight):
        check_classification_targets(y)
        self.classes_, target = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "MixtureOfExpertsClassifier needs samples of at least 2 classes; the "
                f"data has only one class: {self.classes_.tolist()[0]!r}."
            )
        return y, target

    def declare(self, y, classes=None, partial=False):
        check_classification_targets(y)
        if partial:
            # Sets classes_ on the first call, refuses different classes later.
            _check_partial_fit_first_call(self, classes)
        else:
            # Chunk by chunk, so that no copy of a long y is sorted.
            chunk = 1 << 16
            self.classes_ = np.unique(
                np.concatenate(
                    [np.unique(y[i : i + chunk]) for i in range(0, y.shape[0], chunk)]
                )
            )
        if self.classes_.size < 2:
            raise ValueError(
                "MixtureOfExpertsClassifier needs at least 2 classes; got "
                f"{self.classes_.tolist()}."
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"partial_fit got labels {unknown.tolist()} that are not among the "
                f"classes {self.classes_.tolist()} declared on the first call; a "
                "model cannot add classes while it is trained."
            )

    def encode(self, y):
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y has labels never seen in fit: {unseen.tolist()}; the classes are "
                f"{self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y)

    def init_columns(self, target):
        # No columns: k-means on [x, one-hot(y)] splits the rows by class and
        # starts each logistic expert on one class, a start EM leaves slowly and
        # for worse optima (docs: core.rst, "Initialisation").
        return np.empty((target.shape[0], 0))

    def accepts_subsample(self, target):
        # An expert fitted where a class is missing would start without it.
        return np.unique(target).size == self.classes_.size

    def check_expert(self, expert):
        if not hasattr(expert, "predict_proba"):
            raise ValueError(
                f"{expert!r} cannot be an expert: it has no predict_proba, and a "
                "classifier expert's likelihood is the probability it gives to the "
                "observed class."
            )

    def partial_fit_params(self):
        return {"classes": self.classes_}

    def predict(self, expert, X):
        # predict_proba with one column per class of classes_.
        proba = expert.predict_proba(X)
        if expert.classes_.size == self.classes_.size:
            return proba
        aligned = np.zeros((proba.shape[0], self.classes_.size))
        aligned[:, np.searchsorted(self.classes_, expert.classes_)] = proba
        return aligned

    def expert_output(self, expert, X, target):
        return self.predict(expert, X)[np.arange(X.shape[0]), target]

    def log_likelihood(self, outputs, target, out=None):
        out = np.maximum(outputs, self.min_proba, out=out)
        return np.log(out, out=out)
