"""Families: how the target scatters around each expert's prediction, ``p_k(y | x)``.

A family owns everything EM needs to know about the target: how to check and
encode it, what an expert outputs for the likelihood (a prediction of ``y``, or the
probability given to the observed class), the log-density of the target from that
output (with every constant, so that log-likelihoods compare with R's
``logLik``), its own parameters (a noise variance per expert, ...) and their
M-step, the sample weights each expert is refitted with, and its share of the
model's parameter count. The EM loop reads nothing else about the target, so a new
noise model is one subclass of :class:`Family` (the user guide's "Families" page).

A family object is configuration until :meth:`Family.start` returns a copy set up
for one training target; EM then fits that copy's parameters, and the estimator
keeps the fitted copy as ``family_``.
"""

from skmoe.families._base import Family
from skmoe.families._categorical import Categorical
from skmoe.families._counts import NegativeBinomial, Poisson
from skmoe.families._gamma import Gamma
from skmoe.families._gaussian import Gaussian
from skmoe.families._student_t import StudentT

__all__ = [
    "Categorical",
    "Family",
    "Gamma",
    "Gaussian",
    "NegativeBinomial",
    "Poisson",
    "StudentT",
]

# The public path is the one pickle and skops record and the docs show.
for _family in (
    Categorical,
    Family,
    Gamma,
    Gaussian,
    NegativeBinomial,
    Poisson,
    StudentT,
):
    _family.__module__ = __name__
del _family

#: The families the regressor's ``family`` parameter names.
REGRESSION_FAMILIES = {
    "gaussian": Gaussian,
    "student_t": StudentT,
    "poisson": Poisson,
    "negative_binomial": NegativeBinomial,
    "gamma": Gamma,
}
