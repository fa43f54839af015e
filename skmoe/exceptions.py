"""Warnings and errors that skmoe raises beyond scikit-learn's."""


class ExpertCollapseWarning(UserWarning):
    """An expert's share of the data fell below ``collapse_threshold`` during EM.

    The fitted model's ``collapsed_`` lists each event and what was done.
    """


class ExpertCollapseError(RuntimeError):
    """An expert collapsed during EM and ``collapse="raise"`` was asked for."""


__all__ = ["ExpertCollapseError", "ExpertCollapseWarning"]
