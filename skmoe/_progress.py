"""Reporting the progress of a fit: the ``verbose`` log and scikit-learn's callbacks.

Messages go to the ``skmoe`` logger rather than to ``print``, so applications can route
or silence them. With ``verbose > 0`` the logger is set to show them for the duration of
the fit, on standard error if nothing else handles them.

scikit-learn >= 1.9 has fit callbacks (``set_callbacks(ProgressBar())``); with older
versions the estimators have no ``set_callbacks`` and the task tree below is a no-op.
"""

import logging
import sys
from contextlib import contextmanager

logger = logging.getLogger("skmoe")

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:
        """Stand-in: this scikit-learn has no callbacks."""


class _NoCallbackContext:
    """The callback-context calls the fit makes, doing nothing."""

    def subcontext(self, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return False


def root_callback_context(estimator, max_subtasks):
    """The root task of a fit, with ``max_subtasks`` children (the restarts)."""
    if hasattr(estimator, "_init_callback_context"):
        return estimator._init_callback_context(max_subtasks=max_subtasks)
    return _NoCallbackContext()


@contextmanager
def verbose_logging(verbose):
    """Show the ``skmoe`` logger's messages while a fit with ``verbose > 0`` runs."""
    if not verbose:
        yield
        return
    previous_level = logger.level
    logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    handler = None
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[skmoe] %(message)s"))
        logger.addHandler(handler)
    try:
        yield
    finally:
        logger.setLevel(previous_level)
        if handler is not None:
            logger.removeHandler(handler)
