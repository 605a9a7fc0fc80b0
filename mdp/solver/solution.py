"""Optimal values and certified optimal action sets of a :class:`~mdp.model.TabularMDP`: :func:`solve`.

Every later check quantifies over *all* optimal policies, so the product of this module is not one
policy but the set ``A*(s)`` of optimal rows of every state, ties included, with a bound that says how
far the computed values can be from the true ones (those of the spec's exact numbers).

Costs are *minimised*: ``V*(s) = min_r Q(r)`` over the rows ``r`` of ``s``, where
``Q(r) = cost[r] + gamma * sum_j P[r, j] * V*(j)``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.errors import Diagnostic, ResourceLimitError
from dsl.numbers import counted, float_text

from ..expressions import UNIT_ROUNDOFF as _U
from ..graph import positive_edges, reach, reachable_states, terminates_surely
from ..model import TERMINAL_ACTION, ModelError, TabularMDP
from ..tables import html_table, markdown_table
from .linear import chain_values
from .optimize import Optimum, optimize, restricted
from .problem import BoolArray, FloatArray, IntArray, from_model, sole_rows

__all__ = ["EXACT_LIMIT", "Solution", "policy_term_values", "solve", "start_term_values"]

_DISPLAY_ROWS = 50  # states shown in a notebook view of a solution
EXACT_LIMIT = 5000
"""The most states :func:`solve` takes in exact arithmetic by default (rational numbers grow along paths)."""
_FLOAT_MAX = float(np.finfo(np.float64).max)


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
        Certified ``max_s |V[s] - V*(s)|``, ``V*`` the optimum for the spec's exact numbers (0 with
        ``exact=True``: ``V`` is then the exact value rounded to the nearest float).
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
    exact_V
        With ``exact=True``: state -> its exact optimal value (``Fraction``), for every state solved.
    loop_doubt
        Discount 1, floats: rows that may be optimal form a loop an optimal policy could take forever,
        and floats cannot tell whether they are optimal (then the spec is in error) or only nearly
        (then all is well); the message names the loop. ``exact=True`` decides.
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
    exact_V: dict[int, Fraction] | None = None
    loop_doubt: str | None = None

    @property
    def value(self) -> float:
        """The optimal value at the model's initial state."""
        return self.model.at_start(self.V)

    @property
    def is_decided(self) -> bool:
        """Whether :attr:`optimal` is exactly the set of optimal rows: in exact arithmetic, or when the
        certificate is 0 (no rounding anywhere: the computed gaps are the exact ones)."""
        return self.exact or self.delta == 0.0

    @property
    def certain(self) -> BoolArray:
        """(m,) the rows certainly optimal: all of :attr:`optimal` when it is decided; else in floats the
        only row of ``A*(s)`` of their state (where ``A*(s)`` holds several, at least one of them is
        optimal, but floats cannot tell which)."""
        if self.is_decided:
            return self.optimal.copy()
        return sole_rows(self.optimal, self.model.row_state, self.model.n_states)

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

        The terms add up to the policy's value; ``corrigo solve`` prints this split. One linear
        solve of ``I - discount * P_policy`` for all terms (:func:`mdp.solver.linear.chain_values`).

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
        return policy_term_values(model, rows)

    def __repr__(self) -> str:
        value = f"{self.value:.6g} (exact)" if self.exact else f"{self.value:.6g} ± {self.bound:.2g}"
        ties = f", {counted(self.ties.size, 'tied state')}" if self.ties.size else ""
        doubt = ", a loop in doubt" if self.loop_doubt else ""
        work = f"{counted(self.iterations, 'sweep')}, {counted(self.policy_iterations, 'policy evaluation')}"
        states = counted(self.model.n_states, "state")
        return f"<Solution {self.model.name}: {states}, value {value}, {work}{ties}{doubt}>"

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
                 f"{float_text(model.discount)}; optimal value {self.value:.6g} ({error}) from "
                 f"{model.describe(model.initial) if len(model.starts) <= 1 else 'the start distribution'}")
        states = np.flatnonzero(reachable_states(model, self.optimal))
        ties = set(np.asarray(self.ties).tolist())
        rows = [[model.describe(int(s)),
                 " | ".join(a for a in self.optimal_actions(int(s)) if a != TERMINAL_ACTION) or "(terminal)",
                 f"{float(self.V[s]):.6g}" + (" (tie)" if int(s) in ties else "")]
                for s in states[:limit]]
        more = [f"... {states.size - limit:,} more states reached under optimal play"] if states.size > limit else []
        return title, ["state", "optimal actions", "value"], rows, more


def policy_term_values(model: TabularMDP, policy: IntArray, terms: dict[str, FloatArray] | None = None,
                       starts: IntArray | None = None, layered_from: int | None = None) -> dict[str, FloatArray]:
    """Expected (discounted) total of every cost term (or of the given per-row ``terms``) under ``policy``
    (one row per state), from every state, or only from the states reachable from ``starts`` (the others
    get 0); with discount 1 ``nan`` where it does not terminate surely. One linear solve for all terms,
    layered from the state ``layered_from`` if given (:func:`~.linear.chain_values`)."""
    vectors = dict(model.costs) if terms is None else terms
    names = list(vectors)
    if not names:
        return {}
    C = np.column_stack([np.asarray(vectors[t], dtype=np.float64)[policy] for t in names])
    P_pi = sp.csr_array(model.P[policy])
    solve = np.ones(model.n_states, dtype=bool)
    if starts is not None:
        source, dest = positive_edges(P_pi, np.arange(model.n_states, dtype=np.int64))
        begin = np.zeros(model.n_states, dtype=bool)
        begin[starts] = True
        solve = reach(model.n_states, source, dest, begin)[0]
    if model.discount < 1:
        out = chain_values(P_pi, float(model.discount), C, solve, start=layered_from)
    else:
        proper = terminates_surely(P_pi, model.terminal)
        out = chain_values(P_pi, 1.0, C, solve & proper & ~model.terminal, start=layered_from)
        out[solve & ~proper] = np.nan
    return {t: out[:, i].copy() for i, t in enumerate(names)}


def start_term_values(model: TabularMDP, policy: IntArray, start: int | None = None) -> dict[str, float]:
    """Expected (discounted) total of every cost term under ``policy`` from the one state ``start`` (default:
    the model's start, the average over the start states of an ``init``); with discount 1 ``nan`` if
    ``policy`` may not terminate from there.

    One solve for all terms at once, on the states reachable from the start only, by ordered sweeps layered
    from it where they converge (:func:`~.linear.chain_values`)."""
    starts = model.start_states if start is None else np.array([start])
    values = policy_term_values(model, policy, starts=starts, layered_from=int(starts[0]))
    if start is None:
        return {term: model.at_start(v) for term, v in values.items()}
    return {term: float(v[start]) for term, v in values.items()}


def total_cost_exact_rows(model: TabularMDP) -> BoolArray:
    """(m,) the rows whose float total cost (``model.cost``) is exactly the spec's: every term exact there,
    and their float sum exact (the rounding of each addition found exactly, by Knuth's TwoSum)."""
    exact = np.ones(model.n_rows, dtype=bool)
    total = np.zeros(model.n_rows)
    for term, vector in model.costs.items():
        exact &= model.rounding.exact_in(term, model.n_rows)
        value = total + vector
        back = value - total
        exact &= (total - (value - back)) + (vector - back) == 0
        total = value
    return exact


def total_cost_error(model: TabularMDP) -> float:
    """A bound on ``|model.cost - exact total cost|`` over the rows: the terms' rounding, and the rounding
    of adding them up in floats."""
    error = sum(model.rounding.costs.values(), 0.0)
    if len(model.costs) > 1:
        size = np.zeros(model.n_rows)
        for vector in model.costs.values():
            size += np.abs(vector)
        error += (len(model.costs) - 1) * _U * float(size.max(initial=0.0)) * (1 + 4 * _U)
    return float(error)


def solve(model: TabularMDP, tol: float = 1e-9, max_iter: int = 100_000, exact: bool = False,
          progress: Callable[[int, float], object] | None = None, exact_limit: int = EXACT_LIMIT) -> Solution:
    """Optimal values and certified optimal action sets ``A*(s)`` of a cost-minimising MDP.

    Value iteration gives a greedy policy; policy iteration (linear solves) improves it until no row
    improves by more than the numerical margin; the certificate (:mod:`mdp.solver.certificate`) bounds
    ``|V - V*|`` for the spec's exact numbers (the model's rounding included) and gives the threshold
    ``delta`` above which a row is certainly suboptimal. See :mod:`mdp.solver.optimize`.

    ``A*(s) = {r : gap(r) <= delta}`` contains every optimal row; a state with one row in it has a
    certainly optimal action, a state with several has at least one optimal among them (exact ties
    and near-ties look alike in floats: only ``exact=True`` tells them apart).

    Policy evaluation solves ``I - gamma P_pi`` densely up to 1500 states, else with bicgstab (fast on
    well-mixed models, where a sparse LU fills in catastrophically: 58 s at 10^4 random states); if that
    stalls, with a sparse LU up to 10^4 states, beyond that never a factorisation: bicgstab preconditioned
    by an incomplete LU, then fixed-point sweeps (:func:`mdp.solver.linear.linear_solve`).

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
        Largest number of policy-iteration steps (and of value-iteration sweeps, at most 2000 of
        which run before policy iteration takes over).
    exact
        Solve in the spec's rational arithmetic (``model.exact``: compile with ``exact=True``, unless
        the model's floats are exact): exact policy iteration from the float policy, exact ``A*(s)``
        (exact ties stay, tiny nonzero gaps drop out), ``bound = delta = 0``.
    progress
        Called as ``progress(sweep, max_change)`` every 50 value-iteration sweeps.
    exact_limit
        Largest number of states for ``exact=True``.

    Returns
    -------
    Solution

    Raises
    ------
    SolverError
        If policy iteration needs more than ``max_iter`` steps.
    ModelError
        A row whose cost is not finite. Discount 1 only: a state reachable from the initial state from
        which no policy terminates with probability 1; an optimal policy that can loop forever from the
        initial state (an end component of the optimal rows without terminal states, e.g. a zero-cost
        loop; in floats only when its rows are certainly optimal, else :attr:`Solution.loop_doubt`); a
        cycle of negative total cost.
    ResourceLimitError
        With ``exact=True``, if the model has more than ``exact_limit`` states.
    ValueError
        On ``tol <= 0`` or ``max_iter < 1``; with ``exact=True``, a model whose floats round its spec's
        numbers and that was compiled without ``exact=True``.

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
            f"{model.n_states:,}: drop --exact (verify --settle-limit N still settles in exact arithmetic what floats "
            "leave open, up to N states), or from Python pass a larger exact_limit (rational arithmetic is slow)")
    if exact:
        _ = model.exact  # fail early (ValueError) when the exact numbers are not known
    cost = finite_cost(model)
    problem = from_model(model, cost, total_cost_error(model), lambda: model.exact.cost(),
                         exact_rows=total_cost_exact_rows(model))
    initial = np.flatnonzero(np.isin(problem.states, model.start_states))
    problem, start = restricted(problem, initial if initial.size else None)
    if model.discount < 1 and float(np.abs(cost).max(initial=0.0)) / (1 - model.discount) > _FLOAT_MAX:
        raise overflow_error(model)
    optimum = optimize(problem, tol=tol, max_iter=max_iter, exact=exact, start=start,
                       initial=initial if initial.size else None, progress=progress)
    if not np.isfinite(optimum.V).all():
        raise overflow_error(model)
    return _assemble(model, optimum)


def finite_cost(model: TabularMDP) -> FloatArray:
    """The intrinsic cost of every row; a :class:`ModelError` naming the first row whose cost is not finite."""
    cost = np.asarray(model.cost, dtype=np.float64)
    if not np.isfinite(cost).all():
        r = int(np.flatnonzero(~np.isfinite(cost))[0])
        s = int(model.row_state[r])
        raise ModelError(f"action '{model.action_names[model.row_action[r]]}' in state ({model.describe(s)}) "
                         f"has cost {cost[r]}, expected a finite number")
    return cost


def overflow_error(model: TabularMDP) -> ModelError:
    """The located error for values beyond 64-bit floats (the discount declaration, a hint to rescale)."""
    return ModelError(Diagnostic(
        "the expected total cost overflows 64-bit floats: it adds up to more than 1.8e308", model.discount_span,
        hint="scale the costs down (dividing every term by the same factor keeps every optimal policy), or use a "
             "smaller discount"), model.source)


def _assemble(model: TabularMDP, optimum: Optimum) -> Solution:
    """Map the problem's arrays back to the model's indices (states outside it: ``V = inf``, all rows kept)."""
    problem = optimum.problem
    n, m = model.n_states, model.n_rows
    V_full = np.full(n, math.inf)
    V_full[problem.states] = optimum.V
    Q_full = np.full(m, math.inf)
    Q_full[problem.rows] = optimum.Q
    gap_full = np.full(m, math.inf)
    gap_full[problem.rows] = optimum.gap
    outside = np.ones(n, dtype=bool)
    outside[problem.states] = False
    outside_rows = outside[model.row_state]
    gap_full[outside_rows] = 0.0
    optimal_full = np.zeros(m, dtype=bool)
    optimal_full[problem.rows] = optimum.optimal
    optimal_full[outside_rows] = True
    policy = np.asarray(model.row_groups[:-1], dtype=np.int64).copy()
    policy[problem.states[problem.row_state[optimum.policy]]] = problem.rows[optimum.policy]
    counts = np.bincount(model.row_state[optimal_full], minlength=n)
    ties = np.flatnonzero((counts > 1) & ~outside).astype(np.int64)
    exact_V = None
    if optimum.exact_V is not None:
        exact_V = {int(s): v for s, v in zip(problem.states.tolist(), optimum.exact_V)}
    for array in (V_full, Q_full, gap_full, optimal_full, policy, ties):
        array.setflags(write=False)
    return Solution(model=model, V=V_full, Q=Q_full, optimal=optimal_full, gap=gap_full,
                    bound=float(optimum.bound), delta=float(optimum.delta), ties=ties, policy=policy,
                    iterations=optimum.sweeps, policy_iterations=optimum.evaluations,
                    exact=optimum.exact, exact_V=exact_V, loop_doubt=optimum.loop_doubt)
