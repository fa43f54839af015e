"""What the displays share: each expert's colour, a new Axes.

Each display's ``from_estimator`` computes what it shows and calls ``plot``, which
draws on a given or new matplotlib Axes, stores ``ax_`` and ``figure_`` and returns
the display. Expert ``k`` has the colour ``"C<k>"`` of matplotlib's colour cycle in
every display, so that the plots of one model read together.
"""


def expert_colors(n_experts):
    """Expert ``k``'s colour as RGBA, ``"C<k>"`` of the colour cycle."""
    from matplotlib.colors import to_rgba_array

    return to_rgba_array([f"C{k}" for k in range(n_experts)])


def lighten(colors, amount):
    """Blend RGBA ``colors`` towards white; opaque, so regions show no seams."""
    light = colors.copy()
    light[:, :3] = 1 - amount * (1 - colors[:, :3])
    return light


def new_axes(ax):
    """``ax``, or the Axes of a new figure when ``ax`` is None."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def expert_labels(expert_names, n_experts):
    """How a display labels each expert: its name, or ``"expert k"``."""
    if expert_names is None:
        return [f"expert {k}" for k in range(n_experts)]
    return [str(name) for name in expert_names]


def fitted_expert_names(estimator):
    """A fitted mixture's ``expert_names_`` (None for a model fitted before them)."""
    names = getattr(estimator, "expert_names_", None)
    return None if names is None else list(names)
