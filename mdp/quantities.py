"""Certified quantities over the policies of a sub-model: expected costs and reachability probabilities.

Every function takes a row mask (which choices a policy may take), so the same code answers questions
over the agent's optimal policies (M*) and over the whole model (an intent's optimum). Each returns
:class:`Values`: per-state values with a certified bound for the spec's exact numbers, the states whose
value graph analysis decided exactly, and in exact mode the exact values. All of them are one problem
(:mod:`mdp.solver.problem`) solved by one pipeline (:mod:`mdp.solver.optimize`):

- expected costs: the cost (a term, an intent, or given floats) minimised or maximised;
- reachability ``P(not avoid U target)``: graph precomputation of the probability-0 and probability-1
  states (PRISM/Storm's prob0/prob1), then, on the rest, a stochastic shortest path whose rows are
  rewarded with their probability of stepping into the probability-1 states and end when they leave
  the undecided states; for maxima the end components of the undecided states are collapsed first, so
  that every policy ends (Haddad and Monmege, "Interval iteration algorithm for MDPs and IMDPs", TCS
  2018; Baier and Katoen, *Principles of Model Checking*, section 10.6);
- step-bounded reachability: backups until a fixed point or the bound, with the unbounded probability
  as an upper end when the bound is far;
- one step (``X``): a single backup.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .expressions import UNIT_ROUNDOFF as _U
from .graph import end_components, every_policy_reaches, some_policy_reaches, some_policy_surely_reaches
from .model import ModelError, TabularMDP
from .solver.certificate import chain_bound
from .solver.linear import chain_values
from .solver.optimize import optimize, restricted
from .solver.problem import Exact, Problem, from_model

__all__ = ["EXACT_STEPS", "Values", "bounded_reachability", "extremal_costs", "next_probabilities", "policy_values",
           "reachability"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

EXACT_STEPS = 10_000  # exact backups of a step-bounded reachability before floats bound it instead


@dataclass(frozen=True, eq=False)
class Values:
    """The optimal values of a min or max problem at every state, and how certain they are.

    ``values`` (n,) are within ``bound`` of the true values (those of the spec's exact numbers), except
    where ``decided``: there graph analysis found them exactly. With ``exact`` (exact arithmetic), state
    -> its exact value for every state solved. ``unbounded``: the problem has no finite, certified
    optimum (discount 1: a cycle of negative cost, or of no cost that an optimal policy need never
    leave), ``values`` are then meaningless.
    """

    values: FloatArray  # (n,)
    bound: float
    decided: BoolArray  # (n,)
    exact: dict[int, Fraction] | None = None
    unbounded: bool = False

    def bound_at(self, state: int) -> float:
        """The error bound at one state: 0 where graph analysis or exact arithmetic decided the value."""
        if self.decided[state] or (self.exact is not None and state in self.exact):
            return 0.0
        return self.bound

    def exact_at(self, state: int) -> Fraction | None:
        """The exact value at one state, when it is known (graph analysis, or exact arithmetic)."""
        if self.exact is not None and state in self.exact:
            return self.exact[state]
        if self.decided[state]:
            return Fraction(float(self.values[state]))  # 0 or 1, found by graph analysis
        return None


def extremal_costs(model: TabularMDP, rows: BoolArray, cost: str | FloatArray, *, maximize: bool,
                   exact: bool = False, tol: float = 1e-10) -> Values:
    """The minimal or maximal expected (discounted) ``cost`` over the policies that take only ``rows``.

    ``cost`` is a cost or intent term of the model (its rounding and exact numbers known), or a float
    vector per row (exact as given). ``rows`` must be closed: every state a selected row can move to has
    a selected row. States without selected rows get 0; with discount 1 terminal states are worth 0,
    and the optimum is over the proper policies (those that end): a state from which none ends is worth
    ``inf`` (``nan`` under a maximisation).
    """
    vector, error, exact_cost = _cost(model, cost)
    n = model.n_states
    exact_rows = model.rounding.exact_in(cost, model.n_rows) if isinstance(cost, str) else None
    problem = from_model(model, vector, error, exact_cost, rows, maximize, exact_rows)
    initial = np.flatnonzero(np.isin(problem.states, model.start_states))
    try:
        problem, start = restricted(problem, initial if initial.size else None)
        optimum = optimize(problem, tol=tol, exact=exact, start=start, check_loops=False)
    except ModelError:  # discount 1: a cycle of negative cost, or one of no cost the optimum cannot leave
        return Values(np.full(n, np.nan), math.inf, np.zeros(n, dtype=bool), unbounded=True)
    sign = -1.0 if maximize else 1.0
    values = np.zeros(n)
    if model.discount == 1:  # states with rows but no proper policy: no finite optimum over proper ones
        values[np.bincount(model.row_state[rows], minlength=n) > 0] = math.nan if maximize else math.inf
    values[problem.states] = sign * optimum.V
    exact_values = None
    if optimum.exact_V is not None:
        exact_values = {int(s): (-v if maximize else v) for s, v in zip(problem.states.tolist(), optimum.exact_V)}
    return Values(values, float(optimum.bound), np.zeros(n, dtype=bool), exact_values)


def _cost(model: TabularMDP, cost: str | FloatArray
          ) -> tuple[FloatArray, float, Callable[[], list[Fraction]] | None]:
    """A cost's floats, the bound on their rounding, and their exact numbers on demand."""
    if not isinstance(cost, str):
        return np.asarray(cost, dtype=np.float64), 0.0, None
    if cost in model.costs:
        return np.asarray(model.costs[cost], dtype=np.float64), model.rounding.of(cost), \
            lambda: list(model.exact.costs[cost])
    return np.asarray(model.intents[cost], dtype=np.float64), model.rounding.of(cost), \
        lambda: list(model.exact.intents[cost])


# --- reachability ------------------------------------------------------------------------------------


def reachability(model: TabularMDP, rows: BoolArray, target: BoolArray, *, maximize: bool,
                 avoid: BoolArray | None = None, exact: bool = False, tol: float = 1e-10) -> Values:
    """Pmin or Pmax of ``(not avoid) U target`` (``F target`` without ``avoid``) over the policies on ``rows``.

    States with probability 0 or 1 are found by graph analysis (``decided``); the others are solved as
    one stochastic shortest path (see the module docstring), certified, or exactly with ``exact``.
    """
    n = model.n_states
    P, rs = model.P, model.row_state
    avoid = np.zeros(n, dtype=bool) if avoid is None else avoid & ~target
    blocked = avoid | target
    free = rows & ~blocked[rs]  # rows of undecided states
    if maximize:
        zero = ~some_policy_reaches(P, rs, target, free) & ~target
        one = some_policy_surely_reaches(P, rs, target, free)[0] & ~zero
    else:
        zero = ~every_policy_reaches(P, rs, target, rows, blocked) & ~target
        # every policy reaches the target surely iff no policy can reach, before it, a state of Pmin 0
        one = ~some_policy_reaches(P, rs, zero, free) & ~zero
    one |= target
    maybe = ~zero & ~one
    values = one.astype(np.float64)
    decided = ~maybe
    if not maybe.any():
        exact_values = {int(s): Fraction(int(one[s])) for s in range(n)} if exact else None
        return Values(values, 0.0, decided, exact_values)
    problem, member = _reach_problem(model, free & maybe[rs], maybe, one, maximize)
    optimum = optimize(problem, tol=tol, exact=exact, start=problem.groups[:-1].copy(), check_loops=False)
    sign = -1.0 if maximize else 1.0
    states = np.flatnonzero(maybe)
    values[states] = sign * optimum.V[member[states]]
    exact_values = None
    if optimum.exact_V is not None:
        exact_values = {int(s): Fraction(int(one[s])) for s in np.flatnonzero(decided)}
        exact_values.update({int(s): -optimum.exact_V[int(member[s])] if maximize else optimum.exact_V[int(member[s])]
                             for s in states})
    return Values(values, float(optimum.bound), decided, exact_values)


def _reach_problem(model: TabularMDP, rows: BoolArray, maybe: BoolArray, one: BoolArray, maximize: bool
                   ) -> tuple[Problem, IntArray]:
    """The undecided states as a stochastic shortest path: a row earns its probability of stepping into
    ``one`` and the run ends when it leaves ``maybe`` (into a last, terminal state). For a maximum the
    end components of ``maybe`` are collapsed to one state each, keeping the rows that leave them.

    Returns the problem and, per model state, its problem state (``-1`` outside ``maybe``).
    """
    P, rs = model.P, model.row_state
    n = model.n_states
    member = np.full(n, -1, dtype=np.int64)
    kept = rows.copy()
    if maximize:
        component, internal = end_components(P, rs, rows, maybe)
        kept &= ~internal
    else:
        component = np.full(n, -1, dtype=np.int64)
    # problem states: one per end component, then one per other undecided state, then the end
    n_components = int(component.max()) + 1 if (component >= 0).any() else 0
    single = np.flatnonzero(maybe & (component < 0))
    member[component >= 0] = component[component >= 0]
    member[single] = n_components + np.arange(single.size)
    size = n_components + single.size
    end = size
    selected = np.flatnonzero(kept)
    order = np.argsort(member[rs[selected]], kind="stable")
    selected = selected[order]
    owner = member[rs[selected]]
    groups = np.zeros(size + 2, dtype=np.int64)
    np.cumsum(np.append(np.bincount(owner, minlength=size), 1), out=groups[1:])  # the end: one self-loop
    # every undecided state keeps a row (a maximum's end component without exits would have Pmax 0)
    sub = sp.csr_array(P[selected])
    nz_row = np.repeat(np.arange(selected.size), np.diff(sub.indptr))
    target_col = member[sub.indices]
    reward = np.bincount(nz_row, weights=sub.data * one[sub.indices], minlength=selected.size)
    inside = target_col >= 0
    stay = sp.csr_array((sub.data[inside], (nz_row[inside], target_col[inside])), shape=(selected.size, size + 1))
    leave = np.bincount(nz_row, weights=np.where(inside, 0.0, sub.data), minlength=selected.size)
    matrix = sp.csr_array(stay + sp.csr_array((leave, (np.arange(selected.size), np.full(selected.size, end))),
                                             shape=(selected.size, size + 1)))
    matrix.eliminate_zeros()
    matrix.sum_duplicates()
    loop = sp.csr_array((np.ones(1), ([0], [end])), shape=(1, size + 1))
    matrix = sp.csr_array(sp.vstack([matrix, loop], format="csr"))
    sign = -1.0 if maximize else 1.0
    c = np.append(sign * reward, 0.0)
    terminal = np.zeros(size + 1, dtype=bool)
    terminal[end] = True
    states = np.full(size + 1, -1, dtype=np.int64)
    states[member[single]] = single
    problem_rows = np.append(selected, -1)
    rounding = model.rounding

    def exact_numbers() -> Exact:
        data = model.exact.P
        indptr, indices = P.indptr.tolist(), P.indices.tolist()
        costs, entries = [], []
        for r in selected.tolist():
            earned, left = Fraction(0), Fraction(0)
            by_column: dict[int, Fraction] = {}
            for k in range(indptr[r], indptr[r + 1]):
                j, p = indices[k], data[k]
                if one[j]:
                    earned += p
                if member[j] >= 0:
                    by_column[int(member[j])] = by_column.get(int(member[j]), Fraction(0)) + p
                else:
                    left += p
            if left:
                by_column[end] = left
            costs.append(-earned if maximize else earned)
            entries.append(sorted(by_column.items()))
        return Exact(Fraction(1), costs + [Fraction(0)], entries + [[(end, Fraction(1))]])
    # a merged entry is a float sum of the row's entries: their rounding, plus that of the sum
    error = rounding.P + int(np.diff(P.indptr).max(initial=1)) * _U
    problem = Problem(states, problem_rows, matrix, groups, c, terminal, 1.0, error, error, 0.0, exact_numbers, model)
    return problem, member


def bounded_reachability(model: TabularMDP, rows: BoolArray, target: BoolArray, steps: int, *, maximize: bool,
                         exact: bool = False) -> Values:
    """Pmin or Pmax of ``F<=steps target``: backups from the target's indicator, ``steps`` of them or until
    they stop changing (a fixed point: every later backup is the same). The values grow with the steps
    towards the unbounded probability, so when that is within the tolerance the rest is not computed:
    the result is then the interval between the last backup and the unbounded probability. Floats: each
    backup adds at most ``(k + 2) u + P_error`` of error (values lie in [0, 1])."""
    n = model.n_states
    selected = np.flatnonzero(rows)
    states, starts = np.unique(model.row_state[selected], return_index=True)
    P = sp.csr_array(model.P[selected])
    extreme = np.maximum.reduceat if maximize else np.minimum.reduceat
    if exact:
        result = _exact_bounded(model, selected, target, steps, maximize)
        if result is not None:
            return result
    kmax = int(np.diff(P.indptr).max(initial=1))
    per_step = (kmax + 2) * _U + model.rounding.P
    x = target.astype(np.float64)
    upper: Values | None = None
    done = 0
    for done in range(1, steps + 1):
        new = np.zeros(n)
        if states.size:
            new[states] = extreme(P @ x, starts)
        new[target] = 1.0
        if np.array_equal(new, x):
            done -= 1
            break
        x = new
        if done % 1000 == 0 and steps - done > 1000:  # far from the bound: is the unbounded value close?
            upper = upper or reachability(model, rows, target, maximize=maximize)
            if float(np.max(upper.values + upper.bound - x)) <= 1e-12 + done * per_step:
                high = np.minimum(upper.values + upper.bound, 1.0)
                low = x - done * per_step
                middle = (low + high) / 2
                middle[target] = 1.0  # exactly: the target's own states
                return Values(middle, float(np.max(high - low)) / 2, target.copy())
    return Values(x, done * per_step, target.copy())


def _exact_bounded(model: TabularMDP, selected: IntArray, target: BoolArray, steps: int,
                   maximize: bool) -> Values | None:
    """Step-bounded reachability in rationals: backups until the bound or a fixed point, or until they
    reach the exact unbounded probability; ``None`` after :data:`EXACT_STEPS` backups without either."""
    n = model.n_states
    data = model.exact.P
    indptr, indices = model.P.indptr.tolist(), model.P.indices.tolist()
    by_state: dict[int, list[int]] = {}
    for r in selected.tolist():
        by_state.setdefault(int(model.row_state[r]), []).append(r)
    pick = max if maximize else min
    x = [Fraction(int(t)) for t in target.tolist()]
    unbounded: list[Fraction] | None = None
    for done in range(1, min(steps, EXACT_STEPS) + 1):
        new = [Fraction(0)] * n
        for s, rows in by_state.items():
            new[s] = pick(sum((data[k] * x[indices[k]] for k in range(indptr[r], indptr[r + 1])), Fraction(0))
                          for r in rows)
        for s in np.flatnonzero(target).tolist():
            new[s] = Fraction(1)
        if new == x:
            break
        x = new
        if done % 100 == 0:
            if unbounded is None:
                rows_mask = np.zeros(model.n_rows, dtype=bool)
                rows_mask[selected] = True
                full = reachability(model, rows_mask, target, maximize=maximize, exact=True)
                assert full.exact is not None
                unbounded = [full.exact.get(s, Fraction(0)) for s in range(n)]
            if x == unbounded:
                break
    else:
        if steps > EXACT_STEPS:
            return None
    return Values(np.array([float(v) for v in x]), 0.0, target.copy(), dict(enumerate(x)))


def next_probabilities(model: TabularMDP, rows: BoolArray, target: BoolArray, *, maximize: bool,
                       exact: bool = False) -> Values:
    """Pmin or Pmax of ``X target``: one step."""
    n = model.n_states
    selected = np.flatnonzero(rows)
    states, starts = np.unique(model.row_state[selected], return_index=True)
    x = np.zeros(n)
    extreme = np.maximum.reduceat if maximize else np.minimum.reduceat
    P = sp.csr_array(model.P[selected])
    x[states] = extreme(P @ target.astype(np.float64), starts)
    if exact:
        data = model.exact.P
        indptr, indices = model.P.indptr.tolist(), model.P.indices.tolist()
        pick = max if maximize else min
        per_row = {r: sum((data[k] for k in range(indptr[r], indptr[r + 1]) if target[indices[k]]), Fraction(0))
                   for r in selected.tolist()}
        by_state: dict[int, list[Fraction]] = {}
        for r, v in per_row.items():
            by_state.setdefault(int(model.row_state[r]), []).append(v)
        exact_values = {s: pick(by_state[s]) if s in by_state else Fraction(0) for s in range(n)}
        return Values(np.array([float(exact_values[s]) for s in range(n)]), 0.0, np.zeros(n, dtype=bool),
                      exact_values)
    kmax = int(np.diff(P.indptr).max(initial=1))
    return Values(x, kmax * _U + model.rounding.P, np.zeros(n, dtype=bool))


# --- a fixed (randomised) policy -------------------------------------------------------------------


def policy_values(model: TabularMDP, policy_matrix: sp.csr_array, columns: FloatArray
                  ) -> tuple[FloatArray, FloatArray]:
    """``E[sum_t gamma^t x(s_t)]`` from every state under a (randomised) policy with transitions
    ``policy_matrix`` (n, n), for each column ``x`` of ``columns`` (n, k), and a certified error bound per
    column (the chain's residual, :func:`mdp.solver.certificate.chain_bound`)."""
    gamma = float(model.discount)
    values = chain_values(policy_matrix, gamma, np.asarray(columns, dtype=np.float64))
    bounds = np.array([chain_bound(policy_matrix, gamma, columns[:, j], values[:, j], model.rounding.P)
                       for j in range(columns.shape[1])])
    return values, bounds
