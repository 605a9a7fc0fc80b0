"""Optimal values and certified optimal action sets of a :class:`~mdp.model.TabularMDP`.

Every later check quantifies over *all* optimal policies, so the product of this module is not one
policy but the set ``A*(s)`` of optimal rows of every state, ties included, with a bound that says how
far the computed values can be from the true ones.

Costs are *minimised*: ``V*(s) = min_r Q(r)`` over the rows ``r`` of ``s``, where
``Q(r) = cost[r] + gamma * sum_j P[r, j] * V*(j)``. The pipeline of :func:`solve`:

1. value iteration on an action-major copy of ``P`` (fast minimum over actions, MacQueen/Porteus
   bounds, a sound absolute stopping rule);
2. policy iteration from the greedy policy, each policy evaluated by a linear solve;
3. a float-roundoff-aware Bellman check that yields the certified ``bound`` and the threshold ``delta``
   that separates certainly suboptimal rows from possibly optimal ones;
4. for ``discount == 1`` (stochastic shortest path) the graph analysis that makes the problem well posed;
5. optionally (``exact=True``) a re-check in rational arithmetic.
"""

from __future__ import annotations

import heapq
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from dsl.errors import CorrigoError, Diagnostic, ResourceLimitError

from .graph import reachable_states
from .model import TERMINAL_ACTION, ModelError, TabularMDP
from .tables import html_table, markdown_table

try:  # y += A @ x in place, without allocating the product (scipy's own kernel behind ``A @ x``)
    from scipy.sparse._sparsetools import csr_matvec
    _csr_matvec: Callable[..., None] | None = csr_matvec
except ImportError:  # pragma: no cover - private API; fall back to the public product
    _csr_matvec = None

__all__ = ["Solution", "SolverError", "solve"]

_U = 2.0**-53  # unit roundoff of float64
_DENSE_LIMIT = 1500  # linear systems up to this size are solved densely (LAPACK)
_KRYLOV_MAXITER = 100  # bicgstab iterations before falling back to a sparse LU
_PROGRESS_EVERY = 50  # VI sweeps between two progress reports
_SSP_WARM_START_SWEEPS = 2000  # discount 1: VI is only a warm start for policy iteration
_DISPLAY_ROWS = 50  # states shown in a notebook view of a solution

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class SolverError(CorrigoError):
    """The solver did not reach the requested accuracy within its iteration limit.

    Attributes
    ----------
    iterations
        Sweeps (or policy-iteration steps) done before giving up.
    residual
        The last ``max |V_{k+1} - V_k|`` (or Bellman residual), in cost units.
    """

    def __init__(self, message: str, iterations: int | None = None, residual: float | None = None) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable across processes
        return (type(self), (self.args[0], self.iterations, self.residual))


@dataclass(frozen=True, eq=False)
class Solution:
    """Optimal values, Q-values and certified optimal action sets of a model, as returned by :func:`solve`.

    Shapes: ``n`` states, ``m`` rows (state-action choices) of :attr:`model`.

    Attributes
    ----------
    model
        The solved model.
    V
        ``(n,)`` optimal expected (discounted) total cost from every state. ``+inf`` (discount 1 only) at
        states, not reachable from the initial state, from which no policy terminates almost surely.
    Q
        ``(m,)`` ``cost[r] + discount * P[r] @ V``, computed in floats from :attr:`V` (``+inf`` for rows
        that leave the states with finite value).
    optimal
        ``(m,)`` row mask of ``A*(s)``: every truly optimal row is in it (``gap <= delta``), rows outside
        it are certainly suboptimal. Never empty for a state. With ``exact=True``: exactly the optimal rows.
    gap
        ``(m,)`` ``Q - V[row_state]`` computed in floats. With ``exact=True``: the exact gap rounded (so
        exactly 0 on optimal rows) on every row whose float gap is within the numerical uncertainty, the
        float gap from the rounded exact ``V`` on the others (which are certainly suboptimal); ``Q``
        likewise.
    bound
        Certified ``max_s |V[s] - V*(s)|`` for the model as given by its floats (0 with ``exact=True``:
        ``V`` is then the exact value rounded to the nearest float).
    delta
        The gap below which a row counts as possibly optimal (0 with ``exact=True``).
    ties
        States with more than one row in ``A*(s)``: exact ties or near-ties inside the numerical
        uncertainty (exact ties only with ``exact=True``). Never broken silently.
    policy
        ``(n,)`` a representative optimal row per state: the policy policy iteration ended with (for
        discount 1 a proper one, terminating almost surely).
    iterations
        Value-iteration sweeps.
    policy_iterations
        Policy evaluations (linear solves) of the policy-iteration phase, including the exact ones.
    exact
        Whether :attr:`optimal` and :attr:`ties` were decided in rational arithmetic.
    """

    model: TabularMDP
    V: FloatArray  # (n,)
    Q: FloatArray  # (m,)
    optimal: BoolArray  # (m,)
    gap: FloatArray  # (m,)
    bound: float
    delta: float
    ties: IntArray  # (k,) states
    policy: IntArray  # (n,) rows
    iterations: int
    policy_iterations: int
    exact: bool

    @property
    def value(self) -> float:
        """The optimal value at the model's initial state."""
        return float(self.V[self.model.initial])

    def optimal_rows(self, state: int) -> IntArray:
        """The rows of ``A*(state)``."""
        rows = np.arange(self.model.row_groups[state], self.model.row_groups[state + 1])
        return rows[self.optimal[rows]]

    def optimal_actions(self, state: int) -> tuple[str, ...]:
        """The names of the actions in ``A*(state)``, in row order."""
        model = self.model
        return tuple(model.action_names[model.row_action[r]] for r in self.optimal_rows(state))

    def term_values(self, policy: npt.ArrayLike | None = None) -> dict[str, FloatArray]:
        """Expected (discounted) total of every cost term under ``policy``, from every state.

        The terms add up to the policy's value; ``corrigo solve`` prints this split. One sparse
        factorisation (or Krylov solve per term) of ``I - discount * P_policy``.

        Parameters
        ----------
        policy
            ``(n,)`` one row per state (global row indices, ``policy[s]`` a row of ``s``); default
            :attr:`policy`, a representative optimal policy.

        Returns
        -------
        dict[str, numpy.ndarray]
            ``term -> (n,)`` values. With discount 1, ``nan`` at states from which ``policy`` does not
            terminate almost surely.

        Raises
        ------
        ValueError
            If ``policy`` has the wrong shape or picks a row of another state.
        """
        model = self.model
        rows = self.policy if policy is None else np.asarray(policy, dtype=np.int64)
        if rows.shape != (model.n_states,):
            raise ValueError(f"policy has shape {rows.shape}, expected ({model.n_states},): one row per state")
        if ((rows < model.row_groups[:-1]) | (rows >= model.row_groups[1:])).any():
            s = int(np.flatnonzero((rows < model.row_groups[:-1]) | (rows >= model.row_groups[1:]))[0])
            raise ValueError(f"policy[{s}] = {rows[s]} is not a row of state {s}: "
                             f"pick one of rows {model.row_groups[s]}..{model.row_groups[s + 1] - 1}")
        terms = list(model.costs)
        C = np.column_stack([np.asarray(model.costs[t], dtype=np.float64)[rows] for t in terms]) if terms \
            else np.zeros((model.n_states, 0))
        P_pi = sp.csr_array(model.P[rows])
        out = np.full((model.n_states, len(terms)), np.nan)
        if model.discount < 1:
            solve_states = np.ones(model.n_states, dtype=bool)
        else:
            solve_states = _terminates_surely(P_pi, model.terminal) & ~model.terminal
            out[model.terminal] = 0.0
        idx = np.flatnonzero(solve_states)
        if idx.size:
            A = _system(P_pi, idx, model.discount)
            X = _linear_solve(A, C[idx])
            out[idx] = X
        return {t: out[:, i].copy() for i, t in enumerate(terms)}

    def _repr_markdown_(self) -> str:
        """A notebook view: the value, then the optimal actions of the states optimal play reaches."""
        title, header, rows, more = self._display()
        return "\n\n".join([title, markdown_table(header, rows, right=[2]), *more]) + "\n"

    def _repr_html_(self) -> str:
        title, header, rows, more = self._display()
        paragraphs = [f"<p>{html.escape(line)}</p>" for line in (title, *more)]
        return "\n".join([paragraphs[0], html_table(header, rows, right=[2]), *paragraphs[1:]]) + "\n"

    def _display(self, limit: int = _DISPLAY_ROWS) -> tuple[str, list[str], list[list[str]], list[str]]:
        """Title, table header, table rows (at most ``limit``) and a note on rows left out."""
        model = self.model
        error = "exact" if self.exact else f"certified error <= {self.bound:.2g}"
        title = (f"model {model.name}: {model.n_states:,} states, {model.n_rows:,} choices, discount "
                 f"{model.discount:g}; optimal value {self.value:.6g} ({error}) from {model.describe(model.initial)}")
        states = np.flatnonzero(reachable_states(model, self.optimal))
        ties = set(np.asarray(self.ties).tolist())
        rows = [[model.describe(int(s)),
                 " | ".join(a for a in self.optimal_actions(int(s)) if a != TERMINAL_ACTION) or "(terminal)",
                 f"{float(self.V[s]):.6g}" + (" (tie)" if int(s) in ties else "")]
                for s in states[:limit]]
        more = [f"... {states.size - limit:,} more states reached under optimal play"] if states.size > limit else []
        return title, ["state", "optimal actions", "value"], rows, more


# --------------------------------------------------------------------------------------------------
# The core problem: the states and rows the numerical work runs on


@dataclass(frozen=True, eq=False)
class _Core:
    """The sub-model the numerics run on: all of it for discount < 1, the proper part for discount 1.

    Indices here are *core* indices; ``states`` and ``rows`` map them back to the model's.
    """

    states: IntArray  # (n',) model state of each core state, increasing
    rows: IntArray  # (m',) model row of each core row, increasing (so grouped by state)
    P: sp.csr_array  # (m', n') columns are core states; no explicit zeros
    groups: IntArray  # (n' + 1,)
    row_state: IntArray  # (m',)
    c: FloatArray  # (m',) total cost in floats
    cost_error: float  # bound on |c - exact sum of the cost terms| over all rows
    terminal: BoolArray  # (n',)
    gamma: float
    kmax: int  # most successors of a row
    rowsum: float  # largest row sum of P (computed)

    @property
    def n(self) -> int:
        return int(self.states.size)

    @property
    def m(self) -> int:
        return int(self.rows.size)


def _make_core(model: TabularMDP, cost: FloatArray, cost_error: FloatArray,
               states: BoolArray | None = None, rows: BoolArray | None = None) -> _Core:
    """Restrict ``model`` to ``states`` and ``rows`` (rows must only lead into ``states``)."""
    # scipy-stubs before 1.18 has no overload for a sparse argument with a dtype, which scipy accepts
    P = sp.csr_array(model.P, dtype=np.float64)  # type: ignore[call-overload, unused-ignore]  # shares its arrays
    if (P.data == 0).any() or not P.has_sorted_indices:
        P = sp.csr_array(P, copy=True)
        P.eliminate_zeros()
        P.sort_indices()
    if states is None or rows is None:
        state_idx = np.arange(model.n_states, dtype=np.int64)
        row_idx = np.arange(model.n_rows, dtype=np.int64)
        groups = np.asarray(model.row_groups, dtype=np.int64)
    else:
        state_idx = np.flatnonzero(states).astype(np.int64)
        row_idx = np.flatnonzero(rows).astype(np.int64)
        new_index = np.full(model.n_states, -1, dtype=np.int64)
        new_index[state_idx] = np.arange(state_idx.size)
        P = sp.csr_array(P[row_idx])
        P.indices = new_index[P.indices].astype(P.indices.dtype)
        P = sp.csr_array((P.data, P.indices, P.indptr), shape=(row_idx.size, state_idx.size))
        counts = np.bincount(new_index[model.row_state[row_idx]], minlength=state_idx.size)
        groups = np.zeros(state_idx.size + 1, dtype=np.int64)
        np.cumsum(counts, out=groups[1:])
    row_state = np.repeat(np.arange(state_idx.size, dtype=np.int64), np.diff(groups))
    lengths = np.diff(P.indptr)
    nonempty = np.flatnonzero(lengths)
    sums = np.add.reduceat(np.abs(P.data), P.indptr[nonempty]) if nonempty.size else np.zeros(0)
    return _Core(kmax=int(lengths.max(initial=1)), rowsum=float(sums.max(initial=0.0)),states=state_idx, rows=row_idx, P=P, groups=groups, row_state=row_state,
                 c=np.ascontiguousarray(cost[row_idx]),
                 cost_error=float(cost_error[row_idx].max(initial=0.0)),
                 terminal=np.asarray(model.terminal, dtype=bool)[state_idx], gamma=float(model.discount))


# --------------------------------------------------------------------------------------------------
# Value iteration


class _SweepLayout:
    """An action-major copy of the core for fast Bellman sweeps.

    States are renumbered by decreasing action count (stable, so usually the identity), and rows are
    stored slot by slot: slot ``j`` holds the ``j``-th row of the first ``n_j`` states. The minimum over
    actions is then ``n_slots - 1`` calls of ``np.minimum`` on contiguous prefixes: no padding, no
    ``reduceat``, no allocation in the loop.
    """

    def __init__(self, core: _Core) -> None:
        counts = np.diff(core.groups)
        n = core.n
        self.n = n
        self.gamma = core.gamma
        self.perm = np.argsort(-counts, kind="stable")  # internal i is core state perm[i]
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[self.perm] = np.arange(n)
        n_slots = int(counts.max(initial=0))
        # n_j = number of states with more than j rows
        self.slot_sizes = [int(x) for x in n - np.cumsum(np.bincount(counts, minlength=n_slots + 1))[:n_slots]]
        rows = np.concatenate([core.groups[self.perm[:nj]] + j for j, nj in enumerate(self.slot_sizes)]) \
            if n_slots else np.zeros(0, dtype=np.int64)
        P = sp.csr_array(core.P[rows]) if rows.size else sp.csr_array((0, n))
        if not np.array_equal(self.perm, np.arange(n)):
            P.indices = self.inv[P.indices].astype(P.indices.dtype)
        self.P = P
        self.indptr, self.indices, self.data = P.indptr, P.indices, P.data
        self.c = np.ascontiguousarray(core.c[rows])
        self.q = np.empty(rows.size)
        self.scaled = np.empty(n)

    def sweep(self, v: FloatArray, out: FloatArray) -> None:
        """``out = T v`` (internal order): ``min`` over slots of ``c + gamma * P v``."""
        n, q = self.n, self.q
        np.multiply(v, self.gamma, out=self.scaled)
        if _csr_matvec is not None:
            np.copyto(q, self.c)
            _csr_matvec(q.size, n, self.indptr, self.indices, self.data, self.scaled, q)
        else:  # pragma: no cover
            np.add(self.c, np.asarray(self.P @ self.scaled), out=q)
        sizes = self.slot_sizes
        if len(sizes) == 1:
            np.copyto(out, q[:n])
            return
        n1 = sizes[1]
        np.minimum(q[:n1], q[n:n + n1], out=out[:n1])
        out[n1:] = q[n1:n]
        offset = n + n1
        for nj in sizes[2:]:
            np.minimum(out[:nj], q[offset:offset + nj], out=out[:nj])
            offset += nj


def _value_iteration(layout: _SweepLayout, eps: float, max_iter: int, progress: Callable[[int, float], object] | None,
                     discounted: bool) -> tuple[FloatArray, int, bool]:
    """Jacobi value iteration from 0; returns ``(V in core order, sweeps, converged)``.

    Discounted: after a sweep with changes ``d = V_{k+1} - V_k`` in ``[lo, hi]``, MacQueen's bounds give
    ``V_{k+1} + g lo <= V* <= V_{k+1} + g hi`` with ``g = gamma / (1 - gamma)``; we stop when
    ``g (hi - lo) / 2 <= eps`` and return the midpoint, within ``eps`` of ``V*`` (in exact arithmetic).
    This is implied by the absolute rule ``max |d| <= eps (1 - gamma) / gamma``. Discount 1: stop when
    ``max |d| <= eps * max(1, max |V|)`` (a warm start only; policy iteration certifies).
    """
    n = layout.n
    v = np.zeros(n)
    w = np.empty(n)
    d = np.empty(n)
    gamma = layout.gamma
    g = gamma / (1.0 - gamma) if discounted else 0.0
    span_limit = 2.0 * eps / g if discounted else 0.0
    residual = math.inf
    for k in range(1, max_iter + 1):
        layout.sweep(v, w)
        np.subtract(w, v, out=d)
        if n == 0:
            return v, k, True
        lo, hi = float(d.min()), float(d.max())
        v, w = w, v
        residual = max(-lo, hi)
        if discounted:
            if hi - lo <= span_limit:
                v += g * 0.5 * (lo + hi)
                return v[layout.inv], k, True
        elif residual <= eps * max(1.0, float(np.abs(v).max(initial=0.0))):
            return v[layout.inv], k, True
        if not math.isfinite(residual):
            break
        if progress is not None and k % _PROGRESS_EVERY == 0:
            progress(k, residual)
    if discounted:
        raise SolverError(
            f"value iteration did not converge in {max_iter} sweeps: the last change was {residual:.3g}, "
            f"the stopping rule needs the span of changes below {span_limit:.3g}; raise max_iter or tol",
            iterations=max_iter, residual=residual)
    return v[layout.inv], max_iter, False


# --------------------------------------------------------------------------------------------------
# Linear algebra


def _system(P_pi: sp.csr_array, idx: IntArray, gamma: float) -> sp.csr_array:
    """``I - gamma * P_pi`` restricted to the states ``idx`` (rows and columns)."""
    sub = sp.csr_array(P_pi[idx][:, idx])
    return sp.csr_array(sp.eye_array(idx.size, format="csr") - gamma * sub)


def _linear_solve(A: sp.csr_array, B: FloatArray, x0: FloatArray | None = None) -> FloatArray:
    """Solve ``A X = B`` for an M-matrix ``A`` (``I - gamma P`` of a proper policy).

    Small systems: dense LAPACK. Larger: bicgstab (fast on well-mixed models, where a sparse LU fills
    in catastrophically), then a sparse LU (fast on structured models, where Krylov methods crawl).
    The result need not be exact: every use is followed by a residual check.
    """
    k = A.shape[0]
    if k == 0:
        return np.zeros(B.shape)
    if k <= _DENSE_LIMIT:
        return scipy.linalg.solve(A.toarray(), B, check_finite=False)
    columns = B.reshape(k, -1)
    X = np.empty(columns.shape)
    for i in range(columns.shape[1]):
        b = columns[:, i]
        scale = float(np.abs(b).max(initial=0.0))
        if scale == 0.0:
            X[:, i] = 0.0
            continue
        x, info = spla.bicgstab(A, b, x0=x0 if (x0 is not None and i == 0) else None,
                                rtol=1e-13, atol=0.0, maxiter=_KRYLOV_MAXITER)
        if info != 0 or not np.isfinite(x).all():
            return spla.splu(sp.csc_array(A), permc_spec="COLAMD").solve(B.reshape(k, -1)).reshape(B.shape)
        X[:, i] = x
    return X.reshape(B.shape)


def _evaluate(core: _Core, pi: IntArray, x0: FloatArray | None = None, rhs: FloatArray | None = None) -> FloatArray:
    """Value of the policy ``pi`` (core rows): ``(I - gamma P_pi) V = c_pi`` (terminals 0 for discount 1)."""
    P_pi = sp.csr_array(core.P[pi])
    b = core.c[pi] if rhs is None else rhs
    V = np.zeros(core.n)
    idx = np.flatnonzero(~core.terminal) if core.gamma == 1.0 else np.arange(core.n)
    if idx.size:
        V[idx] = _linear_solve(_system(P_pi, idx, core.gamma), b[idx], None if x0 is None else x0[idx])
    return V


def _q_values(core: _Core, V: FloatArray) -> FloatArray:
    """``c + gamma * P V`` for every core row, computed as ``c + P (gamma V)``."""
    return core.c + core.P @ (core.gamma * V)


def _group_min(core: _Core, values: FloatArray) -> tuple[FloatArray, IntArray]:
    """Per state: the minimum of ``values`` over its rows and the first row attaining it."""
    mins = np.minimum.reduceat(values, core.groups[:-1]) if core.m else np.zeros(0)
    hits = np.flatnonzero(values == mins[core.row_state])
    first = hits[np.r_[True, core.row_state[hits[1:]] != core.row_state[hits[:-1]]]] if hits.size else hits
    return mins, first.astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Graph algorithms (discount 1)


def _edges(P: sp.csr_array, row_state: IntArray, rows: BoolArray | None = None) -> tuple[IntArray, IntArray]:
    """State-level edges ``(source, target)`` of the rows selected (all by default), positive probability only."""
    nz_row = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    keep = P.data > 0
    if rows is not None:
        keep &= rows[nz_row]
    return row_state[nz_row[keep]], P.indices[keep].astype(np.int64)


def _reach(n: int, source: IntArray, target: IntArray, start: BoolArray,
           backward: bool = False) -> tuple[BoolArray, npt.NDArray[np.int32]]:
    """States reachable from ``start`` along the edges (or that can reach ``start``, if ``backward``).

    Returns the mask and the BFS predecessor of every state (``n`` for the start states, negative if
    unreached): along the edges towards ``start`` when ``backward``.
    """
    if backward:
        source, target = target, source
    starts = np.flatnonzero(start)
    rows = np.concatenate([source, np.full(starts.size, n)])
    cols = np.concatenate([target, starts])
    graph = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1))
    order, pred = csgraph.breadth_first_order(graph, n, directed=True, return_predecessors=True)
    mask = np.zeros(n + 1, dtype=bool)
    mask[order] = True
    return mask[:n], pred[:n]


def _row_leaves(P: sp.csr_array, inside: BoolArray) -> BoolArray:
    """Rows with a positive-probability successor outside ``inside``."""
    outside = (~inside[P.indices]) & (P.data > 0)
    nz_row = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    return np.bincount(nz_row, weights=outside, minlength=P.shape[0]) > 0


def _prob1e(P: sp.csr_array, row_state: IntArray, n: int, target: BoolArray
            ) -> tuple[BoolArray, BoolArray, npt.NDArray[np.int32]]:
    """States from which some policy reaches ``target`` with probability 1 (the standard nested fixed point).

    Returns ``(states, rows, predecessor)``: the set, the rows that stay inside it, and for every state
    of the set the successor one BFS layer closer to ``target`` along those rows.
    """
    inside = np.ones(n, dtype=bool)
    while True:
        rows = inside[row_state] & ~_row_leaves(P, inside)
        source, dest = _edges(P, row_state, rows)
        reached, pred = _reach(n, source, dest, target, backward=True)
        if np.array_equal(reached, inside):
            return inside, rows, pred
        inside = reached


def _terminates_surely(P_pi: sp.csr_array, terminal: BoolArray) -> BoolArray:
    """States from which the Markov chain ``P_pi`` (one row per state) reaches ``terminal`` almost surely."""
    n = terminal.size
    source, dest = _edges(P_pi, np.arange(n, dtype=np.int64))
    can, _ = _reach(n, source, dest, terminal, backward=True)
    doomed, _ = _reach(n, source, dest, ~can, backward=True)  # can reach a state that cannot terminate
    return ~doomed


# --------------------------------------------------------------------------------------------------
# Messages


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


def _render_path(model: TabularMDP, states: list[int], rows: list[int]) -> str:
    """``s=0 --a--> s=1 --b--> s=2`` (long paths shortened in the middle)."""
    parts = [f"({model.describe(states[0])})"]
    for r, s in zip(rows, states[1:]):
        parts.append(f"--{_action(model, r)}--> ({model.describe(s)})")
    if len(parts) > 12:
        parts = parts[:4] + [f"... {len(parts) - 10} more steps ..."] + parts[-6:]
    return " ".join(parts)


def _path_from_initial(model: TabularMDP, goal: int, rows: BoolArray | None = None) -> str | None:
    """A shortest path from the initial state to ``goal`` along ``rows`` (all rows by default)."""
    source, dest = _edges(sp.csr_array(model.P), model.row_state, rows)
    start = np.zeros(model.n_states, dtype=bool)
    start[model.initial] = True
    reached, pred = _reach(model.n_states, source, dest, start)
    if not reached[goal]:
        return None
    states = [goal]
    while states[-1] != model.initial:
        states.append(int(pred[states[-1]]))
    states.reverse()
    path_rows = [_row_to(model, u, v, rows) for u, v in zip(states, states[1:])]
    return _render_path(model, states, path_rows)


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
    return _render_path(model, states[first:] + [s], rows[first:])


def _successors(model: TabularMDP, row: int) -> IntArray:
    lo, hi = model.P.indptr[row], model.P.indptr[row + 1]
    return model.P.indices[lo:hi][model.P.data[lo:hi] > 0].astype(np.int64)


def _loop_error(model: TabularMDP, rows: BoolArray, states: BoolArray, reason: str, hint: str) -> ModelError:
    """A :class:`ModelError` naming a cycle that stays in ``states`` using only ``rows`` (model indices)."""
    start = int(np.flatnonzero(states)[0])

    def next_row(s: int) -> int:
        candidates = [r for r in model.rows(s) if rows[r] and states[_successors(model, r)].all()]
        candidates = candidates or [r for r in model.rows(s) if rows[r]] or list(model.rows(s))
        # prefer a row that moves, so the cycle shows more than a self-loop when there is one
        moving = [r for r in candidates if (_successors(model, r) != s).any()]
        return (moving or candidates)[0]

    def next_state(r: int) -> int:
        succ = _successors(model, r)
        inside = succ[states[succ]]
        pool = inside if inside.size else succ
        others = pool[pool != model.row_state[r]]
        return int(others[0] if others.size else pool[0])

    cycle = _cycle(model, start, next_row, next_state)
    path = _path_from_initial(model, start)
    if start == model.initial:
        notes: tuple[str, ...] = ()
    elif path is not None:
        notes = (f"reached from the initial state by {path}",)
    else:
        notes = ("this cycle is not reachable from the initial state",)
    return ModelError(Diagnostic(f"{reason}: {cycle}", model.discount_span, hint=hint, notes=notes), model.source)


# --------------------------------------------------------------------------------------------------
# Certification


@dataclass(frozen=True)
class _Roundoff:
    """Float-error budget of one Bellman evaluation ``Q = c + P (gamma V)``, in cost units.

    ``q`` bounds ``|Q_computed(r) - Q_exact(r)|`` for every row (``Q_exact`` with the exact sum of the
    cost terms); ``slack`` bounds the error of a computed gap ``Q(r) - V(s)`` or residual, doubled.
    ``rho`` is ``gamma`` times the largest row sum of ``P``, rounded up: the contraction factor.
    """

    q: float
    slack: float
    rho: float
    kmax: int


def _roundoff(core: _Core, V: FloatArray, Q: FloatArray) -> _Roundoff:
    """Recursive summation of ``k`` products: ``|error| <= k u sum |terms|``; three more roundings for
    ``gamma V``, the product by ``gamma`` and the cost, hence ``(kmax + 3) u (|c| + rho |V|)``; plus the
    error of the float total cost; the gap subtraction adds ``u (|Q| + |V|)``. Everything is doubled to
    cover second-order terms with a wide margin."""
    finite_V = V[np.isfinite(V)]
    kmax = core.kmax
    rho = core.gamma * core.rowsum * (1.0 + (kmax + 2) * _U)
    vmax = float(np.abs(finite_V).max(initial=0.0))
    cmax = float(np.abs(core.c).max(initial=0.0))
    finite_Q = Q[np.isfinite(Q)]
    qmax = float(np.abs(finite_Q).max(initial=0.0))
    q = (kmax + 3) * _U * (cmax + rho * vmax) + core.cost_error
    slack = 2.0 * (q + _U * (qmax + vmax))
    return _Roundoff(q=q, slack=slack, rho=rho, kmax=kmax)


def _certify_discounted(core: _Core, V: FloatArray, Q: FloatArray, ro: _Roundoff) -> float:
    """``||V - V*|| <= (||V - TV||_computed + slack) / (1 - rho)`` (contraction of ``T`` with modulus rho)."""
    mins, _ = _group_min(core, Q)
    residual = float(np.abs(V - mins).max(initial=0.0))
    if ro.rho >= 1.0:
        return math.inf
    return (residual + ro.slack) / (1.0 - ro.rho) * (1.0 + 8 * _U)


def _max_steps(core: _Core, model: TabularMDP, rows: BoolArray, pi: IntArray) -> FloatArray:
    """Largest expected number of steps to a terminal over the policies using only ``rows`` (core mask).

    Policy iteration for the maximum, from the proper policy ``pi``. Raises the discount-1 loop
    :class:`ModelError` if ``rows`` contain an end component (a policy that never terminates).
    """
    sigma = pi.copy()
    ones = np.ones(core.n)
    for _ in range(max(100, 2 * core.n)):
        P_sigma = sp.csr_array(core.P[sigma])
        proper = _terminates_surely(P_sigma, core.terminal)
        if not proper.all():
            raise _core_loop_error(core, model, rows, ~proper)
        h = np.maximum(_evaluate(core, sigma, rhs=ones), 0.0)
        steps = 1.0 + core.P @ h
        steps[~rows] = -math.inf
        steps[core.terminal[core.row_state]] = -math.inf
        best = np.maximum.reduceat(steps, core.groups[:-1])
        better = (best > h * (1 + 1e-9) + 1e-9) & ~core.terminal
        if not better.any():
            return h
        hits = np.flatnonzero((steps == best[core.row_state]) & better[core.row_state])
        first = hits[np.r_[True, core.row_state[hits[1:]] != core.row_state[hits[:-1]]]]
        sigma[core.row_state[first]] = first
    return h  # pragma: no cover - policy iteration terminates long before


def _core_loop_error(core: _Core, model: TabularMDP, rows: BoolArray, states: BoolArray) -> ModelError:
    full_rows = np.zeros(model.n_rows, dtype=bool)
    full_rows[core.rows[rows]] = True
    full_states = np.zeros(model.n_states, dtype=bool)
    full_states[core.states[states]] = True
    return _loop_error(
        model, full_rows, full_states,
        "with discount 1 an optimal policy can loop forever",
        "every step of this cycle is optimal (up to rounding), so a cost minimiser need never reach a "
        "terminal state: give the cycle a positive cost, make its states terminal, or use a discount below 1")


def _certify_ssp(core: _Core, model: TabularMDP, V: FloatArray, Q: FloatArray, pi: IntArray,
                 ro: _Roundoff) -> float:
    """Certified ``||V - V*||`` for discount 1, ``V*`` the optimum over proper policies.

    * ``V* - V <= e * max h_pi / kappa``: ``V* <= V_pi`` and ``V - V_pi`` solves ``X = e_pi + P_pi X``,
      with ``e = ||V - T_pi V|| + slack`` and ``h_pi`` the expected steps of ``pi``
      (``h_pi - P_pi h_pi >= kappa``, checked in floats with margin).
    * ``V - V* <= lambda * max h``: ``W = V - lambda h`` is a sub-solution (``W <= T W``) whenever every
      row ``r`` of ``s`` has ``gap_exact(r) >= lambda (P_r h - h(s))``; then ``W <= V*`` because any
      proper optimal policy drives ``P^k W`` to 0. ``h`` starts as ``h_pi`` (so ``lambda`` is about the
      Bellman residual: "residual times the expected number of steps"); rows that break the condition
      (near-ties that lengthen the way to a terminal) are added and ``h`` becomes the largest expected
      number of steps over them. Pure self-loops with non-negative cost satisfy it exactly.
    """
    nonterminal = ~core.terminal
    rs = core.row_state
    gap = Q - V[rs]
    e = float(np.abs(gap[pi][nonterminal]).max(initial=0.0)) + ro.slack
    ones = np.ones(core.n)
    h_pi = np.maximum(_evaluate(core, pi, rhs=ones), 0.0)

    def margin(h: FloatArray) -> float:
        return 2.0 * (ro.kmax + 3) * _U * max(1.0, ro.rho) * float(h.max(initial=0.0))

    D_pi = h_pi - sp.csr_array(core.P[pi]) @ h_pi - margin(h_pi)
    kappa = float(D_pi[nonterminal].min(initial=1.0))
    down = e * float(h_pi.max(initial=0.0)) / kappa if kappa > 0 else math.inf

    lo, hi = core.P.indptr[:-1], core.P.indptr[1:]
    pure_loop = (hi - lo == 1)
    pure_loop[pure_loop] = (core.P.indices[lo[pure_loop]] == rs[pure_loop]) & (core.P.data[lo[pure_loop]] == 1.0)
    exempt = pure_loop & _cost_nonnegative(model, core.rows)
    considered = nonterminal[rs] & ~exempt
    g_low = gap - ro.slack
    members = np.zeros(core.m, dtype=bool)
    members[pi] = True
    h = h_pi
    for _ in range(50):
        D_low = h[rs] - core.P @ h - margin(h)
        positive = considered & (D_low > 0)
        lam = float(np.max(-g_low[positive] / D_low[positive], initial=0.0))
        fail = considered & ~positive & (g_low < lam * -D_low)
        fail |= considered & ~np.isfinite(D_low)
        if not fail.any():
            return max(down, lam * float(h.max(initial=0.0))) * (1.0 + 8 * _U)
        members |= fail
        h = _max_steps(core, model, members, pi)
    return math.inf  # pragma: no cover


def _cost_nonnegative(model: TabularMDP, rows: IntArray) -> BoolArray:
    """Whether the exact sum of the cost terms of each row is >= 0 (Fractions only where signs differ)."""
    terms = [np.asarray(v, dtype=np.float64)[rows] for v in model.costs.values()]
    if not terms:
        return np.ones(rows.size, dtype=bool)
    table = np.column_stack(terms)
    result: BoolArray = np.all(table >= 0, axis=1)
    mixed = np.flatnonzero(~result & (table > 0).any(axis=1))
    for i in mixed:
        result[i] = sum((Fraction(float(x)) for x in table[i]), Fraction(0)) >= 0
    return result


# --------------------------------------------------------------------------------------------------
# Exact re-check


def _rational(x: float) -> Fraction:
    """The number a spec most likely wrote for the float ``x``: the simplest fraction within two ulps.

    Specs write decimals (0.1, 0.95) that floats cannot hold; taking the float bit for bit would split
    ties that hold exactly in the spec (0.1 + 0.2 against 0.3). The simplest fraction with a denominator
    up to 2^32 within two ulps recovers such decimals and their products; a float with none is taken as
    its exact binary value.
    """
    exact = Fraction(x)
    simple = exact.limit_denominator(1 << 32)
    return simple if abs(float(simple) - x) <= 2 * math.ulp(x) else exact


def _rationals(x: npt.ArrayLike) -> list[Fraction]:
    """:func:`_rational` of every float of ``x`` (flattened), each distinct value read once."""
    values, inverse = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    read = [_rational(v) for v in values.tolist()]
    return [read[i] for i in inverse.reshape(-1).tolist()]


class _ExactCore:
    """The core in rational arithmetic: probabilities and costs read back as rationals (:func:`_rational`)."""

    def __init__(self, core: _Core, model: TabularMDP, exact_costs: Sequence[Fraction] | None = None) -> None:
        self.core = core
        self.gamma = _rational(core.gamma)
        P = core.P
        data = _rationals(P.data)
        cols = P.indices.tolist()
        indptr = P.indptr.tolist()
        self.row_entries: list[list[tuple[int, Fraction]]] = [
            [(cols[i], data[i]) for i in range(indptr[r], indptr[r + 1])] for r in range(core.m)]
        if exact_costs is not None:
            self.cost = [exact_costs[r] for r in core.rows.tolist()]
            return
        cost = [Fraction(0)] * core.m
        for vector in model.costs.values():
            cost = [a + b for a, b in zip(cost, _rationals(np.asarray(vector, dtype=np.float64)[core.rows]))]
        self.cost = cost

    def q(self, r: int, V: list[Fraction]) -> Fraction:
        return self.cost[r] + self.gamma * sum((p * V[j] for j, p in self.row_entries[r]), Fraction(0))

    def evaluate(self, pi: IntArray) -> list[Fraction]:
        """The exact value of policy ``pi``: SCC by SCC, sinks first; sparse elimination inside an SCC."""
        core = self.core
        n = core.n
        V = [Fraction(0)] * n
        solve = ~core.terminal if core.gamma == 1.0 else np.ones(n, dtype=bool)
        pi_list = pi.tolist()
        succ = [[(j, p) for j, p in self.row_entries[pi_list[s]] if solve[j]] if solve[s] else [] for s in range(n)]
        src = [s for s in range(n) for j, _ in succ[s]]
        dst = [j for s in range(n) for j, _ in succ[s]]
        graph = sp.csr_array((np.ones(len(src)), (np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64))),
                             shape=(n, n))
        n_comp, label = csgraph.connected_components(graph, directed=True, connection="strong")
        members: list[list[int]] = [[] for _ in range(n_comp)]
        for s in np.flatnonzero(solve).tolist():
            members[label[s]].append(s)
        # Kahn's algorithm on the condensation, sinks first
        out_degree = [0] * n_comp
        parents: list[list[int]] = [[] for _ in range(n_comp)]
        for (a, b) in {(int(label[s]), int(label[j])) for s, j in zip(src, dst) if label[s] != label[j]}:
            out_degree[a] += 1
            parents[b].append(a)
        ready = [k for k in range(n_comp) if out_degree[k] == 0 and members[k]]
        gamma = self.gamma
        while ready:
            k = ready.pop()
            states = members[k]
            if len(states) == 1:
                s = states[0]
                diagonal = Fraction(1)
                rhs = self.cost[pi_list[s]]
                acc = Fraction(0)
                for j, p in succ[s]:
                    if j == s:
                        diagonal -= gamma * p
                    else:
                        acc += p * V[j]
                V[s] = (rhs + gamma * acc) / diagonal
            else:
                self._solve_block(states, succ, pi_list, V)
            for parent in parents[k]:
                out_degree[parent] -= 1
                if out_degree[parent] == 0:
                    ready.append(parent)
        return V

    def _solve_block(self, states: list[int], succ: list[list[tuple[int, Fraction]]], pi: list[int],
                     V: list[Fraction]) -> None:
        """Gaussian elimination on ``(I - gamma P_pi)`` restricted to one SCC, dynamic Markowitz pivots.

        The matrix is a nonsingular M-matrix, so every symmetric ordering has nonzero pivots.
        """
        local = {s: i for i, s in enumerate(states)}
        k = len(states)
        gamma = self.gamma
        rows: list[dict[int, Fraction]] = []
        b: list[Fraction] = []
        cols: list[set[int]] = [set() for _ in range(k)]
        for i, s in enumerate(states):
            row: dict[int, Fraction] = {i: Fraction(1)}
            acc = Fraction(0)
            for j, probability in succ[s]:
                if j in local:
                    li = local[j]
                    row[li] = row.get(li, Fraction(0)) - gamma * probability
                else:
                    acc += probability * V[j]
            row = {j: a for j, a in row.items() if a != 0 or j == i}
            for j in row:
                cols[j].add(i)
            rows.append(row)
            b.append(self.cost[pi[s]] + gamma * acc)
        done = [False] * k
        heap = [((len(rows[i]) - 1) * (len(cols[i]) - 1), i) for i in range(k)]
        heapq.heapify(heap)
        order: list[int] = []
        while heap:
            score, p = heapq.heappop(heap)
            if done[p]:
                continue
            current = (len(rows[p]) - 1) * (len(cols[p]) - 1)
            if current != score:
                heapq.heappush(heap, (current, p))
                continue
            pivot_row = rows[p]
            pivot = pivot_row[p]
            for i in cols[p]:
                if i == p or done[i]:
                    continue
                row = rows[i]
                factor = row.pop(p) / pivot
                for j, a in pivot_row.items():
                    if j == p:
                        continue
                    new = row.get(j, Fraction(0)) - factor * a
                    if new == 0 and j != i:
                        if j in row:
                            del row[j]
                            cols[j].discard(i)
                    else:
                        if j not in row:
                            cols[j].add(i)
                        row[j] = new
                b[i] -= factor * b[p]
            for j in pivot_row:
                cols[j].discard(p)
            done[p] = True
            order.append(p)
        x: list[Fraction] = [Fraction(0)] * k
        for p in reversed(order):
            acc = b[p]
            for j, a in rows[p].items():
                if j != p:
                    acc -= a * x[j]
            x[p] = acc / rows[p][p]
        for i, s in enumerate(states):
            V[s] = x[i]


def _exact_refine(core: _Core, model: TabularMDP, pi: IntArray, V_float: FloatArray, gap_float: FloatArray,
                  ro: _Roundoff, max_iter: int, exact_costs: Sequence[Fraction] | None = None
                  ) -> tuple[list[Fraction], dict[int, Fraction], IntArray, int]:
    """Exact policy iteration from ``pi``: exact ``V``, exact gaps of the rows that need them, final policy.

    Only rows whose float gap could hide a non-positive exact gap are evaluated exactly: with
    ``E >= max |V_pi - V_float|`` (measured on the exact ``V_pi``), the exact gap of row ``r`` under ``pi``
    is at least ``gap_float(r) - slack - (1 + rho) E``; rows above ``2 (slack + (1 + rho) E)`` are
    certainly neither improving nor optimal. Rows of ``pi`` have exact gap 0 by construction.
    """
    exact = _ExactCore(core, model, exact_costs)
    rs = core.row_state.tolist()
    pi = pi.copy()
    for evaluations in range(1, max_iter + 1):
        V = exact.evaluate(pi)
        V_rounded = np.array([float(v) for v in V])
        E = float(np.abs(V_rounded - V_float).max(initial=0.0)) * (1 + 2 * _U) \
            + 2 * _U * float(np.abs(V_rounded).max(initial=0.0))
        threshold = 2.0 * (ro.slack + (1.0 + ro.rho) * E)
        candidates = np.flatnonzero(gap_float <= threshold)
        candidates = candidates[~np.isin(candidates, pi)]
        gaps = {int(r): Fraction(0) for r in pi}
        best: dict[int, tuple[Fraction, int]] = {}
        for r in candidates.tolist():
            g = gaps[r] = exact.q(r, V) - V[rs[r]]
            s = rs[r]
            if g < 0 and (s not in best or g < best[s][0]):
                best[s] = (g, r)
        if not best:
            return V, gaps, pi, evaluations
        for s, (_, r) in best.items():
            pi[s] = r
        if core.gamma == 1.0:
            proper = _terminates_surely(sp.csr_array(core.P[pi]), core.terminal)
            if not proper.all():
                raise _negative_cycle_error(core, model, pi, ~proper)
        V_float, gap_float = V_rounded, _q_values(core, V_rounded) - V_rounded[core.row_state]
    raise SolverError(f"exact policy iteration did not finish in {max_iter} evaluations", iterations=max_iter)


def _negative_cycle_error(core: _Core, model: TabularMDP, pi: IntArray, states: BoolArray) -> ModelError:
    rows = np.zeros(model.n_rows, dtype=bool)
    rows[core.rows[pi]] = True
    full_states = np.zeros(model.n_states, dtype=bool)
    full_states[core.states[states]] = True
    return _loop_error(model, rows, full_states,
                       "with discount 1 the total cost is unbounded below: a policy can loop forever through",
                       "this cycle lowers the cost every time round; make its cost positive, make one of its "
                       "states terminal, or use a discount below 1")


# --------------------------------------------------------------------------------------------------
# The solver


def solve(model: TabularMDP, tol: float = 1e-9, max_iter: int = 100_000, exact: bool = False,
          progress: Callable[[int, float], object] | None = None, exact_limit: int = 5000,
          exact_costs: Sequence[Fraction] | None = None) -> Solution:
    """Optimal values and certified optimal action sets ``A*(s)`` of a cost-minimising MDP.

    Value iteration (MacQueen bounds, absolute stopping rule ``max |V_{k+1} - V_k| <= tol (1 - gamma) /
    gamma``) gives a greedy policy; policy iteration (exact linear solves) improves it until no row
    improves by more than the numerical margin; a Bellman check of the final values gives the certified
    bound. Everything refers to the model *as given by its floats* (probabilities not renormalised; the
    total cost of a row is the exact sum of its cost terms).

    Certified bound, with ``u = 2**-53``, ``k`` the most successors of a row, ``rho = gamma * max row
    sum of P`` (rounded up), ``|c|``, ``|V|``, ``|Q|`` maxima over rows and states:

    * roundoff of one Bellman evaluation ``Q = c + P (gamma V)`` per row:
      ``q = (k + 3) u (|c| + rho |V|) + cost_error`` (``cost_error``: rounding of the sum of the cost
      terms); ``slack = 2 (q + u (|Q| + |V|))`` bounds the error of every computed gap or residual;
    * ``gamma < 1``: ``bound = (residual + slack) / (1 - rho)``, ``residual = max_s |V(s) - min_r Q(r)|``
      measured in floats (``T`` is a ``rho``-contraction);
    * ``gamma = 1``: ``bound = max(e max h_pi / kappa, lambda max h)``: the policy's own residual ``e``
      times its expected number of steps ``h_pi`` (one more linear solve), and the residual ``lambda``
      of a sub-solution ``V - lambda h`` of the Bellman equation, ``h`` the expected number of steps (the
      largest one over near-tied rows where those lengthen the way to a terminal).

    The computed gap of a truly optimal row is at most ``(1 + rho) bound + slack =: delta`` (errors of
    ``V`` at the successors and at the state, plus rounding), so ``A*(s) = {r : gap(r) <= delta}``
    contains every optimal row and rows outside it are certainly suboptimal.

    Policy evaluation solves ``I - gamma P_pi`` densely up to 1500 states, else with bicgstab (fast on
    well-mixed models, where a sparse LU fills in catastrophically: 58 s at 10^4 random states) and, if
    that stalls, with a sparse LU (fast on structured models such as corridors and grids).

    The exact re-check solves the policy's equations strongly connected component by component
    (sinks first), with sparse Markowitz elimination inside a component. It takes about a second for
    a few thousand states when components are small (grid worlds: 1600 states in ~1 s; a 400-state
    corridor with discount 0.999 in ~0.3 s), but rational numbers grow by ~55 bits per step along a
    path and elimination inside one large component costs cubically in big-number operations (a
    random 200-state model whose policy is one component: ~3.5 s; 1000-step corridors: ~2 s).

    Parameters
    ----------
    model
        The MDP; ``model.cost`` (the sum of all cost terms) is minimised.
    tol
        Target error of value iteration (cost units): the warm start for policy iteration.
    max_iter
        Largest number of value-iteration sweeps (and of policy-iteration steps).
    exact
        Re-check in rational arithmetic: exact policy iteration from the float policy, exact ``A*(s)``
        (exact ties stay, tiny nonzero gaps drop out), ``bound = delta = 0``.
    progress
        Called as ``progress(sweep, max_change)`` every 50 value-iteration sweeps.
    exact_limit
        Largest number of states for ``exact=True``.
    exact_costs
        With ``exact=True``: the total cost of every row as an exact rational, used instead of reading the
        floats back (a parametric model at a weight vector whose products no float holds: the sweep's faces).

    Returns
    -------
    Solution

    Raises
    ------
    SolverError
        If value iteration (discount < 1) or policy iteration needs more than ``max_iter`` steps.
    ModelError
        Discount 1 only: a state reachable from the initial state from which no policy terminates with
        probability 1; an optimal policy that can loop forever from the initial state (an end component
        of the optimal rows without terminal states, e.g. a zero-cost loop), or any loop of rows tied
        with the optimum that keeps the certificate from closing; a cycle of negative total cost.
    ResourceLimitError
        With ``exact=True``, if the model has more than ``exact_limit`` states.
    ValueError
        On ``tol <= 0`` or ``max_iter < 1``.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[1.0]], [[1.0]]], [[2.0], [1.0]], discount=0.5)
    >>> solution = solve(model)
    >>> solution.value, solution.optimal_actions(0)
    (2.0, ('a1',))
    """
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    if exact and model.n_states > exact_limit:
        raise ResourceLimitError(
            f"the exact re-check (--exact) is limited to {exact_limit:,} states (exact_limit), the model has "
            f"{model.n_states:,}: drop --exact, or from Python pass a larger exact_limit (rational arithmetic is slow)")
    cost = np.asarray(model.cost, dtype=np.float64)
    if not np.isfinite(cost).all():
        r = int(np.flatnonzero(~np.isfinite(cost))[0])
        s = int(model.row_state[r])
        raise ModelError(f"action '{_action(model, r)}' in state ({model.describe(s)}) has cost {cost[r]}, "
                         f"expected a finite number")
    abs_sum = np.zeros(model.n_rows)
    for vector in model.costs.values():
        abs_sum += np.abs(np.asarray(vector, dtype=np.float64))
    cost_error = len(model.costs) * _U * abs_sum * 1.01 if len(model.costs) > 1 else np.zeros(model.n_rows)

    gamma = float(model.discount)
    discounted = gamma < 1.0
    if discounted:
        core = _make_core(model, cost, cost_error)
        start: IntArray | None = None
    else:
        core, start = _proper_core(model, cost, cost_error)

    layout = _SweepLayout(core)
    sweeps_cap = max_iter if discounted else min(max_iter, _SSP_WARM_START_SWEEPS)
    V, sweeps, converged = _value_iteration(layout, tol, sweeps_cap, progress, discounted)
    del layout
    if not discounted and not np.isfinite(V).all():
        V = np.zeros(core.n)
    _, pi = _group_min(core, _q_values(core, V))
    if start is not None:
        pi = _make_proper(core, pi, start)

    V, Q, pi, evaluations = _policy_iteration(core, model, pi, V, max_iter)
    ro = _roundoff(core, V, Q)
    bound = _certify_discounted(core, V, Q, ro) if discounted else _certify_ssp(core, model, V, Q, pi, ro)
    delta = (1.0 + ro.rho) * bound + ro.slack
    gap = Q - V[core.row_state]
    optimal = gap <= delta
    _, best = _group_min(core, gap)
    optimal[best] = True  # the smallest gap is always within delta; this only guards against NaN
    best = np.where(optimal[pi], pi, best)  # representative: policy iteration's policy (proper for discount 1)
    if not discounted:
        _check_optimal_loops(core, model, optimal)

    if exact:
        Vx, exact_gaps, best, exact_evaluations = _exact_refine(core, model, best, V, gap, ro, max_iter, exact_costs)
        evaluations += exact_evaluations
        V = np.array([float(v) for v in Vx])
        Q = _q_values(core, V)
        gap = Q - V[core.row_state]
        optimal = np.zeros(core.m, dtype=bool)
        for r, g in exact_gaps.items():
            gap[r] = float(g)
            Q[r] = float(g + Vx[int(core.row_state[r])])
            optimal[r] = g == 0
        bound = delta = 0.0
    return _assemble(model, core, V, Q, gap, optimal, best, bound, delta, sweeps, evaluations, exact)


def _policy_iteration(core: _Core, model: TabularMDP, pi: IntArray, V0: FloatArray, max_iter: int
                      ) -> tuple[FloatArray, FloatArray, IntArray, int]:
    """Evaluate, switch where a row improves by more than the numerical margin, repeat."""
    V = V0
    for evaluations in range(1, max_iter + 1):
        V = _evaluate(core, pi, x0=V)
        Q = _q_values(core, V)
        ro = _roundoff(core, V, Q)
        gap = Q - V[core.row_state]
        own = np.abs(gap[pi])
        if core.gamma == 1.0:
            own = own[~core.terminal]
            noise = float(own.max(initial=0.0)) * max(1.0, float(core.n))
        else:
            noise = (1.0 + ro.rho) * float(own.max(initial=0.0)) / max(1.0 - ro.rho, 1e-300)
        margin = 2.0 * (ro.slack + noise)
        mins, first = _group_min(core, gap)
        switch = mins < -margin
        if not switch.any():
            return V, Q, pi, evaluations
        pi = pi.copy()
        pi[switch] = first[switch]
        if core.gamma == 1.0:
            proper = _terminates_surely(sp.csr_array(core.P[pi]), core.terminal)
            if not proper.all():
                raise _negative_cycle_error(core, model, pi, ~proper)
    raise SolverError(f"policy iteration did not settle in {max_iter} steps; raise max_iter",
                      iterations=max_iter)


def _proper_core(model: TabularMDP, cost: FloatArray, cost_error: FloatArray) -> tuple[_Core, IntArray]:
    """Discount 1: restrict to the states with a proper policy; raise if a reachable state has none.

    Returns the core and a proper start policy (core rows): at every state a row that reaches, with
    positive probability, a state one BFS layer closer to the terminal states.
    """
    P = sp.csr_array(model.P)
    n = model.n_states
    terminal = np.asarray(model.terminal, dtype=bool)
    good, rows, pred = _prob1e(P, model.row_state, n, terminal)
    if not good.all():
        source, dest = _edges(P, model.row_state)
        start = np.zeros(n, dtype=bool)
        start[model.initial] = True
        reachable, _ = _reach(n, source, dest, start)
        stuck = reachable & ~good
        if stuck.any():
            raise _stuck_error(model, stuck, good)
    core = _make_core(model, cost, cost_error, good, rows)
    # start policy: a row of s with successor pred[s] (one layer closer to the terminal states)
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[core.states] = np.arange(core.n)
    target = new_index[np.where(pred >= 0, pred, 0).clip(max=n - 1)]
    nz_row = np.repeat(np.arange(core.m), np.diff(core.P.indptr))
    ok = core.P.indices == target[core.row_state[nz_row]]
    hits = np.unique(nz_row[ok])
    start_pi = core.groups[:-1].copy()
    first = hits[np.r_[True, core.row_state[hits[1:]] != core.row_state[hits[:-1]]]] if hits.size else hits
    start_pi[core.row_state[first]] = first
    return core, start_pi


def _stuck_error(model: TabularMDP, stuck: BoolArray, good: BoolArray) -> ModelError:
    """No policy terminates almost surely from a reachable state: name it, the way there and a cycle."""
    n = model.n_states
    source, dest = _edges(sp.csr_array(model.P), model.row_state)
    graph = sp.csr_array((np.ones(source.size), (source, dest)), shape=(n, n))
    order = csgraph.breadth_first_order(graph, model.initial, directed=True, return_predecessors=False)
    best = int(order[stuck[order]][0])  # breadth-first order: the stuck state closest to the initial state
    bad = ~good

    def next_row(s: int) -> int:
        return int(model.row_groups[s])

    def next_state(r: int) -> int:
        succ = _successors(model, r)
        inside = succ[bad[succ]]
        return int(inside[0] if inside.size else succ[0])

    cycle = _cycle(model, best, next_row, next_state)
    path = _path_from_initial(model, best)
    notes = []
    if path is not None and best != model.initial:
        notes.append(f"reached from the initial state by {path}")
    notes.append(f"for example {cycle} never reaches a terminal state")
    return ModelError(Diagnostic(
        f"with discount 1 every reachable state needs a way to terminate, but from ({model.describe(best)}) "
        f"no policy reaches a terminal state with probability 1", model.discount_span,
        hint="make the stuck states terminal, add an action that leads to a terminal state, "
             "or use a discount below 1",
        notes=tuple(notes)), model.source)


def _make_proper(core: _Core, pi: IntArray, start: IntArray) -> IntArray:
    """Replace the rows of ``pi`` at states that do not terminate surely by ``start``'s, until proper."""
    pi = pi.copy()
    for _ in range(core.n + 1):
        proper = _terminates_surely(sp.csr_array(core.P[pi]), core.terminal)
        if proper.all():
            return pi
        fix = ~proper & (pi != start)
        if not fix.any():  # pragma: no cover - start is proper
            return start.copy()
        pi[fix] = start[fix]
    return start.copy()  # pragma: no cover


def _check_optimal_loops(core: _Core, model: TabularMDP, optimal: BoolArray) -> None:
    """Discount 1: no end component of the optimal rows, without terminals, reachable from the initial state."""
    rs = core.row_state
    alive = ~core.terminal
    rows = optimal & alive[rs]
    while True:
        rows &= alive[rs] & ~_row_leaves(core.P, alive)
        alive_new = alive & (np.bincount(rs[rows], minlength=core.n) > 0)
        source, dest = _edges(core.P, rs, rows)
        _, label = csgraph.connected_components(
            sp.csr_array((np.ones(source.size), (source, dest)), shape=(core.n, core.n)),
            directed=True, connection="strong")
        nz_row = np.repeat(np.arange(core.m), np.diff(core.P.indptr))
        crossing = (label[core.P.indices] != label[rs[nz_row]]) & (core.P.data > 0)
        leaves = np.bincount(nz_row, weights=crossing, minlength=core.m) > 0
        rows_new = rows & ~leaves
        alive_new &= np.bincount(rs[rows_new], minlength=core.n) > 0
        if np.array_equal(alive_new, alive) and np.array_equal(rows_new, rows):
            break
        alive, rows = alive_new, rows_new
    if not alive.any():
        return
    # reachable from the initial state along optimal rows?
    initial = np.flatnonzero(core.states == model.initial)
    if initial.size == 0:
        return
    start = np.zeros(core.n, dtype=bool)
    start[initial[0]] = True
    source, dest = _edges(core.P, rs, optimal)
    reached, _ = _reach(core.n, source, dest, start)
    trapped = alive & reached
    if trapped.any():
        in_component = np.zeros(core.n, dtype=bool)
        in_component[label == label[np.flatnonzero(trapped)[0]]] = True
        raise _core_loop_error(core, model, rows & in_component[rs], in_component & alive)


def _assemble(model: TabularMDP, core: _Core, V: FloatArray, Q: FloatArray, gap: FloatArray,
              optimal: BoolArray, best: IntArray, bound: float, delta: float, sweeps: int,
              evaluations: int, exact: bool) -> Solution:
    """Map core arrays back to the model's indices (states outside the core: ``V = inf``, all rows kept)."""
    n, m = model.n_states, model.n_rows
    V_full = np.full(n, math.inf)
    V_full[core.states] = V
    Q_full = np.full(m, math.inf)
    Q_full[core.rows] = Q
    gap_full = np.full(m, math.inf)
    gap_full[core.rows] = gap
    outside = np.ones(n, dtype=bool)
    outside[core.states] = False
    outside_rows = outside[model.row_state]
    gap_full[outside_rows] = 0.0
    optimal_full = np.zeros(m, dtype=bool)
    optimal_full[core.rows] = optimal
    optimal_full[outside_rows] = True
    policy = np.asarray(model.row_groups[:-1], dtype=np.int64).copy()
    policy[core.states[core.row_state[best]]] = core.rows[best]
    counts = np.bincount(model.row_state[optimal_full], minlength=n)
    ties = np.flatnonzero((counts > 1) & ~outside).astype(np.int64)
    for array in (V_full, Q_full, gap_full, optimal_full, policy, ties):
        array.setflags(write=False)
    return Solution(model=model, V=V_full, Q=Q_full, optimal=optimal_full, gap=gap_full, bound=float(bound),
                    delta=float(delta), ties=ties, policy=policy, iterations=sweeps,
                    policy_iterations=evaluations, exact=exact)
