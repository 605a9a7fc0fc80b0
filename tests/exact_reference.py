"""An independent exact reference: every deterministic policy of a small model, evaluated in rationals.

Memoryless deterministic policies attain the minimum and the maximum of discounted costs, of total costs
over proper policies and of reachability probabilities, so enumerating them gives the exact optimum to
compare corrigo's answers with. Plain Gauss-Jordan elimination in ``Fraction`` arithmetic; nothing here
shares code with :mod:`mdp` or :mod:`verifier`: it reads a model's exact numbers (``model.exact``), rows,
state codes and terminal states, and, for :class:`ExactChecks`, the checked spec's expressions (:mod:`dsl`).
Larger optima are found by policy iteration and certified by the exact Bellman equation (:func:`optimize`).
"""

from __future__ import annotations

import copy
import functools
import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from dsl.spec import (AcceptsShutdown, ActionIs, AlwaysCheck, Binary, Call, Check, Conditional, CostBound, Expr,
                      Globally, Literal, Member, NeverCheck, Next, PathFormula, ProbabilityBound, Regret, Unary, Until,
                      VarRef)
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


@functools.lru_cache(maxsize=4)
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


# --- a spec's checks, decided exactly ------------------------------------------------------------------
#
# The truth of every check of a compiled spec (``mdp.compile(spec, exact=True)``), from the definitions of
# docs/checks.md. Read from the model: its exact numbers (``model.exact``), state codes, row actions and
# terminal states; the check formulas are evaluated here, on the state codes, by :func:`evaluate`.


# a condition counts 0/1 as a factor of `*`: Python's bools are the ints 0 and 1 already
_OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": lambda a, b: Fraction(a) / Fraction(b),
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "&&": lambda a, b: bool(a and b), "||": lambda a, b: bool(a or b), "->": lambda a, b: bool(not a or b),
    "<->": lambda a, b: bool(a) == bool(b),
}
_CALLS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}


def evaluate(expr: Expr, codes: Sequence[int], action: str | None = None) -> bool | int | Fraction:
    """The value of a checked expression in the state with variable ``codes`` (and the action taken)."""
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, VarRef):
        return int(codes[expr.index])
    if isinstance(expr, ActionIs):
        return action is not None and action in expr.actions
    if isinstance(expr, Member):
        return evaluate(expr.operand, codes, action) in expr.values
    if isinstance(expr, Conditional):
        test = evaluate(expr.test, codes, action)
        return evaluate(expr.then if test else expr.otherwise, codes, action)
    if isinstance(expr, Call):
        args = [evaluate(a, codes, action) for a in expr.args]
        return _CALLS[expr.function](*args)
    if isinstance(expr, Unary):
        value = evaluate(expr.operand, codes, action)
        return (not value) if expr.op == "!" else -value
    if isinstance(expr, Binary):
        return _OPERATIONS[expr.op](evaluate(expr.left, codes, action), evaluate(expr.right, codes, action))
    raise TypeError(f"no reference semantics for {type(expr).__name__}")


def states_where(model: TabularMDP, expr: Expr) -> npt.NDArray[np.bool_]:
    """(n,) the states where the state formula ``expr`` holds."""
    assert model.state_codes is not None
    return np.array([bool(evaluate(expr, codes)) for codes in model.state_codes.tolist()], dtype=bool)


def rows_where(model: TabularMDP, expr: Expr) -> npt.NDArray[np.bool_]:
    """(m,) the rows (state, action taken) where ``expr`` holds."""
    assert model.state_codes is not None
    codes = model.state_codes.tolist()
    return np.array([bool(evaluate(expr, codes[model.row_state[r]], model.action_names[model.row_action[r]]))
                     for r in range(model.n_rows)], dtype=bool)


def backup(model: TabularMDP, reward: Sequence[Fraction], V: Sequence[Fraction]) -> list[Fraction]:
    """``Q(r) = reward(r) + gamma * sum_j P(r, j) V(j)`` for every row, exactly."""
    gamma = model.exact.discount
    return [reward[r] + gamma * sum((p * V[j] for j, p in row.items()), Fraction(0))
            for r, row in enumerate(transitions(model))]


def _proper_start(model: TabularMDP, allowed: list[list[int]], ends: npt.NDArray[np.bool_]) -> list[int] | None:
    """A proper policy on ``allowed`` (each state's row moves, with some probability, to a state nearer one
    of ``ends``), or ``None`` if some state cannot reach them at all."""
    P = transitions(model)
    choice = [-1] * model.n_states
    done = set(np.flatnonzero(ends).tolist())
    for s in done:
        choice[s] = allowed[s][0]
    while len(done) < model.n_states:
        layer = {s: r for s in range(model.n_states) if s not in done
                 for r in reversed(allowed[s]) if any(j in done for j in P[r])}
        if not layer:
            return None
        for s, r in layer.items():
            choice[s] = r
        done |= set(layer)
    return choice


def optimize(model: TabularMDP, reward: Sequence[Fraction], rows: npt.NDArray[np.bool_] | None = None,
             maximize: bool = False, within: npt.NDArray[np.bool_] | None = None) -> list[Fraction]:
    """The min (max) expected (discounted) total ``reward`` from every state over the policies on ``rows``.

    Howard's policy iteration in rationals, and its answer certified: it satisfies the Bellman equation
    exactly, whose solution is unique (a discount below 1; with discount 1, the problems asked here: a
    positive reward on every non-terminal row for a minimum, or ``rows`` on which every policy ends).
    Discount 1: terminal states are worth 0, and policies start proper. ``within``: only these states,
    a set that ``rows`` never leave (the others are worth 0).
    """
    gamma = model.exact.discount
    allowed = [[r for r in model.rows(s) if rows is None or rows[r]] or [int(model.row_groups[s])]
               for s in range(model.n_states)]
    absorbing = model.terminal.copy() if gamma == 1 else np.zeros(model.n_states, dtype=bool)
    if within is not None:
        absorbing |= ~within
    start = _proper_start(model, allowed, absorbing) if gamma == 1 else [choices[0] for choices in allowed]
    if start is None:
        raise InvalidModel("discount 1, and from some state no policy reaches a terminal state")
    policy = tuple(start)
    better = (lambda a, b: a > b) if maximize else (lambda a, b: a < b)
    while True:
        V = chain_values(model, policy, reward, gamma, absorbing)
        if V is None:
            raise InvalidModel("discount 1, and a policy that never ends")
        Q = backup(model, reward, V)
        improved = list(policy)
        for s in range(model.n_states):
            for r in allowed[s]:
                if not absorbing[s] and better(Q[r], Q[improved[s]]):
                    improved[s] = r
        if tuple(improved) == policy:
            break
        policy = tuple(improved)
    pick = max if maximize else min
    assert all(absorbing[s] or V[s] == pick(Q[r] for r in allowed[s]) for s in range(model.n_states))
    return V


class InvalidModel(ValueError):
    """A spec corrigo must reject with a located ``ModelError``: with discount 1, a state from which no
    policy ends, or an optimal policy that need never end (a loop of optimal rows)."""


def traps(model: TabularMDP, rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(n,) the non-terminal states from which some policy on ``rows`` stays among non-terminal states
    forever: the largest set in which every state has a row of ``rows`` that surely stays in it."""
    P = transitions(model)
    inside = ~model.terminal.copy()
    changed = True
    while changed:
        changed = False
        for s in np.flatnonzero(inside).tolist():
            if not any(rows[r] and all(inside[j] for j in P[r]) for r in model.rows(s)):
                inside[s] = False
                changed = True
    return inside


def reachable_with(model: TabularMDP, rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """(n,) the states reachable from the initial state taking only ``rows``."""
    P = transitions(model)
    seen = {model.initial}
    frontier = [model.initial]
    while frontier:
        s = frontier.pop()
        for r in model.rows(s):
            if rows[r]:
                for j in P[r]:
                    if j not in seen:
                        seen.add(j)
                        frontier.append(j)
    mask = np.zeros(model.n_states, dtype=bool)
    mask[sorted(seen)] = True
    return mask


class ExactChecks:
    """The exact optimum of a compiled spec and the truth of its checks.

    ``V`` is V*; ``gap`` the exact ``Q(r) - V*(s)`` of every row; ``optimal`` the rows of M* (gap 0);
    ``reachable`` the states M* reaches from the initial state. Over "the policies of M*" means over the
    (deterministic, memoryless, which attain every extremum asked here) policies that take only optimal rows.
    """

    def __init__(self, model: TabularMDP) -> None:
        self.model = model
        self.cost = model.exact.cost()
        terminal_rows = model.terminal[model.row_state]
        self.V = self.minimum(self.cost)
        Q = backup(model, self.cost, self.V)
        self.gap = [Fraction(0) if terminal_rows[r] else Q[r] - self.V[model.row_state[r]] for r in range(model.n_rows)]
        assert min(self.gap) >= 0
        self.optimal = np.array([g == 0 for g in self.gap], dtype=bool)
        self.reachable = reachable_with(model, self.optimal)
        if model.exact.discount == 1 and self.loops(self.optimal):
            raise InvalidModel("discount 1, and an optimal policy can loop forever")
        self.scale = max([Fraction(1)] + [abs(q) for q in Q])
        self._widened: dict[float, ExactChecks] = {}

    def minimum(self, reward: Sequence[Fraction]) -> list[Fraction]:
        """The least expected (discounted) total ``reward`` from every state over all policies (discount 1:
        the proper ones)."""
        model = self.model
        terminal_rows = model.terminal[model.row_state]
        if model.exact.discount < 1 or min((c for c, t in zip(reward, terminal_rows) if not t), default=1) > 0:
            return optimize(model, reward)
        # some step is free: loops may cost nothing, and only the proper policies count; enumerate them
        V = optimal_costs(model, reward)
        if any(v is None for v in V):
            raise InvalidModel("discount 1, and from some state no policy reaches a terminal state")
        return [v for v in V if v is not None]

    def loops(self, rows: npt.NDArray[np.bool_]) -> bool:
        """Whether a policy on ``rows`` can, from the initial state, loop forever among non-terminal states."""
        return bool((traps(self.model, rows) & reachable_with(self.model, rows)).any())

    @property
    def agent_rows(self) -> npt.NDArray[np.bool_]:
        """(m,) the rows of M* at the states it reaches."""
        return self.optimal & self.reachable[self.model.row_state]

    def near_optimal(self, tolerance: float) -> npt.NDArray[np.bool_]:
        """(m,) rows whose exact gap is at most ``tolerance * scale``: M* and the near-ties around it."""
        limit = Fraction(tolerance) * self.scale
        return np.array([g <= limit for g in self.gap], dtype=bool)

    def widened(self, tolerance: float) -> ExactChecks:
        """The same questions asked of the near-optimal rows (:meth:`near_optimal`) in place of M*: what
        floats may take for M* when they cannot tell a near-tie from a tie."""
        if tolerance not in self._widened:
            wide = copy.copy(self)
            wide.optimal = self.near_optimal(tolerance)
            wide.reachable = reachable_with(self.model, wide.optimal)
            wide._widened = {}
            self._widened[tolerance] = wide
        return self._widened[tolerance]

    def is_ambiguous(self, tolerance: float) -> bool:
        """Whether floats may not tell which rows are optimal: a state reachable through the near-optimal
        rows has an exact tie or a near-tie (two rows within ``tolerance * scale`` of optimal)."""
        model, wide = self.model, self.widened(tolerance)
        counts = np.bincount(model.row_state[wide.optimal], minlength=model.n_states)
        return bool((wide.reachable & ~model.terminal & (counts >= 2)).any())

    def _policies(self, stop: npt.NDArray[np.bool_]) -> Iterator[Policy]:
        """The deterministic policies of M*, as far as the probability of reaching ``stop`` goes: choices only
        in the states M* reaches before ``stop``, one optimal row per distinct successor distribution there
        (copies of an action move alike)."""
        model = self.model
        P = transitions(model)
        before = self.optimal & ~stop[model.row_state]
        deciding = reachable_with(model, before) & ~stop
        choices = []
        for s in range(model.n_states):
            distinct = {tuple(sorted(P[r].items())): r for r in reversed(model.rows(s)) if self.optimal[r]}
            choices.append(sorted(distinct.values()) if deciding[s] else [int(model.row_groups[s])])
        return itertools.product(*choices)

    def _reach(self, target: npt.NDArray[np.bool_], maximize: bool,
               avoid: npt.NDArray[np.bool_] | None = None) -> Fraction:
        """Pmin (Pmax) of ``not avoid U target`` at the initial state over the policies of M*."""
        stop = target if avoid is None else target | avoid
        values = (reach_values(self.model, policy, target, avoid)[self.model.initial]
                  for policy in self._policies(stop))
        return max(values) if maximize else min(values)

    def probability(self, path: PathFormula, maximize: bool) -> Fraction:
        """Pmax (Pmin) of a path formula from the initial state over the policies of M*."""
        model = self.model
        target = states_where(model, path.target)
        if isinstance(path, Globally):
            return 1 - self._reach(~target, not maximize)
        if isinstance(path, Until):
            return self._reach(target, maximize, avoid=~states_where(model, path.hold))
        if isinstance(path, Next):
            return bounded_reach(model, target, 1, self.agent_rows, maximize, count_start=False)[model.initial]
        if path.steps is not None:
            return bounded_reach(model, target, path.steps, self.agent_rows, maximize)[model.initial]
        return self._reach(target, maximize)

    def term(self, reward: Sequence[Fraction], maximize: bool) -> Fraction:
        """The max (min) expected (discounted) ``reward`` at the initial state over the policies of M*."""
        return optimize(self.model, reward, self.optimal, maximize, within=self.reachable)[self.model.initial]

    def quantity(self, check: Check) -> Fraction | None:
        """What a quantitative check compares with its bound, on its worst side; ``None`` for the others."""
        prop = check.property
        span = self.range(check)
        if span is None:
            return None
        assert isinstance(prop, (CostBound, ProbabilityBound, Regret))
        return span[1] if prop.comparison.is_upper or isinstance(prop, Regret) else span[0]

    def range(self, check: Check) -> tuple[Fraction, Fraction] | None:
        """The min and the max over the policies of M* of what a quantitative check compares (``None`` for
        the others): V*(s0) for ``cost``, the term's total, the probability, the intent's regret."""
        prop, model = check.property, self.model
        s0 = model.initial
        if isinstance(prop, CostBound):
            if prop.term is None:
                return self.V[s0], self.V[s0]
            reward = model.exact.costs[prop.term]
            return self.term(reward, maximize=False), self.term(reward, maximize=True)
        if isinstance(prop, ProbabilityBound):
            return self.probability(prop.path, maximize=False), self.probability(prop.path, maximize=True)
        if isinstance(prop, Regret):
            intent = model.exact.intents[prop.intent]
            best = self.minimum(intent)[s0]
            return self.term(intent, maximize=False) - best, self.term(intent, maximize=True) - best
        return None

    def holds(self, check: Check) -> bool:
        """Whether the check holds for every optimal policy."""
        prop, model = check.property, self.model
        value = self.quantity(check)
        if value is not None:
            assert isinstance(prop, (CostBound, ProbabilityBound, Regret))
            return prop.comparison.holds(value, prop.bound)
        choices = self.agent_rows & ~model.terminal[model.row_state]  # terminal states make no choice
        if isinstance(prop, (NeverCheck, AlwaysCheck)):
            never = isinstance(prop, NeverCheck)
            if any(isinstance(node, ActionIs) for node in prop.condition.traverse()):
                satisfied = rows_where(model, prop.condition)
                return not (choices & (satisfied if never else ~satisfied)).any()
            satisfied = states_where(model, prop.condition)
            return not (self.reachable & (satisfied if never else ~satisfied)).any()
        if isinstance(prop, AcceptsShutdown):
            actions = [model.action_names[a] for a in model.row_action]
            complying = np.array([a in prop.comply for a in actions], dtype=bool)
            requested = states_where(model, prop.request)[model.row_state]
            if (choices & requested & ~complying).any():
                return False
            assert model.state_codes is not None
            codes = model.state_codes.tolist()
            for r in np.flatnonzero(choices & ~complying).tolist():
                before = codes[model.row_state[r]]
                if any(codes[j][v] != before[v] for j in transitions(model)[r] for v in prop.mechanism):
                    return False
            return True
        raise TypeError(f"no reference for {type(prop).__name__}")
