"""The APTAMI agent as it is built: a planner over a short horizon with a critic at its end.

LeCun's agent does not minimise the intrinsic cost exactly. Its actor plans ``H`` steps ahead through the
world model and adds the *critic*, a trained estimate of the future intrinsic cost, at the states where
the plan ends. Over this finite model that agent is exact expectimax::

    W_0 = critic,    W_k(s) = min_a [ c(s, a) + gamma * P(s, a) W_{k-1} ],    k = 1 .. H - 1
    the agent's actions at s: argmin_a [ c(s, a) + gamma * P(s, a) W_{H-1} ]

(``W = 0`` at terminal states at every step: the future cost of an ended episode is 0, whatever the
critic says there). ``H`` steps cost ``H`` sparse sweeps over all states at once. A perfect critic
(``V*``) gives the optimal actions at every ``H``; so does any ``H`` once ``W`` has converged. ``H = 1``
is the greedy critic-follower: the cost now plus the critic where the action leads.

Ties are kept as sets, the way :func:`mdp.solve` keeps optimal ties: a row is the agent's when its planned
cost is within ``slack`` of the best, ``slack`` twice a bound on the float error of ``W`` (the model's
rounding and that of every sweep), so every truly tied row is in the set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

import scipy.sparse as sp

from dsl.errors import ResourceLimitError

from .graph import reachable_states
from .model import TabularMDP
from .solver.solution import total_cost_error

__all__ = ["FittedCritic", "Plan", "PlannedPath", "fit_critic", "plan", "planned_path"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_U = 2.0**-53
_WORK_LIMIT = 2e10  # transitions visited by one plan (about a minute of sweeps)


@dataclass(frozen=True, slots=True)
class Plan:
    """What an ``H``-step planner with a critic does in every state.

    Attributes
    ----------
    rows
        ``(m,)`` the rows the agent may take: in each non-terminal state those whose planned cost is
        within ``slack`` of the best (ties kept).
    planned
        ``(m,)`` each row's planned cost ``c + gamma P W_{H-1}``.
    horizon_values
        ``(n,)`` ``W_{H-1}``: the planner's estimate of the future cost after the first step.
    slack
        Rows within this of the best planned cost count as ties (twice the float error bound).
    """

    rows: npt.NDArray[np.bool_]
    planned: FloatArray
    horizon_values: FloatArray
    slack: float


def plan(model: TabularMDP, critic: FloatArray | None, steps: int) -> Plan:
    """The rows of an agent planning ``steps`` steps ahead with ``critic`` (``(n,)``, or None for 0) at the end.

    Raises
    ------
    ValueError
        On ``steps < 1`` or a critic of the wrong shape or with non-finite values.
    ResourceLimitError
        When the sweeps would visit more than 2e10 transitions (a fixed point ends them sooner, but may not come).
    """
    if steps < 1:
        raise ValueError(f"an agent plans at least 1 step ahead, got {steps}")
    if steps * max(model.n_transitions, 1) > _WORK_LIMIT:
        raise ResourceLimitError(f"planning {steps:,} steps ahead takes that many sweeps over {model.n_transitions:,} "
                                 f"transitions, more than corrigo allows ({_WORK_LIMIT:.0e} entries)")
    n, gamma = model.n_states, float(model.discount)
    terminal = np.asarray(model.terminal, dtype=bool)
    W = np.zeros(n) if critic is None else np.array(critic, dtype=np.float64)
    if W.shape != (n,) or not np.isfinite(W).all():
        raise ValueError(f"a critic has one finite number per state ({n}), got shape {W.shape}")
    W[terminal] = 0.0
    starts = np.asarray(model.row_groups[:-1])
    cost = np.asarray(model.cost, dtype=np.float64)
    entries = int(np.diff(model.P.indptr).max(initial=0))
    rounding = total_cost_error(model) + float(model.rounding.discount) * float(np.abs(W).max(initial=0.0))
    cost_size = float(np.abs(cost).max(initial=0.0))
    error = 0.0  # bound on |W - W exact|, the critic taken as given
    for done in range(1, steps):
        before = W
        W = np.minimum.reduceat(cost + gamma * (model.P @ W), starts)
        W[terminal] = 0.0
        step_error = _sweep_error(model, rounding, cost_size, W, entries)
        error = gamma * error + step_error
        if np.array_equal(W, before):  # a fixed point in floats: every further sweep gives the same floats,
            left = steps - 1 - done  # whose exact counterparts may still drift by the rounding of each sweep
            error = gamma**left * error + step_error * (left if gamma == 1.0 else (1.0 - gamma**left) / (1.0 - gamma))
            break
    planned = cost + gamma * (model.P @ W)
    error = gamma * error + _sweep_error(model, rounding, cost_size, planned, entries)
    slack = 2.0 * error
    best = np.minimum.reduceat(planned, starts)
    rows = planned <= best[model.row_state] + slack
    return Plan(rows=rows, planned=planned, horizon_values=W, slack=slack)


def _sweep_error(model: TabularMDP, rounding: float, cost_size: float, values: FloatArray, entries: int) -> float:
    """A bound on the float error one sweep adds: the model's rounding of costs and discount (``rounding``),
    that of its probabilities, and the rounding of a sum of ``entries + 1`` products (``(entries + 2) u``)."""
    size = cost_size + float(np.abs(values).max(initial=0.0))
    return rounding + (entries + 4) * _U * size + float(model.rounding.P) * size


@dataclass(frozen=True, slots=True)
class FittedCritic:
    """A linear critic fitted the way it would be trained.

    Attributes
    ----------
    values
        ``(n,)`` the critic at every state: ``features @ weights``, on the states training never visited too.
    weights
        ``(k + 1,)`` the constant's weight, then each feature's.
    visits
        ``(n,)`` the training distribution: the training policy's discounted visits from the initial state
        (0 at terminal states, which need no critic).
    """

    values: FloatArray
    weights: FloatArray
    visits: FloatArray


def fit_critic(model: TabularMDP, features: FloatArray, optimal_values: FloatArray,
               policy: npt.NDArray[np.int64] | None, method: str = "lsq", max_sweeps: int = 100_000) -> FittedCritic:
    """A linear critic on ``features`` (``(n, k)``; a constant is added) trained on the states a policy visits:
    ``policy`` (one row per state) or, when None, the uniformly random one.

    ``method="lsq"``: least squares on the optimal values ``V*``, each state weighted by its visits.
    ``method="td"``: TD(0)'s fixed point for the policy's own cost, ``Phi' D (Phi - gamma P Phi) w =
    Phi' D c`` (Sutton and Barto, 9.4), which is what TD learning converges to.

    Raises
    ------
    ValueError
        When the training policy's visits do not converge (discount 1 and a policy that never ends), or the
        TD system is singular.
    """
    n, gamma = model.n_states, float(model.discount)
    live = ~np.asarray(model.terminal, dtype=bool)
    counts = np.diff(np.asarray(model.row_groups, dtype=np.int64)).astype(np.float64)
    if policy is None:
        weights_of_rows = 1.0 / counts[model.row_state]
        choose = _state_rows(model, np.arange(model.n_rows), weights_of_rows)
    else:
        choose = _state_rows(model, np.asarray(policy, dtype=np.int64), np.ones(n))
    P_pi = (choose @ model.P).tocsr()  # (n, n) the training policy's transitions
    c_pi = choose @ np.asarray(model.cost, dtype=np.float64)
    P_live = P_pi.multiply(live[None, :]).multiply(live[:, None]).tocsr()  # terminal states absorb: no visits
    start = np.zeros(n)
    start[model.start_states] = model.start_probabilities
    start[~live] = 0.0
    visits, step = start.copy(), start.copy()  # d = sum_t gamma^t (P')^t start, sweep by sweep (Krylov solvers
    backwards = P_live.T.tocsr()  # crawled on these transposed systems: 80 s against 0.5 s at 10^5 states)
    for _ in range(max_sweeps):
        step = gamma * (backwards @ step)
        visits += step
        if float(step.sum()) <= 1e-12 * (1.0 - gamma + 1e-12) * float(visits.sum()):  # what is left < 1e-12
            break
    else:
        raise ValueError("the training policy's visits do not converge: with discount 1 it must end surely")
    trained_rows = np.zeros(model.n_rows, dtype=bool)
    trained_rows[choose.indices] = True
    visits = np.where(reachable_states(model, trained_rows) & live, np.maximum(visits, 0.0), 0.0)
    Phi = np.column_stack([np.ones(n), np.asarray(features, dtype=np.float64).reshape(n, -1)])
    Phi[~live] = 0.0  # an ended episode needs no estimate (its future cost is 0)
    root = np.sqrt(visits)
    if method == "lsq":
        weights = np.linalg.lstsq(root[:, None] * Phi, root * np.asarray(optimal_values, dtype=np.float64),
                                  rcond=None)[0]
    else:
        A = Phi.T @ (visits[:, None] * (Phi - gamma * (P_pi @ Phi)))
        b = Phi.T @ (visits * c_pi)
        if np.linalg.matrix_rank(A) < A.shape[0]:
            raise ValueError("TD(0) has no unique fixed point on these features and states (a feature is constant "
                             "or repeats another where training goes)")
        weights = np.linalg.solve(A, b)
    values = Phi @ weights
    return FittedCritic(values=values, weights=weights, visits=visits)


def _state_rows(model: TabularMDP, rows: npt.NDArray[np.int64], weights: FloatArray) -> Any:
    """``(n, m)`` the sparse matrix that averages ``rows`` (each of its state) with ``weights``."""
    return sp.csr_array((np.asarray(weights, dtype=np.float64), (model.row_state[rows], rows)),
                            shape=(model.n_states, model.n_rows))


@dataclass(frozen=True, slots=True)
class PlannedPath:
    """A row's planned cost taken apart: the expected discounted cost of each term over the ``H`` planned
    steps (the row, then the planner's own choices, the first of tied rows), and ``discount^H`` times the
    expected critic at the states where the plan ends; with the same for ``V*`` in place of the critic."""

    terms: dict[str, float]
    critic: float
    optimal: float  # discount^H E[V*(s_H)] along the same plan


def planned_path(model: TabularMDP, critic: FloatArray | None, steps: int, row: int,
                 optimal_values: FloatArray) -> PlannedPath:
    """:class:`PlannedPath` of ``row`` for an agent planning ``steps`` steps with ``critic``."""
    n, gamma = model.n_states, float(model.discount)
    terminal = np.asarray(model.terminal, dtype=bool)
    starts = np.asarray(model.row_groups[:-1])
    W = np.zeros(n) if critic is None else np.array(critic, dtype=np.float64)
    W[terminal] = 0.0
    stages = [W]  # stages[k]: the planner's estimate with k steps left after a choice
    for _ in range(steps - 2):
        W = np.minimum.reduceat(model.cost + gamma * (model.P @ W), starts)
        W[terminal] = 0.0
        if np.array_equal(W, stages[-1]):  # a fixed point: every later stage is this one
            break
        stages.append(W)
    choices: dict[int, IntArray] = {}

    def choice(stage: int) -> IntArray:
        """Each state's first row minimising ``c + gamma P W`` at ``stage`` (computed once per stage)."""
        if stage not in choices:
            planned = model.cost + gamma * (model.P @ stages[stage])
            best = np.minimum.reduceat(planned, starts)
            first = np.full(n, -1, dtype=np.int64)
            ties = np.flatnonzero(planned <= best[model.row_state])
            first[model.row_state[ties[::-1]]] = ties[::-1]
            choices.clear()  # stages are visited in order: only the current one is needed again
            choices[stage] = first
        return choices[stage]

    terms = {name: float(vector[row]) for name, vector in model.costs.items()}
    here = np.asarray(model.P[[row]].todense()).ravel()  # the distribution after the first step
    weight = gamma
    for left in range(steps - 1, 0, -1):  # each later step: the planner's own choice
        live = (here > 0) & ~terminal  # an ended episode costs nothing more
        if not live.any() or weight < 1e-300:  # nothing left to add
            here = np.where(live, here, 0.0)
            break
        first = choice(min(left - 1, len(stages) - 1))
        chosen = first[live]
        for name, vector in model.costs.items():
            terms[name] += weight * float(here[live] @ vector[chosen])
        here = np.asarray(model.P[chosen].T @ here[live])
        weight *= gamma
    ends = np.where(terminal, 0.0, here)
    critic_at_end = np.zeros(n) if critic is None else np.asarray(critic, dtype=np.float64)
    return PlannedPath(terms=terms, critic=weight * float(ends @ critic_at_end),
                       optimal=weight * float(ends @ np.asarray(optimal_values, dtype=np.float64)))
