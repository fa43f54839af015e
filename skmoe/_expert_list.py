"""A list of different experts: ``expert=[(name, estimator), ...]``, one expert each.

The face's ``expert`` parameter takes one estimator, cloned into ``n_experts``
slots, or a list of ``(name, estimator)`` pairs, scikit-learn's convention of
``VotingRegressor`` and ``StackingRegressor``: one expert per pair, in order, so
the list fixes the number of experts. This module owns what the list changes at
the face:

- :func:`resolve_n_experts`, the number of experts a fit asks for (``n_experts``
  defaults to None: 2 for a single expert, the list's length for a list);
- :func:`check_entries` and :func:`check_experts`: the list's shape and names,
  then every entry against the model's kind, its family and its solver, before
  any work, with errors that name the entry;
- :func:`slot_prototypes`, the unfitted expert of each slot the driver fits, and
  :func:`slot_names`, the names the fitted experts carry (``expert_names_``);
- the nested parameters ``expert__<name>`` and ``expert__<name>__<param>``
  (:func:`nested_expert_params`, :func:`set_nested_expert_params`).

The training driver never sees a list: it gets one unfitted expert per slot, as
it always did, and its :class:`~skmoe._parts.Parts` carry each expert's slot so
that a dropped expert's name goes with it.
"""

from sklearn.base import is_classifier, is_regressor
from sklearn.utils import Bunch

from skmoe._gate import SoftmaxGate
from skmoe._updaters import check_expert

#: ``n_experts`` when it is None and ``expert`` is a single estimator.
DEFAULT_N_EXPERTS = 2


def is_expert_list(expert):
    """Whether the ``expert`` parameter is a list of ``(name, estimator)`` pairs."""
    return isinstance(expert, list)


def check_entries(expert):
    """Raise ValueError unless ``expert`` is a valid list of named estimators.

    Each entry must be a ``(name, estimator)`` pair whose estimator has ``fit``
    and ``predict``; the names must be non-empty strings without ``"__"`` (the
    separator of nested parameters), all different.
    """
    if not expert:
        raise ValueError(
            "expert is an empty list: give one (name, estimator) pair per expert."
        )
    seen = set()
    for index, entry in enumerate(expert):
        if not (isinstance(entry, tuple | list) and len(entry) == 2):
            raise ValueError(
                f"expert[{index}] is {entry!r}: each entry of an expert list must "
                "be a (name, estimator) pair."
            )
        name, estimator = entry
        if not isinstance(name, str):
            raise ValueError(
                f"expert[{index}] is named {name!r}: an expert's name must be a str."
            )
        if not name or "__" in name:
            raise ValueError(
                f"expert[{index}] is named {name!r}: an expert's name must be "
                "non-empty and must not contain '__', which separates nested "
                "parameters (expert__<name>__<param>)."
            )
        if name in seen:
            raise ValueError(
                f"expert[{index}] is named {name!r}, as an earlier entry is: the "
                "names of an expert list must be unique."
            )
        seen.add(name)
        if isinstance(estimator, type) or not all(
            callable(getattr(estimator, method, None)) for method in ("fit", "predict")
        ):
            raise ValueError(
                f"expert[{index}] ({name!r}) is {estimator!r}, which is not an "
                "estimator with fit and predict."
            )


def resolve_n_experts(estimator):
    """The number of experts ``estimator`` asks for, from ``n_experts`` and ``expert``.

    ``n_experts=None`` means 2 for a single expert and the list's length for a
    list; an explicit ``n_experts`` must then equal that length.
    """
    n_experts, expert = estimator.n_experts, estimator.expert
    if not is_expert_list(expert):
        return DEFAULT_N_EXPERTS if n_experts is None else n_experts
    check_entries(expert)
    if n_experts is not None and n_experts != len(expert):
        raise ValueError(
            f"n_experts={n_experts} but expert lists {len(expert)} experts: a list "
            "of (name, estimator) pairs fixes the number of experts; leave "
            "n_experts=None or set it to the list's length."
        )
    return len(expert)


def slot_prototypes(estimator, slots):
    """The unfitted expert of each of ``slots`` (indices into the list)."""
    if is_expert_list(estimator.expert):
        return [estimator.expert[slot][1] for slot in slots]
    prototype = estimator._expert_prototype()
    return [prototype] * len(slots)


def labelled_experts(estimator):
    """The ``(label, unfitted expert)`` pairs an error names: ``"expert 'line'"``
    for a list's entry, ``"expert"`` for a single expert."""
    if is_expert_list(estimator.expert):
        return [(f"expert {name!r}", entry) for name, entry in estimator.expert]
    return [("expert", estimator._expert_prototype())]


def slot_names(estimator, slots):
    """The names of the experts in ``slots``, as ``expert_names_`` holds them.

    A list's own names; for a single expert ``"expert 0"``, ``"expert 1"``, ...
    by position in the fitted model, the labels the summary always printed.
    """
    if is_expert_list(estimator.expert):
        return [estimator.expert[slot][0] for slot in slots]
    return [f"expert {k}" for k in range(len(slots))]


def check_experts(estimator, solver, family, unit_weight=True):
    """:func:`~skmoe._updaters.check_expert` for every expert, naming a list's entry.

    A list's entries are first checked against the model's kind: a classifier in
    a regressor's list (or the reverse) is refused.
    """
    if not is_expert_list(estimator.expert):
        check_expert(estimator._expert_prototype(), solver, family, unit_weight)
        return
    model_is_classifier = is_classifier(estimator)
    for name, entry in estimator.expert:
        label = f"expert {name!r} ({type(entry).__name__})"
        if model_is_classifier and is_regressor(entry):
            raise ValueError(
                f"{label} is a regressor, but {type(estimator).__name__}'s "
                "experts must be classifiers with predict_proba."
            )
        if not model_is_classifier and is_classifier(entry):
            raise ValueError(
                f"{label} is a classifier, but {type(estimator).__name__}'s "
                "experts must be regressors."
            )
        try:
            check_expert(entry, solver, family, unit_weight)
        except ValueError as error:
            raise ValueError(f"{label}: {error}") from error


def expert_signature(estimator, experts, slots, hash_expert):
    """Whether the fitted ``experts`` (at ``slots``) are what ``expert`` asks for.

    Each fitted expert's parameters, by ``hash_expert``, must be those of its
    slot's prototype and, for a list, its name that of its slot.
    """
    prototypes = slot_prototypes(estimator, slots)
    same = all(
        hash_expert(fitted) == hash_expert(prototype)
        for fitted, prototype in zip(experts, prototypes, strict=True)
    )
    if same and is_expert_list(estimator.expert):
        names = getattr(estimator, "expert_names_", None)
        same = names == slot_names(estimator, slots)
    return same


# ---- nested parameters


def _nested_expert_params(expert):
    """``expert__<name>`` and ``expert__<name>__<param>`` of an expert list."""
    params = {}
    for entry in expert:
        # get_params must not fail on a list that fit would refuse.
        if not (isinstance(entry, tuple | list) and len(entry) == 2):
            continue
        name, entry = entry
        if not isinstance(name, str):
            continue
        params[f"expert__{name}"] = entry
        if hasattr(entry, "get_params") and not isinstance(entry, type):
            for key, value in entry.get_params(deep=True).items():
                params[f"expert__{name}__{key}"] = value
    return params


def _set_nested_expert_params(estimator, params):
    """Set the ``expert__...`` entries of ``params`` on an expert list; return the rest.

    ``expert__<name>=est`` replaces one entry (in a new list, as scikit-learn's
    compositions do); ``expert__<name>__<param>=v`` sets a parameter of one
    entry. A name not in the list is a ValueError naming the valid ones.
    """
    if not is_expert_list(estimator.expert) or "expert" in params:
        return params
    prefix = "expert__"
    rest = {key: v for key, v in params.items() if not key.startswith(prefix)}
    nested = {key[len(prefix) :]: v for key, v in params.items() if key not in rest}
    if not nested:
        return params
    entries = list(estimator.expert)
    names = [entry[0] for entry in entries]
    by_entry = {}
    for key, value in nested.items():
        name, _, sub = key.partition("__")
        if name not in names:
            raise ValueError(
                f"Invalid parameter 'expert__{key}' for estimator "
                f"{type(estimator).__name__}: the expert list has no entry named "
                f"{name!r} (its names: {names})."
            )
        if sub:
            by_entry.setdefault(name, {})[sub] = value
        else:
            entries[names.index(name)] = (name, value)
    if entries != list(estimator.expert):
        estimator.expert = entries
    for name, sub_params in by_entry.items():
        entries[names.index(name)][1].set_params(**sub_params)
    return rest


class NestedParamsMixin:
    """The face's ``set_params`` and ``get_params``: nested parameters of a part
    left at None (``gate__alpha`` with ``gate=None``) and of an expert list's
    entries (``expert__<name>__<param>``); and ``named_experts_``."""

    def set_params(self, **params):
        """Set the parameters of this estimator.

        As for any scikit-learn estimator, nested parameters are set as
        ``gate__alpha`` or ``expert__fit_intercept``. Unlike most meta-estimators,
        this also works when ``gate`` or ``expert`` is left at ``None``: the default
        part is created first, so ``GridSearchCV`` can search ``gate__alpha`` without
        the user spelling out ``gate=SoftmaxGate()``. Likewise the regressor's
        ``family__df`` works with ``family="student_t"``: the named family becomes
        the object ``StudentT()`` first.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
            The estimator.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> moe.set_params(routing="hard").predict(X[:4]).shape
        (4,)
        >>> MixtureOfExpertsRegressor().set_params(gate__alpha=1e-3).gate
        SoftmaxGate(alpha=0.001)

        With a list of experts, ``expert__<name>`` replaces one entry and
        ``expert__<name>__<param>`` sets a parameter of one entry:

        >>> from sklearn.linear_model import LinearRegression
        >>> from sklearn.tree import DecisionTreeRegressor
        >>> moe = MixtureOfExpertsRegressor(
        ...     [("line", LinearRegression()), ("step", DecisionTreeRegressor())]
        ... )
        >>> moe.set_params(expert__step__max_depth=2).expert[1]
        ('step', DecisionTreeRegressor(max_depth=2))
        """
        if "expert" in params:
            # As scikit-learn does, the part itself first, then its parameters.
            super().set_params(expert=params.pop("expert"))
        params = _set_nested_expert_params(self, params)
        for name in {key.partition("__")[0] for key in params if "__" in key}:
            part = None if name in params else self._nested_part(name)
            if part is not None:
                setattr(self, name, part)
        return super().set_params(**params)

    def _nested_part(self, name):
        """The object that parameter ``name`` becomes for its nested parameters
        to be set (the default gate for ``gate=None``), or None to leave it."""
        if name == "gate" and self.gate is None:
            return SoftmaxGate()
        if name == "expert" and self.expert is None:
            return self._default_expert()
        return None

    def get_params(self, deep=True):
        """Get the parameters of this estimator.

        With ``deep=True`` and a list of experts, also each entry as
        ``expert__<name>`` and its parameters as ``expert__<name>__<param>``.

        Parameters
        ----------
        deep : bool, default=True
            If True, also the parameters of the contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        if deep and is_expert_list(self.expert):
            params.update(_nested_expert_params(self.expert))
        return params

    @property
    def named_experts_(self):
        """The fitted experts by name (``expert_names_``), as a ``Bunch``."""
        return Bunch(**dict(zip(self.expert_names_, self.experts_, strict=True)))
