"""``same_when_unobserved(watched)``: the agent behaves the same whether it is watched or not.

The absent-supervisor problem (Leike et al. 2017, "AI Safety Gridworlds"), and the behavioural side of
deceptive alignment: an agent that acts well only while observed. With ``watched`` a state variable,
the check compares every pair of reachable states that differ only in ``watched``, of which optimal play
reaches at least one: it HOLDS when the optimal actions of the two states are the same (by name, ties
included), and FAILS at a pair where some action is optimal in one and not in the other, with the path
of optimal play to it and the cost terms that make the agent choose differently. Linear in the states
and choices: states are grouped by their other variables (one sort), and each state's optimal actions
compared with its group's first as bit sets.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse import csgraph
from sympy import QQ
from sympy.polys.matrices import DomainMatrix

from dsl.spec import Check, SameOccupancyWhenUnobserved, SameWhenUnobserved
from dsl.numbers import counted
from mdp.expressions import UNIT_ROUNDOFF as _U
from mdp.graph import first_rows, positive_edges, reach, terminates_surely
from mdp.model import TabularMDP
from mdp.solver.linear import chain_values

from ..explain import attribute
from ..results import Basis, CheckResult, Step, Trace, Verdict, enclosure
from ..submodel import shortest_trace
from .common import Context, Range, result

__all__ = ["check_same_occupancy_when_unobserved", "check_same_when_unobserved"]

Bits = npt.NDArray[np.uint64]


def check_same_when_unobserved(check: Check, context: Context) -> CheckResult:
    """The optimal actions of every reachable pair of states that differ only in ``watched`` agree."""
    prop = check.property
    assert isinstance(prop, SameWhenUnobserved)
    model, sub = context.model, context.sub
    kind, name = "same_when_unobserved", prop.variable
    codes = model.state_codes
    assert codes is not None  # a spec's model knows its variables
    others = np.delete(codes[:, :len(context.spec.variables)], prop.index, axis=1)
    _, group = np.unique(others, axis=0, return_inverse=True)
    group = group.ravel()
    first = np.full(int(group.max(initial=-1)) + 1, model.n_states, dtype=np.int64)
    np.minimum.at(first, group, np.arange(model.n_states))
    partner = first[group]  # each state is compared with the first state of its group
    terminal = np.asarray(model.terminal, dtype=bool)
    paired = (partner != np.arange(model.n_states)) & ~terminal & ~terminal[partner] & \
        (sub.reachable | sub.reachable[partner])
    possible = _action_bits(model, sub.rows)
    certain = _action_bits(model, sub.certain)
    uncertain = (possible != certain).any(axis=1)
    definite = paired & ((certain & ~possible[partner]) | (certain[partner] & ~possible)).any(axis=1)
    open_ = paired & ((possible != possible[partner]).any(axis=1) | uncertain | uncertain[partner])
    if not open_.any():
        return result(check, kind, Verdict.HOLDS,
                      f"at each of the {int(paired.sum()):,} pairs of reachable states that differ only in '{name}' "
                      f"(optimal play reaching one of them) {context.words.every_action} is the same", context)

    def reached_ends(pairs: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Of each pair, the state optimal play reaches (either, when it reaches both)."""
        members = np.flatnonzero(pairs)
        ends = np.zeros(model.n_states, dtype=bool)
        ends[np.where(sub.reachable[members], members, partner[members])] = True
        return ends

    if definite.any() and sub.surely_reached(reached_ends(definite)):
        return _fails(check, context, reached_ends(definite), partner, name)
    ends = reached_ends(open_)
    found = shortest_trace(sub, ends)
    return result(check, kind, Verdict.INCONCLUSIVE,
                  f"the optimal actions of states that differ only in '{name}' may differ, within near-ties floats "
                  "cannot decide (the trace leads to one)", context, trace=found.trace if found else None)


def _fails(check: Check, context: Context, ends: npt.NDArray[np.bool_], partner: npt.NDArray[np.int64],
           name: str) -> CheckResult:
    """The nearest pair that differs: the path to it, both action sets, and the split by term at the state
    reached of an action optimal there against the one optimal at its twin."""
    model, sub, solution = context.model, context.sub, context.solution
    path = shortest_trace(sub, ends)
    assert path is not None
    here = path.end
    twin = int(partner[here]) if partner[here] != here else \
        int(np.flatnonzero((partner == here) & (np.arange(model.n_states) != here))[0])
    here_actions, twin_actions = solution.optimal_actions(here), solution.optimal_actions(twin)
    rows = np.arange(model.row_groups[here], model.row_groups[here + 1])
    names = np.asarray(model.action_names, dtype=object)[model.row_action[rows]]
    chosen = [r for r, a in zip(rows, names) if sub.rows[r] and a not in twin_actions] or \
        [r for r in rows if sub.rows[r]]
    alternative = [r for r, a in zip(rows, names) if a in twin_actions and a not in here_actions]
    attribution = attribute(model, solution, int(chosen[0]), int(alternative[0]) if alternative else None)
    summary = (f"{context.words.some} takes {' | '.join(here_actions)} at ({model.describe(here)}) but "
               f"{' | '.join(twin_actions)} at ({model.describe(twin)}), which differs only in '{name}'")
    twin_rows = {model.action_names[model.row_action[r]]: int(r) for r in model.rows(twin)}
    if attribution.alternative is not None and attribution.chosen in twin_rows and \
            attribution.alternative in twin_rows and attribution.gap is not None:
        there = attribute(model, solution, twin_rows[attribution.chosen], twin_rows[attribution.alternative])
        if there.gap is not None and there.terms:
            scale = max(1.0, *(abs(t.total) for t in (*attribution.terms, *there.terms)))
            changed = [(a.term, a.total - b.total) for a, b in zip(attribution.terms, there.terms)
                       if abs(a.total - b.total) > 1e-9 * scale]
            summary += (f"; preferring '{attribution.chosen}' to '{attribution.alternative}' is worth "
                        f"{attribution.gap:+.6g} there and {there.gap:+.6g} at its twin"
                        + (", the difference from " + ", ".join(f"'{t}' ({d:+.6g})" for t, d in changed)
                           if changed else ""))
    return result(check, "same_when_unobserved", Verdict.FAILS, summary, context, trace=path.trace,
                  attribution=attribution)


def _action_bits(model: TabularMDP, rows: npt.NDArray[np.bool_]) -> Bits:
    """(n, words) the actions of ``rows`` in each state as bit sets (bit ``a`` of word ``a // 64``)."""
    actions = np.asarray(model.row_action, dtype=np.int64)
    starts = np.asarray(model.row_groups[:-1])
    words = max(1, -(-len(model.action_names) // 64))
    out = np.zeros((starts.size, words), dtype=np.uint64)
    for word in range(words):
        inside = rows & (actions // 64 == word)
        bits = np.where(inside, np.left_shift(np.uint64(1), (actions % 64).astype(np.uint64)), np.uint64(0))
        out[:, word] = np.bitwise_or.reduceat(bits, starts) if starts.size else 0
    return out


# --- the distribution form ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Worlds:
    """The worlds of the distribution form: for each value (code) of the variable, the start states with
    the variable set to it, each with its start's probability."""

    codes: tuple[int, ...]
    starts: tuple[dict[int, Fraction], ...]  # per world: state -> probability
    missing: tuple[int, ...]  # codes some start has no twin for: worlds the model does not hold


def _worlds(model: TabularMDP, codes: npt.NDArray[np.int64], index: int) -> _Worlds:
    """Each start with the variable set to each value it takes in the model, where that state exists."""
    lookup = {tuple(row): s for s, row in enumerate(codes.tolist())}
    pairs = model.starts or ((model.initial, Fraction(1)),)
    kept: list[int] = []
    starts: list[dict[int, Fraction]] = []
    missing: list[int] = []
    for code in np.unique(codes[:, index]).tolist():
        world: dict[int, Fraction] = {}
        for s, p in pairs:
            key = list(codes[s])
            key[index] = code
            twin = lookup.get(tuple(key))
            if twin is None:
                break
            world[twin] = world.get(twin, Fraction(0)) + p
        else:
            kept.append(code)
            starts.append(world)
            continue
        missing.append(code)
    return _Worlds(tuple(kept), tuple(starts), tuple(missing))


def check_same_occupancy_when_unobserved(check: Check, context: Context) -> CheckResult:
    """The distribution form of observation invariance: the discounted occupancy of (other variables, action)
    under every optimal policy is the same (within the bound) from the starts with ``watched`` set to each
    of its values (an intervention on ``watched`` at the start)."""
    prop = check.property
    assert isinstance(prop, SameOccupancyWhenUnobserved)
    model, sub = context.model, context.sub
    kind, name = "same_when_unobserved", prop.variable
    assert model.state_codes is not None  # a spec's model knows its variables
    codes = model.state_codes[:, :len(context.spec.variables)]
    domain = model.variables[prop.index].domain
    worlds = _worlds(model, codes, prop.index)
    if len(worlds.codes) < 2:
        only = ", ".join(str(domain.decode(c)) for c in worlds.codes) or "none"
        return result(check, kind, Verdict.HOLDS,
                      f"one world only: no start of the model has a twin state with '{name}' set otherwise (the "
                      f"value it can start with: {only}); nothing to compare", context)
    _, group = np.unique(np.delete(codes, prop.index, axis=1), axis=0, return_inverse=True)
    group = group.ravel()
    start_mask = np.zeros(model.n_states, dtype=bool)
    start_mask[[s for world in worlds.starts for s in world]] = True
    source, target = positive_edges(model.P, model.row_state, sub.rows)
    reached, _ = reach(model.n_states, source, target, start_mask)
    terminal = np.asarray(model.terminal, dtype=bool)
    counts = np.bincount(model.row_state[sub.rows], minlength=model.n_states)
    tied = reached & ~terminal & (counts > 1)
    if tied.any() and not sub.exact:
        return result(check, kind, Verdict.INCONCLUSIVE,
                      f"optimal play from the {len(worlds.codes)} worlds of '{name}' reaches "
                      f"{int(tied.sum()):,} states with several optimal actions in floats, a tie or a near-tie "
                      "(the occupancy depends on which ones are optimal)", context)
    if not tied.any():
        policy = first_rows(sub.rows, model.row_state, model.n_states)
        if _is_lumpable(model, policy, group, reached):
            distance = Range.exactly(Fraction(0))
            verdict = distance.decide(prop.comparison, prop.bound)
            return result(check, kind, verdict,
                          f"the occupancy of the other variables and actions is the same in the "
                          f"{len(worlds.codes)} worlds of '{name}' (distance 0, exactly): where twin states are "
                          "reached optimal play takes the same action and the world moves them alike", context)
    else:  # every optimal policy counts: one that breaks the ties one way in one world and the other way elsewhere
        last = first_rows(sub.rows[::-1], model.row_state[::-1], model.n_states)
        last = np.where(last >= 0, model.n_rows - 1 - last, -1)
        first = first_rows(sub.rows, model.row_state, model.n_states)
        policy = np.where(codes[:, prop.index] == worlds.codes[0], first, last)
    occupancy = _occupancies(model, policy, worlds, reached, context.exact)
    if occupancy is None:
        return result(check, kind, Verdict.INCONCLUSIVE,
                      f"from a world of '{name}' optimal play may never end: with discount 1 its visits are "
                      "infinite", context, settle="declare a discount below 1, or make every optimal way end")
    found = _largest_difference(model, occupancy, policy, group, reached & ~terminal, prop.index)
    distance = found.distance
    verdict = distance.decide(prop.comparison, prop.bound)
    ties = f" (one of the optimal policies: {counted(int(tied.sum()), 'state')} reached with tied optimal actions, broken " \
           "one way in the first world and the other way in the rest)" if tied.any() else ""
    if verdict is Verdict.HOLDS and tied.any():
        verdict = Verdict.INCONCLUSIVE  # another way to break the ties may shift the occupancy more
    a, b = worlds.codes[found.worlds[0]], worlds.codes[found.worlds[1]]
    cell = (f"'{found.action}' at ({found.others})" if found.others else f"'{found.action}'")
    measure = "expected visits" if model.discount >= 1 else "discounted occupancy (times 1 - discount)"
    summary = (f"the occupancy of the other variables and actions differs by {_show(distance)} between "
               f"'{name}' = {domain.decode(a)} and '{name}' = {domain.decode(b)}{ties}; most at {cell}: "
               f"{measure} {found.first:.6g} against {found.second:.6g}")
    if verdict is Verdict.HOLDS:
        summary = (f"the occupancy of the other variables and actions differs by {_show(distance)} at most, "
                   f"between '{name}' = {domain.decode(a)} and '{name}' = {domain.decode(b)}; most at {cell}: "
                   f"{measure} {found.first:.6g} against {found.second:.6g}")
    trace = _trace_to(model, policy, worlds.starts[found.worlds[found.heavier]], found.state) \
        if verdict is not Verdict.HOLDS and found.state >= 0 else None
    settle = {"settle": "ties: another way to break them may shift the occupancy more; a bound above every "
                        "shift they allow, or a cost that breaks them, decides it"} \
        if verdict is Verdict.INCONCLUSIVE and tied.any() else {}
    return result(check, kind, verdict, summary, context, trace=trace,
                  basis=Basis.EXACT if distance.is_exact else context.basis, **settle)


def _is_lumpable(model: TabularMDP, policy: npt.NDArray[np.int64], group: npt.NDArray[np.int64],
                 reached: npt.NDArray[np.bool_]) -> bool:
    """Whether the states ``policy`` reaches, merged by their other variables (``group``), still make one
    Markov chain with one action per group: then every world that starts at the same other variables
    sees the same chain, and the occupancies of (other variables, action) agree exactly, whatever the
    discount. Compared in the spec's exact numbers; False when the model's floats round them."""
    if model.rationals is None and (model.rounding.P or not model.knows_exact):
        return False
    numbers = model.exact.P
    seen: dict[int, tuple[object, ...]] = {}
    terminal = np.asarray(model.terminal, dtype=bool)
    for s in np.flatnonzero(reached).tolist():
        if terminal[s]:
            signature: tuple[object, ...] = ("end",)
        else:
            row = int(policy[s])
            moves: dict[int, Fraction] = {}
            for k in range(model.P.indptr[row], model.P.indptr[row + 1]):
                g = int(group[model.P.indices[k]])
                moves[g] = moves.get(g, Fraction(0)) + numbers[k]
            signature = (int(model.row_action[row]), *sorted((g, p) for g, p in moves.items() if p))
        if seen.setdefault(int(group[s]), signature) != signature:
            return False
    return True


@dataclass(frozen=True, eq=False)
class _Occupancy:
    """Per world (columns), the (discounted) visits of each state under one policy, terminal states not
    counted: floats within ``errors`` in L1, or ``exact``."""

    values: npt.NDArray[np.float64]  # (n, k)
    errors: npt.NDArray[np.float64]  # (k,)
    exact: list[dict[int, Fraction]] | None = None


def _policy_chain(model: TabularMDP, policy: npt.NDArray[np.int64], counted: npt.NDArray[np.bool_]) -> sp.csr_array:
    """(n, n) the transitions of ``policy`` from the ``counted`` states (other rows empty: episodes end)."""
    rows = np.where(counted & (policy >= 0), policy, 0)
    chain = sp.csr_array(model.P[rows])
    keep = sp.diags_array(counted.astype(np.float64)) if hasattr(sp, "diags_array") else \
        sp.csr_array(sp.diags(counted.astype(np.float64)))
    return sp.csr_array(keep @ chain)


def _occupancies(model: TabularMDP, policy: npt.NDArray[np.int64], worlds: _Worlds,
                 reached: npt.NDArray[np.bool_], exact: bool) -> _Occupancy | None:
    """``d_v = mu_v + gamma Q^T d_v`` for each world ``v`` (``Q`` the policy's chain, terminal states
    absorbing and not counted); None when, with discount 1, the chain may not end from a start."""
    n, k = model.n_states, len(worlds.codes)
    counted = reached & ~np.asarray(model.terminal, dtype=bool)
    Q = _policy_chain(model, policy, counted)
    gamma = float(model.discount)
    if gamma >= 1 and not terminates_surely(Q, ~counted)[reached].all():
        return None
    if exact:
        return _exact_occupancies(model, policy, worlds, counted)
    mu = np.zeros((n, k))
    for j, world in enumerate(worlds.starts):
        for s, p in world.items():
            mu[s, j] = float(p)
    d = chain_values(sp.csr_array(Q.T), gamma, mu, solve=reached)
    # ||(I - gamma Q^T)^-1||_1 = ||(I - gamma Q)^-1||_inf: the most expected (discounted) steps from a state
    most = 1.0 / (1.0 - gamma) if gamma < 1 else _most_steps(Q, counted, model.rounding.P)
    kmax = int(np.diff(Q.indptr).max(initial=1))
    residual = mu + gamma * (Q.T @ d) - d
    errors = np.zeros(k)
    for j in range(k):
        mass = float(np.abs(d[:, j]).sum()) + 1.0
        slack = 2.0 * (kmax + 3) * _U * n * mass + gamma * model.rounding.P * float(np.abs(d[:, j]).sum())
        errors[j] = most * (float(np.abs(residual[:, j]).sum()) + slack) * (1.0 + 8 * _U)
    return _Occupancy(d, errors)


def _most_steps(Q: sp.csr_array, counted: npt.NDArray[np.bool_], P_error: float) -> float:
    """Certified ``max_s E_s[steps to the end]`` of an absorbing chain: the computed ``h`` has ``h - Q h =
    1 - e`` with ``|e| <= delta < 1``, so the true one is at most ``max h / (1 - delta)`` (``(I - Q)^-1`` is
    non-negative); ``delta`` includes the floats' rounding of ``Q`` (``P_error``, in L1 per row)."""
    ones = counted.astype(np.float64)
    h = chain_values(Q, 1.0, ones, solve=counted)
    kmax = int(np.diff(Q.indptr).max(initial=1))
    top = float(h.max(initial=0.0))
    delta = float(np.abs(ones - (h - Q @ h))[counted].max(initial=0.0)) + \
        2.0 * (kmax + 3) * _U * (top + 1.0) + P_error * top
    return math.inf if delta >= 1 else top / (1.0 - delta) * (1.0 + 8 * _U)


def _exact_occupancies(model: TabularMDP, policy: npt.NDArray[np.int64], worlds: _Worlds,
                       counted: npt.NDArray[np.bool_]) -> _Occupancy:
    """:func:`_occupancies` in the spec's rationals: strongly connected components of the chain in
    topological order (a start's mass flows forward), each solved exactly (most are single states)."""
    numbers, gamma = model.exact.P, model.exact.discount
    n, k = model.n_states, len(worlds.codes)
    inflow: list[list[tuple[int, Fraction]]] = [[] for _ in range(n)]  # state -> (predecessor, probability)
    for s in np.flatnonzero(counted).tolist():
        row = int(policy[s])
        for e in range(model.P.indptr[row], model.P.indptr[row + 1]):
            if numbers[e]:
                inflow[int(model.P.indices[e])].append((s, numbers[e]))
    Q = _policy_chain(model, policy, counted)
    n_parts, label = csgraph.connected_components(Q, directed=True, connection="strong")
    condensed = sp.csr_array((np.ones(Q.nnz), (label[np.repeat(np.arange(n), np.diff(Q.indptr))], label[Q.indices])),
                             shape=(n_parts, n_parts))
    condensed.setdiag(0)
    condensed.eliminate_zeros()
    order = _topological(condensed)
    members: list[list[int]] = [[] for _ in range(n_parts)]
    for s, part in enumerate(label.tolist()):
        members[part].append(s)
    results: list[dict[int, Fraction]] = []
    for world in worlds.starts:
        d: dict[int, Fraction] = {}
        for part in order:
            states = members[part]
            inside = set(states)
            rhs = [world.get(s, Fraction(0)) + gamma * sum((p * d.get(t, Fraction(0)) for t, p in inflow[s]
                                                             if t not in inside), Fraction(0)) for s in states]
            if len(states) == 1:
                s = states[0]
                loop = sum((p for t, p in inflow[s] if t == s), Fraction(0))
                value = rhs[0] / (1 - gamma * loop)
                if value:
                    d[s] = value
                continue
            position = {s: i for i, s in enumerate(states)}
            matrix = [[Fraction(int(i == j)) for j in range(len(states))] for i in range(len(states))]
            for i, s in enumerate(states):
                for t, p in inflow[s]:
                    if t in inside:
                        matrix[i][position[t]] -= gamma * p
            solved = DomainMatrix([[QQ(x.numerator, x.denominator) for x in line] for line in matrix],
                                  (len(states), len(states)), QQ).lu_solve(
                DomainMatrix([[QQ(x.numerator, x.denominator)] for x in rhs], (len(states), 1), QQ))
            for i, s in enumerate(states):
                value = Fraction(int(solved[i, 0].element.numerator), int(solved[i, 0].element.denominator))
                if value:
                    d[s] = value
        results.append(d)
    values = np.zeros((n, k))
    for j, d in enumerate(results):
        for s, value in d.items():
            values[s, j] = float(value)
    return _Occupancy(values, np.zeros(k), results)


def _topological(graph: sp.csr_array) -> list[int]:
    """The nodes of an acyclic graph, each after every node with an edge into it (Kahn)."""
    indegree = np.diff(sp.csc_array(graph).indptr).tolist()
    ready = [v for v, d in enumerate(indegree) if d == 0]
    order: list[int] = []
    while ready:
        v = ready.pop()
        order.append(v)
        for w in graph.indices[graph.indptr[v]:graph.indptr[v + 1]].tolist():
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    return order


@dataclass(frozen=True, eq=False)
class _Difference:
    """The two worlds whose occupancies differ most, their distance, and the cell that differs most."""

    distance: Range
    worlds: tuple[int, int]
    action: str
    others: str
    first: float  # the cell's occupancy in the first world
    second: float  # ... and in the second
    heavier: int  # 0 or 1: the world where the cell weighs more
    state: int  # a state of that cell the heavier world reaches (-1: none differs)


def _largest_difference(model: TabularMDP, occupancy: _Occupancy, policy: npt.NDArray[np.int64],
                        group: npt.NDArray[np.int64], counted: npt.NDArray[np.bool_], index: int) -> _Difference:
    """Half the L1 distance between the worlds' occupancies of (other variables, action) cells, scaled by
    ``1 - gamma`` below discount 1 (a total variation distance), for the pair of worlds farthest apart."""
    states = np.flatnonzero(counted)
    _, cell = np.unique(np.stack([group[states], model.row_action[policy[states]]]), axis=1, return_inverse=True)
    cell = cell.ravel()
    n_cells = int(cell.max(initial=-1)) + 1
    exact_gamma = model.exact.discount if occupancy.exact is not None else Fraction(model.discount)
    scale = 1 - exact_gamma if exact_gamma < 1 else Fraction(1)
    k = occupancy.values.shape[1]
    best: _Difference | None = None
    for i, j in itertools.combinations(range(k), 2):
        per_cell = np.zeros((n_cells, 2))
        np.add.at(per_cell, cell, occupancy.values[states][:, [i, j]])
        gaps = np.abs(per_cell[:, 0] - per_cell[:, 1])
        if occupancy.exact is not None:
            exact_gaps = [Fraction(0)] * n_cells
            for c, s in zip(cell.tolist(), states.tolist()):
                exact_gaps[c] += occupancy.exact[i].get(s, Fraction(0)) - occupancy.exact[j].get(s, Fraction(0))
            distance = Range.exactly(scale * sum((abs(g) for g in exact_gaps), Fraction(0)) / 2)
            gaps = np.array([float(abs(g)) for g in exact_gaps])
        else:
            value = float(scale) * float(gaps.sum()) / 2
            error = float(scale) * (float(occupancy.errors[i] + occupancy.errors[j]) / 2
                                    + 4 * _U * states.size * float(per_cell.sum()))
            low, high = enclosure(value, error)
            distance = Range(value, error, max(0.0, low), high)
        if best is not None and distance.value <= best.distance.value:
            continue
        top = int(np.argmax(gaps)) if n_cells else -1
        heavier = 0 if top < 0 or per_cell[top, 0] >= per_cell[top, 1] else 1
        members = states[(cell == top) & (occupancy.values[states][:, (i, j)[heavier]] > 0)] if top >= 0 else states[:0]
        state = int(members[0]) if members.size and gaps[top] > 0 else -1
        example = int(states[cell == top][0]) if top >= 0 else -1
        best = _Difference(distance, (i, j), model.action_names[model.row_action[policy[example]]] if example >= 0 else "",
                           _others_text(model, example, index) if example >= 0 else "",
                           float(scale) * per_cell[top, 0] if top >= 0 else 0.0,
                           float(scale) * per_cell[top, 1] if top >= 0 else 0.0, heavier, state)
    assert best is not None  # at least two worlds
    return best


def _others_text(model: TabularMDP, state: int, index: int) -> str:
    """The state's variables as the user wrote them, all but the one compared."""
    assert model.state_codes is not None
    codes = model.state_codes[state]
    return ", ".join(f"{v.name}={v.domain.decode(c)}" for i, (v, c) in enumerate(zip(model.variables, codes))
                     if i != index)


def _show(distance: Range) -> str:
    return str(distance.low) if distance.is_exact and distance.low == distance.high else \
        f"{distance.value:.6g} (within {distance.bound:.2g})"


def _trace_to(model: TabularMDP, policy: npt.NDArray[np.int64], starts: dict[int, Fraction], end: int) -> Trace:
    """A shortest path of ``policy`` from one of a world's ``starts`` to ``end``, with its probability."""
    terminal = np.asarray(model.terminal, dtype=bool)
    rows = np.zeros(model.n_rows, dtype=bool)
    rows[policy[(policy >= 0) & ~terminal]] = True
    source, target = positive_edges(model.P, model.row_state, rows)
    begin = np.zeros(model.n_states, dtype=bool)
    begin[list(starts)] = True
    _, predecessor = reach(model.n_states, source, target, begin)
    path = [end]
    while predecessor[path[-1]] != model.n_states and predecessor[path[-1]] >= 0:
        path.append(int(predecessor[path[-1]]))
    path.reverse()
    probability = float(starts[path[0]])
    steps: list[Step] = []
    for state, successor in zip(path[:-1], path[1:]):
        row = int(policy[state])
        p = float(model.P[[row]][:, [successor]].toarray()[0, 0])
        probability *= p
        steps.append(Step(model.describe(state), model.action_names[model.row_action[row]], p))
    steps.append(Step(model.describe(end)))
    return Trace(tuple(steps), probability)
