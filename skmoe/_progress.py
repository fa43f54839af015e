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

import numpy as np

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


class Progress:
    """One task of a fit (the fit, a restart, an iteration) as the driver sees it.

    It hands the callbacks the estimator and, when an iteration ends, a way to
    rebuild the fitted attributes from the parts EM holds, so that the driver
    itself never touches the estimator.
    """

    def __init__(self, context, estimator=None, fitted_attributes=None):
        self.context = context
        self.estimator = estimator
        self.fitted_attributes = fitted_attributes

    def subtask(self, name, max_subtasks=None):
        """The child task ``name``, itself with ``max_subtasks`` children."""
        sizes = {} if max_subtasks is None else {"max_subtasks": max_subtasks}
        context = self.context.subcontext(task_name=name, **sizes)
        return Progress(context, self.estimator, self.fitted_attributes)

    def begin(self, **data):
        self.context.call_on_fit_task_begin(estimator=self.estimator, **data)

    def end(self, parts=None, **data):
        """End the task; True if a callback asks the fit to stop."""
        if parts is not None:
            data["reconstruction_attributes"] = lambda: self.fitted_attributes(parts)
        return self.context.call_on_fit_task_end(estimator=self.estimator, **data)


SILENT_PROGRESS = Progress(_NoCallbackContext())


def root_progress(estimator, max_subtasks, fitted_attributes):
    """The root task of a fit, with ``max_subtasks`` children (the restarts)."""
    if hasattr(estimator, "_init_callback_context"):
        context = estimator._init_callback_context(max_subtasks=max_subtasks)
    else:
        context = _NoCallbackContext()
    return Progress(context, estimator, fitted_attributes)


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


def convergence_advice(curve, tol, feature_scales=None):
    """What to do about a fit that stopped at ``max_iter``, read off its curve.

    ``curve`` is the log-likelihood (mean per sample) after each iteration;
    ``feature_scales`` the standard deviations of the gate's features, if known.
    """
    steps = np.diff(np.asarray(curve, dtype=np.float64)[-6:])
    if steps.size == 0:
        return "raise max_iter: the fit ran a single iteration"
    if np.any(steps < -max(tol, 1e-12 * abs(curve[-1]))):
        advice = (
            "the log-likelihood fell in some of the last iterations, so the "
            "experts' weighted fits are not exact M-steps (trees, neighbours, "
            "early-stopped models) and EM need not settle: loosen tol, use "
            "solver='cem', or accept the fit"
        )
    elif abs(steps[-1]) < 10 * tol:
        advice = (
            f"it was close: the last change, {abs(steps[-1]):.2g}, was within 10x "
            "tol; loosen tol or raise max_iter a little"
        )
    else:
        advice = (
            f"the log-likelihood was still rising by {abs(steps[-1]):.2g} per "
            "iteration: raise max_iter"
        )
    if feature_scales is not None and np.size(feature_scales) > 1:
        spread = np.max(feature_scales) / np.min(feature_scales)
        if spread > 1e3:
            advice += (
                f"; the features' scales differ {spread:.2g}-fold, which slows "
                "experts that do not rescale (StandardScaler in a Pipeline helps)"
            )
    return advice + " (see log_likelihood_curve_)"
