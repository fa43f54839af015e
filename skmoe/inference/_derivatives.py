"""First and second derivatives of each family's log-density, per row.

A regression expert's log-density ``l(y; mu, psi)`` depends on its mean ``mu``
(the expert's prediction) and on the family's parameters, taken on the log scale
(``psi = log variance``, ``log scale`` and ``log df``, ``log dispersion``, ``log
shape``), where the information is better conditioned and the parameters have no
bound. The mean is a function of the expert's linear predictor ``eta`` through
its link (identity, or log for ``PoissonRegressor`` and ``GammaRegressor``), and
:func:`through_link` turns derivatives in ``mu`` into derivatives in ``eta``. A
classifier expert's log-density is the multinomial one of its logits
(:func:`multinomial_terms`).

Every function returns ``Terms``: ``value`` (n,), ``d_eta`` (n, q), ``d_psi``
(n, r), ``d_eta_eta`` (n, q, q), ``d_eta_psi`` (n, q, r), ``d_psi_psi`` (n, r, r).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln, polygamma

from skmoe.families import Gamma, Gaussian, NegativeBinomial, Poisson, StudentT
from skmoe.families._counts import _MAX_DISPERSION, _MIN_DISPERSION
from skmoe.families._gamma import _MAX_SHAPE, _MIN_SHAPE
from skmoe.families._student_t import _MAX_DF, _MIN_DF

_LOG_2PI = np.log(2 * np.pi)


@dataclass
class Terms:
    value: np.ndarray
    d_eta: np.ndarray
    d_psi: np.ndarray
    d_eta_eta: np.ndarray
    d_eta_psi: np.ndarray
    d_psi_psi: np.ndarray


def psi_names(family):
    """The family's parameters, in the order of its ``psi`` (the table's names)."""
    return _PSI_NAMES[type(family)]


def at_bound(family, name, value):
    """Whether a fitted family parameter sits at a bound its M-step clips it to.

    There the likelihood's maximum is on the edge of the parameter space, not a
    stationary point (a negative binomial's dispersion at its floor is the
    Poisson), so the parameter has no Wald standard error.
    """
    low, high = _BOUNDS.get((type(family), name), (0.0, np.inf))
    return not low * (1 + _BOUND_RTOL) < value < high / (1 + _BOUND_RTOL)


def family_psi(family, k):
    """Expert ``k``'s ``psi``: the log of each of its family parameters."""
    return np.log(
        np.array(
            [family.fitted_attributes()[name + "_"][k] for name in psi_names(family)]
        )
    )


def mean_terms(family, mu, y, psi):
    """Derivatives of the log-density in ``(mu, psi)``, ``mu`` as ``eta`` (q = 1).

    Parameters
    ----------
    family : Family
        One of the regression families skmoe ships.

    mu : ndarray of shape (n,)
        The expert's means.

    y : ndarray of shape (n,)
        The target.

    psi : ndarray of shape (r,)
        The expert's family parameters on the log scale.
    """
    value, d_mu, d_mu_mu, d_psi, d_mu_psi, d_psi_psi = _DERIVATIVES[type(family)](
        mu, y, psi
    )
    n = mu.size
    return Terms(
        value,
        d_mu[:, None],
        np.reshape(d_psi, (n, psi.size)),
        d_mu_mu[:, None, None],
        np.reshape(d_mu_psi, (n, 1, psi.size)),
        np.reshape(d_psi_psi, (n, psi.size, psi.size)),
    )


def through_link(terms, mu, link):
    """``terms`` in ``mu`` as terms in ``eta`` with ``mu = link^-1(eta)``."""
    if link == "identity":
        return terms
    # log link: d mu / d eta = d2 mu / d eta2 = mu.
    d_mu = terms.d_eta[:, 0].copy()
    terms.d_eta = terms.d_eta * mu[:, None]
    terms.d_eta_eta = terms.d_eta_eta * (mu**2)[:, None, None]
    terms.d_eta_eta[:, 0, 0] += d_mu * mu
    terms.d_eta_psi = terms.d_eta_psi * mu[:, None, None]
    return terms


def multinomial_terms(logits, codes, min_proba):
    """A multinomial log-density of logits ``(n, q)`` against class 0's zero logit.

    ``codes`` are the rows' class indices; the log-probability is floored at
    ``log(min_proba)`` as the ``Categorical`` family floors it (a floored row has
    no derivative).
    """
    n, q = logits.shape
    full = np.column_stack([np.zeros(n), logits])
    full -= full.max(axis=1, keepdims=True)
    log_proba = full - np.log(np.exp(full).sum(axis=1, keepdims=True))
    proba = np.exp(log_proba[:, 1:])
    value = log_proba[np.arange(n), codes]
    live = value > np.log(min_proba)
    value = np.maximum(value, np.log(min_proba))
    one_hot = (codes[:, None] == np.arange(1, q + 1)).astype(np.float64)
    d_eta = (one_hot - proba) * live[:, None]
    d_eta_eta = proba[:, :, None] * proba[:, None, :]
    d_eta_eta[:, np.arange(q), np.arange(q)] -= proba
    d_eta_eta *= live[:, None, None]
    empty = np.zeros((n, 0))
    return Terms(
        value, d_eta, empty, d_eta_eta, np.zeros((n, q, 0)), np.zeros((n, 0, 0))
    )


def _gaussian(mu, y, psi):
    precision = np.exp(-psi[0])
    e = y - mu
    e2p = e * e * precision
    value = -0.5 * (_LOG_2PI + psi[0] + e2p)
    return (
        value,
        e * precision,
        np.full_like(mu, -precision),
        -0.5 + 0.5 * e2p,
        -e * precision,
        -0.5 * e2p,
    )


def _student_t(mu, y, psi):
    s2, nu = np.exp(2 * psi[0]), np.exp(psi[1])
    e = y - mu
    d = nu * s2 + e * e
    value = (
        gammaln(0.5 * (nu + 1))
        - gammaln(0.5 * nu)
        - 0.5 * np.log(np.pi)
        + 0.5 * nu * np.log(nu)
        + nu * psi[0]
        - 0.5 * (nu + 1) * np.log(d)
    )
    d_mu = (nu + 1) * e / d
    d_mu_mu = (nu + 1) * (e * e - nu * s2) / d**2
    d_log_s = nu - nu * (nu + 1) * s2 / d
    d_log_s2 = -2 * nu * (nu + 1) * s2 * e * e / d**2
    d_mu_log_s = -2 * nu * (nu + 1) * e * s2 / d**2
    d_nu = 0.5 * (
        digamma(0.5 * (nu + 1))
        - digamma(0.5 * nu)
        + np.log(nu)
        + 1
        + 2 * psi[0]
        - np.log(d)
        - (nu + 1) * s2 / d
    )
    d_nu_nu = (
        0.25 * (polygamma(1, 0.5 * (nu + 1)) - polygamma(1, 0.5 * nu))
        + 0.5 / nu
        - s2 / d
        + 0.5 * (nu + 1) * s2**2 / d**2
    )
    d_mu_nu = e / d - (nu + 1) * e * s2 / d**2
    d_log_s_nu = 1 - (2 * nu + 1) * s2 / d + nu * (nu + 1) * s2**2 / d**2
    d_log_nu = nu * d_nu
    d_psi = np.column_stack([d_log_s, d_log_nu])
    d_mu_psi = np.column_stack([d_mu_log_s, nu * d_mu_nu])
    cross = nu * d_log_s_nu
    d_psi_psi = np.stack(
        [
            np.column_stack([d_log_s2, cross]),
            np.column_stack([cross, nu**2 * d_nu_nu + d_log_nu]),
        ],
        axis=1,
    )
    return value, d_mu, d_mu_mu, d_psi, d_mu_psi, d_psi_psi


def _poisson(mu, y, psi):
    empty = np.zeros((mu.size, 0))
    value = y * np.log(mu) - mu - gammaln(y + 1)
    return value, y / mu - 1, -y / mu**2, empty, empty, empty


def _negative_binomial(mu, y, psi):
    r = np.exp(-psi[0])
    rm = r + mu
    # log G(y + r) - log G(r) - log G(y + 1), without cancelling at large r.
    positive = y > 0
    pochhammer = np.zeros_like(mu)
    pochhammer[positive] = -np.log(y[positive]) - betaln(y[positive], r)
    value = pochhammer - r * np.log1p(mu / r) + y * (np.log(mu) - np.log(rm))
    d_r = digamma(y + r) - digamma(r) - np.log1p(mu / r) + (mu - y) / rm
    d_r_r = polygamma(1, y + r) - polygamma(1, r) + 1 / r - 1 / rm - (mu - y) / rm**2
    return (
        value,
        r * (y - mu) / (mu * rm),
        -y / mu**2 + (y + r) / rm**2,
        -r * d_r,
        -r * (y - mu) / rm**2,
        r * r * d_r_r + r * d_r,
    )


def _gamma(mu, y, psi):
    a = np.exp(psi[0])
    value = a * psi[0] - a * np.log(mu) + (a - 1) * np.log(y) - a * y / mu - gammaln(a)
    d_a = psi[0] + 1 - np.log(mu) + np.log(y) - y / mu - digamma(a)
    d_a_a = 1 / a - polygamma(1, a)
    return (
        value,
        a * (y - mu) / mu**2,
        a / mu**2 - 2 * a * y / mu**3,
        a * d_a,
        a * (y - mu) / mu**2,
        a * a * d_a_a + a * d_a,
    )


_DERIVATIVES = {
    Gaussian: _gaussian,
    StudentT: _student_t,
    Poisson: _poisson,
    NegativeBinomial: _negative_binomial,
    Gamma: _gamma,
}

_PSI_NAMES = {
    Gaussian: ("noise_variance",),
    StudentT: ("scale", "df"),
    Poisson: (),
    NegativeBinomial: ("dispersion",),
    Gamma: ("shape",),
}

#: The clipping bounds of the families' M-steps, and how near (relative) counts
#: as on them. The dispersion's search ends anywhere in the flat likelihood
#: within a few hundred times its floor (at 1e-6, a mean of 100 has a variance
#: 1% above the Poisson's).
_BOUNDS = {
    (NegativeBinomial, "dispersion"): (100 * _MIN_DISPERSION, _MAX_DISPERSION),
    (Gamma, "shape"): (_MIN_SHAPE, _MAX_SHAPE),
    (StudentT, "df"): (_MIN_DF, _MAX_DF),
}
_BOUND_RTOL = 1e-3
