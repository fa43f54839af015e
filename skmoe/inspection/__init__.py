"""Reading a fitted mixture of experts: a summary in numbers and plots.

:func:`summary` gives, like flexmix's ``summary()``, each expert's prior, size,
coefficients and noise scale with the model's log-likelihood, AIC and BIC, and
for a hierarchical mixture every node of its tree (:class:`NodeSummary`). The
displays follow scikit-learn's ``Display`` idiom (``from_estimator`` computes,
``plot`` draws; matplotlib is needed only to plot): :class:`GateDisplay` shows the
gate's regions, :class:`ExpertUsageDisplay` how much each expert is used and
:class:`LogLikelihoodDisplay` the EM curve.
"""

from skmoe.inspection._convergence_display import LogLikelihoodDisplay
from skmoe.inspection._gate_display import GateDisplay
from skmoe.inspection._summary import ExpertSummary, MixtureSummary, summary
from skmoe.inspection._tree import NodeSummary
from skmoe.inspection._usage_display import ExpertUsageDisplay

__all__ = [
    "ExpertSummary",
    "ExpertUsageDisplay",
    "GateDisplay",
    "LogLikelihoodDisplay",
    "MixtureSummary",
    "NodeSummary",
    "summary",
]
