"""A fitted mixture of experts in numbers, like flexmix's ``summary()``.

Per expert: the prior (mean gate probability), the size (rows whose most probable
expert a posteriori is this one), the mean posterior, the coefficients of the expert
and of the gate, and the noise scale; for the model: the log-likelihood, AIC and BIC.
"""

import html
import textwrap
from dataclasses import asdict, dataclass, field

import numpy as np

from skmoe._base import SOLVER_NAMES
from skmoe.inspection._plotting import expert_labels, fitted_expert_names
from skmoe.inspection._summary_parts import (
    _expert_coefficients,
    _family_parameters,
    _feature_names,
    _flat_coefficients,
    _format_number,
    _named,
    _table,
    _unseen_classes,
)
from skmoe.inspection._tree import (
    NodeSummary,
    inner_gate_lines,
    tree_lines,
    tree_nodes,
)
from skmoe.inspection._unwrap import fitted_mixture


@dataclass(frozen=True)
class ExpertSummary:
    """What a fitted mixture says about one expert.

    Parameters
    ----------
    prior : float
        Mean gate probability of the expert over ``X``.

    size : int
        Number of rows whose most probable expert a posteriori (given ``y``) is this
        one: flexmix's cluster size.

    mean_posterior : float
        Mean responsibility of the expert over ``(X, y)``.

    coefficients : dict or None
        The expert's ``coef_`` by feature name, and ``intercept_`` under
        ``"intercept"``. An expert with one row of coefficients per class (a
        multinomial classifier) gives a dict ``{class label: {name: value}}``; a
        binary classifier's single row holds the log-odds of its second class.
        ``None`` for experts without ``coef_``.

    gate_coefficients : dict or None
        The gate's logit coefficients for this expert by gate feature name, and its
        intercept under ``"intercept"``; ``None`` for a gate without ``coef_``.
        Logits are defined up to a shift shared by all experts: the intercepts sum
        to zero across experts, and only differences between experts matter.

    noise_scale : float or None
        Standard deviation of the expert's Gaussian noise (``family="gaussian"``
        only).

    family_parameters : dict
        The other families' parameters of the expert by name (``scale`` and
        ``df``, ``dispersion``, ``shape``), as the estimator's fitted attributes
        of those names hold them; empty for the Gaussian and the classifier.

    unseen_classes : list
        The classes this (classifier) expert sees no rows of: their rows of
        ``(X, y)`` give it less than :data:`UNSEEN_MASS` rows' worth of
        responsibility in all. A multinomial expert's coefficients for them only
        say "never" (intercepts near minus infinity, slopes near zero), so they
        are left out of ``coefficients``; empty for a regressor.

    name : str or None, default=None
        The expert's name, as the estimator's ``expert_names_`` gives it (a
        list's own names, else ``"expert k"``); the printed summary labels the
        expert by it. None (a summary saved before names) prints ``"expert k"``.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.inspection import summary
    >>> X, y = make_moe_regression(n_samples=500, n_experts=2, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> expert = summary(moe, X, y).experts[0]
    >>> sorted(expert.coefficients)
    ['intercept', 'x0', 'x1']
    >>> bool(0 < expert.prior < 1)
    True
    """

    prior: float
    size: int
    mean_posterior: float
    coefficients: dict | None
    gate_coefficients: dict | None
    noise_scale: float | None
    family_parameters: dict = field(default_factory=dict)
    unseen_classes: list = field(default_factory=list)
    name: str | None = None


@dataclass(frozen=True)
class MixtureSummary:
    """A fitted mixture of experts in numbers; returned by :func:`summary`.

    ``print(summary)`` shows the aligned tables; :meth:`to_dict` and
    :meth:`to_frame` give the same numbers as data.

    Parameters
    ----------
    estimator : str
        Class name of the summarised estimator.

    experts : list of ExpertSummary
        One entry per expert, in the estimator's order.

    n_samples : int
        Rows of the data the summary was computed on.

    log_likelihood : float
        Total log-likelihood ``sum_i log p(y_i | x_i)`` on that data.

    n_parameters : int or None
        Free parameters counted by AIC and BIC; ``None`` when not defined.

    aic, bic : float or None
        The estimator's ``aic(X, y)`` and ``bic(X, y)``; ``None`` when the number
        of parameters is not defined (experts without ``coef_``).

    criteria_reason : str or None
        Why ``aic`` and ``bic`` are ``None``; ``None`` when they are defined.

    converged : bool
        Whether the kept run met ``tol``.

    n_iter : int
        Iterations (epochs, for mini-batch training) of the kept run.

    solver : str, default="em"
        The estimator's ``solver``.

    inference : dict or None, default=None
        With ``summary(..., inference=...)``: the coefficient table of
        :func:`skmoe.inference.coefficient_table` as ``{"method": ...,
        "confidence_level": ..., "rows": [one dict per row]}``; else None.

    tree : list of NodeSummary, default=[]
        For a hierarchical mixture (experts that are mixtures), every node
        below the root, each parent before its children, labelled by its path;
        empty for a flat mixture.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.inspection import summary
    >>> X, y = make_moe_regression(n_samples=500, n_experts=2, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> result = summary(moe, X, y)
    >>> len(result.experts), result.n_samples, result.converged
    (2, 500, True)
    >>> bool(result.bic == moe.bic(X, y))
    True
    """

    estimator: str
    experts: list
    n_samples: int
    log_likelihood: float
    n_parameters: int | None
    aic: float | None
    bic: float | None
    criteria_reason: str | None
    converged: bool
    n_iter: int
    solver: str = "em"
    inference: dict | None = None
    tree: list = field(default_factory=list)

    def to_dict(self):
        """The summary as plain Python values (dicts, lists, floats, ints, str).

        Returns
        -------
        summary : dict
            The fields of the summary, ``experts`` as a list of dicts;
            ``MixtureSummary.from_dict`` inverts it.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import summary
        >>> data = summary(moe, X, y).to_dict()
        >>> data["n_samples"], len(data["experts"])
        (300, 2)
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Rebuild a summary from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        summary : MixtureSummary
            The summary.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import MixtureSummary, summary
        >>> result = summary(moe, X, y)
        >>> MixtureSummary.from_dict(result.to_dict()) == result
        True
        """
        fields = dict(data)
        fields["experts"] = [ExpertSummary(**e) for e in fields["experts"]]
        fields["tree"] = [
            NodeSummary(**{**node, "path": tuple(node["path"])})
            for node in fields.get("tree", [])
        ]
        return cls(**fields)

    def to_frame(self, *, tree=False):
        """The per-expert numbers as a pandas DataFrame, one row per expert.

        Columns: ``prior``, ``size``, ``mean_posterior``, ``noise_scale``
        (regression), the experts' coefficients as ``coef.<name>`` (multinomial
        experts: ``coef[<class>].<name>``) and the gate's as ``gate.<name>``. The
        model totals (``log_likelihood``, ``aic``, ``bic``, ...) are in the
        frame's ``attrs``.

        Parameters
        ----------
        tree : bool, default=False
            One row per node of a hierarchical mixture's tree (``tree``)
            instead, indexed by its path (``"expert 0 / expert 1"``), with its
            ``depth``, ``estimator`` and ``is_leaf`` first; the leaves'
            coefficients as ``coef.<name>``, each node's parent gate's as
            ``gate.<name>``. A flat mixture has no tree: an error.

        Returns
        -------
        frame : pandas.DataFrame
            Indexed by expert number, or by node path.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y = make_moe_regression(n_samples=300, n_experts=2, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
        >>> from skmoe.inspection import summary
        >>> frame = summary(moe, X, y).to_frame()
        >>> len(frame)  # one row per expert
        2
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "MixtureSummary.to_frame requires pandas. You can install pandas "
                "with `pip install pandas`, or use MixtureSummary.to_dict."
            ) from exc
        if tree and not self.tree:
            raise ValueError(
                "to_frame(tree=True) needs a hierarchical mixture; this one is "
                "flat (no expert is a mixture): its experts are its leaves, "
                "one row each in to_frame()."
            )
        rows = []
        for expert in self.tree if tree else self.experts:
            row = (
                {
                    "depth": expert.depth,
                    "estimator": expert.estimator,
                    "is_leaf": expert.is_leaf,
                }
                if tree
                else {}
            )
            row |= {
                "prior": expert.prior,
                "size": expert.size,
                "mean_posterior": expert.mean_posterior,
            }
            if expert.noise_scale is not None:
                row["noise_scale"] = expert.noise_scale
            row.update(expert.family_parameters)
            for prefix, coefficients in [
                ("coef", expert.coefficients),
                ("gate", expert.gate_coefficients),
            ]:
                for (label, name), value in _flat_coefficients(coefficients):
                    where = prefix if label is None else f"{prefix}[{label}]"
                    row[f"{where}.{name}"] = value
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame.index.name = "expert"
        if tree:
            frame.index = pd.Index([node.label for node in self.tree], name="node")
        frame.attrs.update(
            {
                key: value
                for key, value in self.to_dict().items()
                if key not in ("experts", "tree")
            }
        )
        return frame

    def __str__(self):
        n_experts = len(self.experts)
        status = "converged after" if self.converged else "did not converge in"
        solver, steps = SOLVER_NAMES[self.solver]
        lines = [
            f"{self.estimator}: {n_experts} experts, {self.n_samples} samples, "
            f"{solver} {status} {self.n_iter} {steps}",
            "",
        ]
        header = ["", "prior", "size", "mean posterior"]
        has_noise = any(e.noise_scale is not None for e in self.experts)
        if has_noise:
            header.append("noise scale")
        family_names = list(
            dict.fromkeys(name for e in self.experts for name in e.family_parameters)
        )
        header += family_names
        rows = []
        labels = [
            f"expert {k}" if e.name is None else e.name
            for k, e in enumerate(self.experts)
        ]
        for k, expert in enumerate(self.experts):
            row = [
                labels[k],
                f"{expert.prior:.3f}",
                str(expert.size),
                f"{expert.mean_posterior:.3f}",
            ]
            if has_noise:
                row.append(_format_number(expert.noise_scale))
            row += [
                _format_number(expert.family_parameters[name])
                if name in expert.family_parameters
                else "-"
                for name in family_names
            ]
            rows.append(row)
        lines += _table(header, rows)
        if self.tree:
            lines += tree_lines(self.tree)

        for title, attribute in [
            ("Expert coefficients:", "coefficients"),
            ("Gate coefficients (logits):", "gate_coefficients"),
        ]:
            if self.tree and attribute == "coefficients":
                continue  # the leaves' are in the tree
            columns = [
                dict(_flat_coefficients(getattr(e, attribute))) for e in self.experts
            ]
            lines.append("")
            if not any(columns):
                lines.append(f"{title} none (no coef_)")
                continue
            keys = list(dict.fromkeys(key for c in columns for key in c))
            lines.append(title)
            header = ["", *labels]
            rows = [
                [name if label is None else f"class {label}: {name}"]
                + [
                    _format_number(c[label, name]) if (label, name) in c else "-"
                    for c in columns
                ]
                for label, name in keys
            ]
            lines += _table(header, rows)
            if attribute == "coefficients":
                lines += [
                    f"({labels[k]} sees no rows of class "
                    f"{', '.join(map(str, e.unseen_classes))}: left out)"
                    for k, e in enumerate(self.experts)
                    if e.unseen_classes
                ]
        if self.tree:
            lines += inner_gate_lines(self.tree)

        lines.append("")
        totals = f"log-likelihood {self.log_likelihood:.2f}"
        if self.n_parameters is not None:
            totals += f" (df={self.n_parameters})"
        if self.aic is None:
            lines.append(totals)
            reason = f"AIC, BIC: not available: {self.criteria_reason}"
            lines += textwrap.wrap(reason, width=88, subsequent_indent="  ")
        else:
            lines.append(f"{totals}   AIC {self.aic:.2f}   BIC {self.bic:.2f}")
        if self.inference is not None:
            from skmoe.inference._table import format_inference

            lines += ["", *format_inference(self.inference)]
        return "\n".join(lines)

    def _repr_html_(self):
        return f"<pre>{html.escape(str(self))}</pre>"


def summary(estimator, X, y, *, inference=None, inference_params=None):
    """Summarise a fitted mixture of experts on ``(X, y)``, like flexmix's ``summary``.

    For each expert: its prior (the mean gate probability over ``X``), its size (the
    number of rows whose most probable expert given ``y`` is this one, flexmix's
    cluster size), its mean posterior, its coefficients and the gate's, and its
    noise scale (regression); for the model: the log-likelihood, AIC and BIC.
    With ``inference``, also every parameter's standard error, z test and
    interval, printed per component as flexmix's ``summary(refit(m))`` prints
    them.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor, MixtureOfExpertsClassifier or Pipeline
        A fitted mixture of experts, or a fitted Pipeline whose last step is one.
        ``X`` then goes through the steps before it, and the columns are named
        as those steps name their outputs.

    X : array-like of shape (n_samples, n_features)
        Input samples, with the columns the estimator was fitted on.

    y : array-like of shape (n_samples,)
        Targets of the samples; the posterior, the sizes and the criteria need them.

    inference : {"observed", "bootstrap"} or None, default=None
        The ``method`` of :func:`skmoe.inference.coefficient_table` (which needs
        pandas); None leaves the standard errors out.

    inference_params : dict, default=None
        Further keyword arguments of :func:`skmoe.inference.coefficient_table`
        (``confidence_level``, ``n_resamples``, ``n_jobs``, ``random_state``,
        ...).

    Returns
    -------
    summary : MixtureSummary
        Print it for the tables; ``to_dict()`` and ``to_frame()`` give the numbers.
        Coefficients are named after the columns when the estimator was fitted on a
        DataFrame, else ``x<j>`` for column ``j`` of ``X``. AIC and BIC are ``None``,
        with the reason in ``criteria_reason``, when an expert has no fixed number
        of parameters (trees, nearest neighbours).

    See Also
    --------
    GateDisplay : The gate's regions over one or two features.
    ExpertUsageDisplay : How much of the data each expert handles.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_npreg
    >>> from skmoe.inspection import summary
    >>> X, y = make_npreg(random_state=0)
    >>> Z = np.column_stack([X[:, 0], X[:, 0] ** 2])
    >>> reg = MixtureOfExpertsRegressor(
    ...     n_experts=2, gate_features=[0], random_state=0
    ... ).fit(Z, y)
    >>> s = summary(reg, Z, y)
    >>> s.n_samples, sum(e.size for e in s.experts)
    (200, 200)
    >>> round(sum(e.prior for e in s.experts), 6)
    1.0
    >>> list(s.experts[0].coefficients)
    ['intercept', 'x0', 'x1']
    >>> print(str(s).splitlines()[2])
              prior  size  mean posterior  noise scale
    """
    table = None
    if inference is not None:
        from skmoe.inference import coefficient_table

        table = coefficient_table(
            estimator, X, y, method=inference, **(inference_params or {})
        )
    estimator, X, names = fitted_mixture(estimator, X, "summary")
    # Validation errors surface here, outside the try below, which only catches
    # the criteria's "parameters not defined" error.
    log_prob = estimator.score_samples(X, y)
    posterior = estimator.posterior_proba(X, y)
    gate_proba = estimator.predict_gate_proba(X)
    n_samples, n_experts = posterior.shape
    sizes = np.bincount(np.argmax(posterior, axis=1), minlength=n_experts)
    log_likelihood = float(log_prob.sum())
    try:
        n_parameters = int(estimator._n_parameters())
    except ValueError as exc:
        aic = bic = n_parameters = None
        reason = str(exc)
    else:
        # The estimator's aic and bic, from the log-likelihood already computed.
        aic = -2 * log_likelihood + 2 * n_parameters
        bic = -2 * log_likelihood + n_parameters * float(np.log(n_samples))
        reason = None

    expert_names = _feature_names(names, estimator.expert_features_)
    gate_names = _feature_names(names, estimator.gate_features_)
    gate_coef = getattr(estimator.gate_, "coef_", None)
    noise_variance, family_parameters = _family_parameters(estimator)
    unseen = _unseen_classes(estimator, posterior, y)
    labels = expert_labels(fitted_expert_names(estimator), len(estimator.experts_))
    experts = []
    for k, expert in enumerate(estimator.experts_):
        gate_coefficients = None
        if gate_coef is not None:
            gate_coefficients = _named(
                gate_coef[k], estimator.gate_.intercept_[k], gate_names
            )
        experts.append(
            ExpertSummary(
                prior=float(gate_proba[:, k].mean()),
                size=int(sizes[k]),
                mean_posterior=float(posterior[:, k].mean()),
                coefficients=_expert_coefficients(expert, expert_names, unseen[k]),
                gate_coefficients=gate_coefficients,
                noise_scale=(
                    None
                    if noise_variance is None
                    else float(np.sqrt(noise_variance[k]))
                ),
                family_parameters={
                    name: float(values[k]) for name, values in family_parameters.items()
                },
                unseen_classes=unseen[k],
                name=labels[k],
            )
        )
    return MixtureSummary(
        estimator=type(estimator).__name__,
        experts=experts,
        n_samples=int(n_samples),
        log_likelihood=log_likelihood,
        n_parameters=n_parameters,
        aic=aic,
        bic=bic,
        criteria_reason=reason,
        converged=bool(estimator.converged_),
        n_iter=int(estimator.n_iter_),
        solver=estimator.solver,
        tree=tree_nodes(estimator, X, y, names),
        inference=None
        if table is None
        else {
            "method": table.attrs["method"],
            "confidence_level": table.attrs["confidence_level"],
            "rows": table.to_dict(orient="records"),
        },
    )
