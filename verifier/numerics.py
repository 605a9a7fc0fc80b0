"""Min/max numerics over the policies of a sub-model: expected costs and reachability probabilities.

Both work on a row mask (which choices a policy may take), so the same code answers questions over
M* (the agent's optimal policies) and over the whole model (e.g. the intent-optimal cost). Each
returns values with a certified absolute error bound where the theory gives one:

- costs: value iteration, then policy iteration with exact (sparse LU) evaluation of the greedy
  policy; with discount ``gamma < 1`` the Bellman residual ``r`` of the final values certifies
  ``|V - V*| <= r / (1 - gamma)``.
- probabilities: graph precomputation of the states with probability 0 (Pmin and Pmax versions, as in
  PRISM/Storm), then interval iteration from below and from above; for maxima the end components of the
  undecided states are collapsed first so that the iteration from above converges (Haddad and Monmege,
  "Interval iteration algorithm for MDPs and IMDPs", TCS 2018; Baier et al., CAV 2017).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import breadth_first_order, connected_components

from mdp.model import TabularMDP

__all__ = ["Values", "bounded_reachability", "extremal_costs", "next_probabilities", "reachability"]

_MAX_ITER = 100_000
_MAX_ITER_TOTAL = 20_000  # discount 1: a cost that has not converged by then grows without bound
_POLICY_ROUNDS = 50


@dataclass(frozen=True, eq=False)
class Values:
    """Per-state values of a min or max problem and their certified absolute error."""

    values: npt.NDArray[np.float64]  # (n,)
    bound: float
    certified: bool = True  # False when the theory gives no certificate (e.g. discount 1 costs)
    iterations: int = 0
    decided: npt.NDArray[np.bool_] | None = None  # (n,) states whose value is exact (graph precomputation)

    def bound_at(self, state: int) -> float:
        """The error bound at one state: 0 where graph analysis decided the value exactly."""
        if self.decided is not None and self.decided[state]:
            return 0.0
        return self.bound


def _reducer(maximize: bool) -> Callable[..., npt.NDArray[np.float64]]:
    return np.maximum.reduceat if maximize else np.minimum.reduceat


def _groups(model: TabularMDP, rows: npt.NDArray[np.bool_]
            ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The selected rows, their states, and the states that have any, with reduceat starts."""
    selected = np.flatnonzero(rows)
    row_state = model.row_state[selected]
    states, starts = np.unique(row_state, return_index=True)
    return selected, row_state, states, starts


def extremal_costs(model: TabularMDP, rows: npt.NDArray[np.bool_], cost: npt.NDArray[np.float64], *,
                   maximize: bool, tol: float = 1e-10, max_iter: int = _MAX_ITER) -> Values:
    """Minimal or maximal expected discounted ``cost`` over the policies that take only ``rows``.

    ``rows`` must be closed: every state a selected row can move to has a selected row (M*, or M*
    restricted to its reachable states, or the whole model). States without selected rows get 0.
    """
    gamma = model.discount
    selected, row_state, states, starts = _groups(model, rows)
    n = model.n_states
    P = model.P[selected]
    c = np.asarray(cost, dtype=float)[selected]
    reduce = _reducer(maximize)
    # value iteration on the states that have rows (a closed set: other columns are worth 0), only to
    # get close: policy iteration with exact evaluation finishes the job, and the certificate comes
    # from the final residual. MacQueen's bounds (discount < 1) stop it early when values shift evenly.
    P_compact = P[:, states] if states.size < n else P
    sweeper = _Sweeper(P_compact, c, starts, gamma, maximize)
    x = np.zeros(states.size)  # in the sweeper's internal state order
    warm = max(tol, 1e-6)
    ratio = gamma / (1 - gamma) if gamma < 1 else 0.0
    iterations = 0
    if gamma == 1:
        max_iter = min(max_iter, _MAX_ITER_TOTAL)
    converged = False
    for iterations in range(1, max_iter + 1):  # noqa: B007
        new = sweeper.sweep(x) if states.size else x
        change = new - x
        x = new
        if not states.size:
            converged = True
            break
        lo, hi = float(change.min()), float(change.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            break
        if gamma < 1 and ratio * (hi - lo) <= warm:
            x = x + ratio * (lo + hi) / 2  # the middle of MacQueen's interval
            converged = True
            break
        if max(abs(lo), abs(hi)) <= warm * (1 - gamma if gamma < 1 else 1):
            converged = True
            break
    v = np.zeros(n)
    v[states[sweeper.perm]] = x
    if not converged and gamma == 1:  # some policy accumulates cost forever (an improper cycle)
        return Values(v, float("inf"), certified=False, iterations=iterations)
    if not np.all(np.isfinite(v)):
        return Values(v, float("inf"), certified=False, iterations=iterations)

    # policy iteration with exact evaluation, from the greedy policy of the iterate; terminal states
    # are worth 0 and stay out of the linear system (with discount 1 their self-loops would make it singular)
    live = ~model.terminal[states]
    live_states = states[live]
    sub_P = P[:, live_states]
    exact = v
    previous = None
    for _ in range(_POLICY_ROUNDS):
        q = c + gamma * (P @ exact)
        choice = _argbest(q, row_state, states, starts, maximize, previous)
        if previous is not None and np.array_equal(choice, previous):
            break
        previous = choice
        if not live_states.size:
            break
        A = sp.identity(live_states.size, format="csc") - gamma * sub_P[choice[live]].tocsc()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                x = spla.spsolve(A, c[choice[live]])
            except RuntimeError:
                x = np.full(live_states.size, np.nan)
        if not np.all(np.isfinite(np.atleast_1d(x))):
            break  # singular: an improper policy (discount 1); keep the iterate
        exact = np.zeros(n)
        exact[live_states] = x
    q = c + gamma * (P @ exact)
    residual = float(np.max(np.abs(reduce(q, starts) - exact[states]))) if states.size else 0.0
    scale = float(np.max(np.abs(exact))) if n else 0.0
    if gamma < 1:
        bound = residual / (1 - gamma) + 1e-14 * (1 + scale) / (1 - gamma)
        return Values(exact, bound, certified=True, iterations=iterations)
    return Values(exact, residual, certified=False, iterations=iterations)


class _Sweeper:
    """Bellman backups in an action-major layout (as in :mod:`mdp.solver`): no ``reduceat`` in the loop.

    States are renumbered by decreasing row count (stable), and rows stored slot by slot: slot ``j``
    holds the ``j``-th row of the first ``n_j`` states, so the best over a state's rows is a running
    ``np.minimum``/``np.maximum`` over contiguous prefixes. ``sweep`` works in that internal order:
    internal state ``i`` is compact state ``perm[i]``.
    """

    def __init__(self, P: sp.csr_array, c: npt.NDArray[np.float64], starts: npt.NDArray[np.int64],
                 gamma: float, maximize: bool) -> None:
        n = starts.size
        counts = np.diff(np.append(starts, c.size))
        self.n, self.gamma = n, gamma
        self.best = np.maximum if maximize else np.minimum
        self.perm = np.argsort(-counts, kind="stable")
        inverse = np.empty(n, dtype=np.int64)
        inverse[self.perm] = np.arange(n)
        n_slots = int(counts.max(initial=0))
        self.slot_sizes = [int((counts > j).sum()) for j in range(n_slots)]
        rows = (np.concatenate([starts[self.perm[:size]] + j for j, size in enumerate(self.slot_sizes)])
                if n_slots else np.zeros(0, dtype=np.int64))
        self.P = sp.csr_array(P[rows])
        self.P.indices = inverse[self.P.indices].astype(self.P.indices.dtype)
        self.c = np.ascontiguousarray(c[rows])

    def sweep(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``T x``: the best over each state's rows of ``c + gamma * P x`` (internal order)."""
        q = self.P @ (self.gamma * x)
        q += self.c
        n = self.n
        out = q[:n].copy()
        offset = n
        for size in self.slot_sizes[1:]:
            self.best(out[:size], q[offset:offset + size], out=out[:size])
            offset += size
        return out


def _argbest(q: npt.NDArray[np.float64], row_state: npt.NDArray[np.int64], states: npt.NDArray[np.int64],
             starts: npt.NDArray[np.int64], maximize: bool,
             previous: npt.NDArray[np.int64] | None) -> npt.NDArray[np.int64]:
    """(len(states),) positions (into the selected rows) of a best row per state; keep ``previous`` on ties."""
    best = _reducer(maximize)(q, starts)
    scale = 1e-12 * (1 + np.abs(best))
    good = (q >= best[np.searchsorted(states, row_state)] - scale[np.searchsorted(states, row_state)]) if maximize \
        else (q <= best[np.searchsorted(states, row_state)] + scale[np.searchsorted(states, row_state)])
    positions = np.flatnonzero(good)
    choice = np.empty(states.size, dtype=np.int64)
    group = np.searchsorted(states, row_state[positions])
    choice[group[::-1]] = positions[::-1]  # the first good row of each state
    if previous is not None:
        keep = good[previous]
        choice[keep] = previous[keep]
    return choice


# --- probabilities -------------------------------------------------------------------------------


def _row_hits(P: sp.csr_array, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(rows,) whether each row moves into ``mask`` with positive probability."""
    return (P @ mask.astype(float)) > 0


def _can_reach(model: TabularMDP, rows: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(n,) states from which some policy reaches ``target`` with positive probability (Pmax > 0)."""
    n = model.n_states
    selected = np.flatnonzero(rows)
    coo = model.P[selected].tocoo()
    keep = coo.data > 0
    # reversed edges successor -> state, plus a virtual source n pointing at every target state
    sources = np.concatenate([coo.col[keep], np.full(int(target.sum()), n)])
    sinks = np.concatenate([model.row_state[selected][coo.row[keep]], np.flatnonzero(target)])
    graph = sp.csr_array((np.ones(sources.size, dtype=np.int8), (sources, sinks)), shape=(n + 1, n + 1))
    order = breadth_first_order(graph, n, directed=True, return_predecessors=False)
    mask = np.zeros(n + 1, dtype=bool)
    mask[order] = True
    return mask[:n]


def _always_reach(model: TabularMDP, rows: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_],
                  blocked: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(n,) states from which every policy reaches ``target`` with positive probability (Pmin > 0)."""
    selected, row_state, states, starts = _groups(model, rows)
    P = model.P[selected]
    reach = target.copy()
    while True:
        hits = _row_hits(P, reach)
        every = np.zeros(model.n_states, dtype=bool)
        every[states] = np.logical_and.reduceat(hits, starts)
        new = reach | (every & ~blocked)
        if np.array_equal(new, reach):
            return reach
        reach = new


def _prob1_min(model: TabularMDP, free: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_],
               zero: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(n,) states where every policy reaches ``target`` almost surely (Pmin = 1, PRISM's prob1A).

    Exactly the states from which no policy can reach, before the target, a state where some policy
    avoids the target forever (Pmin = 0).
    """
    return ~_can_reach(model, free, zero) & ~zero


def _prob1_max(model: TabularMDP, free: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_],
               zero: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(n,) states where some policy reaches ``target`` almost surely (Pmax = 1, PRISM's prob1E).

    The greatest fixed point: keep the states that can reach the target using only rows that never
    leave the kept states.
    """
    keep = ~zero
    while True:
        safe = free & ~_row_hits(model.P, ~keep)
        new = _can_reach(model, safe, target) & keep
        if np.array_equal(new, keep):
            return keep
        keep = new


def _end_components(model: TabularMDP, rows: npt.NDArray[np.bool_],
                    states: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Maximal end components inside ``states`` using ``rows``: (n,) component id (-1 if none), internal rows.

    The classic refinement: drop rows that may leave the candidate states, split the rest into strongly
    connected components, drop rows that may leave their component, repeat until nothing changes.
    """
    n = model.n_states
    coo = model.P.tocoo()
    positive = coo.data > 0
    edge_row, edge_col = coo.row[positive], coo.col[positive]
    edge_state = model.row_state[edge_row]
    keep = rows & states[model.row_state]
    while True:
        has_row = np.zeros(n, dtype=bool)
        has_row[model.row_state[keep]] = True
        candidates = states & has_row
        keep = keep & candidates[model.row_state] & ~_row_hits(model.P, ~candidates)
        _, labels = connected_components(_graph(model, keep), directed=True, connection="strong")
        leaves = np.zeros(model.n_rows, dtype=bool)
        leaves[edge_row[labels[edge_col] != labels[edge_state]]] = True
        new = keep & ~leaves
        if np.array_equal(new, keep):
            break
        keep = new
    has_row = np.zeros(n, dtype=bool)
    has_row[model.row_state[keep]] = True
    candidates = states & has_row
    component = np.full(n, -1, dtype=np.int64)
    if candidates.any():
        _, dense = np.unique(labels[candidates], return_inverse=True)
        component[candidates] = dense
    return component, keep


def _graph(model: TabularMDP, rows: npt.NDArray[np.bool_]) -> sp.csr_array:
    selected = np.flatnonzero(rows)
    coo = model.P[selected].tocoo()
    keep = coo.data > 0
    return sp.csr_array((np.ones(int(keep.sum()), dtype=np.int8),
                         (model.row_state[selected][coo.row[keep]], coo.col[keep])),
                        shape=(model.n_states, model.n_states))


def reachability(model: TabularMDP, rows: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_], *,
                 maximize: bool, avoid: npt.NDArray[np.bool_] | None = None, tol: float = 1e-10,
                 max_iter: int = _MAX_ITER) -> Values:
    """Pmin or Pmax of ``(not avoid) U target`` (``F target`` without ``avoid``) over the policies on ``rows``.

    Values come from interval iteration: ``values`` is the midpoint and ``bound`` half the width of an
    interval that contains the true probability at every state.
    """
    n = model.n_states
    avoid = np.zeros(n, dtype=bool) if avoid is None else avoid & ~target
    blocked = avoid | target
    free = rows & ~blocked[model.row_state]  # rows of undecided states
    if maximize:
        positive = _can_reach(model, free, target)
    else:
        positive = _always_reach(model, rows, target, blocked)
    zero = ~positive & ~target
    # probability-1 states: exact ones, so that bounds like `P >= 1 [ F off ]` can hold
    one = (_prob1_max(model, free, target, zero) if maximize else _prob1_min(model, free, target, zero))
    target = target | one
    maybe = ~zero & ~target
    lower = target.astype(float)
    upper = np.where(zero, 0.0, 1.0)
    lower_rows = free & maybe[model.row_state]
    component = np.full(n, -1, dtype=np.int64)
    upper_rows = lower_rows
    if maximize and maybe.any():
        # from above, an end component would keep its value at 1: collapse each to its best exit
        component, internal = _end_components(model, lower_rows, maybe)
        upper_rows = lower_rows & ~internal
    reduce = _reducer(maximize)
    low_selected, _, low_states, low_starts = _groups(model, lower_rows)
    up_selected, _, up_states, up_starts = _groups(model, upper_rows)
    P_low, P_up = model.P[low_selected], model.P[up_selected]
    members = component >= 0
    n_components = int(component.max()) + 1 if members.any() else 0
    up_component = component[up_states]
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        if low_states.size:
            lower[low_states] = reduce(P_low @ lower, low_starts)
        new_upper = upper.copy()
        if up_states.size:
            best_row = reduce(P_up @ upper, up_starts)
            new_upper[up_states] = best_row
        if n_components:
            exits = np.zeros(n_components)  # a component without exits is worth 0
            inside = up_component >= 0
            np.maximum.at(exits, up_component[inside], best_row[inside] if up_states.size else np.zeros(0))
            new_upper[members] = exits[component[members]]
        upper = np.where(maybe, new_upper, upper)
        gap = float(np.max(upper[maybe] - lower[maybe])) if maybe.any() else 0.0
        if gap <= 2 * tol:
            break
    values = (lower + upper) / 2
    bound = float(np.max(upper - lower)) / 2 if n else 0.0
    return Values(values, bound + 1e-15, certified=True, iterations=iterations, decided=~maybe)


def bounded_reachability(model: TabularMDP, rows: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_],
                         steps: int, *, maximize: bool) -> Values:
    """Pmin or Pmax of ``F<=steps target``: ``steps`` exact backups (no approximation beyond floats)."""
    selected, row_state, states, starts = _groups(model, rows)
    P = model.P[selected]
    reduce = _reducer(maximize)
    x = target.astype(float)
    for _ in range(steps):
        new = np.zeros(model.n_states)
        new[states] = reduce(P @ x, starts)
        x = np.where(target, 1.0, new)
    return Values(x, 1e-15 * (steps + 1), certified=True, iterations=steps)


def next_probabilities(model: TabularMDP, rows: npt.NDArray[np.bool_], target: npt.NDArray[np.bool_], *,
                       maximize: bool) -> Values:
    """Pmin or Pmax of ``X target``: one step."""
    selected, row_state, states, starts = _groups(model, rows)
    x = np.zeros(model.n_states)
    x[states] = _reducer(maximize)(model.P[selected] @ target.astype(float), starts)
    return Values(x, 1e-15, certified=True, iterations=1)
