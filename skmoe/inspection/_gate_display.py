"""GateDisplay: the gate's regions over one or two of its features."""

from numbers import Integral

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils._optional_dependencies import check_matplotlib_support

from skmoe.inspection._plotting import (
    expert_colors,
    expert_labels,
    fitted_expert_names,
    lighten,
    new_axes,
)
from skmoe.inspection._unwrap import fitted_mixture

# The grid extends this fraction of a feature's range beyond the data on each side,
# so that points on the edge are drawn whole.
_GRID_PADDING = 0.025


def _feature_label(names, column):
    return f"x{column}" if names is None else str(names[column])


def _resolve_gate_features(estimator, names, features):
    """Columns of X for ``features`` (indices or names), checked against the gate."""
    gate_columns = [int(c) for c in estimator.gate_features_]
    gate_labels = [_feature_label(names, c) for c in gate_columns]
    if features is None:
        if not 1 <= len(gate_columns) <= 2:
            detail = (
                "no features: its probabilities are the same everywhere (see "
                "summary for them)"
                if not gate_columns
                else f"{len(gate_columns)} features {gate_labels}; choose one or "
                "two of them with features=[...]"
            )
            raise ValueError(f"The gate sees {detail}.")
        return gate_columns
    if isinstance(features, str | Integral):
        features = [features]
    features = list(features)
    if not 1 <= len(features) <= 2:
        raise ValueError(f"GateDisplay shows one or two features; got {len(features)}.")
    columns = []
    for feature in features:
        if isinstance(feature, str):
            if names is None or feature not in names:
                raise ValueError(
                    f"Feature {feature!r} is not a column of X: the estimator was "
                    + (
                        "fitted on an array without column names; give indices."
                        if names is None
                        else f"fitted on columns {list(names)}."
                    )
                )
            column = int(np.flatnonzero(names == feature)[0])
        elif isinstance(feature, Integral):
            column = int(feature)
        else:
            raise ValueError(
                f"features must hold column indices or names; got {feature!r}."
            )
        if column not in gate_columns:
            raise ValueError(
                f"Feature {feature!r} is not a gate feature: the gate sees "
                f"{gate_labels}."
            )
        columns.append(column)
    if len(set(columns)) != len(columns):
        raise ValueError(f"features lists a column twice: {features}.")
    return columns


def _as_input(X, values):
    """``values`` in the container type of ``X``: a DataFrame for a DataFrame."""
    if hasattr(X, "iloc"):
        import pandas as pd

        return pd.DataFrame(values, columns=X.columns)
    return values


class GateDisplay:
    """The gate's regions over one or two of its features.

    With one feature, the gate probability of each expert is drawn as a curve over
    the feature's range; for a regressor given ``y``, a panel above it shows the
    data, coloured by the expert each row is assigned to a posteriori, and each
    expert's prediction curve. With two features, the region where each expert is
    the gate's most probable one is filled with the expert's (light) colour and the
    data are drawn on top. Gate features not plotted are held at their median
    over ``X``.

    Use :meth:`from_estimator` to build it. Expert ``k`` is drawn in colour
    ``"C<k>"`` in every panel.

    Parameters
    ----------
    grid : ndarray of shape (n_grid,) or tuple of two ndarrays
        The plotted feature's values (one feature), or the two
        ``(grid_resolution, grid_resolution)`` outputs of :func:`numpy.meshgrid`.

    gate_proba : ndarray of shape (n_grid, n_experts) or \
            (grid_resolution, grid_resolution, n_experts)
        Gate probabilities on the grid.

    feature_names : list of str
        Names of the one or two plotted features.

    x_data : ndarray of shape (n_samples, n_plotted_features), default=None
        The data's values of the plotted features, drawn as points.

    assigned : ndarray of shape (n_samples,), default=None
        The expert each data row is coloured by: the most probable a posteriori
        when ``y`` is given, else the gate's choice.

    y : ndarray of shape (n_samples,), default=None
        Targets, drawn against ``x_data`` in the expert panel (one feature).

    expert_predictions : ndarray of shape (n_grid, n_experts), default=None
        Each expert's prediction on the grid (one feature, regression); with ``y``,
        draws the expert panel.

    held_features : list of str, default=()
        Names of the columns the model uses that were held at their median,
        noted in the title.

    classes : ndarray of shape (n_samples,), default=None
        Each data row's class (a classifier given ``y``): the points' marker
        shows it, as the colour shows the expert, with a legend of the classes.

    expert_names : list of str, default=None
        The experts' labels in the legends (``from_estimator`` passes the
        model's ``expert_names_``); None labels them ``"expert k"``.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        One gate-probability curve per expert (one feature).

    surface_ : matplotlib QuadMesh or None
        The filled regions (two features).

    expert_lines_ : list of matplotlib Line2D or None
        One prediction curve per expert in the expert panel.

    scatter_ : matplotlib PathCollection or None
        The data points.

    ax_ : matplotlib Axes
        The axes with the gate's probabilities or regions.

    ax_experts_ : matplotlib Axes or None
        The expert panel's axes.

    figure_ : matplotlib Figure
        The figure.

    See Also
    --------
    ExpertUsageDisplay : How much of the data each expert handles.
    summary : The fitted model in numbers.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_npreg
    >>> from skmoe.inspection import GateDisplay
    >>> X, y = make_npreg(random_state=0)
    >>> Z = np.column_stack([X[:, 0], X[:, 0] ** 2])
    >>> reg = MixtureOfExpertsRegressor(
    ...     n_experts=2, gate_features=[0], random_state=0
    ... ).fit(Z, y)
    >>> disp = GateDisplay.from_estimator(
    ...     reg, Z, y, grid_transform=lambda G: np.column_stack([G[:, 0], G[:, 0] ** 2])
    ... )
    >>> len(disp.lines_), len(disp.expert_lines_)
    (2, 2)
    >>> plt.close("all")
    """

    def __init__(
        self,
        *,
        grid,
        gate_proba,
        feature_names,
        x_data=None,
        assigned=None,
        y=None,
        expert_predictions=None,
        held_features=(),
        classes=None,
        expert_names=None,
    ):
        self.grid = grid
        self.gate_proba = gate_proba
        self.feature_names = feature_names
        self.x_data = x_data
        self.assigned = assigned
        self.y = y
        self.expert_predictions = expert_predictions
        self.held_features = held_features
        self.classes = classes
        self.expert_names = expert_names

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        features=None,
        grid_resolution=200,
        grid_transform=None,
        ax=None,
    ):
        """Plot the gate of a fitted mixture of experts over one or two features.

        The grid spans each plotted feature's range over ``X``; every other column
        is held at its median over ``X``. The data are coloured by the expert they
        are assigned to: the most probable a posteriori (``posterior_proba``) when
        ``y`` is given, else the gate's choice (``predict_gate``).

        Parameters
        ----------
        estimator : MixtureOfExpertsRegressor, MixtureOfExpertsClassifier or Pipeline
            A fitted mixture of experts, or a fitted Pipeline whose last step is one.
            ``X`` then goes through the steps before it, and the columns are named
            as those steps name their outputs.

        X : array-like of shape (n_samples, n_features)
            Data that set the grid's range and medians, drawn as points.

        y : array-like of shape (n_samples,), default=None
            Targets. For a regressor and one feature, they add the panel with the
            data and each expert's prediction curve.

        features : int, str or list of one or two of them, default=None
            The gate features to plot, as column indices or names (when the
            estimator was fitted on a DataFrame). ``None`` plots the gate's
            features when it has one or two.

        grid_resolution : int, default=200
            Grid points along each plotted feature.

        grid_transform : callable, default=None
            Maps the grid rows (an array, or a DataFrame with the columns of ``X``
            when ``X`` is one: the plotted features varying, the other columns at
            their medians) to the rows the model is evaluated on. Needed when
            columns of ``X`` are functions of the plotted feature: for experts on
            ``[x, x**2]``, holding ``x**2`` at its median while ``x`` varies would
            draw wrong curves; pass
            ``lambda G: np.column_stack([G[:, 0], G[:, 0] ** 2])`` to rebuild it.
            A transform rather than a ready-made grid, so that the display still
            chooses the range and resolution, for one feature or two. Columns held
            at their median are named in the title only when it is ``None``.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure if ``None``. When the expert panel is
            drawn, a given Axes is split: the expert panel on top, the gate below;
            a pair of Axes is used as they are.

        Returns
        -------
        display : GateDisplay
            The display, with the plot drawn.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import GateDisplay
        >>> display = GateDisplay.from_estimator(moe, X)
        >>> type(display).__name__
        'GateDisplay'
        """
        check_matplotlib_support("GateDisplay.from_estimator")
        estimator, X, names = fitted_mixture(estimator, X, "GateDisplay")
        columns = _resolve_gate_features(estimator, names, features)
        values = np.asarray(X, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"X must have the {estimator.n_features_in_} columns the estimator "
                f"was fitted on; got shape {values.shape}."
            )
        axes_values = []
        for column in columns:
            low, high = values[:, column].min(), values[:, column].max()
            pad = _GRID_PADDING * (high - low)
            axes_values.append(np.linspace(low - pad, high + pad, grid_resolution))
        if len(columns) == 2:
            grid = np.meshgrid(*axes_values)
            points = [g.ravel() for g in grid]
        else:
            grid = axes_values[0]
            points = axes_values
        rows = np.tile(np.median(values, axis=0), (points[0].size, 1))
        for column, point in zip(columns, points, strict=True):
            rows[:, column] = point
        rows = _as_input(X, rows)
        if grid_transform is not None:
            rows = grid_transform(rows)
            if np.shape(rows)[0] != points[0].size:
                raise ValueError(
                    f"grid_transform returned {np.shape(rows)[0]} rows for a grid of "
                    f"{points[0].size}; it must keep one row per grid point."
                )
        gate_proba = estimator.predict_gate_proba(rows)
        if len(columns) == 2:
            gate_proba = gate_proba.reshape(*grid[0].shape, -1)

        used = set(estimator.gate_features_.tolist())
        expert_predictions = None
        if y is None:
            assigned = estimator.predict_gate(X)
        else:
            y = np.asarray(y)
            assigned = np.argmax(estimator.posterior_proba(X, y), axis=1)
            if len(columns) == 1 and is_regressor(estimator):
                expert_predictions = estimator.predict_experts(rows)
                used |= set(estimator.expert_features_.tolist())
        held = []
        if grid_transform is None:
            held = [_feature_label(names, c) for c in sorted(used - set(columns))]
        display = cls(
            grid=grid,
            gate_proba=gate_proba,
            feature_names=[_feature_label(names, c) for c in columns],
            x_data=values[:, columns],
            assigned=assigned,
            y=y,
            expert_predictions=expert_predictions,
            held_features=held,
            classes=y if y is not None and is_classifier(estimator) else None,
            expert_names=fitted_expert_names(estimator),
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes or pair of Axes, default=None
            Where to draw; see :meth:`from_estimator`.

        Returns
        -------
        display : GateDisplay
            The display, with ``ax_``, ``figure_`` and the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import GateDisplay
        >>> display = GateDisplay.from_estimator(moe, X)
        >>> display.plot() is display  # draw it again, on new axes
        True
        """
        check_matplotlib_support("GateDisplay.plot")
        n_experts = self.gate_proba.shape[-1]
        colors = expert_colors(n_experts)
        labels = expert_labels(self.expert_names, n_experts)
        self.lines_ = self.expert_lines_ = self.scatter_ = self.surface_ = None
        self.ax_experts_ = None
        if len(self.feature_names) == 2:
            self.ax_ = new_axes(ax)
            self._plot_regions(colors, labels)
            top = self.ax_
        elif self.expert_predictions is not None and self.y is not None:
            self.ax_experts_, self.ax_ = _split_axes(ax)
            self._plot_experts(colors, labels)
            self._plot_gate_curves(colors, labels, legend=False)
            top = self.ax_experts_
        else:
            self.ax_ = new_axes(ax)
            self._plot_gate_curves(colors, labels, legend=True)
            top = self.ax_
        title = []
        if self.surface_ is not None and self.x_data is not None:
            by = "the gate's choice" if self.y is None else "assigned a posteriori"
            title.append(f"regions: the gate's choice; points: {by}")
        if len(self.held_features):
            title.append("held at the median: " + ", ".join(self.held_features))
        if title:
            top.set_title("\n".join(title), fontsize="small")
        self.figure_ = self.ax_.figure
        return self

    def _plot_gate_curves(self, colors, labels, legend):
        ax = self.ax_
        self.lines_ = []
        for k in range(self.gate_proba.shape[1]):
            (line,) = ax.plot(
                self.grid,
                self.gate_proba[:, k],
                color=colors[k],
                lw=2,
                label=labels[k],
            )
            self.lines_.append(line)
        ax.set_xlim(self.grid[0], self.grid[-1])
        ax.set_ylim(-0.04, 1.04)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel("gate probability")
        if legend:
            if self.x_data is not None:
                # A rug shows where the data lie, coloured like the curves; with
                # classes, one row of markers per class.
                heights = np.full(len(self.x_data), 0.04)
                style = {"marker": "|", "s": 60, "linewidths": 1}
                if self.classes is not None:
                    _, codes = np.unique(self.classes, return_inverse=True)
                    heights = 0.03 + 0.035 * codes
                    style = {"s": 16, "linewidths": 0.4}
                ax.set_ylim(-0.12 - 1.5 * (heights.max() - 0.04), 1.04)
                self.scatter_ = _scatter(
                    self,
                    ax,
                    self.x_data[:, 0],
                    heights,
                    colors,
                    alpha=0.6,
                    transform=ax.get_xaxis_transform(),
                    **style,
                )
            legend = ax.legend(title="expert", fontsize="small", loc="best")
            _add_class_legend(ax, self.classes, legend, "center left")

    def _plot_experts(self, colors, labels):
        ax = self.ax_experts_
        self.scatter_ = _scatter(
            self,
            ax,
            self.x_data[:, 0],
            self.y,
            colors,
            s=14,
            alpha=0.6,
            edgecolors="none",
        )
        self.expert_lines_ = []
        for k in range(self.expert_predictions.shape[1]):
            (line,) = ax.plot(
                self.grid,
                self.expert_predictions[:, k],
                color=colors[k],
                lw=2.5,
                label=labels[k],
            )
            self.expert_lines_.append(line)
        ax.set_ylabel("y")
        ax.tick_params(labelbottom=False)
        ax.legend(
            title="expert (points: assigned a posteriori)",
            fontsize="small",
            title_fontsize="small",
            loc="best",
        )

    def _plot_regions(self, colors, labels):
        from matplotlib.colors import ListedColormap
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        ax = self.ax_
        n_experts = self.gate_proba.shape[-1]
        light = lighten(colors, 0.3)
        xx0, xx1 = self.grid
        self.surface_ = ax.pcolormesh(
            xx0,
            xx1,
            np.argmax(self.gate_proba, axis=-1),
            cmap=ListedColormap(light),
            vmin=-0.5,
            vmax=n_experts - 0.5,
            shading="auto",
            rasterized=True,
        )
        if self.x_data is not None:
            self.scatter_ = _scatter(
                self,
                ax,
                self.x_data[:, 0],
                self.x_data[:, 1],
                colors,
                s=16,
                edgecolors="black",
                linewidths=0.4,
            )
        handles = [
            (
                Patch(facecolor=light[k]),
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="o",
                    markerfacecolor=colors[k],
                    markeredgecolor="black",
                    markeredgewidth=0.4,
                ),
            )
            for k in range(n_experts)
        ]
        legend = ax.legend(
            handles,
            labels,
            title="expert",
            fontsize="small",
            title_fontsize="small",
            loc="upper left" if self.classes is not None else "best",
        )
        _add_class_legend(ax, self.classes, legend, "lower right")
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel(self.feature_names[1])


_CLASS_MARKERS = "osD^vP*Xph"


def _scatter(display, ax, x, y, colors, **kwargs):
    """The data points, coloured by expert and marked by class where known."""
    point_colors = None if display.assigned is None else colors[display.assigned]
    scatter = ax.scatter(x, y, c=point_colors, zorder=3, **kwargs)
    if display.classes is not None:
        # One collection still (scatter_), each point with its class's marker.
        _, codes = np.unique(display.classes, return_inverse=True)
        scatter.set_paths([_marker_path(_class_marker(c)) for c in codes])
    return scatter


def _class_marker(code):
    """Class ``code``'s marker; classes beyond ten reuse them."""
    return _CLASS_MARKERS[code % len(_CLASS_MARKERS)]


def _add_class_legend(ax, classes, expert_legend, loc):
    """A second legend, of the classes' markers, beside the experts'."""
    if classes is None:
        return
    from matplotlib.lines import Line2D

    ax.add_artist(expert_legend)
    labels = np.unique(classes)
    handles = [
        Line2D([], [], ls="", marker=_class_marker(c), color="0.3")
        for c in range(len(labels))
    ]
    ax.legend(
        handles,
        [str(label) for label in labels],
        title="class",
        fontsize="small",
        title_fontsize="small",
        loc=loc,
    )


def _marker_path(marker):
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform())


def _split_axes(ax):
    """Axes for the expert panel (top) and the gate (below), sharing x.

    A given Axes is the bounding box of both, as scikit-learn's
    PartialDependenceDisplay treats a single Axes; a pair is used as given.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, (top, bottom) = plt.subplots(
            2,
            1,
            sharex=True,
            height_ratios=[2, 1],
            figsize=(6.4, 6.4),
            layout="constrained",
        )
        return top, bottom
    if np.ndim(ax) == 1 and len(ax) == 2:
        return ax[0], ax[1]
    figure = ax.figure
    spec = ax.get_subplotspec()
    ax.remove()
    if spec is not None:
        inner = spec.subgridspec(2, 1, height_ratios=[2, 1], hspace=0.05)
        top = figure.add_subplot(inner[0])
        return top, figure.add_subplot(inner[1], sharex=top)
    left, bottom, width, height = ax.get_position().bounds
    top = figure.add_axes([left, bottom + 0.36 * height, width, 0.64 * height])
    lower = figure.add_axes([left, bottom, width, 0.3 * height], sharex=top)
    return top, lower
