"""Exact EM on row chunks held by Dask workers: the rows and EM's steps over them.

:class:`ChunkedData` stands where ``_parts.Data`` stands in EM: the same
``run_em`` loop runs over it, through its :class:`DistributedSteps`, and the same
solvers run over its rows (``rows_like``): the chunked counterparts of
``CrossEntropyRows``, ``LogisticRows``, ``LinearRows`` and ``GLMRows``. Every
quantity the solvers read is a sum over rows; each chunk computes its share where
it lives (``skmoe._distributed_chunks``), the client adds the shares in chunk
order and decides, so the iterates are those of EM in memory up to the rounding
of the sums (docs: scaling.rst, "Exact EM on a Dask cluster").

What the chunks keep between passes (responsibilities, the experts' weights and
outputs, a solver's probabilities or linear predictor) stays on the workers as
futures, released when the client drops them.
"""

import itertools
import operator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from skmoe import _distributed_chunks as per_chunk
from skmoe._collapse import handle_collapse
from skmoe._em import fit_fast
from skmoe._glm import GLMRows
from skmoe._linear import LinearRows
from skmoe._logistic import LogisticRows
from skmoe._newton import penalty_hessian
from skmoe._updaters import FitContext, Refit
from skmoe.exceptions import ExpertFitError

# As in _em: an expert with less than this share of the weight keeps its fit.
_MIN_WEIGHT_SHARE = 1e-10


def _add(first, second):
    """The sum of two chunks' sums: dicts, tuples and lists by item."""
    if isinstance(first, dict):
        return {key: _add(value, second[key]) for key, value in first.items()}
    if isinstance(first, tuple | list):
        return type(first)(_add(a, b) for a, b in zip(first, second, strict=True))
    return first + second


@dataclass
class Column:
    """Column ``index`` of a per-row array held as one future per chunk."""

    futures: list
    index: int


@dataclass
class ChunkedValues:
    """Per-row values held as one future per chunk, with their weighted sum."""

    futures: list
    weighted_sum: float


class ChunkedResponsibilities(list):
    """Responsibilities held as one future per chunk; from an E-step, with each
    expert's share of the weight and the next M-step's expert weights
    (``weights``, futures) and their totals."""

    shares = None
    weights = None
    totals = None


class ChunkedData:
    """The training rows as chunks on the workers, as EM reads them.

    ``chunks`` are futures of :class:`~skmoe._distributed_chunks.ChunkData`;
    ``moments`` the sums of the first two passes (row counts, weights, the
    gate's standardisation, the experts' centre, the target's spread).
    """

    def __init__(self, client, chunks, moments):
        self.client = client
        self.chunks = chunks
        self.row_counts = [m["n"] for m in moments["per_chunk"]]
        self.n_rows = sum(self.row_counts)
        self.total_weight = moments["weight"]
        self.unit_weight = moments["unit_weight"]
        self.gate_mean = moments["gate_mean"]
        self.gate_scale = moments["gate_scale"]
        self.expert_center = moments["expert_center"]
        self.target_variance = moments.get("target_variance")

    def none(self):
        """A per-chunk argument of None for every chunk."""
        return [None] * len(self.chunks)

    def keep(self, func, *per_chunk_args, **kwargs):
        """``func(chunk, ...)`` on every chunk, kept on the workers; no round trip."""
        futures = self.client.map(
            func, self.chunks, *per_chunk_args, pure=False, **kwargs
        )
        return self.client.map(operator.itemgetter(0), futures, pure=False)

    def run(self, func, *per_chunk_args, **kwargs):
        """One pass: ``func(chunk, ...)`` on every chunk, which returns
        ``(kept, sums)``; the kept futures and the sums added in chunk order."""
        futures = self.client.map(
            func, self.chunks, *per_chunk_args, pure=False, **kwargs
        )
        kept = self.client.map(operator.itemgetter(0), futures, pure=False)
        sums = self.client.gather(
            self.client.map(operator.itemgetter(1), futures, pure=False)
        )
        total = sums[0]
        for chunk_sums in sums[1:]:
            total = _add(total, chunk_sums)
        return kept, total

    def items(self, futures, index):
        """Item ``index`` of each chunk's kept tuple."""
        return self.client.map(operator.itemgetter(index), futures, pure=False)

    def scatter_rows(self, array):
        """A per-row array in memory, split into the chunks' rows, on the workers.

        As tasks that hold their rows rather than scattered data, so that a lost
        worker's share is recomputed like every other future of the fit.
        """
        bounds = np.cumsum([0, *self.row_counts])
        parts = [array[a:b] for a, b in itertools.pairwise(bounds)]
        return self.client.map(np.array, parts, pure=False)

    def gather_rows(self, futures):
        """A per-row array gathered from the chunks (a reseed's rare need)."""
        return np.concatenate(self.client.gather(list(futures)))

    # ---- what EM and the start read of a Data

    steps = None  # set below: DistributedSteps

    def positive_rows(self):
        """The global indices of the rows of positive weight."""
        if self.unit_weight:
            return np.arange(self.n_rows)
        local = self.client.gather(
            self.client.map(per_chunk.positive_rows, self.chunks)
        )
        offsets = np.cumsum([0, *self.row_counts[:-1]])
        return np.concatenate(
            [rows + o for rows, o in zip(local, offsets, strict=True)]
        )

    def take_rows(self, rows):
        """``X``, ``y``, the target and the weights of the sorted global ``rows``,
        gathered to the client."""
        bounds = np.cumsum([0, *self.row_counts])
        chunk_of = np.searchsorted(bounds, rows, side="right") - 1
        futures = [
            self.client.submit(
                per_chunk.take, self.chunks[c], rows[chunk_of == c] - bounds[c]
            )
            for c in np.unique(chunk_of)
        ]
        pieces = self.client.gather(futures)
        return tuple(np.concatenate(part) for part in zip(*pieces, strict=True))

    def target_of(self, rows):
        return self.take_rows(rows)[2]

    @cached_property
    def all_rows(self):
        """Every row, gathered: the start of data too small to subsample."""
        return self.take_rows(np.arange(self.n_rows))

    @property
    def target(self):
        return self.all_rows[2]

    @property
    def sample_weight(self):
        return self.all_rows[3]

    def average(self, values):
        return values.weighted_sum / self.total_weight

    def rows_like(self, kind, *args):
        return _CHUNKED_ROWS[kind](self, *args)


# ---- the solvers' rows


def _penalise(theta, n_classes, value, grad, alpha):
    """The penalty of ``_penalized_cross_entropy`` added to chunk sums."""
    coef = theta.reshape(n_classes, -1)[:, :-1]
    grad = grad.reshape(n_classes, -1).copy()
    grad[:, :-1] += alpha * coef
    return value + 0.5 * alpha * np.sum(coef * coef), grad.ravel()


class ChunkedCrossEntropy:
    """:class:`~skmoe._newton.CrossEntropyRows` over the chunks.

    ``targets`` are the chunks' responsibilities (the gate) or None (one-hot
    classes: a logistic expert); ``weights`` is ``(futures or None, column,
    total)``, as :func:`~skmoe._distributed_chunks._problem` reads it. A proba
    is a list of futures. A truncated Newton step's products are not offered.
    """

    def __init__(self, data, spec, targets, weights, n_classes, n_features):
        self.data, self.spec = data, spec
        self.targets = targets if targets is not None else data.none()
        array, column, total = weights
        arrays = array if array is not None else data.none()
        self.weights = [(a, column, total, n_classes) for a in arrays]
        self.n_classes, self.n_features = n_classes, n_features
        self._hessian = None  # (proba, unpenalised Hessian) of the last evaluate
        self.reference = spec[0] == "gate"

    def _args(self):
        return self.targets, self.weights

    def evaluate(self, theta, alpha, proba=None, hessian_next=False):
        proba_args = proba if proba is not None else self.data.none()
        kept, sums = self.data.run(
            per_chunk.cross_entropy,
            *self._args(),
            proba_args,
            spec=self.spec,
            theta=theta,
            with_hessian=hessian_next,
            reference=self.reference,
        )
        proba = kept if proba is None else proba
        if hessian_next:
            self._hessian = (proba, sums["hessian"])
        value, grad = _penalise(
            theta, self.n_classes, sums["value"], sums["grad"], alpha
        )
        return value, grad, proba

    def value(self, theta, alpha):
        _, value = self.data.run(
            per_chunk.cross_entropy_value, *self._args(), spec=self.spec, theta=theta
        )
        coef = theta.reshape(self.n_classes, -1)[:, :-1]
        return value + 0.5 * alpha * np.sum(coef**2)

    def hessian(self, proba, alpha, reference):
        if self._hessian is not None and self._hessian[0] is proba:
            hessian = self._hessian[1]
        else:
            _, hessian = self.data.run(
                per_chunk.cross_entropy_hessian,
                *self._args(),
                proba,
                spec=self.spec,
                reference=reference,
            )
        self._hessian = None
        return hessian + penalty_hessian(
            self.n_classes, self.n_features, alpha, reference
        )

    def products(self, proba, alpha, reference, design_moments):
        raise NotImplementedError(
            "distributed EM solves by the factored Hessian only (at most "
            "TRUNCATED_ABOVE free parameters per problem)."
        )


class _ChunkedExpertRows:
    """What the experts' chunked rows share: their centre and design."""

    def __init__(self, data, fit_intercept, dtype=None):
        self.data = data
        n_features = data.expert_center.size
        self.center = data.expert_center if fit_intercept else np.zeros(n_features)
        self.spec = ("expert", self.center, fit_intercept, dtype)


class ChunkedLinearRows(_ChunkedExpertRows):
    """:class:`~skmoe._linear.LinearRows` over the chunks."""

    def __init__(self, data, fit_intercept):
        super().__init__(data, fit_intercept)
        self.fit_intercept = fit_intercept

    def normal_equations(self, weights):
        _, sums = self.data.run(
            per_chunk.normal_equations,
            weights[0].futures,
            experts=[w.index for w in weights],
            center=self.center,
            fit_intercept=self.fit_intercept,
        )
        return sums

    def predictions(self, coef, intercept):
        kept = self.data.keep(
            per_chunk.linear_predictions, coef=coef, intercept=intercept
        )
        return [self.data.items(kept, i) for i in range(coef.shape[0])]


class ChunkedLogisticRows(_ChunkedExpertRows):
    """:class:`~skmoe._logistic.LogisticRows` over the chunks."""

    def __init__(self, data, classes, fit_intercept):
        super().__init__(data, fit_intercept)
        self.n_classes = classes.size

    def class_totals(self, weight):
        _, (per_class, total) = self.data.run(
            per_chunk.weighted_totals,
            weight.futures,
            column=weight.index,
            n_classes=self.n_classes,
        )
        return per_class, total

    def rows(self, weight, total):
        return ChunkedCrossEntropy(
            self.data,
            self.spec,
            None,
            (weight.futures, weight.index, total),
            self.n_classes,
            self.center.size,
        )

    def target_proba(self, proba):
        return self.data.keep(per_chunk.target_proba, proba)


class ChunkedGLMRows(_ChunkedExpertRows):
    """:class:`~skmoe._glm.GLMRows` over the chunks."""

    def __init__(self, data, fit_intercept):
        super().__init__(data, fit_intercept, dtype=np.float64)

    def totals(self, weight):
        _, totals = self.data.run(
            per_chunk.glm_totals, weight.futures, column=weight.index
        )
        return totals

    def scaled(self, weight, total):
        return weight, total

    def objective(self, theta, s, loss):
        weight, total = s
        eta, sums = self.data.run(
            per_chunk.glm_objective,
            weight.futures,
            spec=self.spec,
            column=weight.index,
            total=total,
            theta=theta,
            loss=loss,
        )
        return (np.inf if sums["overflows"] else sums["value"]), eta

    def derivatives(self, eta, s, loss):
        weight, total = s
        _, (gradient, hessian) = self.data.run(
            per_chunk.glm_derivatives,
            weight.futures,
            eta,
            spec=self.spec,
            column=weight.index,
            total=total,
            loss=loss,
        )
        return gradient, lambda: hessian

    def predictions(self, eta):
        return self.data.keep(per_chunk.exp, eta)


_CHUNKED_ROWS = {
    LinearRows: ChunkedLinearRows,
    LogisticRows: ChunkedLogisticRows,
    GLMRows: ChunkedGLMRows,
}


# ---- EM's steps


class DistributedSteps:
    """``_em``'s M-step and E-step over a :class:`ChunkedData`."""

    @staticmethod
    def m_step(parts, data, resp, config, iteration, expert_jobs, solve_experts=True):
        if isinstance(resp, np.ndarray):  # the start on all rows of small data
            resp = data.scatter_rows(resp)
        _fit_gate(parts.gate, data, resp, len(parts.experts), iteration)
        weights, totals = getattr(resp, "weights", None), getattr(resp, "totals", None)
        if weights is None:  # the start's responsibilities, or a reseed's
            weights, totals = data.run(
                per_chunk.expert_weights,
                resp,
                data.none(),
                family=parts.family,
                unit_weight=data.unit_weight,
            )
        parts.latent = None
        refits = _refits(parts, weights, totals, data)
        context = FitContext(
            data, parts.family, solve_experts, max(len(refits), 1), iteration
        )
        known = fit_fast(parts, refits, context)
        for refit in refits:
            if refit.index not in known:
                raise ExpertFitError(
                    f"{refit.label} ({refit.expert!r}) has no solution from sums "
                    f"at iteration {iteration} (ill-conditioned normal equations, "
                    "a class without weight, or Newton out of steps); in memory it "
                    "would be refitted by its own fit, which needs all rows in "
                    "one place."
                )
        per_chunk_known = [
            {k: futures[c] for k, futures in known.items()}
            for c in range(len(data.chunks))
        ]
        outputs, sums = data.run(
            per_chunk.outputs_and_fit_sums,
            per_chunk_known,
            weights,
            family=parts.family,
            experts=parts.experts,
        )
        parts.family.fit_from_sums(sums)
        return outputs

    @staticmethod
    def e_step(parts, data, outputs=None, for_m_step=True):
        kept, sums = data.run(
            per_chunk.e_step,
            outputs if outputs is not None else data.none(),
            family=parts.family,
            experts=parts.experts,
            gate=parts.gate,
            for_m_step=for_m_step,
            unit_weight=data.unit_weight,
        )
        log_prob = ChunkedValues(data.items(kept, 0), sums["log_likelihood"])
        resp = ChunkedResponsibilities(data.items(kept, 1))
        resp.shares = sums["shares"] / data.total_weight
        if for_m_step:
            # The next M-step's weights, from this pass (the family's latent
            # factors are read here, as Family.latent_weights asks).
            resp.weights = data.items(kept, 2)
            resp.totals = sums["weight_totals"]
        return log_prob, resp

    @staticmethod
    def e_step_and_collapses(parts, data, outputs, config, n_iter):
        log_prob, resp = DistributedSteps.e_step(parts, data, outputs)
        shares = resp.shares
        collapsed = np.flatnonzero(shares < config.collapse_threshold)
        if not (collapsed.size and len(parts.experts) > 1):
            return log_prob, resp, []
        reseeding = config.collapse == "reseed" and any(
            not parts.updaters[k].reseeded for k in collapsed
        )
        if reseeding:
            # Rare: the rows the model explains worst are a global ranking.
            resp_all = data.gather_rows(resp)
            resp_all, actions = handle_collapse(
                config.collapse,
                parts,
                resp_all,
                data.gather_rows(log_prob.futures),
                collapsed,
            )
            resp = data.scatter_rows(resp_all)
        else:
            _, actions = handle_collapse(
                config.collapse,
                parts,
                np.empty((0, len(shares))),
                None,
                collapsed,
            )
        if "dropped" in actions.values():
            log_prob, resp = DistributedSteps.e_step(parts, data)
        events = [
            {
                "iteration": n_iter,
                "expert": int(k),
                "share": float(shares[k]),
                "action": a,
            }
            for k, a in actions.items()
        ]
        return log_prob, resp, events


ChunkedData.steps = DistributedSteps


def _fit_gate(gate, data, resp, n_experts, iteration):
    """``SoftmaxGate._fit(max_iter=1)`` on the chunks: the standardisation of all
    rows at the first iteration, then one damped Newton step."""
    spec = ("gate", data.gate_mean, data.gate_scale)
    rows = ChunkedCrossEntropy(
        data,
        spec,
        resp,
        (None, None, data.total_weight),
        n_experts,
        data.gate_mean.size,
    )

    def mean_target():
        _, sums = data.run(per_chunk.weighted_responsibilities, resp)
        return sums / data.total_weight

    scaling = (data.gate_mean, data.gate_scale) if iteration == 1 else None
    gate._fit_rows(rows, scaling, 1, mean_target)


def _refits(parts, weights, totals, data):
    """``_em._refits`` on the chunks: every expert on all rows, weighted."""
    min_weight = _MIN_WEIGHT_SHARE * data.total_weight
    refits = []
    for k, (expert, updater) in enumerate(
        zip(parts.experts, parts.updaters, strict=True)
    ):
        if totals[k] <= min_weight:
            if hasattr(expert, "n_features_in_"):
                continue
            raise ExpertFitError(
                f"{parts.label(k)} has no weight and was never fitted: distributed "
                "EM cannot fit it on all rows by its own fit."
            )
        refits.append(
            Refit(k, expert, updater, None, Column(weights, k), parts.label(k))
        )
    return refits
