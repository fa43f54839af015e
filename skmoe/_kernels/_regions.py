"""Highest-density regions of a density that is quadratic on each cell of a grid.

On cell ``j`` of row ``i`` the density is ``f(s) = f0 + b s - c s^2`` for ``s`` in
``[0, 1]`` (the cell's local coordinate; the cell is ``width`` long). The region
``{f >= t}`` cuts each cell into at most three pieces at the roots of ``f = t``;
its mass is a sum of the quadratic's integrals over the pieces inside.
"""

import math

import numpy as np

from skmoe._kernels._jit import jit


@jit
def _roots(f0, b, c, level):
    """The roots of ``f(s) = level`` clipped to [0, 1], sorted; 1 where none."""
    # c s^2 - b s + (level - f0) = 0, with the root formula that keeps digits.
    qb, qc = -b, level - f0
    discriminant = qb * qb - 4.0 * c * qc
    if discriminant < 0.0:
        return 1.0, 1.0
    root = math.sqrt(discriminant)
    q = -0.5 * (qb - root) if qb < 0.0 else -0.5 * (qb + root)
    first = q / c if c != 0.0 else (math.inf if q >= 0.0 else -math.inf)
    second = qc / q if q != 0.0 else 1.0
    first = min(max(first, 0.0), 1.0) if not math.isnan(first) else 1.0
    second = min(max(second, 0.0), 1.0) if not math.isnan(second) else 1.0
    return min(first, second), max(first, second)


@jit
def _value(f0, b, c, s):
    return f0 + s * (b - c * s)


@jit
def _primitive(f0, b, c, s):
    return s * (f0 + s * (0.5 * b - c * s / 3.0))


@jit
def _row_mass(f0, b, c, width, level):
    total = 0.0
    for j in range(f0.shape[0]):
        if width[j] <= 0.0:
            continue
        first, second = _roots(f0[j], b[j], c[j], level)
        low = 0.0
        for high in (first, second, 1.0):
            if high > low and _value(f0[j], b[j], c[j], 0.5 * (low + high)) >= level:
                total += width[j] * (
                    _primitive(f0[j], b[j], c[j], high)
                    - _primitive(f0[j], b[j], c[j], low)
                )
            low = max(low, high)
    return total


@jit
def region_levels(f0, b, c, width, peak, coverage, levels):
    """Per row the level ``t`` whose region ``{f >= t}`` has mass ``coverage``.

    Regula falsi with the Illinois rule on ``[0, peak]`` (the mass falls with
    ``t``, from the grid's whole mass to 0), to ``1e-15`` of mass or ``1e-14``
    of the level.
    """
    for i in range(f0.shape[0]):
        low, high = 0.0, peak[i] * (1.0 + 1e-12)
        g_low = _row_mass(f0[i], b[i], c[i], width[i], low) - coverage
        g_high = -coverage
        level = 0.5 * (low + high)
        side = 0
        for _ in range(200):
            if g_low <= 0.0:  # the grid holds no more than coverage
                level = low
                break
            level = (low * g_high - high * g_low) / (g_high - g_low)
            if not (low < level < high):
                level = 0.5 * (low + high)
            g = _row_mass(f0[i], b[i], c[i], width[i], level) - coverage
            if abs(g) <= 1e-15 or high - low <= 1e-14 * high:
                break
            if g > 0.0:
                low, g_low = level, g
                if side > 0:
                    g_high *= 0.5
                side = 1
            else:
                high, g_high = level, g
                if side < 0:
                    g_low *= 0.5
                side = -1
        levels[i] = level


@jit
def region_pieces(f0, b, c, width, levels, ends, inside):
    """Each cell's three pieces: their ends (in the cell's ``s``, ``(..., 4)``)
    and whether each is inside ``{f >= level}`` (``(..., 3)``); an empty piece
    takes the membership of the piece before it, so that it splits no run."""
    n_rows, n_cells = f0.shape
    for i in range(n_rows):
        previous = False
        for j in range(n_cells):
            first, second = _roots(f0[i, j], b[i, j], c[i, j], levels[i])
            ends[i, j, 0], ends[i, j, 1] = 0.0, first
            ends[i, j, 2], ends[i, j, 3] = second, 1.0
            for piece in range(3):
                low, high = ends[i, j, piece], ends[i, j, piece + 1]
                if high > low and width[i, j] > 0.0:
                    middle = 0.5 * (low + high)
                    previous = _value(f0[i, j], b[i, j], c[i, j], middle) >= levels[i]
                inside[i, j, piece] = previous


def quadratic_cells(density, cdf, grid):
    """``f0``, ``b``, ``c`` and ``width`` of each cell: the quadratic with the
    density at both ends and the cell's exact mass (NumPy, no loop)."""
    width = np.diff(grid, axis=1)
    f0, f1 = density[:, :-1], density[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(width > 0, np.diff(cdf, axis=1) / width, 0.0)
    c = np.where(width > 0, 6.0 * (mean - 0.5 * (f0 + f1)), 0.0)
    b = f1 - f0 + c
    inner = (c > 0) & (b > 0) & (b < 2 * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(inner, f0 + b**2 / (4 * c), 0.0)
    peak = np.maximum(density.max(axis=1), vertex.max(axis=1))
    return tuple(np.ascontiguousarray(a) for a in (f0, b, c, width, peak))
