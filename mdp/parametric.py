"""Costs as affine functions of the params, and a fixed policy's values and gaps as affine functions too.

A ``param`` enters cost and intent terms linearly (the type checker enforces it) and nowhere else, so
every weight vector ``w`` gives the same states and transitions, and the cost of row ``r`` in term ``t``
is ``c_t(w)[r] = c_t0[r] + sum_i w_i c_ti[r]``. For a fixed policy ``pi`` the value is then affine in
``w`` as well, ``V^pi_w = V^pi_0 + sum_i w_i V^pi_i`` (one linear solve per feature), and so is the gap
``Q^pi_w(r) - V^pi_w(s)`` of every row: ``pi`` is optimal exactly where all these gaps are >= 0, a
polyhedron in weight space (:mod:`verifier.sweep` builds the regions from it).

Exact mode reads the float features back as rationals (:func:`mdp.solver._rational`, which recovers the
decimals a spec writes) and solves the policy's equations in rational arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.spec import Parameter, Spec, Term

from .expressions import vectorize
from .model import TabularMDP
from .solver import _ExactCore, _linear_solve, _make_core, _rational, _rationals, _system, _terminates_surely

__all__ = ["ParametricModel", "PolicyGaps", "parametric", "policy_gaps"]

FloatArray = npt.NDArray[np.float64]
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
    def rational_features(self) -> list[list[Fraction]]:
        """(k + 1, m) the total cost's features, each term's read back as the rationals the spec denotes
        (:func:`mdp.solver._rational`) and then summed, as the exact solver sums the terms of a row."""
        features = [[Fraction(0)] * self.model.n_rows for _ in range(self.k + 1)]
        for term in self.costs.values():
            features = [[a + b for a, b in zip(row, _rationals(values))] for row, values in zip(features, term)]
        return features

    def exact_costs(self, weights: Sequence[Fraction]) -> list[Fraction]:
        """The total cost of every row at ``weights``, exactly: for ``solve(..., exact_costs=...)``, since the
        float costs of :meth:`at` may not read back as the true rationals at weights with long denominators."""
        f = self.rational_features
        return [f[0][r] + sum((w * f[1 + i][r] for i, w in enumerate(weights) if w), Fraction(0))
                for r in range(self.model.n_rows)]

    def at(self, weights: Sequence[Fraction | float]) -> TabularMDP:
        """The model with the swept params at ``weights``: same states and transitions, new costs."""
        w = np.array([1.0] + [float(x) for x in weights])
        return replace(self.model, costs={t: w @ f for t, f in self.costs.items()},
                       intents={t: w @ f for t, f in self.intents.items()})


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
    base = {p.name: p.value for p in spec.params}
    for p in swept:
        base[p.name] = Fraction(0)
    codes = model.state_codes
    columns = list(codes[model.row_state].T) if codes is not None else []
    actions = np.asarray(model.action_names, dtype=object)[model.row_action]
    live = ~np.asarray(model.terminal, dtype=bool)[model.row_state]

    def features(term: Term) -> FloatArray:
        out = np.zeros((len(swept) + 1, model.n_rows))
        at_zero = vectorize(term.expr, base)(columns, actions, size=model.n_rows, where=live)
        out[0] = at_zero
        for i, p in enumerate(swept, start=1):
            mentions = any(getattr(n, "name", None) == p.name for n in term.expr.traverse())
            if mentions:
                unit = vectorize(term.expr, {**base, p.name: Fraction(1)})
                out[i] = _difference(unit(columns, actions, size=model.n_rows, where=live), at_zero)
        out[:, ~live] = 0.0  # the terminal self-loop costs nothing
        return out

    intent_params = frozenset(p.name for p in swept for t in spec.intents
                              if any(getattr(n, "name", None) == p.name for n in t.expr.traverse()))
    return ParametricModel(model, swept, {t.name: features(t) for t in spec.costs},
                           {t.name: features(t) for t in spec.intents}, intent_params)


def _difference(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a - b``, rounded from the rationals the floats denote (3.1 - 3 is 0.1, not 0.10000000000000009), so
    that exact mode reads each coefficient back as the decimal the spec wrote."""
    out = a - b
    inexact = np.flatnonzero((a != 0) & (b != 0))
    if inexact.size:
        pairs, where = np.unique(np.stack([a[inexact], b[inexact]], axis=1), axis=0, return_inverse=True)
        exact = np.array([float(_rational(x) - _rational(y)) for x, y in pairs.tolist()])
        out[inexact] = exact[where.reshape(-1)]
    return out


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
    solve_states = np.ones(n, dtype=bool) if model.discount < 1 else _terminates_surely(P_pi, terminal) & ~terminal
    evaluated = solve_states | (terminal if model.discount == 1 else False)
    total = pm.total()
    vectors = {"": total} | {f"cost:{t}": f for t, f in pm.costs.items() if terms is None or t in terms} \
        | {f"intent:{t}": f for t, f in pm.intents.items() if terms is None or t in terms}
    keys = list(vectors)
    C = np.concatenate([vectors[key][:, policy].T for key in keys], axis=1)  # (n, (k + 1) * len(keys))
    V = np.zeros((n, C.shape[1]))
    idx = np.flatnonzero(solve_states)
    if idx.size:
        V[idx] = _linear_solve(_system(P_pi, idx, model.discount), C[idx])
    V[~evaluated] = np.nan
    V_total = V[:, : k + 1]  # (n, k + 1)
    gap = total.T + model.discount * (model.P @ np.nan_to_num(V_total, nan=0.0)) - V_total[model.row_state]
    leaves = (model.P @ (~evaluated).astype(np.float64)) > 0
    gap[leaves | ~evaluated[model.row_state]] = np.nan
    lo = np.array([float(p.lo) for p in pm.params])
    hi = np.array([float(p.hi) for p in pm.params])
    low = gap[:, 0] + np.minimum(gap[:, 1:] * lo, gap[:, 1:] * hi).sum(axis=1)  # the least gap on the box
    near = np.flatnonzero(~np.isnan(low) & (low <= _NEAR * max(1.0, float(np.abs(total).max(initial=0.0)))))
    s0 = model.initial
    initial: dict[str, FloatArray | Affine] = {key: V[s0, j * (k + 1):(j + 1) * (k + 1)].copy()
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
    core = _make_core(model, np.zeros(model.n_rows), np.zeros(model.n_rows), evaluated, inside_rows)
    solver = _ExactCore(core, replace(model, costs={}))
    core_row = np.full(model.n_rows, -1, dtype=np.int64)
    core_row[core.rows] = np.arange(core.m)
    core_state = np.full(model.n_states, -1, dtype=np.int64)
    core_state[core.states] = np.arange(core.n)
    pi = core_row[policy[core.states]]
    total = pm.rational_features  # the total's terms summed in rationals (vectors[""] sums them in floats)
    core_rows = core.rows.tolist()
    values: dict[str, list[list[Fraction]]] = {}
    for key, features in vectors.items():
        values[key] = []
        for i in range(k + 1):
            solver.cost = [total[i][r] for r in core_rows] if key == "" else _rationals(features[i, core.rows])
            values[key].append(solver.evaluate(pi) if any(solver.cost) else [Fraction(0)] * core.n)
    s0 = int(core_state[model.initial])
    initial = {key: tuple(v[i][s0] for i in range(k + 1)) for key, v in values.items()}
    total_values = values[""]
    gaps: dict[int, Affine] = {}
    gamma = solver.gamma
    for r in rows.tolist():
        c = core_row[r]
        if c < 0:
            continue
        s = int(core.row_state[c])
        gaps[r] = tuple(total[i][r] + gamma * sum((p * total_values[i][j]
                                                                    for j, p in solver.row_entries[c]), Fraction(0))
                        - total_values[i][s] for i in range(k + 1))
    states = {int(state): tuple(total_values[i][j] for i in range(k + 1)) for j, state in enumerate(core.states)}
    return gaps, initial, states
