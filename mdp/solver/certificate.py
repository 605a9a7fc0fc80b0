"""The certificate: how far computed values can be from the exact optimum, bound by bound.

Everything refers to the problem's *exact* numbers (the spec's rationals), not to its floats: the
rounding of the model (``cost_error``, ``P_error``, ``gamma_error`` of the problem) enters every bound,
so a float verdict holds for the spec as written. With ``u = 2**-53``, ``k`` the most successors of a
row, ``|c|``, ``|V|``, ``|Q|`` maxima over rows and states:

* one Bellman evaluation ``Q = c + P (gamma V)`` is off from the exact ``c_e + gamma_e P_e V`` by at most
  ``q = (k + 3) u (|c| + rho |V|) + cost_error + (gamma_error rowsum + (gamma + gamma_error) P_error) |V|``
  (floating-point summation of ``k`` products, the roundings of ``gamma V``, of the product by ``gamma``
  and of the cost; then the model's rounding). A computed gap ``Q(r) - V(s)`` or residual is off by at
  most ``slack = 2 (q + u (|Q| + |V|))`` (doubled: second-order terms, with a wide margin);
* ``rho = (gamma + gamma_error) (rowsum + P_error)``, rounded up, is the contraction factor of the exact
  Bellman operator ``T`` (``gamma_e`` times its largest row sum);
* ``gamma < 1``: ``bound = (residual + slack) / (1 - rho)`` with ``residual = max_s |V(s) - min_r Q(r)|``;
* ``gamma = 1``: ``bound = max(e max h_pi / kappa, lambda max h)`` (:func:`certify_ssp`);
* the exact gap of a truly optimal row is 0, so its computed gap is at most ``delta = (1 + rho) bound +
  slack``: the rows with ``gap <= delta`` contain every optimal row, the others are certainly suboptimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..expressions import UNIT_ROUNDOFF as _U
from ..model import ModelError
from .linear import evaluate
from .problem import BoolArray, FloatArray, IntArray, Problem
from .proper import loop_error

__all__ = ["Roundoff", "certify_discounted", "certify_ssp", "chain_bound", "roundoff", "roundoff_of", "threshold"]

_MAX_STEPS_ITERATIONS = 100  # policy iteration for the longest way to a terminal: a few steps in practice


@dataclass(frozen=True)
class Roundoff:
    """Error budget of one Bellman evaluation, in cost units (see the module docstring).

    ``q`` bounds ``|Q_computed(r) - Q_exact(r)|`` for every row; ``slack`` bounds the error of a computed
    gap or residual; ``rho`` is the contraction factor (rounded up); ``P_error`` the model's rounding of a
    row of ``P`` (L1), which bounds ``|(P - P_exact) h|`` by ``P_error max |h|``.
    """

    q: float
    slack: float
    rho: float
    kmax: int
    P_error: float


def roundoff(problem: Problem, V: FloatArray, Q: FloatArray) -> Roundoff:
    """The :class:`Roundoff` of evaluating ``Q`` from ``V`` on ``problem``."""
    vmax = float(np.abs(V[np.isfinite(V)]).max(initial=0.0))
    qmax = float(np.abs(Q[np.isfinite(Q)]).max(initial=0.0))
    return roundoff_of(problem, vmax, qmax)


def roundoff_of(problem: Problem, vmax: float, qmax: float | None = None) -> Roundoff:
    """The :class:`Roundoff` of evaluating ``Q`` from values of size at most ``vmax`` (``qmax``: the largest
    ``|Q|``; default: its bound ``|c| + rho vmax``, with a margin)."""
    kmax = problem.kmax
    gamma_high = problem.gamma + problem.gamma_error
    rho = gamma_high * (problem.rowsum + problem.P_error) * (1.0 + (kmax + 2) * _U)
    cmax = problem.cmax
    if qmax is None:
        qmax = (cmax + rho * vmax) * (1.0 + (kmax + 4) * _U)
    model = (problem.cost_error
             + (problem.gamma_error * problem.rowsum + gamma_high * problem.P_error) * vmax)
    q = (kmax + 3) * _U * (cmax + rho * vmax) + model
    slack = 2.0 * (q + _U * (qmax + vmax))
    return Roundoff(q=q, slack=slack, rho=rho, kmax=kmax, P_error=problem.P_error)


def threshold(bound: float, ro: Roundoff) -> float:
    """``delta``: the largest computed gap a truly optimal row can have."""
    return (1.0 + ro.rho) * bound + ro.slack


def group_min(problem: Problem, values: FloatArray) -> tuple[FloatArray, IntArray]:
    """Per state: the minimum of ``values`` over its rows and the first row attaining it (``nan``, from an
    overflow, counts as ``+inf``: every state keeps a row)."""
    values = np.where(np.isnan(values), np.inf, values)
    mins = np.minimum.reduceat(values, problem.groups[:-1]) if problem.m else np.zeros(0)
    rs = problem.row_state
    hits = np.flatnonzero(values == mins[rs])
    first = hits[np.r_[True, rs[hits[1:]] != rs[hits[:-1]]]] if hits.size else hits
    return mins, first.astype(np.int64)


def certify_discounted(problem: Problem, V: FloatArray, Q: FloatArray, ro: Roundoff) -> float:
    """``||V - V*|| <= (||V - TV||_computed + slack) / (1 - rho)`` (``T`` contracts with modulus rho)."""
    mins, _ = group_min(problem, Q)
    residual = float(np.abs(V - mins).max(initial=0.0))
    if ro.rho >= 1.0 or not math.isfinite(residual):
        return math.inf
    return (residual + ro.slack) / (1.0 - ro.rho) * (1.0 + 8 * _U)


def chain_bound(P_chain: sp.csr_array, gamma: float, x: FloatArray, V: FloatArray, P_error: float) -> float:
    """Certified ``max |V - V_exact|`` for the values ``V`` of a Markov chain (discount ``gamma < 1``, rows
    off by at most ``P_error`` in L1) with per-state rewards ``x`` (exact as given): the residual of
    ``V = x + gamma P V`` plus its rounding, divided by ``1 - rho``, as :func:`certify_discounted`."""
    kmax = int(np.diff(P_chain.indptr).max(initial=1))
    lengths = np.diff(P_chain.indptr)
    rowsum = float(np.add.reduceat(P_chain.data, P_chain.indptr[:-1][lengths > 0]).max(initial=0.0)) \
        if P_chain.nnz else 0.0
    rho = gamma * (rowsum + P_error) * (1.0 + (kmax + 2) * _U)
    if rho >= 1.0:
        return math.inf
    vmax = float(np.abs(V).max(initial=0.0))
    computed = x + P_chain @ (gamma * V)
    slack = 2.0 * ((kmax + 3) * _U * (float(np.abs(x).max(initial=0.0)) + rho * vmax) + gamma * P_error * vmax
                   + _U * (float(np.abs(computed).max(initial=0.0)) + vmax))
    residual = float(np.abs(computed - V).max(initial=0.0))
    return (residual + slack) / (1.0 - rho) * (1.0 + 8 * _U)


def _margin(ro: Roundoff, h: FloatArray) -> float:
    """How far a computed ``h(s) - P_r h`` may be from the exact one."""
    return (2.0 * (ro.kmax + 3) * _U * max(1.0, ro.rho) + ro.P_error) * float(h.max(initial=0.0))


def certify_ssp(problem: Problem, V: FloatArray, Q: FloatArray, pi: IntArray, ro: Roundoff) -> float:
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
    nonterminal = ~problem.terminal
    rs = problem.row_state
    gap = Q - V[rs]
    e = float(np.abs(gap[pi][nonterminal]).max(initial=0.0)) + ro.slack
    ones = np.ones(problem.n)
    h_pi = np.maximum(evaluate(problem, pi, rhs=ones), 0.0)
    D_pi = h_pi - sp.csr_array(problem.P[pi]) @ h_pi - _margin(ro, h_pi)
    kappa = float(D_pi[nonterminal].min(initial=1.0))
    down = e * float(h_pi.max(initial=0.0)) / kappa if kappa > 0 else math.inf

    loops = _pure_loops(problem) & nonterminal[rs]
    nonnegative = _cost_nonnegative(problem, loops)
    if nonnegative is None:  # the sign of a zero-cost loop's exact cost is unknown: no certificate in floats
        return math.inf
    considered = nonterminal[rs] & ~(loops & nonnegative)
    g_low = gap - ro.slack
    members = np.zeros(problem.m, dtype=bool)
    members[pi] = True
    h = h_pi
    for _ in range(50):
        D_low = h[rs] - problem.P @ h - _margin(ro, h)
        positive = considered & (D_low > 0)
        lam = float(np.max(-g_low[positive] / D_low[positive], initial=0.0))
        fail = considered & ~positive & (g_low < lam * -D_low)
        fail |= considered & ~np.isfinite(D_low)
        if not fail.any():
            return max(down, lam * float(h.max(initial=0.0))) * (1.0 + 8 * _U)
        members |= fail
        try:
            h = max_steps(problem, members, pi)
        except ModelError:  # near-ties close a loop: the floats cannot bound V - V* (exact arithmetic can)
            return math.inf
    return math.inf  # pragma: no cover


def max_steps(problem: Problem, rows: BoolArray, pi: IntArray) -> FloatArray:
    """Largest expected number of steps to a terminal over the policies using only ``rows``.

    Policy iteration for the maximum, from the proper policy ``pi``. Raises the discount-1 loop
    :class:`~mdp.model.ModelError` if ``rows`` contain an end component (a policy that never terminates).
    """
    from ..graph import terminates_surely

    sigma = pi.copy()
    ones = np.ones(problem.n)
    rs = problem.row_state
    h = ones
    for _ in range(_MAX_STEPS_ITERATIONS):
        proper = terminates_surely(sp.csr_array(problem.P[sigma]), problem.terminal)
        if not proper.all():
            raise loop_error(problem, rows, ~proper)
        h = np.maximum(evaluate(problem, sigma, rhs=ones), 0.0)
        steps = 1.0 + problem.P @ h
        steps[~rows] = -math.inf
        steps[problem.terminal[rs]] = -math.inf
        best = np.maximum.reduceat(steps, problem.groups[:-1])
        better = (best > h * (1 + 1e-9) + 1e-9) & ~problem.terminal
        hits = np.flatnonzero((steps == best[rs]) & better[rs])
        first = hits[np.r_[True, rs[hits[1:]] != rs[hits[:-1]]]] if hits.size else hits
        first = first[sigma[rs[first]] != first]  # a "better" row that is the current one: rounding in h
        if not first.size:
            return h
        sigma[rs[first]] = first
    return h  # a heuristic: certify_ssp checks whatever h it gets


def _pure_loops(problem: Problem) -> BoolArray:
    """(m,) rows that stay in their state with probability 1 (a row with a single entry: its probability is
    exactly 1, since a row's exact probabilities sum to 1)."""
    P, rs = problem.P, problem.row_state
    lo, hi = P.indptr[:-1], P.indptr[1:]
    loop = (hi - lo == 1)
    loop[loop] = P.indices[lo[loop]] == rs[loop]
    return loop


def _cost_nonnegative(problem: Problem, rows: BoolArray) -> BoolArray | None:
    """(m,) for ``rows``: whether the exact cost is >= 0, from the floats where they are exact or settle it,
    from the exact numbers elsewhere; ``None`` when those are needed but unknown (a float model)."""
    result: BoolArray = problem.c - problem.cost_error >= 0
    unsure = rows & ~result & (problem.c + problem.cost_error >= 0)
    if problem.exact_rows is not None:
        result[unsure & problem.exact_rows] = problem.c[unsure & problem.exact_rows] >= 0
        unsure &= ~problem.exact_rows
    if unsure.any():
        try:
            cost = problem.exact.cost
        except ValueError:
            return None
        for r in np.flatnonzero(unsure).tolist():
            result[r] = cost[r] >= 0
    return result
