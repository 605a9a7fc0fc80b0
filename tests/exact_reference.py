"""An independent exact reference: every deterministic policy of a small model, evaluated in rationals.

Memoryless deterministic policies attain the minimum and the maximum of discounted costs, of total costs
over proper policies and of reachability probabilities, so enumerating them gives the exact optimum to
compare corrigo's answers with. Plain Gauss-Jordan elimination in ``Fraction`` arithmetic; nothing here
shares code with :mod:`mdp`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from mdp.model import TabularMDP

Policy = tuple[int, ...]


def solve_linear(A: list[list[Fraction]], b: list[Fraction]) -> list[Fraction] | None:
    """``A x = b`` exactly; ``None`` if ``A`` is singular."""
    n = len(b)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for col in range(n):
        pivot = next((i for i in range(col, n) if M[i][col] != 0), None)
        if pivot is None:
            return None
        M[col], M[pivot] = M[pivot], M[col]
        for i in range(n):
            if i != col and M[i][col] != 0:
                f = M[i][col] / M[col][col]
                M[i] = [a - f * c for a, c in zip(M[i], M[col])]
    return [M[i][n] / M[i][i] for i in range(n)]


def transitions(model: TabularMDP) -> list[dict[int, Fraction]]:
    """Every row's successors with their exact probabilities (the model's exact numbers)."""
    data = model.exact.P
    P = model.P
    return [{int(P.indices[k]): data[k] for k in range(P.indptr[r], P.indptr[r + 1])} for r in range(model.n_rows)]


def policies(model: TabularMDP, rows: npt.NDArray[np.bool_] | None = None) -> Iterator[Policy]:
    """Every deterministic policy taking only ``rows`` (states without such rows take their first row)."""
    choices = []
    for s in range(model.n_states):
        allowed = [r for r in model.rows(s) if rows is None or rows[r]]
        choices.append(allowed or [int(model.row_groups[s])])
    return itertools.product(*choices)


def chain_values(model: TabularMDP, policy: Policy, reward: Sequence[Fraction], gamma: Fraction,
                 absorbing: npt.NDArray[np.bool_]) -> list[Fraction] | None:
    """``E[sum_t gamma^t reward(r_t)]`` under ``policy``; ``absorbing`` states are worth 0 and end the run.
    ``None`` when the system is singular (discount 1, a policy that never ends)."""
    P = transitions(model)
    states = [s for s in range(model.n_states) if not absorbing[s]]
    index = {s: i for i, s in enumerate(states)}
    A = [[Fraction(int(i == j)) for j in range(len(states))] for i in range(len(states))]
    b = [reward[policy[s]] for s in states]
    for i, s in enumerate(states):
        for j, p in P[policy[s]].items():
            if j in index:
                A[i][index[j]] -= gamma * p
    x = solve_linear(A, b)
    if x is None:
        return None
    values = [Fraction(0)] * model.n_states
    for s, v in zip(states, x):
        values[s] = v
    return values


def proper(model: TabularMDP, policy: Policy) -> bool:
    """Whether ``policy`` reaches a terminal state with probability 1 from every state."""
    P = transitions(model)
    ends = set(np.flatnonzero(model.terminal).tolist())
    changed = True
    while changed:  # states that can reach an ending state along the chain
        changed = False
        for s in range(model.n_states):
            if s not in ends and any(j in ends for j in P[policy[s]]):
                ends.add(s)
                changed = True
    return len(ends) == model.n_states


def optimal_costs(model: TabularMDP, reward: Sequence[Fraction], rows: npt.NDArray[np.bool_] | None = None,
                  maximize: bool = False) -> list[Fraction | None]:
    """Per state, the min (max) expected (discounted) total of ``reward`` over the deterministic policies on
    ``rows`` (discount 1: over the proper ones; ``None`` where none is proper)."""
    gamma = model.exact.discount
    best: list[Fraction | None] = [None] * model.n_states
    absorbing = model.terminal if gamma == 1 else np.zeros(model.n_states, dtype=bool)
    for policy in policies(model, rows):
        if gamma == 1 and not proper(model, policy):
            continue
        values = chain_values(model, policy, reward, gamma, absorbing)
        assert values is not None
        for s, v in enumerate(values):
            if best[s] is None or (v > best[s] if maximize else v < best[s]):  # type: ignore[operator]
                best[s] = v
    return best


def reach_values(model: TabularMDP, policy: Policy, target: npt.NDArray[np.bool_],
                 avoid: npt.NDArray[np.bool_] | None = None) -> list[Fraction]:
    """``P(not avoid U target)`` under ``policy``, exactly: the least solution of the chain's equations."""
    P = transitions(model)
    n = model.n_states
    avoid = np.zeros(n, dtype=bool) if avoid is None else avoid & ~target
    reach = set(np.flatnonzero(target).tolist())
    changed = True
    while changed:
        changed = False
        for s in range(n):
            if s not in reach and not avoid[s] and any(j in reach for j in P[policy[s]]):
                reach.add(s)
                changed = True
    maybe = [s for s in range(n) if s in reach and not target[s]]
    index = {s: i for i, s in enumerate(maybe)}
    A = [[Fraction(int(i == j)) for j in range(len(maybe))] for i in range(len(maybe))]
    b = [sum((p for j, p in P[policy[s]].items() if target[j]), Fraction(0)) for s in maybe]
    for i, s in enumerate(maybe):
        for j, p in P[policy[s]].items():
            if j in index:
                A[i][index[j]] -= p
    x = solve_linear(A, b) if maybe else []
    assert x is not None
    values = [Fraction(int(t)) for t in target.tolist()]
    for s, v in zip(maybe, x):
        values[s] = v
    return values


def optimal_reach(model: TabularMDP, target: npt.NDArray[np.bool_], rows: npt.NDArray[np.bool_] | None = None,
                  maximize: bool = False, avoid: npt.NDArray[np.bool_] | None = None) -> list[Fraction]:
    """Per state, Pmin (Pmax) of ``not avoid U target`` over the deterministic policies on ``rows``."""
    table = [reach_values(model, policy, target, avoid) for policy in policies(model, rows)]
    pick = max if maximize else min
    return [pick(column) for column in zip(*table)]


def bounded_reach(model: TabularMDP, target: npt.NDArray[np.bool_], steps: int,
                  rows: npt.NDArray[np.bool_] | None = None, maximize: bool = False,
                  count_start: bool = True) -> list[Fraction]:
    """Pmin (Pmax) of ``F<=steps target``: backward induction, each step the best row exactly. Without
    ``count_start``, one step of ``X target`` (the start state does not count)."""
    P = transitions(model)
    pick = max if maximize else min
    x = [Fraction(int(t)) for t in target.tolist()]
    for _ in range(steps):
        x = [Fraction(1) if target[s] and count_start else pick((sum((p * x[j] for j, p in P[r].items()), Fraction(0))
                                                for r in model.rows(s) if rows is None or rows[r]), default=Fraction(0))
             for s in range(model.n_states)]
    return x
