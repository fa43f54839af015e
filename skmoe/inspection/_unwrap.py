"""The fitted mixture inside what a user hands the inspection tools.

A user fits a Pipeline as often as a bare mixture, so the summary and every display
accept either, and see ``X`` and its column names as the mixture saw them.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skmoe._base import BaseMixtureOfExperts


def fitted_mixture(estimator, X, caller):
    """The fitted mixture in ``estimator``, ``X`` as it sees it, and its column names.

    ``estimator`` is a mixture, or a Pipeline whose last step is one: ``X`` is then
    transformed by the steps before it, and the columns are named as those steps
    name their outputs (``get_feature_names_out``) when the mixture saw no names.
    The names are None when neither knows them (plots then say ``x<j>``).
    """
    mixture, names = estimator, None
    if isinstance(estimator, Pipeline):
        mixture, steps = estimator[-1], estimator[:-1]
    if not isinstance(mixture, BaseMixtureOfExperts):
        last_step = " (the Pipeline's last step)" if mixture is not estimator else ""
        raise TypeError(
            f"{caller} expects a MixtureOfExpertsRegressor or "
            "MixtureOfExpertsClassifier, or a Pipeline whose last step is one; got "
            f"{type(mixture).__name__}{last_step}."
        )
    check_is_fitted(mixture)
    if mixture is not estimator:
        X = None if X is None else steps.transform(X)
        try:
            names = steps.get_feature_names_out()
        except (AttributeError, ValueError):
            names = None  # a step that cannot name its outputs
    names = getattr(mixture, "feature_names_in_", names)
    if names is not None and len(names) != mixture.n_features_in_:
        names = None
    return mixture, X, None if names is None else np.asarray(names, dtype=object)
