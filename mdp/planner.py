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

import numpy as np
import numpy.typing as npt

from .model import TabularMDP
from .solver.solution import total_cost_error

__all__ = ["Plan", "plan"]

FloatArray = npt.NDArray[np.float64]
_U = 2.0**-53


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
    """
    if steps < 1:
        raise ValueError(f"an agent plans at least 1 step ahead, got {steps}")
    n, gamma = model.n_states, float(model.discount)
    terminal = np.asarray(model.terminal, dtype=bool)
    W = np.zeros(n) if critic is None else np.array(critic, dtype=np.float64)
    if W.shape != (n,) or not np.isfinite(W).all():
        raise ValueError(f"a critic has one finite number per state ({n}), got shape {W.shape}")
    W[terminal] = 0.0
    starts = np.asarray(model.row_groups[:-1])
    cost = np.asarray(model.cost, dtype=np.float64)
    entries = int(np.diff(model.P.indptr).max(initial=0))
    error = 0.0  # bound on |W - W exact|, the critic taken as given
    for _ in range(steps - 1):
        W = np.minimum.reduceat(cost + gamma * (model.P @ W), starts)
        W[terminal] = 0.0
        error = gamma * error + _sweep_error(model, cost, W, entries)
    planned = cost + gamma * (model.P @ W)
    error = gamma * error + _sweep_error(model, cost, planned, entries)
    slack = 2.0 * error
    best = np.minimum.reduceat(planned, starts)
    rows = planned <= best[model.row_state] + slack
    return Plan(rows=rows, planned=planned, horizon_values=W, slack=slack)


def _sweep_error(model: TabularMDP, cost: FloatArray, values: FloatArray, entries: int) -> float:
    """A bound on the float error one sweep adds: the cost's rounding (the model's) and the rounding of a
    sum of ``entries + 1`` products (relative ``(entries + 2) u``), the probabilities' own rounding included."""
    size = float(np.abs(cost).max(initial=0.0)) + float(np.abs(values).max(initial=0.0))
    return total_cost_error(model) + (entries + 4) * _U * size + float(model.rounding.P) * size
