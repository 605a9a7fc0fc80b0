"""Costs as affine functions of the params, and a fixed policy's values and gaps as affine functions too.

A ``param`` enters cost and intent terms linearly (the type checker enforces it) and nowhere else, so
every weight vector ``w`` gives the same states and transitions, and the cost of row ``r`` in term ``t``
is ``c_t(w)[r] = c_t0[r] + sum_i w_i c_ti[r]``. For a fixed policy ``pi`` the value is then affine in
``w`` as well, ``V^pi_w = V^pi_0 + sum_i w_i V^pi_i`` (one linear solve per feature), and so is the gap
``Q^pi_w(r) - V^pi_w(s)`` of every row: ``pi`` is optimal exactly where all these gaps are >= 0, a
polyhedron in weight space (:mod:`verifier.sweep` builds the regions from it).

Exact mode evaluates the features in the spec's rationals (the terms at ``w = 0`` and at each unit vector,
exactly) and solves the policy's equations in rational arithmetic; it needs the model's exact numbers
(``compile(spec, exact=True)``, or a model whose floats are exact).
"""

from __future__ import annotations

import math

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.errors import Diagnostic
from dsl.spec import Expr, Parameter, Spec, Term

from .arrival import reads_next_state
from .expressions import UNIT_ROUNDOFF as _U
from .expressions import vectorize
from .graph import reachable_states, terminates_surely
from .model import ModelError, Rationals, TabularMDP
from .penalty import penalty_of, term_values
from .solver.exact import ExactProblem
from .solver.linear import chain_values
from .solver.problem import from_model
from .solver.solution import overflow_error

__all__ = ["ParametricModel", "PlanConditions", "PolicyGaps", "parametric", "plan_conditions", "policy_gaps",
           "state_features"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_NEAR = 1e-6  # relative to the largest cost coefficient: a float gap this small may be 0 exactly
Affine = tuple[Fraction, ...]  # (constant, coefficient of w_1, ..., coefficient of w_k)


@dataclass(frozen=True, eq=False)
class ParametricModel:
    """A compiled model whose cost and intent terms are affine in the swept params.

    Shapes: ``k`` swept params, ``m`` rows. Params that are not swept keep their spec values (they are
    folded into the constant part).
    """

    model: TabularMDP  # compiled at the spec's values
    params: tuple[Parameter, ...]  # the swept params, in the order of the weight vectors
    costs: Mapping[str, FloatArray]  # term -> (k + 1, m): row 0 the cost at w = 0, row i the coefficient of w_i
    intents: Mapping[str, FloatArray]  # term -> (k + 1, m), likewise
    intent_params: frozenset[str]  # swept params that some intent term mentions
    spec: Spec  # what the exact features are evaluated from

    @property
    def k(self) -> int:
        return len(self.params)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def total(self) -> FloatArray:
        """(k + 1, m) the whole intrinsic cost as an affine function of the weights."""
        total = np.zeros((self.k + 1, self.model.n_rows))
        for features in self.costs.values():
            total += features
        return total

    @cached_property
    def exact_features(self) -> dict[str, list[list[Fraction]]]:
        """Cost and intent term -> (k + 1, m) its features in the spec's rationals."""
        model, spec = self.model, self.spec
        terms = {t.name: t for t in (*spec.costs, *spec.intents)}
        return {name: _term_features(terms[name], model, self.params, spec)
                for name in (*self.costs, *self.intents)}

    @cached_property
    def integer_features(self) -> dict[str, tuple[list[list[int]], list[int]]]:
        """:attr:`exact_features` as integer numerators over one denominator per weight: combining them at a
        point is then integer arithmetic, some ten times faster than summing fractions."""
        out = {}
        for name, features in self.exact_features.items():
            denominators = [math.lcm(1, *(x.denominator for x in row)) for row in features]
            out[name] = ([[x.numerator * (d // x.denominator) for x in row] for row, d in zip(features, denominators)],
                         denominators)
        return out

    @cached_property
    def rational_features(self) -> list[list[Fraction]]:
        """(k + 1, m) the total cost's features in rationals: the terms' exact features, summed."""
        features = [[Fraction(0)] * self.model.n_rows for _ in range(self.k + 1)]
        for name in self.costs:
            features = [[a + b for a, b in zip(row, term)] for row, term in zip(features, self.exact_features[name])]
        return features

    def at(self, weights: Sequence[Fraction | float]) -> TabularMDP:
        """The model with the swept params at ``weights``: same states and transitions, new costs; with the
        exact numbers of those costs when the weights are exact and the model's transitions are known exactly."""
        w = np.array([1.0] + [float(x) for x in weights])
        with np.errstate(over="ignore"):
            costs = {t: w @ f for t, f in self.costs.items()}
            intents = {t: w @ f for t, f in self.intents.items()}
        model = self.model
        if not all(np.isfinite(v).all() for v in (*costs.values(), *intents.values())):
            overflow = overflow_error(model)  # a weight at the end of a wide box, e.g. [1, 1e308]
            at = ", ".join(f"{p.name}={float(x):g}" for p, x in zip(self.params, weights))
            raise ModelError(replace(overflow.diagnostics[0], notes=(
                f"with the params at {at}, a point of their boxes; narrow the boxes or scale the weights",)),
                overflow.source)
        if not model.knows_exact or not all(isinstance(x, Fraction) for x in weights):
            # floats: each cost is w @ f, off by the features' rounding (as the model's) times the weights,
            # plus the rounding of the products and their sum
            scale = 1.0 + float(np.abs(w[1:]).sum())

            def error(name: str, features: FloatArray) -> float:
                size = float((np.abs(w) @ np.abs(features)).max(initial=0.0))
                return model.rounding.of(name) * scale + (self.k + 2) * _U * size
            return replace(model, costs=costs, intents=intents, rationals=None,
                           rounding=replace(model.rounding, costs={t: error(t, f) for t, f in self.costs.items()},
                                            intents={t: error(t, f) for t, f in self.intents.items()}))
        exact = [Fraction(1), *(Fraction(x) for x in weights)]

        def combine(name: str) -> tuple[Fraction, ...]:
            numerators, denominators = self.integer_features[name]
            scale = math.lcm(*(x.denominator * d for x, d in zip(exact, denominators) if x))
            total = [0] * model.n_rows
            for x, row, d in zip(exact, numerators, denominators):
                if x:
                    factor = x.numerator * (scale // (x.denominator * d))
                    total = [t + factor * n for t, n in zip(total, row)]
            return tuple(Fraction(t, scale) for t in total)
        numbers = model.exact
        rationals = Rationals(numbers.discount, numbers.P, {t: combine(t) for t in costs},
                              {t: combine(t) for t in intents}, model.n_rows)
        rounding = replace(model.rounding, costs={t: _rounding(costs[t], rationals.costs[t]) for t in costs},
                           intents={t: _rounding(intents[t], rationals.intents[t]) for t in intents})
        return replace(model, costs=costs, intents=intents, rationals=rationals, rounding=rounding)


def parametric(spec: Spec, model: TabularMDP, names: Sequence[str] | None = None) -> ParametricModel:
    """The cost and intent terms of ``model`` (compiled from ``spec``) as affine functions of params.

    Parameters
    ----------
    spec
        The checked spec ``model`` was compiled from.
    model
        Its compiled model (at the spec's param values).
    names
        The params to sweep, in order (default: every param of the spec).

    Raises
    ------
    KeyError
        If a name is not a param of ``spec`` (callers check names first and report them).
    """
    by_name = {p.name: p for p in spec.params}
    swept = tuple(by_name[name] for name in (names if names is not None else by_name))
    intent_params = frozenset(p.name for p in swept for t in spec.intents if _mentions(t, p.name))
    return ParametricModel(model, swept, {t.name: _float_features(t, model, swept, spec) for t in spec.costs},
                           {t.name: _float_features(t, model, swept, spec) for t in spec.intents}, intent_params, spec)


def _term_features(term: Term, model: TabularMDP, swept: tuple[Parameter, ...], spec: Spec) -> list[list[Fraction]]:
    """The exact features of a term: its value at ``w = 0`` and the change of a unit step in each param
    (the term is affine in the params, so the difference is the coefficient exactly)."""
    base, columns, actions, live = _term_inputs(model, swept, spec)

    def values(params: dict[str, Fraction]) -> list[Fraction]:
        if reads_next_state(term.expr) or penalty_of(term.expr) is not None:
            arrival = term_values(term.expr, model, params, exact=True, variables=len(spec.variables)).exact
            assert arrival is not None
            return list(arrival)
        out = vectorize(term.expr, params).exact_at(columns, actions, None, live)
        out = np.broadcast_to(out, (model.n_rows,)) if out.size != model.n_rows else out
        return [Fraction(v) if alive else Fraction(0) for v, alive in zip(out.tolist(), live.tolist())]
    at_zero = values(base)
    features = [at_zero]
    for p in swept:
        features.append([a - b for a, b in zip(values({**base, p.name: Fraction(1)}), at_zero)]
                        if _mentions(term, p.name) else [Fraction(0)] * model.n_rows)
    return features


def _float_features(term: Term, model: TabularMDP, swept: tuple[Parameter, ...], spec: Spec) -> FloatArray:
    """(k + 1, m) a term's features in floats: its value at ``w = 0`` and the change of a unit step in each
    param (exact mode uses :attr:`ParametricModel.exact_features` instead).

    Raises
    ------
    ModelError
        If a feature is beyond the float range (the term overflows for some weights).
    """
    base, columns, actions, live = _term_inputs(model, swept, spec)
    out = np.zeros((len(swept) + 1, model.n_rows))
    def values(params: dict[str, Fraction]) -> FloatArray:
        if reads_next_state(term.expr) or penalty_of(term.expr) is not None:
            return term_values(term.expr, model, params, variables=len(spec.variables)).values
        expr = vectorize(term.expr, params)
        return np.asarray(expr(columns, actions, size=model.n_rows, where=live), dtype=np.float64)

    with np.errstate(over="ignore", invalid="ignore"):
        out[0] = values(base)
        for i, p in enumerate(swept, start=1):
            if _mentions(term, p.name):
                out[i] = values({**base, p.name: Fraction(1)}) - out[0]
    out[:, ~live] = 0.0  # the terminal self-loop costs nothing
    if not np.isfinite(out).all():
        raise ModelError(Diagnostic(
            f"{'cost' if term in spec.costs else 'intent'} '{term.name}' goes beyond 64-bit floats (1.8e308) as "
            "the swept params change", term.span,
            hint="scale the term down, or shrink the params' boxes"), spec.source)
    return out


def _term_inputs(model: TabularMDP, swept: tuple[Parameter, ...], spec: Spec
                 ) -> tuple[dict[str, Fraction], list[IntArray], npt.NDArray[np.object_], BoolArray]:
    """What a term's features are evaluated on: the params (the swept ones at 0), the rows' variable
    columns and action names, and the rows of live (non-terminal) states."""
    base = {p.name: p.value for p in spec.params} | {p.name: Fraction(0) for p in swept}
    codes = model.state_codes
    columns = list(codes[model.row_state].T) if codes is not None else []
    actions = np.asarray(model.action_names, dtype=object)[model.row_action]
    live = ~np.asarray(model.terminal, dtype=bool)[model.row_state]
    return base, columns, actions, live


def _mentions(term: Term, name: str) -> bool:
    return any(getattr(node, "name", None) == name for node in term.expr.traverse())


def _rounding(floats: FloatArray, exact: Sequence[Fraction]) -> float:
    """The largest distance of floats from their exact values."""
    return max((abs(Fraction(float(x)) - q) for x, q in zip(floats.tolist(), exact)), default=Fraction(0)).__float__()


@dataclass(frozen=True, eq=False)
class PolicyGaps:
    """A policy's gaps and values as affine functions of the weights, from one solve per feature.

    ``gap[r] = (g_0, g_1, ..., g_k)`` means ``Q^pi_w(r) - V^pi_w(s) = g_0 + sum_i w_i g_i`` for the row
    ``r`` of state ``s``. Rows of states the policy does not evaluate (discount 1: states from which it
    does not terminate surely) and rows that lead there have no gap (``nan``): they are never optimal.
    """

    policy: npt.NDArray[np.int64]  # (n,) one row per state
    gap: FloatArray  # (m, k + 1) in floats
    near: npt.NDArray[np.int64]  # the rows whose gap may reach 0 in the box (the policy's own rows among them)
    exact: dict[int, Affine] | None  # row -> exact gap, for the ``near`` rows (exact mode only)
    initial: dict[str, FloatArray | Affine]  # cost and intent term -> its value at the initial state, affine
    total_initial: FloatArray | Affine  # V^pi_w(s0), affine
    values: FloatArray  # (n, k + 1) V^pi_w of every state in floats (nan where not evaluated)
    exact_values: dict[int, Affine] | None  # state -> exact V^pi_w, for every evaluated state (exact mode only)


def policy_gaps(pm: ParametricModel, policy: npt.NDArray[np.int64], exact: bool = False,
                terms: Sequence[str] | None = None) -> PolicyGaps:
    """The gap of every row and the initial values of ``policy``, affine in the weights.

    Exact mode computes in rationals the gaps of the ``near`` rows only: a row whose float gap stays
    clearly positive on the whole param box is never optimal there and never bounds a region. ``terms``:
    the cost and intent terms whose initial values are wanted (default: all; one solve per feature each).
    """
    model = pm.model
    n, m, k = model.n_states, model.n_rows, pm.k
    policy = np.asarray(policy, dtype=np.int64)
    P_pi = sp.csr_array(model.P[policy])
    terminal = np.asarray(model.terminal, dtype=bool)
    solve_states = np.ones(n, dtype=bool) if model.discount < 1 else terminates_surely(P_pi, terminal) & ~terminal
    evaluated = solve_states | (terminal if model.discount == 1 else False)
    total = pm.total()
    vectors = {"": total} | {f"cost:{t}": f for t, f in pm.costs.items() if terms is None or t in terms} \
        | {f"intent:{t}": f for t, f in pm.intents.items() if terms is None or t in terms}
    keys = list(vectors)
    C = np.concatenate([vectors[key][:, policy].T for key in keys], axis=1)  # (n, (k + 1) * len(keys))
    V = chain_values(P_pi, float(model.discount), C, solve_states)
    V[~evaluated] = np.nan
    V_total = V[:, : k + 1]  # (n, k + 1)
    gap = total.T + model.discount * (model.P @ np.nan_to_num(V_total, nan=0.0)) - V_total[model.row_state]
    leaves = (model.P @ (~evaluated).astype(np.float64)) > 0
    gap[leaves | ~evaluated[model.row_state]] = np.nan
    lo = np.array([float(p.lo) for p in pm.params])
    hi = np.array([float(p.hi) for p in pm.params])
    with np.errstate(over="ignore", invalid="ignore"):  # a box to 1e308 overflows: such a row counts as near
        low = gap[:, 0] + np.minimum(gap[:, 1:] * lo, gap[:, 1:] * hi).sum(axis=1)  # the least gap on the box
    far = low > _NEAR * max(1.0, float(np.abs(total).max(initial=0.0)))
    near = np.flatnonzero(~np.isnan(gap).any(axis=1) & ~far)
    starts, weights = model.start_states, model.start_probabilities  # the values at the start: their average
    initial: dict[str, FloatArray | Affine] = {key: weights @ V[starts, j * (k + 1):(j + 1) * (k + 1)]
                                               for j, key in enumerate(keys)}
    exact_gaps = exact_values = None
    if exact:
        exact_gaps, exact_initial, exact_values = _exact(pm, policy, evaluated, vectors, near)
        initial = dict(exact_initial)
    total_initial = initial.pop("")
    return PolicyGaps(policy, gap, near, exact_gaps, initial, total_initial, V_total, exact_values)


def _exact(pm: ParametricModel, policy: npt.NDArray[np.int64], evaluated: npt.NDArray[np.bool_],
           vectors: dict[str, FloatArray], rows: npt.NDArray[np.int64]
           ) -> tuple[dict[int, Affine], dict[str, Affine], dict[int, Affine]]:
    """Exact gaps of ``rows``, initial values and state values, each feature solved in rational arithmetic."""
    model = pm.model
    k = pm.k
    inside_rows = evaluated[model.row_state] & ~((model.P @ (~evaluated).astype(np.float64)) > 0)
    problem = from_model(model, np.zeros(model.n_rows), 0.0, None, inside_rows)
    solver = ExactProblem(problem, [])
    core_row = np.full(model.n_rows, -1, dtype=np.int64)
    core_row[problem.rows] = np.arange(problem.m)
    core_state = np.full(model.n_states, -1, dtype=np.int64)
    core_state[problem.states] = np.arange(problem.n)
    pi = core_row[policy[problem.states]]
    total = pm.rational_features
    core_rows = problem.rows.tolist()
    values: dict[str, list[list[Fraction]]] = {}
    for key in vectors:
        features = total if key == "" else pm.exact_features[key.split(":", 1)[1]]
        values[key] = []
        for i in range(k + 1):
            solver.cost = [features[i][r] for r in core_rows]
            values[key].append(solver.evaluate(pi) if any(solver.cost) else [Fraction(0)] * problem.n)
    pairs = [(int(core_state[s]), p) for s, p in (model.starts or ((model.initial, Fraction(1)),))]
    initial = {key: tuple(sum((p * v[i][s] for s, p in pairs), Fraction(0)) for i in range(k + 1))
               for key, v in values.items()}
    total_values = values[""]
    gaps: dict[int, Affine] = {}
    gamma = solver.gamma
    for r in rows.tolist():
        c = core_row[r]
        if c < 0:
            continue
        s = int(problem.row_state[c])
        gaps[r] = tuple(total[i][r] + gamma * sum((p * total_values[i][j] for j, p in solver.row_entries[c]),
                                                  Fraction(0))
                        - total_values[i][s] for i in range(k + 1))
    states = {int(state): tuple(total_values[i][j] for i in range(k + 1)) for j, state in enumerate(problem.states)}
    return gaps, initial, states


def state_features(pm: ParametricModel, expr: Expr) -> list[list[Fraction]]:
    """(k + 1, n) a number per state (a hand-written critic) as an affine function of the swept params, in the
    spec's rationals: its value at ``w = 0`` and the change of a unit step in each param. ``expr`` must be
    affine in them (:func:`dsl.typecheck.is_affine_in_params`)."""
    model, spec = pm.model, pm.spec
    base = {p.name: p.value for p in spec.params} | {p.name: Fraction(0) for p in pm.params}
    codes = model.state_codes
    columns = list(codes.T) if codes is not None else []

    def values(params: dict[str, Fraction]) -> list[Fraction]:
        out = vectorize(expr, params).exact_at(columns)
        out = np.broadcast_to(out, (model.n_states,)) if out.size != model.n_states else out
        return [Fraction(v) for v in out.tolist()]
    at_zero = values(base)
    mentioned = {getattr(node, "name", None) for node in expr.traverse()}
    return [at_zero] + [[a - b for a, b in zip(values({**base, p.name: Fraction(1)}), at_zero)]
                        if p.name in mentioned else [Fraction(0)] * model.n_states for p in pm.params]


@dataclass(frozen=True, eq=False)
class PlanConditions:
    """What an ``H``-step planner (:func:`mdp.planner.plan`) does at a weight vector, and where it does the same.

    With the decision rules of its stages fixed, every planned cost is affine in the weights (costs are, and so
    is the critic where plans end), so the set where every decision rule the plan depends on stays the same
    (the same rows tie for the least planned cost, the others stay above them) is a relatively open polyhedron:
    ``conditions > 0`` inside, with the hull of the point's ties (a generic point ties only where the rows tie
    on the whole hull).
    """

    rows: BoolArray  # (m,) the rows the planner may take at the point: its least planned cost, ties kept
    reach: BoolArray  # (n,) the states those rows reach from the start
    conditions: tuple[Affine, ...]  # planned cost of a row minus that of a tied row, where they do not tie


def plan_conditions(pm: ParametricModel, critic: Sequence[Sequence[Fraction]] | None, steps: int,
                    point: Sequence[Fraction]) -> PlanConditions:
    """The planner's rows at ``point`` and the polyhedron where its decisions stay the same, exactly.

    The stages are those of :func:`mdp.planner.plan`, as affine functions ``(a_0, a_1, ..., a_k)`` of the
    weights: ``W_0 = critic`` (0 at terminal states), ``Q_j(r) = c(r) + gamma P(r) W_{j-1}`` and ``W_j(s) =
    Q_j(first row of s tied for the least Q_j at point)``; the plan's rows are those tied for the least ``Q_H``.
    The conditions are taken where the plan depends on them: at stage ``H`` in the states the plan reaches, and
    at stage ``j - 1`` in the successors of every row of a state of stage ``j`` (its planned costs read ``W_{j-1}``
    there). Every other row of such a state must stay above the tie: ``Q_j(r) - Q_j(tied) > 0``. Needs the
    model's exact numbers; ``critic``: ``(k + 1, n)`` as :func:`state_features` (None: 0).
    """
    model = pm.model
    numbers = model.exact
    n, m, k = model.n_states, model.n_rows, pm.k
    gamma = numbers.discount
    terminal = np.asarray(model.terminal, dtype=bool)
    zero: Affine = (Fraction(0),) * (k + 1)
    features = pm.rational_features
    cost = [tuple(features[i][r] for i in range(k + 1)) for r in range(m)]
    W = [zero if critic is None or terminal[s] else tuple(critic[i][s] for i in range(k + 1)) for s in range(n)]
    indptr, indices = model.P.indptr.tolist(), model.P.indices.tolist()
    groups = np.asarray(model.row_groups, dtype=np.int64).tolist()
    at = (Fraction(1), *point)

    def stage(W: list[Affine]) -> tuple[list[Affine], list[list[int]]]:
        """Every row's planned cost given ``W``, and each state's rows tied for the least one at ``point``."""
        Q = []
        for r in range(m):
            total = list(cost[r])
            for e in range(indptr[r], indptr[r + 1]):
                p, w = gamma * numbers.P[e], W[indices[e]]
                for i in range(k + 1):
                    total[i] += p * w[i]
            Q.append(tuple(total))
        values = [sum((a * x for a, x in zip(q, at)), Fraction(0)) for q in Q]
        tied = []
        for s in range(n):
            group = range(groups[s], groups[s + 1])
            best = min(values[r] for r in group)
            tied.append([r for r in group if values[r] == best])
        return Q, tied

    stages: list[tuple[list[Affine], list[list[int]]]] = []  # stages[j - 1]: Q_j and its ties, j = 1 .. H
    while len(stages) < steps:
        stages.append(stage(W))
        if len(stages) == steps:
            break
        Q, tied = stages[-1]
        after = [zero if terminal[s] else Q[tied[s][0]] for s in range(n)]
        if after == W:  # a fixed point: every later stage is this one
            stages += [stages[-1]] * (steps - len(stages))
            break
        W = after
    rows = np.zeros(m, dtype=bool)
    rows[[r for group in stages[-1][1] for r in group]] = True
    reach = reachable_states(model, rows)
    conditions: dict[Affine, None] = {}
    states = reach & ~terminal
    done: set[tuple[int, int]] = set()  # (stage, state) pairs taken, by the identity of the stage (repeats share one)
    row_state = model.row_state
    for Q, tied in reversed(stages):
        for s in np.flatnonzero(states).tolist():
            if (id(Q), s) in done:
                continue
            done.add((id(Q), s))
            chosen = Q[tied[s][0]]
            for r in range(groups[s], groups[s + 1]):
                if r not in tied[s]:
                    conditions[tuple(a - b for a, b in zip(Q[r], chosen))] = None
        successors = (model.P.T @ states[row_state].astype(np.float64)) > 0
        states = successors & ~terminal
    return PlanConditions(rows, reach, tuple(conditions))
