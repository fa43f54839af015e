"""Warnings and errors that skmoe raises beyond scikit-learn's."""


class ExpertCollapseWarning(UserWarning):
    """An expert's share of the data fell below ``collapse_threshold`` during EM.

    The fitted model's ``collapsed_`` lists each event and what was done.
    """


class ExpertCollapseError(RuntimeError):
    """An expert collapsed during EM and ``collapse="raise"`` was asked for."""


class ExpertFitError(RuntimeError):
    """An expert's ``fit`` raised during EM; the expert's own error is its cause.

    The message says which expert and which EM iteration. The estimator is left as it
    was before the call: unfitted, or with its previous fit.
    """


__all__ = ["ExpertCollapseError", "ExpertCollapseWarning", "ExpertFitError"]
