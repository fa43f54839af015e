"""LogLikelihoodDisplay: the fit's log-likelihood by iteration (or epoch)."""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from skmoe._base import SOLVER_NAMES
from skmoe.inspection._plotting import new_axes
from skmoe.inspection._unwrap import fitted_mixture


class LogLikelihoodDisplay:
    """The mean log-likelihood after each iteration (or epoch) of the kept run.

    The title says whether the fit converged. The curve is that of the restart kept by
    ``fit`` (the best of ``n_init``); with exact weighted expert fits it never
    decreases.

    Use :meth:`from_estimator` to build it.

    Parameters
    ----------
    log_likelihood_curve : ndarray of shape (n_iter,)
        Mean log-likelihood per unit of sample weight after each iteration.

    converged : bool
        Whether the run met its tolerance.

    solver : {"em", "cem", "gradient"}, default="em"
        The estimator's solver, which names the steps: EM and CEM iterations, or
        mini-batch training's epochs.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.

    ax_ : matplotlib Axes
        The axes.

    figure_ : matplotlib Figure
        The figure.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.inspection import LogLikelihoodDisplay
    >>> X, y = make_moe_regression(n_samples=200, n_experts=2, random_state=0)
    >>> reg = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> disp = LogLikelihoodDisplay.from_estimator(reg)
    >>> disp.ax_.get_title().startswith("EM converged")
    True
    >>> plt.close("all")
    """

    def __init__(self, *, log_likelihood_curve, converged, solver="em"):
        self.log_likelihood_curve = log_likelihood_curve
        self.converged = converged
        self.solver = solver

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the fitted ``log_likelihood_curve_``.

        Parameters
        ----------
        estimator : MixtureOfExpertsRegressor, MixtureOfExpertsClassifier or Pipeline
            A fitted mixture of experts, or a fitted Pipeline whose last step is one.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure if ``None``.

        Returns
        -------
        display : LogLikelihoodDisplay
            The display, with the plot drawn.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import LogLikelihoodDisplay
        >>> display = LogLikelihoodDisplay.from_estimator(moe)
        >>> type(display).__name__
        'LogLikelihoodDisplay'
        """
        check_matplotlib_support("LogLikelihoodDisplay.from_estimator")
        estimator, _, _ = fitted_mixture(estimator, None, "LogLikelihoodDisplay")
        display = cls(
            log_likelihood_curve=np.asarray(estimator.log_likelihood_curve_),
            converged=bool(estimator.converged_),
            solver=estimator.solver,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure if ``None``.

        Returns
        -------
        display : LogLikelihoodDisplay
            The display, with ``ax_``, ``figure_`` and ``line_`` set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import LogLikelihoodDisplay
        >>> display = LogLikelihoodDisplay.from_estimator(moe)
        >>> display.plot() is display  # draw it again, on new axes
        True
        """
        check_matplotlib_support("LogLikelihoodDisplay.plot")
        from matplotlib.ticker import MaxNLocator

        ax = new_axes(ax)
        curve = self.log_likelihood_curve
        iterations = np.arange(1, curve.size + 1)
        (self.line_,) = ax.plot(
            iterations, curve, marker="o" if curve.size <= 50 else None, ms=3, lw=1.5
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        solver, steps = SOLVER_NAMES[self.solver]
        ax.set_xlabel(f"{solver} {steps[:-1]}")
        ax.set_ylabel("mean log-likelihood per sample")
        status = "converged after" if self.converged else "did not converge in"
        ax.set_title(f"{solver} {status} {curve.size} {steps}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
