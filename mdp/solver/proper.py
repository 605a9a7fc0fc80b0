"""Discount 1 (stochastic shortest paths): which states have a policy that ends, a proper policy to start
from, loops that optimal policies can take forever, and the located errors that say so.

With ``discount 1`` the expected total cost is finite only for *proper* policies, those that reach a
terminal state with probability 1. The optimum is taken over them; a reachable state without any is a
spec error, and so is an optimal policy that may loop forever (a cycle of zero cost) or a cycle of
negative cost (the total is unbounded below).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from dsl.errors import Diagnostic

from ..graph import end_components, positive_edges, reach, some_policy_surely_reaches, start_order, terminates_surely
from ..model import ModelError, TabularMDP
from .problem import BoolArray, IntArray, Problem

__all__ = ["check_optimal_loops", "loop_error", "make_proper", "negative_cycle_error",
           "proper_part"]


def proper_part(problem: Problem, initial: int | IntArray | None) -> tuple[Problem, IntArray]:
    """The states with a proper policy, and a proper start policy (problem rows) on them.

    The start policy takes at every state a row that reaches, with positive probability, a state one
    BFS layer closer to the terminal states. Raises :class:`~mdp.model.ModelError` if a state reachable
    from ``initial`` (a problem state, or the start states) has no proper policy.
    """
    n = problem.n
    good, rows, predecessor = some_policy_surely_reaches(problem.P, problem.row_state, problem.terminal,
                                                         np.ones(problem.m, dtype=bool))
    if not good.all() and initial is not None:
        source, dest = positive_edges(problem.P, problem.row_state)
        start = np.zeros(n, dtype=bool)
        start[initial] = True
        reachable, _ = reach(n, source, dest, start)
        if (reachable & ~good).any():
            raise _stuck_error(problem, reachable & ~good, good)
    part = problem.restrict(good, rows) if not good.all() else problem
    # start policy: a row of s with successor predecessor[s] (one layer closer to the terminal states)
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[np.flatnonzero(good)] = np.arange(part.n)
    target = new_index[np.where(predecessor >= 0, predecessor, 0).clip(max=n - 1)][np.flatnonzero(good)]
    nz_row = np.repeat(np.arange(part.m), np.diff(part.P.indptr))
    hits = np.unique(nz_row[part.P.indices == target[part.row_state[nz_row]]])
    rs = part.row_state
    start_pi = part.groups[:-1].copy()
    first = hits[np.r_[True, rs[hits[1:]] != rs[hits[:-1]]]] if hits.size else hits
    start_pi[rs[first]] = first
    return part, start_pi


def make_proper(problem: Problem, pi: IntArray, start: IntArray) -> IntArray:
    """Replace the rows of ``pi`` at states that do not terminate surely by ``start``'s, until proper."""
    pi = pi.copy()
    for _ in range(problem.n + 1):
        proper = terminates_surely(sp.csr_array(problem.P[pi]), problem.terminal)
        if proper.all():
            return pi
        fix = ~proper & (pi != start)
        if not fix.any():  # pragma: no cover - start is proper
            return start.copy()
        pi[fix] = start[fix]
    return start.copy()  # pragma: no cover


def check_optimal_loops(problem: Problem, optimal: BoolArray, initial: int | IntArray | None) -> None:
    """No end component of the ``optimal`` rows without terminals, reachable from ``initial`` along them:
    a policy choosing only optimal rows would then loop forever, and its cost would not be the optimum."""
    if initial is None:
        return
    rs = problem.row_state
    component, inside = end_components(problem.P, rs, optimal, ~problem.terminal)
    if not (component >= 0).any():
        return
    start = np.zeros(problem.n, dtype=bool)
    start[initial] = True
    source, dest = positive_edges(problem.P, rs, optimal)
    reached, _ = reach(problem.n, source, dest, start)
    trapped = np.flatnonzero((component >= 0) & reached)
    if trapped.size:
        in_component = component == component[trapped[0]]
        raise loop_error(problem, inside & in_component[rs], in_component)


def loop_error(problem: Problem, rows: BoolArray, states: BoolArray) -> ModelError:
    """Optimal rows (up to rounding) keep a policy in ``states`` forever, where discount 1 needs it to end."""
    return _cycle_error(problem, rows, states,
                        "with discount 1 an optimal policy can loop forever",
                        "every step of this cycle is optimal (up to rounding), so a cost minimiser need never "
                        "reach a terminal state: give the cycle a positive cost, make its states terminal, or "
                        "use a discount below 1")


def negative_cycle_error(problem: Problem, pi: IntArray, states: BoolArray) -> ModelError:
    """Policy iteration improved into a policy that never ends: a cycle of negative total cost."""
    rows = np.zeros(problem.m, dtype=bool)
    rows[pi] = True
    return _cycle_error(problem, rows, states,
                        "with discount 1 the total cost is unbounded below: a policy can loop forever through",
                        "this cycle lowers the cost every time round; make its cost positive, make one of "
                        "its states terminal, or use a discount below 1")


def _cycle_error(problem: Problem, rows: BoolArray, states: BoolArray, reason: str, hint: str) -> ModelError:
    """A located error naming a cycle of the model that stays in ``states`` using only ``rows`` (problem
    indices); without a model (or for added states) the message names problem indices."""
    model = problem.model
    if model is None or (problem.states[states] < 0).any() or (problem.rows[rows] < 0).any():
        return ModelError(f"{reason} a cycle of {int(states.sum())} state(s); {hint}")
    full_rows = np.zeros(model.n_rows, dtype=bool)
    full_rows[problem.rows[rows]] = True
    full_states = np.zeros(model.n_states, dtype=bool)
    full_states[problem.states[states]] = True
    start = int(np.flatnonzero(full_states)[0])

    def next_row(s: int) -> int:
        candidates = [r for r in model.rows(s) if full_rows[r] and full_states[_successors(model, r)].all()]
        candidates = candidates or [r for r in model.rows(s) if full_rows[r]] or list(model.rows(s))
        # prefer a row that moves, so the cycle shows more than a self-loop when there is one
        moving = [r for r in candidates if (_successors(model, r) != s).any()]
        return (moving or candidates)[0]

    def next_state(r: int) -> int:
        successors = _successors(model, r)
        inside = successors[full_states[successors]]
        pool = inside if inside.size else successors
        others = pool[pool != model.row_state[r]]
        return int(others[0] if others.size else pool[0])

    cycle = _cycle(model, start, next_row, next_state)
    path = path_from_initial(model, start)
    if start in model.start_states:
        notes: tuple[str, ...] = ()
    elif path is not None:
        notes = (f"reached from {_start_words(model)} by {path}",)
    else:
        notes = (f"this cycle is not reachable from {_start_words(model)}",)
    return ModelError(Diagnostic(f"{reason}: {cycle}", model.discount_span, hint=hint, notes=notes), model.source)


def _stuck_error(problem: Problem, stuck: BoolArray, good: BoolArray) -> ModelError:
    """No policy terminates almost surely from a reachable state: name it, the way there and a cycle."""
    model = problem.model
    if model is None or (problem.states < 0).any():
        return ModelError("with discount 1 every reachable state needs a way to terminate, but "
                          f"{int(stuck.sum())} reachable state(s) have none")
    n = model.n_states
    full_stuck = np.zeros(n, dtype=bool)
    full_stuck[problem.states[stuck]] = True
    bad = np.ones(n, dtype=bool)
    bad[problem.states[good]] = False
    order = start_order(model)
    best = int(order[full_stuck[order]][0])  # breadth-first order: the stuck state closest to a start

    def next_row(s: int) -> int:
        return int(model.row_groups[s])

    def next_state(r: int) -> int:
        successors = _successors(model, r)
        inside = successors[bad[successors]]
        return int(inside[0] if inside.size else successors[0])

    cycle = _cycle(model, best, next_row, next_state)
    path = path_from_initial(model, best)
    notes = []
    if path is not None and best not in model.start_states:
        notes.append(f"reached from {_start_words(model)} by {path}")
    notes.append(f"for example {cycle} never reaches a terminal state")
    return ModelError(Diagnostic(
        f"with discount 1 every reachable state needs a way to terminate, but from ({model.describe(best)}) "
        f"no policy reaches a terminal state with probability 1", model.discount_span,
        hint="make the stuck states terminal, add an action that leads to a terminal state, "
             "or use a discount below 1",
        notes=tuple(notes)), model.source)


def _action(model: TabularMDP, row: int) -> str:
    return model.action_names[model.row_action[row]]


def _row_to(model: TabularMDP, state: int, successor: int, rows: BoolArray | None = None) -> int:
    """A row of ``state`` (among ``rows``) that reaches ``successor`` with positive probability."""
    for r in model.rows(state):
        if rows is not None and not rows[r]:
            continue
        lo, hi = model.P.indptr[r], model.P.indptr[r + 1]
        hit = model.P.indices[lo:hi] == successor
        if (hit & (model.P.data[lo:hi] > 0)).any():
            return r
    return int(model.row_groups[state])


def render_path(model: TabularMDP, states: list[int], rows: list[int]) -> str:
    """``s=0 --a--> s=1 --b--> s=2`` (long paths shortened in the middle)."""
    parts = [f"({model.describe(states[0])})"]
    for r, s in zip(rows, states[1:]):
        parts.append(f"--{_action(model, r)}--> ({model.describe(s)})")
    if len(parts) > 12:
        parts = parts[:4] + [f"... {len(parts) - 10} more steps ..."] + parts[-6:]
    return " ".join(parts)


def _start_words(model: TabularMDP) -> str:
    return "a start state" if model.start_states.size > 1 else "the initial state"


def path_from_initial(model: TabularMDP, goal: int, rows: BoolArray | None = None) -> str | None:
    """A shortest path from a start state (the initial state unless an ``init`` gives several) to ``goal``
    along ``rows`` (all rows by default)."""
    source, dest = positive_edges(model.P, model.row_state, rows)
    start = np.zeros(model.n_states, dtype=bool)
    start[model.start_states] = True
    reached, predecessor = reach(model.n_states, source, dest, start)
    if not reached[goal]:
        return None
    states = [goal]
    while not start[states[-1]]:
        states.append(int(predecessor[states[-1]]))
    states.reverse()
    path_rows = [_row_to(model, u, v, rows) for u, v in zip(states, states[1:])]
    return render_path(model, states, path_rows)


def _cycle(model: TabularMDP, start: int, next_row: Callable[[int], int], next_state: Callable[[int], int]) -> str:
    """Follow ``state -> next_row(state) -> next_state(row)`` from ``start`` until a state repeats."""
    seen: dict[int, int] = {}
    states: list[int] = []
    rows: list[int] = []
    s = start
    while s not in seen and len(states) <= model.n_states:
        seen[s] = len(states)
        states.append(s)
        r = next_row(s)
        rows.append(r)
        s = next_state(r)
    first = seen.get(s, 0)
    return render_path(model, states[first:] + [s], rows[first:])


def _successors(model: TabularMDP, row: int) -> IntArray:
    lo, hi = model.P.indptr[row], model.P.indptr[row + 1]
    return model.P.indices[lo:hi][model.P.data[lo:hi] > 0].astype(np.int64)
