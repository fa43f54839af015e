"""ExpertUsageDisplay: how much of the data each expert handles."""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from skmoe.inspection._plotting import (
    expert_colors,
    expert_labels,
    fitted_expert_names,
    lighten,
    new_axes,
)
from skmoe.inspection._unwrap import fitted_mixture


class ExpertUsageDisplay:
    """How much of the data each expert handles, softly and by hard routing.

    For each expert, two bars: its prior, the mean gate probability over ``X``,
    and its hard share, the fraction of rows that ``predict_gate`` routes to it.
    A hard share far below the prior marks an expert that is often second choice
    but rarely first; an expert with both near zero is unused.

    Use :meth:`from_estimator` to build it.

    Parameters
    ----------
    prior : ndarray of shape (n_experts,)
        Mean gate probability of each expert.

    hard_share : ndarray of shape (n_experts,)
        Fraction of rows routed to each expert.

    expert_names : list of str, default=None
        The experts' labels (``from_estimator`` passes the model's
        ``expert_names_``); None labels them ``"expert k"``.

    Attributes
    ----------
    bars_prior_, bars_hard_ : matplotlib BarContainer
        The two sets of bars.

    ax_ : matplotlib Axes
        The axes.

    figure_ : matplotlib Figure
        The figure.

    See Also
    --------
    summary : The same priors with each expert's posterior size.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.inspection import ExpertUsageDisplay
    >>> X, y = make_moe_regression(n_samples=200, n_experts=3, random_state=0)
    >>> reg = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> disp = ExpertUsageDisplay.from_estimator(reg, X)
    >>> len(disp.bars_prior_), round(float(disp.hard_share.sum()), 6)
    (3, 1.0)
    >>> plt.close("all")
    """

    def __init__(self, *, prior, hard_share, expert_names=None):
        self.prior = prior
        self.hard_share = hard_share
        self.expert_names = expert_names

    @classmethod
    def from_estimator(cls, estimator, X, *, ax=None):
        """Plot each expert's prior and hard share over ``X``.

        Parameters
        ----------
        estimator : MixtureOfExpertsRegressor, MixtureOfExpertsClassifier or Pipeline
            A fitted mixture of experts, or a fitted Pipeline whose last step is one.
            ``X`` then goes through the steps before it, and the columns are named
            as those steps name their outputs.

        X : array-like of shape (n_samples, n_features)
            Input samples.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure if ``None``.

        Returns
        -------
        display : ExpertUsageDisplay
            The display, with the plot drawn.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import ExpertUsageDisplay
        >>> display = ExpertUsageDisplay.from_estimator(moe, X)
        >>> type(display).__name__
        'ExpertUsageDisplay'
        """
        check_matplotlib_support("ExpertUsageDisplay.from_estimator")
        estimator, X, _ = fitted_mixture(estimator, X, "ExpertUsageDisplay")
        gate_proba = estimator.predict_gate_proba(X)
        n_experts = gate_proba.shape[1]
        routed = np.bincount(np.argmax(gate_proba, axis=1), minlength=n_experts)
        display = cls(
            prior=gate_proba.mean(axis=0),
            hard_share=routed / routed.sum(),
            expert_names=fitted_expert_names(estimator),
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
        display : ExpertUsageDisplay
            The display, with ``ax_``, ``figure_`` and the bars set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import ExpertUsageDisplay
        >>> display = ExpertUsageDisplay.from_estimator(moe, X)
        >>> display.plot() is display  # draw it again, on new axes
        True
        """
        check_matplotlib_support("ExpertUsageDisplay.plot")
        from matplotlib.patches import Patch

        ax = new_axes(ax)
        n_experts = len(self.prior)
        colors = expert_colors(n_experts)
        positions = np.arange(n_experts)
        width = 0.38
        self.bars_prior_ = ax.bar(
            positions - width / 2, self.prior, width, color=colors
        )
        self.bars_hard_ = ax.bar(
            positions + width / 2,
            self.hard_share,
            width,
            color=lighten(colors, 0.35),
            edgecolor=colors,
            hatch="///",
        )
        for bars in (self.bars_prior_, self.bars_hard_):
            ax.bar_label(bars, fmt="%.2f", fontsize="small", padding=2)
        ax.set_xticks(positions, expert_labels(self.expert_names, n_experts))
        top = max(np.max(self.prior), np.max(self.hard_share))
        ax.set_ylim(0, min(1.0, top) * 1.25 + 0.02)
        ax.set_ylabel("share of samples")
        ax.legend(
            [
                Patch(facecolor="0.45"),
                Patch(facecolor="0.85", edgecolor="0.45", hatch="///"),
            ],
            ["prior (mean gate probability)", "hard share (predict_gate)"],
            fontsize="small",
            loc="upper right",
        )
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
