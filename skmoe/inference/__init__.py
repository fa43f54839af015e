"""Inference on a fitted mixture of experts: how sure its numbers are.

:func:`coefficient_table` gives every parameter (the experts' coefficients and
family parameters, the gate's coefficients) with its standard error, z test and
interval, from the observed information or the bootstrap, as flexmix's
``summary(refit(m))`` does.
"""

from skmoe.inference._table import InferenceWarning, coefficient_table

__all__ = ["InferenceWarning", "coefficient_table"]
