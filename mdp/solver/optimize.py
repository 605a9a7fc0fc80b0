"""The solver's pipeline on one :class:`~.problem.Problem`: value iteration, policy iteration, certificate,
the optimal rows, and optionally the exact optimum.

1. value iteration on an action-major layout (MacQueen bounds, a sound absolute stopping rule) brings
   the values close; when it stalls (discounts near 1, where it needs ~1/(1 - gamma) sweeps), policy
   iteration takes over from its greedy policy all the same;
2. policy iteration from the greedy policy, each policy evaluated by a linear solve, until no row improves
   by more than the numerical margin;
3. the certificate (:mod:`.certificate`): ``bound`` on ``|V - V*|`` for the problem's exact numbers, and
   the threshold ``delta`` above which a row's computed gap proves it suboptimal;
4. optionally, exact policy iteration in the problem's rationals (:mod:`.exact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from ..graph import terminates_surely
from ..model import ModelError, nearest_float
from .certificate import certify_discounted, certify_ssp, group_min, roundoff, threshold
from .errors import SolverError
from .exact import exact_refine
from .iteration import OrderedSweeps, SweepLayout, value_iteration
from .linear import evaluate
from .problem import BoolArray, FloatArray, IntArray, Problem, sole_rows
from .proper import check_optimal_loops, make_proper, negative_cycle_error, proper_part

__all__ = ["Optimum", "optimize"]

_WARM_START_SWEEPS = 2000  # value iteration's budget before policy iteration takes over


@dataclass(frozen=True, eq=False)
class Optimum:
    """The certified optimum of a problem (in the problem's indices and sense: minimised costs).

    ``optimal`` holds every truly optimal row (``gap <= delta``); with ``exact``, exactly the optimal
    rows, ``exact_V`` the exact values and ``exact_gap`` the exact gaps of the rows that needed them
    (every other row is certainly suboptimal). ``loop_doubt`` (discount 1, floats): the message of a loop
    of possibly optimal rows that floats cannot tell optimal (an error if it is) or not.
    """

    problem: Problem
    V: FloatArray  # (n,)
    Q: FloatArray  # (m,)
    gap: FloatArray  # (m,)
    optimal: BoolArray  # (m,)
    policy: IntArray  # (n,) rows: policy iteration's policy (proper for discount 1)
    bound: float
    delta: float
    sweeps: int
    evaluations: int
    exact_V: list[Fraction] | None = None
    exact_gap: dict[int, Fraction] | None = None
    loop_doubt: str | None = None

    @property
    def exact(self) -> bool:
        return self.exact_V is not None


def optimize(problem: Problem, *, tol: float = 1e-9, max_iter: int = 100_000, exact: bool = False,
             start: IntArray | None = None, initial: int | IntArray | None = None, check_loops: bool = True,
             progress: Callable[[int, float], object] | None = None) -> Optimum:
    """The certified optimum of ``problem`` (see the module docstring).

    Discount 1 needs a problem restricted to the states with a proper policy and a proper ``start``
    policy (:func:`~.proper.proper_part`). ``initial`` (a problem state, or the start states): with
    ``check_loops``, an end component of optimal rows reachable from it is a :class:`~mdp.model.ModelError`.

    Raises
    ------
    SolverError
        If policy iteration needs more than ``max_iter`` steps.
    ModelError
        Discount 1: an optimal policy can loop forever (:func:`~.proper.check_optimal_loops`), or a cycle
        of negative cost makes the total unbounded below.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # overflows show as inf: callers check
        return _optimize(problem, tol, max_iter, exact, start, initial, check_loops, progress)


def _optimize(problem: Problem, tol: float, max_iter: int, exact: bool, start: IntArray | None,
              initial: int | IntArray | None, check_loops: bool, progress: Callable[[int, float], object] | None
              ) -> Optimum:
    discounted = problem.gamma < 1.0
    first = None if initial is None else int(np.atleast_1d(initial)[0])  # orders the sweeps
    layout = SweepLayout(problem)
    V, sweeps, _ = value_iteration(layout, tol, min(max_iter, _WARM_START_SWEEPS), progress, discounted,
                                   ordered=lambda release: OrderedSweeps.of_problem(problem, first or 0, release))
    del layout
    if not np.isfinite(V).all():
        V = np.zeros(problem.n)
    _, pi = group_min(problem, _q_values(problem, V))
    if start is not None:
        pi = make_proper(problem, pi, start)

    V, Q, pi, evaluations = _policy_iteration(problem, pi, V, max_iter, first)
    ro = roundoff(problem, V, Q)
    bound = certify_discounted(problem, V, Q, ro) if discounted else certify_ssp(problem, V, Q, pi, ro)
    delta = threshold(bound, ro)
    gap = Q - V[problem.row_state]
    optimal = gap <= delta
    _, best = group_min(problem, gap)
    optimal[best] = True  # the smallest gap is always within delta; this only guards against NaN
    best = np.where(optimal[pi], pi, best)  # representative: policy iteration's policy (proper for discount 1)
    if not exact:
        doubt = None
        if not discounted and check_loops:
            try:
                check_optimal_loops(problem, optimal, initial)
            except ModelError as error:  # only a loop of rows certainly optimal is certainly an error
                check_optimal_loops(problem, optimal & _certain(problem, optimal, delta), initial)
                doubt = error.diagnostics[0].message if error.diagnostics else str(error)
        return Optimum(problem, V, Q, gap, optimal, best, bound, delta, sweeps, evaluations, loop_doubt=doubt)
    exact_V, exact_gaps, best, exact_evaluations = exact_refine(problem, best, V, gap, ro, max_iter)
    V = np.array([nearest_float(v) for v in exact_V])
    Q = _q_values(problem, V)
    gap = Q - V[problem.row_state]
    optimal = np.zeros(problem.m, dtype=bool)
    rs = problem.row_state
    for r, g in exact_gaps.items():
        gap[r] = nearest_float(g)
        Q[r] = nearest_float(g + exact_V[int(rs[r])])
        optimal[r] = g == 0
    if not discounted and check_loops:
        check_optimal_loops(problem, optimal, initial)
    return Optimum(problem, V, Q, gap, optimal, best, 0.0, 0.0, sweeps, evaluations + exact_evaluations,
                   exact_V, exact_gaps)


def _certain(problem: Problem, optimal: BoolArray, delta: float) -> BoolArray:
    """(m,) the rows certainly optimal: all of ``optimal`` when the certificate is 0, else the rows alone in
    their state's ``optimal`` set (where there are several, floats cannot tell which are optimal)."""
    return optimal if delta == 0.0 else sole_rows(optimal, problem.row_state, problem.n)


def _q_values(problem: Problem, V: FloatArray) -> FloatArray:
    """``c + gamma * P V`` for every row, computed as ``c + P (gamma V)``."""
    return problem.c + problem.P @ (problem.gamma * V)


def _policy_iteration(problem: Problem, pi: IntArray, V0: FloatArray, max_iter: int, initial: int | None = None
                      ) -> tuple[FloatArray, FloatArray, IntArray, int]:
    """Evaluate, switch where a row improves by more than the numerical margin, repeat (the evaluations
    layered from ``initial`` when it is known: :func:`~.linear.chain_values`)."""
    V = V0
    rs = problem.row_state
    for evaluations in range(1, max_iter + 1):
        V = evaluate(problem, pi, x0=V, start=initial)
        Q = _q_values(problem, V)
        ro = roundoff(problem, V, Q)
        gap = Q - V[rs]
        own = np.abs(gap[pi])
        if problem.gamma == 1.0:
            own = own[~problem.terminal]
            noise = float(own.max(initial=0.0)) * max(1.0, float(problem.n))
        else:
            noise = (1.0 + ro.rho) * float(own.max(initial=0.0)) / max(1.0 - ro.rho, 1e-300)
        margin = 2.0 * (ro.slack + noise)
        mins, first = group_min(problem, gap)
        switch = mins < -margin
        if not switch.any():
            return V, Q, pi, evaluations
        pi = pi.copy()
        pi[switch] = first[switch]
        if problem.gamma == 1.0:
            proper = terminates_surely(sp.csr_array(problem.P[pi]), problem.terminal)
            if not proper.all():
                raise negative_cycle_error(problem, pi, ~proper)
    raise SolverError(f"policy iteration did not settle in {max_iter} steps; raise max_iter",
                      iterations=max_iter)


def restricted(problem: Problem, initial: int | IntArray | None) -> tuple[Problem, IntArray | None]:
    """Discount 1: the problem on the states with a proper policy and a proper start policy; else as is."""
    if problem.gamma < 1.0:
        return problem, None
    return proper_part(problem, initial)
