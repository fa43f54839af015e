"""The EM loop: E-step, M-step, convergence and collapses, over a frozen configuration.

The model is ``p(y | x) = sum_k g_k(x) p_k(y | x)``. One iteration is

- M-step: the gate refitted to the soft targets ``r`` (one damped Newton step: a
  generalised EM), each expert refitted by its updater with the weights its family
  gives (``r[:, k] * sample_weight``), then the family's own parameters;
- E-step: responsibilities ``r_ik ∝ g_k(x_i) p_k(y_i | x_i)`` and the exact
  log-likelihood, in one fused kernel.

When a run converges, a gate with ``alpha="auto"`` may lighten its penalty
(``SoftmaxGate._relax``) and EM goes on from there, until the penalty no longer
costs more than ``tol``.

CEM (``config.solver == "cem"``) is the same loop with hard responsibilities (each
row to its most likely expert) before every M-step. Nothing here knows the
estimator: a run reads a :class:`~skmoe._parts.Problem`, updates
:class:`~skmoe._parts.Parts` and returns a :class:`~skmoe._parts.Run`.
"""

import copy
from functools import partial

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from skmoe._chunks import row_blocks
from skmoe._collapse import collapsed_experts, handle_collapse
from skmoe._kernels import e_step as e_step_kernel
from skmoe._parts import Parts, Run
from skmoe._progress import SILENT_PROGRESS, logger
from skmoe._start import initial_responsibilities, subsample_rows
from skmoe._updaters import FitContext, Refit, em_updater

# An expert whose share of the total weight falls below this keeps its previous fit:
# refitting on (numerically) all-zero weights is undefined for most estimators.
_MIN_WEIGHT_SHARE = 1e-10


def new_parts(problem):
    """Unfitted parts cloned from the problem's, the family set up for its target."""
    family = problem.start_family()
    experts = [clone(expert) for expert in problem.experts]
    return Parts(
        experts,
        [em_updater(expert, family) for expert in experts],
        clone(problem.gate),
        family,
        names=problem.expert_names,
    )


def fitted_parts(experts, gate, family):
    """Copies of a fitted model's parts, with fresh updaters, to continue EM from."""
    experts, gate, family = copy.deepcopy((experts, gate, family))
    return Parts(experts, [em_updater(e, family) for e in experts], gate, family)


def run_restart(problem, config, seed, restart, progress, expert_jobs, warm=None):
    """One EM run: from ``warm`` parts, or from a fresh start (maybe a subsample)."""
    data = problem.data
    if warm is not None:
        return run_em(data, warm, None, config, progress, expert_jobs)
    parts = new_parts(problem)
    rows = subsample_rows(data, parts.family, config.init_size, seed)
    if rows is None:
        resp = initial_responsibilities(
            problem.init_inputs(problem.X),
            data,
            parts.family,
            config.init,
            len(parts.experts),
            seed,
            restart,
        )
        return run_em(data, parts, resp, config, progress, expert_jobs)
    return _run_from_subsample(
        problem, parts, config, seed, restart, rows, progress, expert_jobs
    )


def _run_from_subsample(problem, parts, config, seed, restart, rows, progress, jobs):
    """EM on the subsample ``rows`` to its convergence, then on all rows.

    EM's early iterations only find the regimes, which a subsample shows as well
    at a fraction of the cost; the fit on all rows then starts close to its
    optimum (docs: core.rst, "Initialisation"). The run reports the iterations on
    all rows; the callbacks see those alone.
    """
    sample, sample_inputs = problem.sample(rows)
    init = config.init if isinstance(config.init, str) else config.init[rows]
    resp = initial_responsibilities(
        sample_inputs,
        sample,
        parts.family,
        init,
        len(parts.experts),
        seed,
        restart,
    )
    start = run_em(sample, parts, resp, config, SILENT_PROGRESS, jobs, final=False)
    logger.debug(
        "  subsample of %d rows: %d iterations, log-likelihood %.8f",
        rows.size,
        start.n_iter,
        start.log_likelihood,
    )
    for updater in parts.updaters:
        updater.forget()
    run = run_em(problem.data, parts, None, config, progress, jobs)
    start_collapses = [dict(event, iteration=0) for event in start.collapses]
    run.collapses = start_collapses + run.collapses
    return run


def run_em(data, parts, resp, config, progress, expert_jobs=1, final=True):
    """EM from responsibilities ``resp``, or from ``parts`` if ``resp`` is None.

    ``expert_jobs`` threads fit the experts of each M-step. A ``final`` run, one
    that ends the fit (not a subsample's start), ends on an M-step that solves
    experts which took single Newton steps, and, once converged, offers the gate
    to lighten its penalty (``_relax``) and goes on if it does, as long as the
    log-likelihood rose by more than ``tol`` since the last time: the gate's
    penalty then costs no more than ``tol`` at the end.
    """
    steps = data.steps or IN_MEMORY
    previous = None
    if resp is None:
        log_prob, resp = steps.e_step(parts, data)
        previous = data.average(log_prob) - parts.gate.penalty_
    for updater in parts.updaters:
        updater.reseeded = False  # an expert is reseeded once per run
    curve = []
    collapses = []
    converged = stop = False
    solve_next = False
    relaxed_at = None  # the log-likelihood when the penalty was last lightened
    n_iter = 0
    for n_iter in range(1, config.max_iter + 1):
        iteration = progress.subtask("iteration")
        iteration.begin()
        if config.solver == "cem":
            resp = _hard_assignments(resp)
        # The experts' outputs live only from the M-step to the E-step: kept,
        # they would add (n, K) floats to the next M-step's peak.
        solve_experts = solve_next or (final and n_iter == config.max_iter)
        solve_next = False
        outputs = steps.m_step(
            parts, data, resp, config, n_iter, expert_jobs, solve_experts
        )
        # Spent: freed before the E-step, which turns the outputs into the
        # next responsibilities in place, they stay out of its peak.
        del resp
        # resp is the next iteration's (ruff does not see a loop's reads).
        log_prob, resp, events = steps.e_step_and_collapses(  # noqa: RUF059
            parts, data, outputs, config, n_iter
        )
        del outputs
        if events:
            collapses += events
            previous = None  # not comparable with the model before
        log_likelihood = data.average(log_prob)
        objective = log_likelihood - parts.gate.penalty_
        if not np.isfinite(objective):
            raise FloatingPointError(
                f"EM reached a non-finite log-likelihood at iteration {n_iter}."
            )
        curve.append(log_likelihood)
        converged = previous is not None and abs(objective - previous) < config.tol
        if converged and final and parts.experts_short:
            # Experts a step short of their optimum: one more iteration, which
            # solves them, so that the fit ends where their own fit would.
            converged, solve_next = False, True
        if config.verbose > 1:
            logger.debug("  iteration %d: log-likelihood %.8f", n_iter, log_likelihood)
        stop = iteration.end(parts)
        if (
            converged
            and final
            and not stop
            and n_iter < config.max_iter
            and (relaxed_at is None or log_likelihood - relaxed_at > config.tol)
            and parts.gate._relax(config.tol)
        ):
            logger.debug(
                "  iteration %d: gate penalty lightened to %.0e",
                n_iter,
                parts.gate.alpha_,
            )
            relaxed_at = log_likelihood
            converged = False
            objective = log_likelihood - parts.gate.penalty_  # the lighter one's
        if converged or stop:
            break
        previous = objective
    parts.gate._forget()
    stopped = bool(stop) and not converged
    return Run(
        parts, log_likelihood, objective, curve, n_iter, converged, stopped, collapses
    )


def _e_step_and_collapses(parts, data, outputs, config, n_iter):
    """The E-step over the M-step's ``outputs`` (overwritten), then the collapse
    policy: the per-row log-likelihood, the responsibilities and the collapse
    events (empty if none), as ``collapsed_`` records them."""
    log_prob, resp = e_step(parts, data, outputs)
    collapsed, shares = collapsed_experts(
        resp, data.sample_weight, config.collapse_threshold
    )
    if not (collapsed.size and len(parts.experts) > 1):
        return log_prob, resp, []
    resp, actions = handle_collapse(config.collapse, parts, resp, log_prob, collapsed)
    if "dropped" in actions.values():
        # The model changed: its own E-step keeps the log-likelihood and
        # responsibilities consistent with the returned experts.
        log_prob, resp = e_step(parts, data)
    events = [
        {"iteration": n_iter, "expert": int(k), "share": float(shares[k]), "action": a}
        for k, a in actions.items()
    ]
    return log_prob, resp, events


def em_steps(data, parts, resp, config, first_iteration, n_steps):
    """``n_steps`` EM iterations from ``resp``, with no test of convergence.

    A nested mixture's M-step within an outer EM (``_nested.InnerEM``): each
    iteration raises the weighted log-likelihood, which is all the outer EM
    needs. ``first_iteration`` > 1 says that the gate saw these rows before.
    Returns the last E-step's per-row log-likelihood and responsibilities.
    """
    for n_iter in range(first_iteration, first_iteration + n_steps):
        if config.solver == "cem":
            resp = _hard_assignments(resp)
        outputs = m_step(parts, data, resp, config, n_iter, 1)
        del resp
        log_prob, resp, _ = _e_step_and_collapses(parts, data, outputs, config, n_iter)
    return log_prob, resp


def m_step(parts, data, resp, config, iteration, expert_jobs, solve_experts=True):
    """Refit gate, experts and family parameters; return the experts' new outputs.

    Without ``solve_experts``, an iterative fast path may only lower an expert's
    objective (and then sets ``parts.experts_short``).
    """
    w = data.sample_weight
    # The gate first: its temporaries are freed before the experts' outputs
    # exist, which lowers the fit's peak memory. One damped Newton step lowers its
    # objective, which is all EM needs to never decrease its own.
    parts.gate._fit(data.X_gate, resp, w, max_iter=1, same_data=iteration > 1)
    weights = parts.family.expert_weights(resp, w, data.unit_weight, parts.latent)
    parts.latent = None  # read: the next E-step gives the next
    refits = _refits(parts, resp, weights, w, config)
    context = FitContext(data, parts.family, solve_experts, expert_jobs, iteration)
    known = fit_fast(parts, refits, context)
    left = [refit for refit in refits if refit.index not in known]
    if config.solver == "cem" and data.unit_weight:
        # CEM's weights are all one on an expert's rows: experts whose fit
        # takes no sample_weight work.
        for refit in left:
            refit.weight = None
    _fit_in_turn(left, context, expert_jobs)
    known.update(
        {refit.index: refit.updater.training_output(refit, context) for refit in left}
    )
    outputs = parts.family.expert_outputs(
        parts.experts, data.X_expert, data.target, known
    )
    del known  # copied into outputs: one (n, K) array less from here on
    parts.family.fit(outputs, data.target, weights)
    return outputs


def fit_fast(parts, refits, context):
    """Each updater class's fast path on its refits; the outputs they computed,
    by expert index (``parts.experts_short`` says if one stopped short)."""
    known = {}
    parts.experts_short = False
    for kind in dict.fromkeys(type(refit.updater) for refit in refits):
        outputs, short = kind.fit_fast(
            [refit for refit in refits if type(refit.updater) is kind], context
        )
        known.update(outputs)
        parts.experts_short = parts.experts_short or short
    return known


def _refits(parts, resp, weights, w, config):
    """The experts this M-step refits, with their rows and weights.

    CEM and ``responsibility_threshold`` keep each expert's rows above a
    threshold; an expert with (almost) no weight keeps its previous fit, or, never
    fitted (an empty initial cluster), starts from all rows.
    """
    min_weight = _MIN_WEIGHT_SHARE * w.sum()
    hard = config.solver == "cem"
    sparse = hard or config.responsibility_threshold > 0
    threshold = 0.5 if hard else config.responsibility_threshold
    refits = []
    for k, (expert, updater) in enumerate(
        zip(parts.experts, parts.updaters, strict=True)
    ):
        expert_weight = weights[:, k]
        if sparse:
            keep = resp[:, k] >= threshold
            rows = np.flatnonzero(keep & (expert_weight > 0))
            kept_weight = expert_weight[rows].sum()
        else:
            rows, kept_weight = None, expert_weight.sum()
        if kept_weight <= min_weight:
            if hasattr(expert, "n_features_in_"):
                continue
            expert_weight = w
            rows = np.flatnonzero(w > 0) if sparse else None
        refits.append(Refit(k, expert, updater, rows, expert_weight, parts.label(k)))
    return refits


def _fit_in_turn(refits, context, n_jobs):
    """Each refit by its updater's own ``fit``, in ``n_jobs`` threads.

    Threads: the experts share the data instead of copying it to other processes
    at every iteration, and fitting releases the GIL in the compiled code where
    the time goes (LAPACK, trees, liblinear).
    """
    fits = [partial(refit.updater.fit, refit, context) for refit in refits]
    if n_jobs == 1 or len(fits) < 2:
        for fit in fits:
            fit()
    else:
        Parallel(n_jobs=n_jobs, backend="threading")(delayed(fit)() for fit in fits)


def e_step(parts, data, outputs=None, for_m_step=True):
    """Per-sample log-likelihood and responsibilities.

    The experts' ``outputs``, if given, are overwritten: the responsibilities take
    their place. With ``for_m_step``, the family's latent factors at these
    outputs go to ``parts.latent``, for the next M-step.
    """
    if outputs is None:
        outputs = parts.family.expert_outputs(parts.experts, data.X_expert, data.target)
    if for_m_step:
        parts.latent = parts.family.latent_weights(outputs, data.target)
    responsibilities = parts.family.log_likelihood(outputs, data.target, out=outputs)
    log_prob = np.empty(responsibilities.shape[0])
    # The gate's logits a block of rows at a time: no (n, K) array of them.
    for rows in row_blocks(*responsibilities.shape):
        logits = parts.gate.decision_function(data.X_gate[rows])
        block = responsibilities[rows]
        e_step_kernel(logits, block, block, log_prob[rows])
    return log_prob, responsibilities


class _InMemory:
    """EM's steps on rows in memory (a :class:`~skmoe._parts.Data`)."""

    m_step = staticmethod(m_step)
    e_step = staticmethod(e_step)
    e_step_and_collapses = staticmethod(_e_step_and_collapses)


#: The steps of ``run_em`` on a :class:`~skmoe._parts.Data`; rows held elsewhere
#: bring their own (``Data.steps``: ``skmoe._distributed``).
IN_MEMORY = _InMemory


def _hard_assignments(resp):
    """One-hot rows at each row's most responsible expert (CEM's C-step)."""
    hard = np.zeros_like(resp)
    hard[np.arange(resp.shape[0]), np.argmax(resp, axis=1)] = 1.0
    return hard
