"""The mixture's log-likelihood, its gradient and its observed information.

As functions of the parameter vector of :func:`parameter_blocks`, in a
well-conditioned coordinate system: every design is standardised by its weighted
mean and scale, the gate and multinomial experts are in reference coding and the
family parameters on the log scale. ``jacobian`` maps these coordinates to the
reported ones (the table's units), linearly for the coefficients and by the delta
method for the family parameters.

The information is the exact negative Hessian of the incomplete-data
log-likelihood ``sum_i w_i log sum_k g_k(x_i) p_k(y_i | x_i)``, which is Louis'
identity per row: with ``s_ik`` the gradient of ``log g_k + log p_k``, ``h_ik``
its Hessian and ``r_ik`` the responsibilities,
``d2 l_i = sum_k r_ik (h_ik + s_ik s_ik^T) - S_i S_i^T``, ``S_i = sum_k r_ik s_ik``.
"""

import numpy as np

from skmoe._chunks import row_blocks
from skmoe._gate import standardize
from skmoe.families import Categorical
from skmoe.inference._derivatives import (
    _DERIVATIVES,
    at_bound,
    family_psi,
    mean_terms,
    multinomial_terms,
    psi_names,
    through_link,
)
from skmoe.inference._parameters import has_intercept, parameter_blocks

#: How far (relative) an expert's prediction may differ from the parametric form
#: the information assumes for it.
_FORM_RTOL = 1e-6


class NotParametricError(ValueError):
    """A part of the model has no parametric form the information knows."""


class _Design:
    """Standardised columns of one design, with an intercept column or not."""

    def __init__(self, X, sample_weight, intercept):
        X_std, mean, scale = standardize(np.asarray(X, np.float64), sample_weight)
        if not intercept:
            X_std, mean = np.asarray(X, np.float64) / scale, np.zeros_like(mean)
        self.intercept, self.mean, self.scale = intercept, mean, scale
        self.matrix = (
            np.column_stack([np.ones(len(X_std)), X_std]) if intercept else X_std
        )

    def to_standard(self, rows):
        """Reported coefficient rows ``(q, p)`` in standardised coordinates."""
        rows = np.array(rows, dtype=np.float64)
        slopes = rows[:, 1:] if self.intercept else rows
        standard = slopes * self.scale
        if self.intercept:
            return np.column_stack([rows[:, 0] + slopes @ self.mean, standard])
        return standard

    def jacobian(self):
        """``d reported / d standardised`` of one row of coefficients."""
        p = self.matrix.shape[1]
        jacobian = np.zeros((p, p))
        slopes = slice(1, None) if self.intercept else slice(None)
        jacobian[slopes, slopes] = np.diag(1 / self.scale)
        if self.intercept:
            jacobian[0, 0] = 1.0
            jacobian[0, 1:] = -self.mean / self.scale
        return jacobian


class MixtureLikelihood:
    """The log-likelihood of a fitted mixture on ``(X, y, w)`` near its fit.

    Parameters
    ----------
    model : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
        The fitted mixture (not a Pipeline).

    X : ndarray of shape (n_samples, n_features)
        Inputs as the mixture sees them, validated.

    y : ndarray of shape (n_samples,)
        The target.

    sample_weight : ndarray of shape (n_samples,)
        Frequency weights of the rows.

    Attributes
    ----------
    blocks : list of Block
        The layout (:func:`parameter_blocks`, features named ``x<j>``).

    theta : ndarray of shape (n_parameters,)
        The fit in standardised coordinates.

    jacobian : ndarray of shape (n_parameters, n_parameters)
        ``d reported / d theta`` at the fit.

    log_scale : ndarray of bool
        The parameters whose coordinate is the log of the reported value.

    on_bound : set of int
        The family parameters at a bound of their M-step (:func:`at_bound`):
        held fixed, so their rows and columns of the information are zero.
    """

    def __init__(self, model, X, y, sample_weight):
        family = model.family_
        check_parametric_family(family)
        self.family, self.weights = family, sample_weight
        self.target = family.encode(y)
        X_gate, X_expert = model._gate_inputs(X), model._expert_inputs(X)
        self.blocks = parameter_blocks(
            model,
            [f"x{j}" for j in range(X_expert.shape[1])],
            [f"x{j}" for j in range(X_gate.shape[1])],
        )
        starts = np.cumsum([0] + [len(b.names) for b in self.blocks])
        n_parameters = int(starts[-1])
        index = {
            (b.kind, b.expert, name): int(starts[i] + j)
            for i, b in enumerate(self.blocks)
            for j, name in enumerate(b.names)
        }
        self.theta = np.empty(n_parameters)
        self.jacobian = np.zeros((n_parameters, n_parameters))
        self.log_scale = np.zeros(n_parameters, dtype=bool)
        self.on_bound = set()
        self.n_experts = len(model.experts_)

        self.gate_design = _Design(X_gate, sample_weight, intercept=True)
        gate_blocks = [i for i, b in enumerate(self.blocks) if b.kind == "gate"]
        self.gate_index = np.array(
            [np.arange(starts[i], starts[i + 1]) for i in gate_blocks], dtype=int
        ).reshape(self.n_experts - 1, X_gate.shape[1] + 1)
        if gate_blocks:
            rows = np.array([self.blocks[i].estimates for i in gate_blocks])
            self._place(self.gate_index, self.gate_design, rows)

        self.experts = [
            self._expert(model, k, expert, X_expert, starts, index)
            for k, expert in enumerate(model.experts_)
        ]

    def _place(self, indices, design, rows):
        """Put reported coefficient ``rows`` at ``indices`` (q, p), standardised."""
        self.theta[indices] = design.to_standard(rows)
        jacobian = design.jacobian()
        for row in np.atleast_2d(indices):
            self.jacobian[np.ix_(row, row)] = jacobian

    def _expert(self, model, k, expert, X, starts, index):
        """Expert ``k``'s part of the parameter vector, checked against its fit."""
        block = next(
            (
                i
                for i, b in enumerate(self.blocks)
                if b.kind == "coefficients" and b.expert == k
            ),
            None,
        )
        if block is None:
            raise NotParametricError(
                f"expert {k} ({expert!r}) has no coefficients (coef_), so the "
                "observed information has no parametric form for it; use "
                "method='bootstrap'."
            )
        design = _Design(X, self.weights, has_intercept(expert))
        p = design.matrix.shape[1]
        coef_index = np.arange(starts[block], starts[block + 1]).reshape(-1, p)
        self._place(coef_index, design, self.blocks[block].estimates.reshape(-1, p))
        part = {"design": design.matrix, "coef_index": coef_index}
        if isinstance(self.family, Categorical):
            part["kind"] = "multinomial"
            self._check_multinomial(model, k, expert, X, part)
            part["psi_index"] = np.empty(0, dtype=int)
            part["free"] = np.empty(0, dtype=int)
            return part
        part["kind"] = "mean"
        psi, free, local = family_psi(self.family, k), [], []
        for j, name in enumerate(psi_names(self.family)):
            at = index.get(("family", k, name), index.get(("family", None, name)))
            if at is None:  # fixed (a Student-t's given df)
                continue
            self.theta[at] = psi[j]
            self.jacobian[at, at] = np.exp(psi[j])
            self.log_scale[at] = True
            if at_bound(self.family, name, np.exp(psi[j])):
                self.on_bound.add(at)
            else:
                free.append(at)
                local.append(j)
        part.update(psi=psi, psi_index=np.array(free, dtype=int), free=local)
        part["link"] = self._mean_link(model, k, expert, X, part)
        return part

    def _mean_link(self, model, k, expert, X, part):
        """``"identity"`` or ``"log"``: the link that reproduces the expert."""
        prediction = np.ravel(self.family.expert_output(expert, X, self.target))
        eta = part["design"] @ self.theta[part["coef_index"][0]]
        tolerance = _FORM_RTOL * (1 + np.abs(prediction).max())
        for link, mean in [("identity", eta), ("log", np.exp(np.minimum(eta, 700)))]:
            if np.abs(mean - prediction).max() <= tolerance:
                return link
        raise NotParametricError(
            f"expert {k} ({expert!r}) does not predict X @ coef_ + intercept_ nor "
            "its exponential, so the observed information has no parametric form "
            "for it; use method='bootstrap'."
        )

    def _check_multinomial(self, model, k, expert, X, part):
        if not np.array_equal(getattr(expert, "classes_", []), model.classes_):
            raise NotParametricError(
                f"expert {k} ({expert!r}) was fitted on other classes than the "
                "model's; the observed information needs every class; use "
                "method='bootstrap'."
            )
        logits = part["design"] @ self.theta[part["coef_index"]].T
        full = np.column_stack([np.zeros(len(X)), logits])
        full = np.exp(full - full.max(axis=1, keepdims=True))
        proba = full / full.sum(axis=1, keepdims=True)
        if np.abs(proba - model.family_.predict(expert, X)).max() > _FORM_RTOL:
            raise NotParametricError(
                f"expert {k} ({expert!r}) does not give the multinomial logistic "
                "probabilities of its coef_ and intercept_, so the observed "
                "information has no parametric form for it; use method='bootstrap'."
            )

    # ---- the likelihood and its derivatives

    def evaluate(self, theta, derivatives=2):
        """The log-likelihood at ``theta``; with its gradient (``derivatives >= 1``)
        and its observed information, the negative Hessian (``derivatives == 2``).

        Summed over blocks of rows, so that the per-row scores, ``(rows, P)``,
        never take more memory than a block.
        """
        n, P = self.target.shape[0], theta.size
        value, gradient, hessian = 0.0, np.zeros(P), np.zeros((P, P))
        for rows in row_blocks(n, 8 * P):
            block = self._rows(theta, rows, derivatives)
            value += block[0]
            if derivatives:
                gradient += block[1]
            if derivatives == 2:
                hessian += block[2]
        if derivatives == 0:
            return value
        if derivatives == 1:
            return value, gradient
        return value, gradient, -hessian

    def _rows(self, theta, rows, derivatives):
        """The log-likelihood, its gradient and Hessian over the rows ``rows``."""
        K = self.n_experts
        w = self.weights[rows]
        X_gate = self.gate_design.matrix[rows]
        n = X_gate.shape[0]
        logits = np.zeros((n, K))
        if K > 1:
            logits[:, 1:] = X_gate @ theta[self.gate_index].T
        log_gate = logits - _log_sum_exp(logits)[:, None]
        terms = [self._terms(part, theta, rows) for part in self.experts]
        joint = log_gate + np.column_stack([t.value for t in terms])
        row_ll = _log_sum_exp(joint)
        value = float(w @ row_ll)
        if derivatives == 0:
            return (value,)
        resp = np.exp(joint - row_ll[:, None])
        gate = np.exp(log_gate)
        scores = np.zeros((n, theta.size))
        if K > 1:
            scores[:, self.gate_index.ravel()] = _kron_rows(
                resp[:, 1:] - gate[:, 1:], X_gate
            )
        locals_ = []
        for k, (part, t) in enumerate(zip(self.experts, terms, strict=True)):
            index, local = self._local(part, t, rows)
            scores[:, index] += resp[:, [k]] * local
            locals_.append((index, local))
        gradient = w @ scores
        if derivatives == 1:
            return value, gradient
        hessian = -scores.T @ (w[:, None] * scores)
        gate_index = self.gate_index.ravel()
        for k, (index, local) in enumerate(locals_):
            wr = w * resp[:, k]
            component, every = local, index
            if K > 1:
                own_gate = (np.arange(1, K) == k).astype(np.float64) - gate[:, 1:]
                component = np.column_stack([_kron_rows(own_gate, X_gate), local])
                every = np.concatenate([gate_index, index])
            hessian[np.ix_(every, every)] += component.T @ (wr[:, None] * component)
            hessian[np.ix_(index, index)] += self._curvature(
                self.experts[k], terms[k], wr, rows
            )
        if K > 1:
            hessian[np.ix_(gate_index, gate_index)] -= _multinomial_curvature(
                gate[:, 1:], X_gate, w
            )
        return value, gradient, hessian

    def _terms(self, part, theta, rows):
        design, target = part["design"][rows], self.target[rows]
        if part["kind"] == "multinomial":
            logits = design @ theta[part["coef_index"]].T
            return multinomial_terms(logits, target, self.family.min_proba)
        eta = design @ theta[part["coef_index"][0]]
        psi = part["psi"].copy()
        psi[part["free"]] = theta[part["psi_index"]]
        link = part["link"]
        mu = eta if link == "identity" else np.exp(eta)
        return through_link(mean_terms(self.family, mu, target, psi), mu, link)

    def _local(self, part, terms, rows):
        """The expert's global indices and its per-row gradient over them."""
        index = np.concatenate([part["coef_index"].ravel(), part["psi_index"]])
        local = np.column_stack(
            [
                _kron_rows(terms.d_eta, part["design"][rows]),
                terms.d_psi[:, part["free"]],
            ]
        )
        return index, local

    def _curvature(self, part, terms, wr, rows):
        """``sum_i wr_i h_i`` of the expert's log-density over its own parameters."""
        X = part["design"][rows]
        q, p = part["coef_index"].shape
        free = part["free"]
        r = len(free)
        out = np.empty((q * p + r, q * p + r))
        for a in range(q):
            for b in range(q):
                out[a * p : (a + 1) * p, b * p : (b + 1) * p] = X.T @ (
                    (wr * terms.d_eta_eta[:, a, b])[:, None] * X
                )
        if r:
            cross = np.concatenate(
                [X.T @ (wr[:, None] * terms.d_eta_psi[:, a, free]) for a in range(q)]
            )
            out[: q * p, q * p :] = cross
            out[q * p :, : q * p] = cross.T
            out[q * p :, q * p :] = np.einsum(
                "i,ijk->jk", wr, terms.d_psi_psi[:, free][:, :, free]
            )
        return out


def check_parametric_family(family):
    """Raise unless the information knows the family's log-density."""
    if not isinstance(family, Categorical) and type(family) not in _DERIVATIVES:
        raise NotParametricError(
            f"the observed information knows the derivatives of skmoe's own "
            f"families only, not of {family!r}; use method='bootstrap'."
        )


def _kron_rows(a, X):
    """Row-wise Kronecker products ``a_i (x) X_i``: shape (n, q * p)."""
    return (a[:, :, None] * X[:, None, :]).reshape(len(X), -1)


def _multinomial_curvature(proba, X, w):
    """``sum_i w_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T``, logits against the
    first class (``proba`` without its first column)."""
    q, p = proba.shape[1], X.shape[1]
    out = np.empty((q * p, q * p))
    for a in range(q):
        for b in range(q):
            factor = w * ((a == b) * proba[:, a] - proba[:, a] * proba[:, b])
            out[a * p : (a + 1) * p, b * p : (b + 1) * p] = X.T @ (factor[:, None] * X)
    return out


def _log_sum_exp(a):
    top = a.max(axis=1)
    return top + np.log(np.exp(a - top[:, None]).sum(axis=1))
