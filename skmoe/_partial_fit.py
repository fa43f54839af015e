"""The face of ``partial_fit``: validate one chunk of a stream, train on it, keep it.

The steps themselves are mini-batch training's (``skmoe._gradient``), the same as
``fit(solver="gradient")`` takes, so the same batches in the same order give the
same model.
"""

import functools
import types

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from skmoe._expert_list import check_experts, resolve_n_experts
from skmoe._gradient import partial_fit_steps, resolve_batch_size
from skmoe._routing import check_routing
from skmoe._threads import single_threaded
from skmoe._validation import check_fit_weights, check_init


class mini_batch_only:
    """Make a method exist only on estimators with ``solver="gradient"``.

    Like scikit-learn's ``available_if`` (so ``hasattr(moe, "partial_fit")`` tells
    whether incremental training is possible, as dask-ml's ``Incremental``
    asks), but the ``AttributeError`` itself says why and what to do, instead of
    a generic "has no attribute" with the reason in its chained cause.
    """

    def __init__(self, method):
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.method
        if obj.solver != "gradient":
            raise AttributeError(
                f"{type(obj).__name__} has partial_fit only with solver='gradient' "
                f"(mini-batch training); this one has solver={obj.solver!r}. Set "
                "solver='gradient' to train on a stream, or call fit."
            )
        return types.MethodType(self.method, obj)


class MiniBatchMixin:
    """``partial_fit`` of the mixture estimators, with ``solver="gradient"``."""

    def _partial_fit(self, X, y, sample_weight, classes):
        """One mini-batch step per batch of ``(X, y)``; see ``partial_fit``."""
        first = not hasattr(self, "experts_")
        n_experts = resolve_n_experts(self)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=not is_classifier(self),
            reset=first,
        )
        sample_weight = check_fit_weights(sample_weight, X)
        n_samples = X.shape[0]
        batch_size = resolve_batch_size(
            self.batch_size, n_samples, n_experts, strict=False
        )
        init = self.init
        if first:
            if n_samples < n_experts:
                raise ValueError(
                    f"the first partial_fit call has {n_samples} samples; it needs "
                    f">= n_experts={n_experts} to initialise every expert."
                )
            self._resolve_columns()
            init = check_init(self.init, n_samples, n_experts)
            check_routing(self.routing, self.top_k, n_experts)
        family = self._new_family() if first else self.family_
        self._family_over_experts(family, "gradient")  # refuses nested experts
        family.declare(y, classes, partial=True)
        self._learn_target(family)
        check_experts(self, "gradient", family)

        slots = list(range(n_experts)) if first else self._fitted_slots()
        problem = self._problem(X, y, None, sample_weight, family, slots)
        config = self._config(init, batch_size, 1)
        with single_threaded("blas"):
            seed = None
            if first:
                seed = check_random_state(self.random_state).randint(
                    np.iinfo(np.int32).max
                )
            parts, state, total, weight = partial_fit_steps(
                problem, config, seed, None if first else self._fitted()
            )
        self._store(parts, state, slots)
        if first:
            self.log_likelihood_curve_ = np.empty(0)
            self.n_iter_ = 0
            self.collapsed_ = []
            self.converged_ = False
            self._n_experts_fitted = n_experts
        self.n_iter_ += 1
        if weight > 0:
            self.log_likelihood_ = total / weight
            self.log_likelihood_curve_ = np.append(
                self.log_likelihood_curve_, self.log_likelihood_
            )
        return self

    def _partial_fit_keeping_state(self, X, y, sample_weight, classes=None):
        """``_partial_fit``, restoring the whole state if it fails."""
        saved_state = dict(self.__dict__)
        try:
            return self._partial_fit(X, y, sample_weight, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            raise
