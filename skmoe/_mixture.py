"""Per-row mixtures of ``scipy.stats`` distributions: density, CDF, draws,
quantiles and highest-density regions.

Row ``i`` holds the mixture ``sum_j weights[i, j] D(params[i, j])`` of one
``scipy.stats`` distribution ``D`` (``stats.norm``, ``stats.poisson``, ...) at
per-component parameters. Everything here is vectorised over the rows and knows
nothing of estimators: ``skmoe._predictive`` builds the regressor's predictive
distribution as one of these mixtures.
"""

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from skmoe._kernels import quadratic_cells, region_levels, region_pieces

# Quantiles: the root-finder stops at a step below _XTOL of the root, or at a CDF
# within _FTOL of the level's tail (relative), or after _MAX_ITER steps (each at
# most half the one before).
_XTOL, _FTOL, _MAX_ITER = 1e-12, 1e-15, 200
# Highest-density regions of a continuous mixture: the grid's points per
# component, uniform in the normal quantile on [-_Z, _Z] (Phi(-8) = 6e-16); the
# regula falsi steps that place an interval's end; the Newton steps on the level.
# Of a discrete one: the counts between the components' quantiles
# _TAIL * (1 - coverage) and one less that.
# Rows per block, so that a block's grid holds about _BLOCK values.
_GRID, _Z, _POLISH_STEPS, _CORRECTIONS = 256, 8.0, 20, 2
_TAIL, _BLOCK = 1e-3, 2**20


class Mixture:
    """Per row ``i`` the mixture ``sum_j weights[i, j] D(params[i, j])``.

    ``distribution`` is a ``scipy.stats`` distribution (``stats.norm``, ...) and
    ``params`` its parameters by name, each of the shape of ``weights``,
    ``(n_rows, n_components)``; a component of weight 0 plays no part.
    """

    def __init__(self, weights, distribution, params):
        self.weights = weights
        self.distribution = distribution
        self.params = params
        self.discrete = isinstance(distribution, stats.rv_discrete)

    @classmethod
    def from_frozen(cls, weights, frozen):
        """The mixture of the components of a frozen distribution of weights'
        shape."""
        dist = getattr(frozen, "dist", None)
        if not isinstance(dist, stats.rv_continuous | stats.rv_discrete):
            raise TypeError(
                "a predictive distribution must be a frozen scipy.stats "
                "distribution, such as scipy.stats.norm(loc=means, scale=...); "
                f"got {frozen!r}."
            )
        names = [name.strip() for name in (dist.shapes or "").split(",") if name]
        names += ["loc"] if isinstance(dist, stats.rv_discrete) else ["loc", "scale"]
        params = dict(zip(names, frozen.args, strict=False)) | frozen.kwds
        params = {
            name: np.broadcast_to(np.asarray(value, dtype=np.float64), weights.shape)
            for name, value in params.items()
        }
        return cls(weights, dist, params)

    def take(self, rows):
        """The mixtures of ``rows``."""
        params = {name: value[rows] for name, value in self.params.items()}
        return Mixture(self.weights[rows], self.distribution, params)

    def components(self, method, x):
        """``method`` (``"cdf"``, ...) of every component at ``x`` of shape
        ``(n_rows, ...)``: shape ``(n_rows, ..., n_components)``."""
        x = np.asarray(x, dtype=np.float64)
        middle = (1,) * (x.ndim - 1)
        params = {
            name: value.reshape(value.shape[0], *middle, value.shape[1])
            for name, value in self.params.items()
        }
        return getattr(self.distribution, method)(x[..., None], **params)

    def _mix(self, values):
        weights = self.weights.reshape(
            self.weights.shape[0], *(1,) * (values.ndim - 2), self.weights.shape[1]
        )
        with np.errstate(invalid="ignore"):
            return np.where(weights > 0, weights * values, 0.0).sum(axis=-1)

    def cdf(self, x):
        return self._mix(self.components("cdf", x))

    def density(self, x):
        """The density, or for a discrete family the probability mass."""
        return self._mix(self.components("pmf" if self.discrete else "pdf", x))

    def log_density(self, y):
        """``log sum_j w_j p_j(y_i)`` per row, for ``y`` of shape ``(n_rows,)``."""
        log_p = self.components("logpmf" if self.discrete else "logpdf", y)
        with np.errstate(divide="ignore"):
            return logsumexp(np.log(self.weights) + log_p, axis=1)

    def support(self):
        """The smallest and largest value of each row's components: ``(n_rows,)``."""
        lower, upper = self.distribution.support(**self.params)
        lower = np.broadcast_to(lower, self.weights.shape)
        upper = np.broadcast_to(upper, self.weights.shape)
        active = self.weights > 0
        return (
            np.where(active, lower, np.inf).min(axis=1),
            np.where(active, upper, -np.inf).max(axis=1),
        )

    def component_range(self, low, high):
        """The smallest of the components' ``low`` quantiles and the largest of
        their ``high`` quantiles, per row (``low``, ``high`` of shape
        ``(n_rows,)``)."""
        active = self.weights > 0
        low = np.where(active, self.components("ppf", low), np.inf).min(axis=1)
        high = np.where(active, self.components("ppf", high), -np.inf).max(axis=1)
        return low, high

    def sample(self, n_samples, random_state):
        """``(n_rows, n_samples)`` draws: a component by its weight, then y."""
        n_rows = self.weights.shape[0]
        cumulative = np.cumsum(self.weights, axis=1)
        uniform = random_state.random_sample((n_rows, n_samples, 1))
        chosen = (uniform * cumulative[:, -1:, None] >= cumulative[:, None, :-1]).sum(
            axis=2
        )
        params = {
            name: np.take_along_axis(value, chosen, axis=1)
            for name, value in self.params.items()
        }
        return self.distribution.rvs(
            **params, size=chosen.shape, random_state=random_state
        ).astype(np.float64)


# ---- quantiles


def mixture_quantiles(mixture, levels):
    """The ``levels`` quantiles of each row's mixture: ``(n_rows, n_levels)``.

    The root of ``F(y) = q``, which the components' own ``q`` quantiles bracket
    (each component's CDF is below ``q`` at the smallest of them and above it at
    the largest): Newton's method on the mixture's CDF, safeguarded by
    bisection, for a continuous family; bisection on the integers for a
    discrete one (the smallest ``y`` with ``F(y) >= q``). Monotone in the level
    by construction: a running maximum over the sorted levels.
    """
    n_rows, n_levels = mixture.weights.shape[0], levels.size
    rows = np.repeat(np.arange(n_rows), n_levels)
    level = np.tile(levels, n_rows)
    part = mixture.take(rows)
    lower, upper = part.component_range(level, level)
    solve = _integer_root if mixture.discrete else _continuous_root
    values = solve(part, level, lower, upper).reshape(n_rows, n_levels)
    order = np.argsort(levels, kind="stable")
    values[:, order] = np.maximum.accumulate(values[:, order], axis=1)
    return values


def _continuous_root(mixture, level, lower, upper):
    """``F(x) = level`` per row in ``[lower, upper]`` (rtsafe, vectorised)."""
    x = 0.5 * (lower + upper)
    last_step = upper - lower
    tail = _FTOL * np.minimum(level, 1.0 - level)
    todo = np.flatnonzero(upper - lower > _XTOL * np.abs(x))
    for _ in range(_MAX_ITER):
        if todo.size == 0:
            break
        part, at, q = mixture.take(todo), x[todo], level[todo]
        cdf, pdf = part.cdf(at), part.density(at)
        below = cdf < q
        lo = lower[todo] = np.where(below, at, lower[todo])
        hi = upper[todo] = np.where(below, upper[todo], at)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = at - (cdf - q) / pdf
        # Newton's step where it stays in the bracket and at most halves the last
        # step; else bisection: each step at most half the one before.
        fast = (newton > lo) & (newton < hi)
        fast &= np.abs(newton - at) <= 0.5 * last_step[todo]
        step_to = np.where(fast, newton, 0.5 * (lo + hi))
        close = np.abs(cdf - q) <= tail[todo]
        step_to = np.where(close, at, step_to)
        last_step[todo] = np.abs(step_to - at)
        x[todo] = step_to
        scale = _XTOL * np.abs(step_to)
        done = (last_step[todo] <= scale) | (hi - lo <= scale) | close
        todo = todo[~done]
    return x


def _integer_root(mixture, level, lower, upper):
    """The smallest integer ``y`` in ``[lower, upper]`` with ``F(y) >= level``."""
    lower, upper = lower.copy(), upper.copy()
    todo = np.flatnonzero(upper > lower)
    while todo.size:
        middle = np.floor(0.5 * (lower[todo] + upper[todo]))
        enough = mixture.take(todo).cdf(middle) >= level[todo]
        upper[todo] = np.where(enough, middle, upper[todo])
        lower[todo] = np.where(enough, lower[todo], middle + 1.0)
        todo = todo[upper[todo] > lower[todo]]
    return upper


# ---- highest-density regions


def highest_density_regions(mixture, coverage):
    """Each row's highest-density region of mass ``coverage``: a list of arrays
    ``(n_intervals, 2)``, the intervals in increasing order."""
    n_rows, n_components = mixture.weights.shape
    if mixture.discrete:
        tail = _TAIL * (1.0 - coverage)
        low, high = mixture.component_range(
            np.full(n_rows, tail), np.full(n_rows, 1.0 - tail)
        )
        widths = (high - low + 1).astype(np.intp)
        per_row = widths.max(initial=1)
    else:
        per_row = _GRID * n_components**2
    block = max(1, _BLOCK // per_row)
    regions = []
    for start in range(0, n_rows, block):
        rows = slice(start, start + block)
        part = mixture.take(rows)
        if mixture.discrete:
            regions += _discrete_regions(part, coverage, low[rows], widths[rows])
        else:
            regions += _continuous_regions(part, coverage)
    return regions


def _runs(inside):
    """The runs of True in each row of ``inside``: their rows, first and last
    columns, by row and then column."""
    padded = np.pad(inside, ((0, 0), (1, 1)))
    rows, first = np.nonzero(padded[:, 1:-1] & ~padded[:, :-2])
    _, last = np.nonzero(padded[:, 1:-1] & ~padded[:, 2:])
    return rows, first, last


def _by_row(rows, lower, upper, n_rows):
    """The intervals ``[lower, upper]`` of each row, as a list of arrays."""
    intervals = np.column_stack([lower, upper])
    return np.split(intervals, np.cumsum(np.bincount(rows, minlength=n_rows))[:-1])


def _discrete_regions(mixture, coverage, low, widths):
    """The fewest integers of largest probability, with mass ``>= coverage``."""
    span = np.arange(widths.max())
    values = low[:, None] + span
    in_range = span < widths[:, None]
    mass = np.where(in_range, mixture.density(np.where(in_range, values, 0)), 0.0)
    order = np.argsort(-mass, axis=1, kind="stable")  # ties: the smaller y first
    cumulative = np.cumsum(np.take_along_axis(mass, order, axis=1), axis=1)
    needed = (cumulative < coverage).sum(axis=1) + 1
    rank = np.argsort(order, axis=1)
    rows, first, last = _runs(rank < needed[:, None])
    return _by_row(rows, values[rows, first], values[rows, last], len(values))


def _continuous_regions(mixture, coverage):
    """``{y : f(y) >= t}`` with mass ``coverage``, on a grid refined per row.

    The grid: each component's quantiles at ``_GRID`` levels uniform in the
    normal quantile, from ``-_Z`` to ``_Z``, so that every component is
    resolved wherever it adds to the density. On each cell the density is the
    quadratic with the density at both ends and the cell's exact mass (the
    derivative of the cubic Hermite CDF). The level ``t`` solves the mass of
    ``{f >= t}`` under it; the ends of the intervals, where ``f = t``, are then
    solved on the exact density inside their cells, and ``t`` takes Newton
    steps on the exact mass (its derivative in ``t`` read off the quadratics).
    """
    n_rows = mixture.weights.shape[0]
    levels = stats.norm.cdf(np.linspace(-_Z, _Z, _GRID))
    points = mixture.components("ppf", np.broadcast_to(levels, (n_rows, _GRID)))
    grid = np.sort(points.reshape(n_rows, -1), axis=1)
    cells = quadratic_cells(mixture.density(grid), mixture.cdf(grid), grid)
    level = np.empty(n_rows)
    region_levels(*cells, coverage, level)
    best, best_error = None, np.full(n_rows, np.inf)
    for _ in range(_CORRECTIONS + 1):
        rows, lower, upper, slope = _region_ends(mixture, grid, cells, level)
        part = mixture.take(rows)
        mass = np.bincount(rows, part.cdf(upper) - part.cdf(lower), n_rows)
        regions = _by_row(rows, lower, upper, n_rows)
        # Each row keeps its most accurate step: a step across a tangency (where
        # an interval splits in two) may land further off.
        error = np.abs(mass - coverage)
        better = error < best_error
        best = (
            regions
            if best is None
            else [
                new if keep else old
                for new, old, keep in zip(regions, best, better, strict=True)
            ]
        )
        best_error = np.minimum(error, best_error)
        # d mass / d t = -t sum over the ends of 1 / |f'(end)|.
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = level + (mass - coverage) / (
                level * np.bincount(rows, slope, n_rows)
            )
        level = np.where((newton > 0) & (newton < cells[-1]), newton, level)
    return best


def _region_ends(mixture, grid, cells, level):
    """The region's intervals at ``level``: their rows, lower and upper ends
    (solved on the exact density), and per interval ``1 / |f'|`` summed over
    its solved ends."""
    f0, b, c, width, _ = cells
    ends = np.empty((*f0.shape, 4))
    inside = np.empty((*f0.shape, 3), dtype=np.bool_)
    region_pieces(f0, b, c, width, level, ends, inside)
    rows, first, last = _runs(inside.reshape(len(grid), -1))
    part, at = mixture.take(rows), level[rows]
    lower, lower_slope = _polish(part, at, grid, cells, ends, rows, first, True)
    upper, upper_slope = _polish(part, at, grid, cells, ends, rows, last, False)
    # A region that reaches the grid's end reaches the support's, if finite.
    support_low, support_high = part.support()
    at_low = (lower == grid[rows, 0]) & np.isfinite(support_low)
    at_high = (upper == grid[rows, -1]) & np.isfinite(support_high)
    lower = np.where(at_low, support_low, lower)
    upper = np.where(at_high, support_high, upper)
    return rows, lower, upper, lower_slope + upper_slope


def _polish(mixture, level, grid, cells, ends, rows, piece, rising):
    """The end of each interval (the start of its first ``piece`` if
    ``rising``, else the end of its last) where the exact density crosses
    ``level`` inside its cell, by regula falsi (Illinois) from the quadratic's
    root; also ``1 / |f'|`` there, from the quadratic (0 at an end that
    crosses nothing: the grid's or an end the quadratic alone sees)."""
    _, b, c, width, _ = cells
    cell, within = np.divmod(piece, 3)
    s = ends[rows, cell, within + (0 if rising else 1)]
    low, h = grid[rows, cell], width[rows, cell]
    x, high = low + h * s, grid[rows, cell + 1]
    g_low, g_high = mixture.density(low) - level, mixture.density(high) - level
    crossing = ((g_high >= 0) == rising) & ((g_low >= 0) != rising)
    crossing &= (x > grid[rows, 0]) & (x < grid[rows, -1])
    slope = np.zeros(len(x))
    if crossing.any():
        root = _regula_falsi(
            mixture.take(crossing),
            level[crossing],
            (low[crossing], g_low[crossing]),
            (high[crossing], g_high[crossing]),
            x[crossing],
        )
        x[crossing] = root
        at_row, at_cell = rows[crossing], cell[crossing]
        s = (root - low[crossing]) / h[crossing]
        derivative = (b[at_row, at_cell] - 2 * c[at_row, at_cell] * s) / h[crossing]
        with np.errstate(divide="ignore"):
            slope[crossing] = 1.0 / np.abs(derivative)
    return x, slope


def _regula_falsi(mixture, level, low, high, start):
    """The root of ``density = level`` between ``low`` and ``high`` (each a
    point and the density less ``level`` there, of opposite signs), by regula
    falsi with the Illinois rule from ``start``, vectorised."""
    (a, g_a), (z, g_z) = low, high
    a, g_a, z, g_z = a.copy(), g_a.copy(), z.copy(), g_z.copy()
    root, moved = start.copy(), np.zeros(start.shape)
    todo = np.arange(start.size)
    for _ in range(_POLISH_STEPS):
        part, at, t = mixture.take(todo), root[todo], level[todo]
        g = part.density(at) - t
        move_a = (g >= 0) == (g_a[todo] >= 0)
        g_z[todo] = np.where(move_a & (moved[todo] > 0), 0.5 * g_z[todo], g_z[todo])
        g_a[todo] = np.where(~move_a & (moved[todo] < 0), 0.5 * g_a[todo], g_a[todo])
        a[todo] = np.where(move_a, at, a[todo])
        g_a[todo] = np.where(move_a, g, g_a[todo])
        z[todo] = np.where(move_a, z[todo], at)
        g_z[todo] = np.where(move_a, g_z[todo], g)
        moved[todo] = np.where(move_a, 1.0, -1.0)
        lo, hi, g_lo, g_hi = a[todo], z[todo], g_a[todo], g_z[todo]
        with np.errstate(divide="ignore", invalid="ignore"):
            secant = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
        inner = (secant - lo) * (secant - hi) < 0
        root[todo] = np.where(inner, secant, 0.5 * (lo + hi))
        done = (np.abs(hi - lo) <= 1e-13 * np.abs(at)) | (np.abs(g) <= 1e-13 * t)
        root[todo] = np.where(np.abs(g) <= 1e-13 * t, at, root[todo])
        todo = todo[~done]
        if todo.size == 0:
            break
    return root
