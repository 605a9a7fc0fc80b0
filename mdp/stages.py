"""Finite horizons by backward induction over stages, on the world's own model.

With episodes of ``H`` steps the optimal value and the optimal actions depend on the steps taken ``t``::

    V_H = 0,    Q_t(r) = c(r) + gamma * P(r) V_{t+1},    V_t(s) = min_{r of s} Q_t(r)    (t = H - 1 .. 0)

and ``V_t = 0`` at the world's terminal states. :func:`solve_stages` runs these ``H`` sparse sweeps over
the world's arrays and keeps, per step, the optimal rows ``A*_t`` (ties included, a bit per row) and a
certified error bound: nothing of the world is copied per step (values of a later step are swept again
when an explanation needs them). The
time-expanded model of :mod:`mdp.horizon` is the same objective as one model (state ``(s, t)``); the
functions here answer the questions checks ask of it stage by stage: which ``(s, t)`` pairs optimal
play reaches (:func:`reachable`), the least and greatest expected value of a term or a reachability
probability over the optimal policies (:func:`extremal`), whether every optimal policy reaches a set
(:func:`every_policy_reaches`), a shortest path to a pair (:func:`path_to`) and the terms' values under a
representative optimal policy (:func:`policy_term_values`).

The error bound is the solver's (:mod:`mdp.solver.certificate`): a sweep's rounding ``q`` (the model's
rounding of the spec's numbers included) adds to the contracted bound of the step after,
``e_t = q_t + rho * e_{t+1}``, and a row is in ``A*_t`` when its computed gap is within
``delta_t = (1 + rho) max(e_t, e_{t+1}) + slack`` of the best: every truly optimal row is in it. Floats
cannot tell near-ties from ties; the exact re-check builds the time-expanded model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.errors import ResourceLimitError

from .expressions import UNIT_ROUNDOFF as _U
from .graph import first_rows
from .model import TabularMDP
from .solver.certificate import Roundoff, roundoff_of, threshold
from .solver.iteration import SweepLayout
from .solver.problem import BoolArray, FloatArray, IntArray, Problem, from_model, sole_rows
from .solver.solution import finite_cost, overflow_error, total_cost_error

__all__ = ["EXACT_WORK", "Stages", "decide_exactly", "every_policy_reaches", "extremal", "path_to", "policy_term_values", "reachable",
           "solve_stages", "stage_bytes"]


@dataclass(frozen=True, eq=False)
class Stages:
    """The optimum of a ``steps``-step episode of ``model``, step by step (:func:`solve_stages`).

    Attributes
    ----------
    model
        The world (without a step counter).
    steps
        ``H``, the episode's length.
    start_values
        ``(n,)`` the optimal expected (discounted) cost of a whole episode from each state: ``V_0``.
    packed_optimal
        ``(H, ceil(m / 8))`` ``A*_t`` as bits (:meth:`optimal`): the rows that may be optimal after ``t``
        steps (every truly optimal row is in it, the others are certainly suboptimal).
    bound
        ``(H + 1,)``: certified ``max_s |V_t(s) - V*_t(s)|``.
    delta
        ``(H,)``: the gap below which a row counts as possibly optimal at step ``t``.
    """

    model: TabularMDP
    steps: int
    start_values: FloatArray
    packed_optimal: npt.NDArray[np.uint8]
    bound: FloatArray
    delta: FloatArray
    exact_start_values: dict[int, Fraction] | None = None  # V_0 exactly, once :func:`decide_exactly` ran
    order: IntArray | None = None  # the row of each bit of packed_optimal (None: the model's order)

    @property
    def value(self) -> float:
        """The optimal value of an episode from the start (averaged over an ``init``'s starts)."""
        return self.model.at_start(self.start_values)

    @property
    def is_decided(self) -> bool:
        """Whether the optimal rows are exactly known (decided in exact arithmetic, or no rounding anywhere:
        every delta is 0)."""
        return self.exact_start_values is not None or not self.delta.any()

    def optimal(self, t: int) -> BoolArray:
        """(m,) ``A*_t``, the rows that may be optimal after ``t`` steps."""
        bits = np.unpackbits(self.packed_optimal[t], count=self.model.n_rows).view(bool)
        if self.order is None:
            return bits
        optimal = np.empty_like(bits)
        optimal[self.order] = bits
        return optimal

    def certain(self, t: int) -> BoolArray:
        """(m,) the rows certainly optimal at step ``t``: all of ``A*_t`` when decided, else the only row of
        ``A*_t`` in their state."""
        if self.is_decided:
            return self.optimal(t)
        return sole_rows(self.optimal(t), self.model.row_state, self.model.n_states)

    def values(self, t: int) -> FloatArray:
        """(n,) ``V_t``, the optimal expected cost of steps ``t .. H - 1`` (the sweeps of :func:`solve_stages`
        again, the same arithmetic, from the end: values are not kept per step)."""
        layout = SweepLayout(_problem(self.model))
        terminal = layout.inv[np.flatnonzero(self.model.terminal)]
        V, after = np.zeros(self.model.n_states), np.zeros(self.model.n_states)
        for _ in range(self.steps - t):
            layout.sweep(after, V)
            V[terminal] = 0.0
            V, after = after, V
        return after[layout.inv]

    def Q(self, t: int) -> FloatArray:
        """(m,) each row's value at step ``t``: ``c + gamma P V_{t + 1}``."""
        problem = _problem(self.model)
        return problem.c + problem.P @ (problem.gamma * self.values(t + 1))


def stage_bytes(model: TabularMDP, steps: int) -> int:
    """The memory :func:`solve_stages` keeps: a bit per row and step (and a few values per state)."""
    return steps * ((model.n_rows + 7) // 8) + 8 * 4 * model.n_states


def _problem(model: TabularMDP) -> Problem:
    """The intrinsic cost's problem on the whole world, with the bound on its rounding (stages are solved in
    floats only: the exact re-check builds the time-expanded model)."""
    return from_model(model, np.asarray(model.cost, dtype=np.float64), total_cost_error(model), None)


def solve_stages(model: TabularMDP, steps: int, max_bytes: int | None = None) -> Stages:
    """The optimal values and optimal rows of every step of a ``steps``-step episode (module docstring).

    Raises
    ------
    ResourceLimitError
        When the per-step row flags would take more than ``max_bytes``.
    ModelError
        A row whose cost is not finite, or values that overflow floats.
    """
    if steps < 1:
        raise ValueError(f"an episode has at least 1 step, got {steps}")
    need = stage_bytes(model, steps)
    if max_bytes is not None and need > max_bytes:
        raise ResourceLimitError(
            f"the optimal choices of {steps:,} steps over {model.n_rows:,} choices take {need / 2**20:,.0f} MiB, "
            f"more than the memory budget of {max_bytes / 2**20:,.0f} MiB")
    finite_cost(model)
    problem = _problem(model)
    layout = SweepLayout(problem)  # the solver's action-major rows: the minimum over a state's rows is contiguous
    terminal = layout.inv[np.flatnonzero(model.terminal)]  # internal order from here on
    V, after = np.zeros(model.n_states), np.zeros(model.n_states)
    bound = np.zeros(steps + 1)
    delta = np.zeros(steps)
    packed = np.zeros((steps, (model.n_rows + 7) // 8), dtype=np.uint8)
    is_optimal = np.empty(model.n_rows, dtype=bool)  # buffers reused by every step: no new pages to touch
    highest = np.empty(model.n_states)
    for t in range(steps - 1, -1, -1):
        ro = roundoff_of(problem, max(float(after.max(initial=0.0)), -float(after.min(initial=0.0))))
        layout.sweep(after, V)  # layout.q: each row's Q, slot by slot
        V[terminal] = 0.0
        bound[t] = (ro.q + ro.rho * bound[t + 1]) * (1.0 + 4.0 * _U)
        if not np.isfinite(bound[t]):
            raise overflow_error(model)
        delta[t] = threshold(max(bound[t], bound[t + 1]), ro)
        # gap <= delta as Q <= V + delta: the rounding of the sum is within the slack delta holds for it
        np.add(V, delta[t], out=highest)
        offset = 0
        for nj in layout.slot_sizes:  # slot j holds the j-th row of the first nj states
            np.less_equal(layout.q[offset:offset + nj], highest[:nj], out=is_optimal[offset:offset + nj])
            offset += nj
        packed[t] = np.packbits(is_optimal)  # (a terminal row's gap is 0)
        V, after = after, V
    V = after[layout.inv]  # V_0 in the model's order
    for array in (V, bound, delta, packed):
        array.setflags(write=False)
    return Stages(model, steps, V, packed, bound, delta, order=layout.rows())


EXACT_WORK = 2_000_000
"""The most transitions times steps :func:`decide_exactly` sweeps (rational numbers grow along the steps)."""


def decide_exactly(stages: Stages, exact_model: TabularMDP) -> Stages:
    """``stages`` with ``A*_t`` decided in the spec's rational numbers (exact ties kept, near-ties dropped) and
    ``V_0`` exact: backward induction again, in ``Fraction``. ``exact_model`` is ``stages.model`` compiled
    with ``exact=True`` (the same states and rows).

    Raises
    ------
    ResourceLimitError
        When the sweeps would visit more than :data:`EXACT_WORK` transitions.
    """
    model, steps = exact_model, stages.steps
    if steps * max(model.n_transitions, 1) > EXACT_WORK:
        raise ResourceLimitError(f"deciding {steps:,} steps over {model.n_transitions:,} transitions in exact "
                                 f"arithmetic visits more than {EXACT_WORK:,} of them")
    exact = model.exact
    cost, gamma = exact.cost(), exact.discount
    indptr, indices = model.P.indptr.tolist(), model.P.indices.tolist()
    rows = [list(zip(indices[indptr[r]:indptr[r + 1]], exact.P[indptr[r]:indptr[r + 1]])) for r in range(model.n_rows)]
    groups = np.asarray(model.row_groups).tolist()
    terminal = np.asarray(model.terminal, dtype=bool).tolist()
    V = [Fraction(0)] * model.n_states
    packed = np.zeros_like(stages.packed_optimal)
    for t in range(steps - 1, -1, -1):
        Q = [c + gamma * sum((p * V[j] for j, p in entries), Fraction(0)) for c, entries in zip(cost, rows)]
        V = [Fraction(0) if terminal[s] else min(Q[groups[s]:groups[s + 1]]) for s in range(model.n_states)]
        optimal = [Q[r] == V[s] for s in range(model.n_states) for r in range(groups[s], groups[s + 1])]
        packed[t] = np.packbits(np.array(optimal, dtype=bool))
    packed.setflags(write=False)
    return replace(stages, packed_optimal=packed, exact_start_values=dict(enumerate(V)), order=None)


def _backup(problem: Problem, after: FloatArray, error: float, rows: BoolArray | None, maximize: bool,
            fixed: BoolArray, fixed_values: FloatArray | float = 0.0) -> tuple[FloatArray, FloatArray, float, Roundoff]:
    """One step back: ``Q`` of every row from the values ``after`` (certified within ``error``), the best of
    each state's ``rows`` (all rows: None), ``fixed`` states set to ``fixed_values``, and the new bound."""
    Q = problem.P @ (problem.gamma * after)
    Q += problem.c
    choices = Q if rows is None else np.where(rows, Q, -np.inf if maximize else np.inf)
    reduce = np.maximum if maximize else np.minimum
    values = reduce.reduceat(choices, problem.groups[:-1]) if problem.m else np.zeros(problem.n)
    values[fixed] = fixed_values if np.isscalar(fixed_values) else np.asarray(fixed_values)[fixed]
    ro = roundoff_of(problem, max(float(after.max(initial=0.0)), -float(after.min(initial=0.0))))
    return Q, values, (ro.q + ro.rho * error) * (1.0 + 4.0 * _U), ro


def extremal(stages: Stages, cost: str | FloatArray | None, *, maximize: bool,
             target: Callable[[int], BoolArray] | None = None, avoid: Callable[[int], BoolArray] | None = None,
             keep: bool = False, every_policy: bool = False) -> tuple[FloatArray, float]:
    """The least (greatest) expected value over the optimal policies (``every_policy``: over all policies):
    of the cost or intent term ``cost`` (a name, or a float vector per row, exact as given), or, with
    ``cost=None``, of the probability to reach a pair of ``target(t)`` (``(n,)`` at step ``t``) without
    passing through ``avoid(t)`` within the episode.

    Returns the values at step 0 (``(H + 1, n)`` at every step with ``keep``) and the certified error bound
    at step 0.
    """
    model, steps = stages.model, stages.steps
    n = model.n_states
    terminal = np.asarray(model.terminal, dtype=bool)
    if cost is None:  # a probability: not discounted
        problem = replace(from_model(model, np.zeros(model.n_rows), 0.0, None), gamma=1.0, gamma_error=0.0)
    elif isinstance(cost, str):
        vector = model.costs[cost] if cost in model.costs else model.intents[cost]
        problem = from_model(model, np.asarray(vector, dtype=np.float64), model.rounding.of(cost), None)
    else:
        problem = from_model(model, np.asarray(cost, dtype=np.float64), 0.0, None)

    def boundary(t: int) -> tuple[BoolArray, FloatArray | float]:
        """The pairs whose value is known at step ``t``, and that value."""
        end = terminal if t < steps else np.ones(n, dtype=bool)
        if target is None:
            return end, 0.0
        hit = target(t)
        blocked = end | hit if avoid is None else end | hit | avoid(t)
        return blocked, hit.astype(np.float64)

    fixed, values = boundary(steps)
    after = np.zeros(n)
    after[fixed] = values if np.isscalar(values) else np.asarray(values)[fixed]
    qualitative = _Qualitative(stages, maximize, after) if cost is None else None
    kept = [after] if keep else []
    error = 0.0
    for t in range(steps - 1, -1, -1):
        fixed, values = boundary(t)
        rows = None if every_policy else stages.optimal(t)
        _, after, error, _ = _backup(problem, after, error, rows, maximize, fixed, values)
        if qualitative is not None:
            qualitative.back(t, fixed, after)
        if keep:
            kept.append(after)
    if qualitative is not None and qualitative.decides(model.start_states):
        error = 0.0
    if keep:
        return np.stack(kept[::-1]), error
    return after, error


class _Qualitative:
    """The probability-0 and -1 pairs of a reachability question, found on the graph (exact, as the
    model's probabilities are positive exactly where their floats are): values there are set exactly."""

    def __init__(self, stages: Stages, maximize: bool, last: FloatArray) -> None:
        model = stages.model
        self.stages, self.maximize = stages, maximize
        self.pattern = sp.csr_array((np.ones_like(model.P.data), model.P.indices, model.P.indptr), shape=model.P.shape)
        self.lengths = np.diff(model.P.indptr)
        self.groups = np.asarray(model.row_groups)
        self.ones, self.zeros = last == 1.0, last == 0.0

    def back(self, t: int, fixed: BoolArray, values: FloatArray) -> None:
        """Step ``t``'s exact pairs from step ``t + 1``'s; ``values`` set exactly there (in place)."""
        allowed = self.stages.optimal(t)
        rows_one = (self.pattern @ self.ones.astype(np.float64)) == self.lengths
        rows_zero = (self.pattern @ self.zeros.astype(np.float64)) == self.lengths
        some = np.logical_or.reduceat
        every = np.logical_and.reduceat
        if self.maximize:
            ones = some(rows_one & allowed, self.groups[:-1])
            zeros = every(rows_zero | ~allowed, self.groups[:-1])
        else:
            ones = every(rows_one | ~allowed, self.groups[:-1])
            zeros = some(rows_zero & allowed, self.groups[:-1])
        self.ones = np.where(fixed, values == 1.0, ones)
        self.zeros = np.where(fixed, values == 0.0, zeros)
        values[self.ones] = 1.0
        values[self.zeros] = 0.0

    def decides(self, states: IntArray) -> bool:
        """Whether the graph decided every one of ``states`` at step 0."""
        return bool((self.ones | self.zeros)[states].all())


def reachable(stages: Stages, rows: Callable[[int], BoolArray]) -> BoolArray:
    """(H + 1, n) the pairs ``(t, s)`` reachable from the start by the ``rows(t)`` of each step (terminal
    states end a run: nothing follows them)."""
    model = stages.model
    terminal = np.asarray(model.terminal, dtype=bool)
    into = sp.csr_array(model.P.T)  # (n, m): the rows leading into each state
    reach = np.zeros((stages.steps + 1, model.n_states), dtype=bool)
    reach[0, model.start_states] = True
    for t in range(stages.steps):
        live = rows(t) & (reach[t] & ~terminal)[model.row_state]
        reach[t + 1] = (into @ live.astype(np.float64)) > 0
    return reach


def every_policy_reaches(stages: Stages, target: BoolArray) -> BoolArray:
    """(H + 1, n) the pairs from which every policy of the optimal rows reaches a ``target`` pair
    (``(H + 1, n)``) with positive probability within the episode."""
    model = stages.model
    terminal = np.asarray(model.terminal, dtype=bool)
    groups = np.asarray(model.row_groups)
    into = np.zeros_like(target)
    into[-1] = target[-1]
    for t in range(stages.steps - 1, -1, -1):
        hits = (model.P @ into[t + 1].astype(np.float64)) > 0
        every = np.logical_and.reduceat(hits | ~stages.optimal(t), groups[:-1]) if model.n_rows else \
            np.zeros(model.n_states, dtype=bool)
        into[t] = target[t] | (every & ~terminal)
    return into


def path_to(stages: Stages, reach: BoolArray, rows: Callable[[int], BoolArray], goal: BoolArray
            ) -> tuple[list[tuple[int, int]], list[tuple[int, float]]] | None:
    """A shortest path from a start to a ``goal`` pair (``(H + 1, n)``) along the ``rows(t)`` of each step,
    over the pairs ``reach`` (computed by :func:`reachable` with the same rows): its pairs ``(t, s)`` and,
    per step, the row taken and its probability of the next state (the most likely row that moves there).
    None when no goal pair is reachable."""
    hits = np.argwhere(goal & reach)
    if hits.size == 0:
        return None
    model = stages.model
    terminal = np.asarray(model.terminal, dtype=bool)
    t, state = (int(v) for v in hits[0])  # the earliest step first
    into = sp.csc_array(model.P)
    pairs, taken = [(t, state)], []
    while t > 0:
        start, stop = into.indptr[state], into.indptr[state + 1]
        candidates, chances = into.indices[start:stop], into.data[start:stop]
        allowed = rows(t - 1)[candidates] & reach[t - 1][model.row_state[candidates]] & \
            ~terminal[model.row_state[candidates]] & (chances > 0)
        best = int(np.argmax(np.where(allowed, chances, -1.0)))
        row = int(candidates[best])
        t, state = t - 1, int(model.row_state[row])
        pairs.append((t, state))
        taken.append((row, float(chances[best])))
    return pairs[::-1], taken[::-1]


def policy_term_values(stages: Stages, t: int) -> dict[str, FloatArray]:
    """Each cost term's expected (discounted) cost of steps ``t .. H - 1`` under a representative optimal
    policy (the first row of ``A*`` at every state and step)."""
    model = stages.model
    terminal = np.asarray(model.terminal, dtype=bool)
    values = {term: np.zeros(model.n_states) for term in model.costs}
    for k in range(stages.steps - 1, t - 1, -1):
        first = first_rows(stages.optimal(k), model.row_state, model.n_states)
        step = model.P[first]
        for term, vector in model.costs.items():
            values[term] = np.asarray(vector)[first] + model.discount * (step @ values[term])
            values[term][terminal] = 0.0
    return values
