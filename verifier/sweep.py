"""Weight space: the regions of the param box where the optimal behaviour is constant, and every check's verdict.

The algorithm (issue 6, DESIGN section 4; docs/sweep.md says it for users):

1. The *behaviour* at a weight vector ``w`` is the set of optimal rows at the states they reach from the
   initial state: what every check looks at. For a policy ``pi`` of it, values and gaps are affine in
   the weights (:func:`mdp.parametric.policy_gaps`), and the set where the behaviour stays optimal is
   the convex set where ``pi`` is optimal at the states it reaches. ``pi``'s gaps there are necessary
   conditions; cutting planes ``V^pi(s) <= V^sigma(s)``, from the optimal ``sigma`` at each vertex
   where ``pi`` is not optimal, make them sufficient (:meth:`_Sweep.add_piece`).
2. z3 gives a point of the box strictly outside every region found so far; a small move towards a
   random point of the box keeps it off unknown boundaries with probability 1; repeat until z3 proves
   the box covered or ``max_regions`` is reached (then the answer is partial).
3. The boundaries the same way, in the affine hull the pieces around a point give it
   (:meth:`_Sweep.cover_boundaries`): faces where behaviours tie, and the pieces a ``cost`` bound cuts
   off. z3 looks region by region, in rounds, and sees only the pieces its points fell in (one formula
   of every piece made the last queries take a tenth of a second each). Every check is evaluated at one
   point of each piece: the Chebyshev centre of a region's piece, the mean of a face's vertices.

With checks under an agent whose critic is written by hand, each piece is also where the agent's plan stays
the same (:func:`mdp.parametric.plan_conditions`: exact conditions, intersected with the optimum's), so those
checks get verdicts per piece too (docs/sweep.md, "Checks under an agent").

Models up to ``exact_limit`` states are done in rational arithmetic; larger ones in floats, with
boundaries as accurate as the float gaps (the result says which).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.optimize
import sympy
import z3

import dsl
from dsl.errors import CorrigoError
from dsl.numbers import counted
from dsl.spec import PLAN_DETERMINED, Agent, CostBound, Parameter, Regret, Spec
from dsl.typecheck import is_affine_in_params
from mdp.compiler import compile as compile_model
from mdp.compiler import with_exact_numbers
from mdp.graph import reachable_states
from mdp.model import TabularMDP
from mdp.parametric import (ParametricModel, PlanConditions, PolicyGaps, parametric, plan_conditions, policy_gaps,
                            state_features)
from mdp.solver import solve

from .results import CheckResult, Verdict, clip, tally
from .verification import verify_model

__all__ = [
    "Cell", "Constraint", "Margin", "Region", "SweepError", "SweepResult", "describe_cell", "for_all_results",
    "format_number", "format_point", "polygon_of", "runs", "sweep", "sweep_model",
]

Point = tuple[Fraction, ...]
Affine = tuple[Fraction, ...]  # (a_0, a_1, ..., a_k): a_0 + sum_i a_i w_i

_EXACT_LIMIT = 3000
_FLOAT_TIE = 1e-9  # float mode: relative size below which a gap coefficient counts as 0
_FLOAT_PLANE = Fraction(1, 10**9)  # float mode: normalised half-spaces this close are the same one
_STEP = Fraction(1, 1000)  # how far a new point moves towards a random point of the box
_PIECES_PER_REGION = 20  # budget of pieces (regions, faces, pieces the cost bounds cut) per region of the budget


class SweepError(CorrigoError):
    """The sweep cannot run as asked (no params, an unknown param name); the message says what to pass."""


@dataclass(frozen=True, slots=True)
class Constraint:
    """``a_0 + sum_i a_i w_i  op  0`` with ``op`` one of ``>``, ``>=``, ``==``, ``<=``, ``<``."""

    affine: Affine
    op: str

    def holds(self, point: Sequence[Fraction]) -> bool:
        value = _value(self.affine, point)
        return {">": value > 0, ">=": value >= 0, "==": value == 0, "<=": value <= 0, "<": value < 0}[self.op]

    def closed(self) -> Constraint:
        return Constraint(self.affine, {">": ">=", "<": "<="}.get(self.op, self.op))


@dataclass(frozen=True, slots=True)
class Region:
    """Where one behaviour is optimal (the optimal choices where optimal play goes): a closed polyhedron,
    its non-redundant constraints all ``>= 0``."""

    index: int
    constraints: tuple[Constraint, ...]
    sample: Point  # the (perturbed) point the behaviour was computed at

    def __repr__(self) -> str:
        constraints = counted(len(self.constraints), "constraint")
        return f"<Region {self.index}: {constraints}, sampled at {_short_point(self.sample)}>"


@dataclass(frozen=True, slots=True)
class Cell:
    """A piece of the box with one optimal set and constant verdicts: a region (full-dimensional) or a face."""

    index: int
    region: int  # the index of its Region (a face: of a Region whose closure holds it)
    dimension: int  # len(params) for a region, less for a face where behaviours tie
    constraints: tuple[Constraint, ...]  # its definition (strict inequalities, equalities; the box aside)
    point: Point  # a point inside (the Chebyshev centre for full-dimensional cells)
    verdicts: tuple[tuple[str, Verdict], ...]  # check name -> verdict at ``point``
    results: tuple[CheckResult, ...] = field(default=(), compare=False, repr=False)  # the checks at ``point``
    neighbours: tuple[int, ...] = ()  # faces: the full-dimensional cells around them

    def __repr__(self) -> str:
        where = f"a face of region {self.region}" if self.is_face else f"in region {self.region}"
        return (f"<Cell {self.index}, {where}: dimension {self.dimension}, "
                f"{counted(len(self.constraints), 'constraint')}, at {_short_point(self.point)}; "
                f"{tally(verdict for _, verdict in self.verdicts)}>")

    def verdict(self, check: str) -> Verdict:
        return dict(self.verdicts)[check]

    def result(self, check: str) -> CheckResult:
        return next(r for r in self.results if r.name == check)

    @property
    def is_face(self) -> bool:
        return bool(self.neighbours) or any(c.op == "==" for c in self.constraints)


@dataclass(frozen=True, slots=True)
class Margin:
    """How far one param can move from the spec's value, the others fixed, before a check's verdict changes."""

    param: str
    direction: int  # +1 up, -1 down
    distance: Fraction | None  # None: no change within the box
    at: Fraction | None  # the param's value where it changes
    check: str | None
    verdict: Verdict | None  # the verdict there


@dataclass(frozen=True)
class SweepResult:
    """The regions and faces of a param box with every check's verdict; see :func:`sweep`."""

    spec: str
    path: str
    params: tuple[Parameter, ...]  # swept, in the order of every point
    fixed: tuple[tuple[str, Fraction], ...]  # the other params, at their spec values
    n_states: int
    exact: bool  # regions and boundaries confirmed in rational arithmetic
    complete: bool  # z3 proved the regions cover the box (False: max_regions reached)
    uncovered: Point | None  # a point of the box outside every region found, when incomplete
    regions: tuple[Region, ...]
    cells: tuple[Cell, ...]
    checks: tuple[tuple[str, str], ...]  # (name, property text) of the checks evaluated
    current: Point  # the spec's values of the swept params
    current_cell: int | None
    margins: tuple[Margin, ...]
    notes: tuple[str, ...] = ()
    descriptions: dict[str, str] = field(default_factory=dict)  # check -> where it holds, as inequalities
    agents: tuple[str, ...] = ()  # the agents whose plans the regions keep the same too (checks under them)

    def __repr__(self) -> str:
        verdicts = [self.verdict(name) for name, _ in self.checks]
        holds, fails = verdicts.count(Verdict.HOLDS), verdicts.count(Verdict.FAILS)
        others = len(verdicts) - holds - fails
        return (f"<SweepResult {self.spec}: {clip(', '.join(self.names), 40)}; "
                f"{counted(len(self.regions), 'region')}, {counted(len(self.cells), 'cell')}, "
                f"{'complete' if self.complete else 'partial'}, "
                f"{'exact' if self.exact else 'floats'}; {counted(len(verdicts), 'check')}: {holds} hold throughout, "
                f"{fails} fail somewhere" + (f", {others} inconclusive" if others else "") + ">")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def full_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if not c.is_face)

    def faces(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.is_face)

    def odd_faces(self) -> tuple[tuple[Cell, str], ...]:
        """Faces whose verdict on a check differs from every neighbouring region's (e.g. ties that fail)."""
        by_index = {c.index: c for c in self.cells}
        out = []
        for face in self.faces():
            for name, verdict in face.verdicts:
                around = {by_index[i].verdict(name) for i in face.neighbours}
                if around and verdict not in around:
                    out.append((face, name))
        return tuple(out)

    def locate(self, point: Sequence[Fraction]) -> Cell | None:
        """The cell that contains ``point`` (None outside the regions found)."""
        return next((c for c in self.cells if all(k.holds(point) for k in c.constraints)), None)

    def verdict(self, check: str) -> Verdict:
        """FAILS if the check fails anywhere, else INCONCLUSIVE if anywhere (or the sweep is partial), else HOLDS."""
        verdicts = {c.verdict(check) for c in self.cells}
        if Verdict.FAILS in verdicts:
            return Verdict.FAILS
        if Verdict.INCONCLUSIVE in verdicts or not self.complete:
            return Verdict.INCONCLUSIVE
        return Verdict.HOLDS


def sweep(path_or_spec: Any, overrides: dict[str, object] | None = None, *, params: Sequence[str] | None = None,
          max_regions: int = 50, max_states: int | None = None, exact_limit: int = _EXACT_LIMIT,
          checks: Sequence[str] | None = None, seed: int = 0) -> SweepResult:
    """Partition the box of the spec's params into regions of constant optimal behaviour, with verdicts.

    Parameters
    ----------
    path_or_spec
        A ``.corrigo`` path, the text of a spec, or a loaded :class:`~dsl.spec.Spec`.
    overrides
        ``-D`` values (only with a path or text); an overridden param is still swept over its box.
    params
        The params to sweep (default: all); the others stay at their values.
    max_regions
        Stop after this many regions; the result then says the answer is partial.
    max_states
        Stop compiling beyond this many states.
    exact_limit
        Models with up to this many states are swept in rational arithmetic.
    checks
        The checks to evaluate (default: all).
    seed
        Seed of the small random moves that keep new points off unknown boundaries.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        The spec has no params, or ``params`` names one it does not declare.
    SpecError, ResourceLimitError
        As :func:`verifier.verify`.

    Examples
    --------
    >>> result = sweep('''
    ... model tiny
    ... discount 0.5
    ... param w = 1 in [0, 2]
    ... var off : bool = false
    ... action comply when !off: off' = true
    ... action stay when !off: skip
    ... terminal off
    ... cost pleasure = -w * [stay]
    ... cost duty = -1/2 * [comply]
    ... check stops : P >= 1 [ F off ]
    ... ''')
    >>> [(str(c.point[0]), str(c.verdict('stops'))) for c in result.cells]
    [('1/8', 'HOLDS'), ('1/4', 'FAILS'), ('1', 'FAILS')]

    Staying forever earns ``2w``, complying ``1/2``: below ``w = 1/4`` every optimal policy complies; at
    the tie some optimal policy stays, so ``stops`` fails there as it does above.
    """
    spec = path_or_spec if isinstance(path_or_spec, Spec) else dsl.load(path_or_spec, overrides)
    model = compile_model(spec, max_states=max_states)
    return sweep_model(spec, model, params=params, max_regions=max_regions, exact_limit=exact_limit,
                       checks=checks, seed=seed)


def sweep_model(spec: Spec, model: TabularMDP, *, params: Sequence[str] | None = None, max_regions: int = 50,
                exact_limit: int = _EXACT_LIMIT, checks: Sequence[str] | None = None, seed: int = 0,
                progress: Callable[[str, int], object] | None = None, samples: int = 1000,
                power_seed: int = 0, executor: Executor | None = None) -> SweepResult:
    """:func:`sweep` on an already compiled model; ``progress(stage, count)`` after each region and cell;
    ``samples`` and ``power_seed``: the reward samples of the POWER checks in every region (as ``verify``'s);
    ``executor``: where the cells' checks run (:func:`verifier.parallel.executor`; ``None``: here)."""
    with _long_integers():
        return _sweep_model(spec, model, params, max_regions, exact_limit, checks, seed, progress, samples,
                            power_seed, executor)


def _sweep_model(spec: Spec, model: TabularMDP, params: Sequence[str] | None, max_regions: int, exact_limit: int,
                 checks: Sequence[str] | None, seed: int, progress: Callable[[str, int], object] | None,
                 samples: int, power_seed: int, executor: Executor | None) -> SweepResult:
    names = _swept_names(spec, params)
    exact = model.n_states <= exact_limit
    if exact:
        model = with_exact_numbers(spec, model)  # regions are confirmed in the spec's rationals
    pm = parametric(spec, model, names)
    chosen = tuple(c for c in spec.checks if checks is None or c.name in checks)
    selected = tuple(c for c in chosen if c.scenario == spec.world)  # the others are in worlds of their own
    planners = _planners(spec, pm, selected) if exact else ()
    state = _Sweep(spec, pm, exact, selected, random.Random(seed), progress, (samples, power_seed), executor, planners)
    complete, uncovered = state.cover(max_regions)
    left = state.cover_boundaries(budget=_PIECES_PER_REGION * max_regions, max_regions=max_regions)
    if left is not None and complete:
        complete, uncovered = False, left
    cells = state.cells()
    current = tuple(p.value for p in pm.params)
    current_cell = next((c.index for c in cells if all(k.holds(current) for k in c.constraints)), None)
    notes = []
    if pm.intent_params:
        regret = [c.name for c in selected if isinstance(c.property, Regret)]
        if regret:
            notes.append(f"intent terms mention {', '.join(sorted(pm.intent_params))}: the verdicts of "
                         f"{', '.join(regret)} were taken at each cell's point and may change inside a cell")
    planned = {agent.name for agent, _ in planners}
    given = [c.name for c in selected
             if c.under is not None and (c.under not in planned or not isinstance(c.property, PLAN_DETERMINED))]
    if given:  # a policy's costs, an agent's values, or a plan the sweep cannot follow move inside a cell
        notes.append(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} checked under a declared policy or "
                     "agent: the verdicts were taken at each cell's point and may change inside a cell")
    elsewhere = [c.name for c in chosen if c.scenario != spec.world]
    if elsewhere:
        notes.append(f"{', '.join(elsewhere)} {'is' if len(elsewhere) == 1 else 'are'} checked in another scenario: "
                     "not swept (the sweep explores this world's params; verify checks them there)")
    if not exact:
        notes.append(f"{model.n_states} states is more than the exact limit ({exact_limit}): regions and "
                     "boundaries were computed in floats")
    result = SweepResult(
        spec=spec.name, path=spec.path, params=pm.params,
        fixed=tuple((p.name, p.value) for p in spec.params if p.name not in names),
        n_states=model.n_states, exact=exact, complete=complete, uncovered=uncovered,
        regions=tuple(state.regions), cells=cells, checks=tuple((c.name, c.text) for c in selected),
        current=current, current_cell=current_cell, margins=(), notes=tuple(notes),
        agents=tuple(agent.name for agent, _ in planners))
    margins = _margins(result, state)
    descriptions = {name: _describe(result, state, name) for name, _ in result.checks}
    return SweepResult(**{**{f: getattr(result, f) for f in SweepResult.__dataclass_fields__},
                          "margins": margins, "descriptions": descriptions})


_Planner = tuple[Agent, list[list[Fraction]] | None]  # an agent and its critic, affine in the weights (None: no critic)


def _planners(spec: Spec, pm: ParametricModel, checks: Sequence[Any]) -> tuple[_Planner, ...]:
    """The agents checks are under whose plans the sweep follows exactly, each with its critic as affine functions
    of the weights (None: no critic): those with no critic or a hand-written one affine in the params (a fitted
    critic is fitted anew at every weight vector, a read one is not exact)."""
    out: list[_Planner] = []
    for name in dict.fromkeys(c.under for c in checks if c.under is not None):
        agent = next((a for a in spec.agents if a.name == name), None)
        if agent is None:
            continue  # a declared policy
        if agent.critic is None:
            out.append((agent, None))
            continue
        critic = spec.critic(agent.critic)
        if critic.value is not None and is_affine_in_params(critic.value):
            out.append((agent, state_features(pm, critic.value)))
    return tuple(out)


def _swept_names(spec: Spec, params: Sequence[str] | None) -> tuple[str, ...]:
    declared = [p.name for p in spec.params]
    if not declared:
        raise SweepError(f"model '{spec.name}' declares no param to sweep; declare weights with "
                         "`param w = 1 in [0, 10]` and use them in cost terms")
    if params is None:
        return tuple(declared)
    unknown = [name for name in params if name not in declared]
    if unknown:
        raise SweepError(f"'{unknown[0]}' is not a param of model '{spec.name}'; its params are "
                         f"{', '.join(declared)}")
    if len(set(params)) != len(params):
        raise SweepError("a param is named twice; name each param to sweep once")
    return tuple(params)


# --- the state of one sweep --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Optimum:
    """A policy certified optimal at one point, with its gaps and state values affine in the weights."""

    gaps: PolicyGaps
    optimal: npt.NDArray[np.bool_]  # (m,) the rows optimal at the point
    candidates: list[int]  # the rows not optimal there whose gap may reach 0 in the box
    exact: bool

    def gap(self, r: int) -> Affine:
        if self.exact:
            return (self.gaps.exact or {})[r]
        return tuple(Fraction(float(x)) for x in self.gaps.gap[r])

    def value(self, s: int) -> Affine | None:
        if self.exact:
            return (self.gaps.exact_values or {}).get(s)
        v = self.gaps.values[s]
        return None if np.isnan(v[0]) else tuple(Fraction(float(x)) for x in v)

    def values_at(self, states: npt.NDArray[np.int64], point: Point) -> list[Any]:
        """``V^pi`` at ``point`` of every state of ``states`` (None where not evaluated)."""
        if self.exact:
            exact = self.gaps.exact_values or {}
            return [_value(exact[s], point) if s in exact else None for s in states.tolist()]
        v = self.gaps.values[states] @ np.array([1.0, *(float(x) for x in point)])
        return [None if np.isnan(x) else float(x) for x in v]


@dataclass(frozen=True, eq=False)
class _Piece:
    """Where one behaviour is optimal and the cost bounds keep their signs, found at a generic ``point``.

    A relatively open polyhedron: the ``equalities`` give its affine hull (none for a full-dimensional
    piece), the ``inequalities`` hold strictly inside, the ``signs`` are the cost bounds' sides.
    """

    equalities: tuple[Affine, ...]
    inequalities: tuple[Affine, ...]
    signs: tuple[Constraint, ...]
    point: Point
    behaviour: tuple[bytes, ...]  # the optimal rows where optimal play (or an agent) goes; each agent's rows
    region: int | None  # full-dimensional pieces: the index of their Region

    @cached_property
    def constraints(self) -> tuple[Constraint, ...]:
        return tuple(Constraint(e, "==") for e in self.equalities) + \
            tuple(Constraint(a, ">") for a in self.inequalities) + self.signs

    def closure_holds(self, point: Point) -> bool:
        return all(c.closed().holds(point) for c in self.constraints)

    @property
    def verdict_key(self) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
        """Pieces with the same behaviour and cost-bound sides share their verdicts."""
        return self.behaviour, tuple(c.op for c in self.signs)


class _RegionCover:
    """z3 looking for a point of one region's closure that no piece holds: the pieces enter its formula when
    a point z3 gives lies in them (most pieces are far from any one region, and a formula of every piece
    made each of the last queries take a tenth of a second)."""

    def __init__(self, sweep: _Sweep, region: Region) -> None:
        self.sweep = sweep
        self.solver = sweep.solver()
        self.solver.add(*[sweep.formula(c) for c in region.constraints])
        self.excluded: set[int] = set()  # ids of the pieces in the formula

    def uncovered(self, pieces: Sequence[_Piece]) -> Point | None:
        """A point of the region's closure in none of ``pieces`` (None: the pieces cover it)."""
        while self.solver.check() == z3.sat:
            p = self.sweep.point(self.solver)
            holding = [piece for piece in pieces if id(piece) not in self.excluded and
                       all(c.holds(p) for c in piece.constraints)]
            if not holding:
                return p
            for piece in holding:
                self.excluded.add(id(piece))
                self.solver.add(z3.Not(self.sweep.conjunction(piece.constraints)))
        return None


class _Sweep:
    def __init__(self, spec: Spec, pm: ParametricModel, exact: bool, checks: tuple[Any, ...],
                 rng: random.Random, progress: Callable[[str, int], object] | None,
                 power_samples: tuple[int, int] = (1000, 0), executor: Executor | None = None,
                 planners: tuple[_Planner, ...] = ()) -> None:
        self.spec, self.pm, self.exact, self.checks, self.rng = spec, pm, exact, checks, rng
        self.planners = planners  # agents whose plans shape the pieces too (exact mode), with their critics
        self.power_samples = power_samples  # (samples, seed) of the POWER checks
        self.executor = executor  # where the cells' checks run
        self.progress = progress
        self.z3 = z3.Context()  # its own: z3's answers then depend on this sweep's queries alone, not on earlier ones
        self.x = [z3.Real(p.name, self.z3) for p in pm.params]
        self.box = [Constraint((-p.lo,) + _unit(i, pm.k), ">=") for i, p in enumerate(pm.params)] + \
                   [Constraint((p.hi,) + _unit(i, pm.k, -1), ">=") for i, p in enumerate(pm.params)]
        self.regions: list[Region] = []
        self.pieces: list[_Piece] = []
        self.region_of: dict[tuple[bytes, ...], int] = {}  # behaviour -> its latest full-dimensional Region
        self.optima: dict[Point, _Optimum] = {}
        self.plans: dict[tuple[str, Point], PlanConditions] = {}
        self.subspaces: dict[tuple[Affine, ...], tuple[Point, list[Point]]] = {}
        self.closures: dict[tuple[Constraint, ...], list[Point]] = {}
        self.planes: list[Affine] = []  # float mode: every half-space so far (see plane)
        self.terms: dict[Affine, Any] = {}
        self.terms_needed = tuple(c.property.term for c in checks
                                  if isinstance(c.property, CostBound) and c.property.term is not None)
        self.verdict_cache: dict[Any, tuple[CheckResult, ...]] = {}
        total = pm.total()
        self.scale = max(1.0, float(np.abs(total).max(initial=0.0)))  # float mode: what counts as 0

    # -- z3 helpers
    def term(self, affine: Affine) -> Any:
        term = self.terms.get(affine)
        if term is None:
            term = self.terms[affine] = z3.Sum([z3.RealVal(affine[0], self.z3)] +
                                               [z3.RealVal(a, self.z3) * x for a, x in zip(affine[1:], self.x) if a])
        return term

    def formula(self, c: Constraint) -> Any:
        t = self.term(c.affine)
        return {">": t > 0, ">=": t >= 0, "==": t == 0, "<=": t <= 0, "<": t < 0}[c.op]

    def conjunction(self, constraints: Sequence[Constraint]) -> Any:
        return z3.And(*[self.formula(c) for c in constraints]) if constraints else z3.BoolVal(True, self.z3)

    def solver(self) -> Any:
        s = z3.Solver(ctx=self.z3)
        s.add(*[self.formula(c) for c in self.box])
        return s

    def point(self, s: Any) -> Point:
        m = s.model()
        return tuple(_fraction(m.evaluate(x, model_completion=True)) for x in self.x)

    # -- covering
    def cover(self, max_regions: int) -> tuple[bool, Point | None]:
        """The full-dimensional regions, until z3 proves their closures cover the box or the budget is spent."""
        s = self.solver()
        target: Point = tuple(p.value for p in self.pm.params)
        while True:
            if len(self.regions) >= max_regions:
                return False, target
            start = self.nudge(target, (), lambda q: any(all(c.holds(q) for c in r.constraints)
                                                          for r in self.regions)) or target
            self.add_piece(start, ())
            region = self.regions[-1]
            if not region.constraints:
                return True, None
            # float mode: outside by more than the float accuracy (regions that meet at a point in exact
            # arithmetic leave slivers of size 1e-14 between their float boundaries)
            margin = Fraction(0) if self.exact else _FLOAT_PLANE
            s.add(z3.Or(*[self.term(c.affine) < -margin for c in region.constraints]))
            if s.check() == z3.unsat:
                return True, None
            target = self.point(s)
            if self.progress:
                self.progress("regions", len(self.regions))

    def cover_boundaries(self, budget: int, max_regions: int) -> Point | None:
        """The lower-dimensional pieces (faces where behaviours tie) and the pieces the cost bounds cut off.

        In rounds: z3 gives, for each region not yet covered, a point of its closure that lies in no piece
        yet; the pieces whose closures hold it give the affine hull to look in (their equalities and the
        inequalities tight there), and a random point of that hull nearby is generic in it. A round's pieces
        are found from the pieces known at its start, then added in region order, dropping those whose point
        an earlier one of the round already holds. Returns a point left over if the budget ran out:
        ``budget`` pieces, or a new full-dimensional region beyond ``max_regions`` (when :meth:`cover`
        stopped short, a random point near a region may lie outside every region found).
        """
        open_regions = {r.index: _RegionCover(self, r) for r in self.regions}
        while True:
            found: list[tuple[Point, Point, tuple[Affine, ...]]] = []  # (z3's point, start, hull) this round
            for index in list(open_regions):
                p = open_regions[index].uncovered(self.pieces)
                if p is None:
                    del open_regions[index]
                    continue
                equalities = self.hull(p)
                if any(equalities == other for _, _, other in found if equalities):  # one face per hull a round
                    continue
                start, equalities = self.generic(p, equalities)
                if not equalities and len(self.regions) >= max_regions and \
                        not any(all(c.holds(start) for c in r.constraints) for r in self.regions):
                    return start  # it would be a region beyond the budget
                found.append((p, start, equalities))
            if not found:
                return None
            for (p, start, equalities), piece in zip(found, self.find_pieces([(start, hull) for _, start, hull in found])):
                if any(all(c.holds(start) for c in known.constraints) for known in self.pieces):
                    continue  # an earlier piece of this round holds it
                if len(self.pieces) >= budget:
                    return p
                self.accept(piece)
                if self.progress:
                    self.progress("pieces", len(self.pieces))

    def hull(self, p: Point) -> tuple[Affine, ...]:
        """The affine hull the pieces whose closures hold ``p`` give it: their equalities and the inequalities
        tight at ``p``, independent."""
        hull: list[Affine] = []
        for piece in self.pieces:
            if piece.closure_holds(p):
                hull += piece.equalities
                hull += [c.affine for c in piece.constraints[len(piece.equalities):] if _value(c.affine, p) == 0]
        return self.independent(hull)

    def generic(self, p: Point, equalities: tuple[Affine, ...]) -> tuple[Point, tuple[Affine, ...]]:
        """A random point near ``p`` in the hull ``equalities`` and in no piece, and its hull: ``p`` alone if
        there is no room around it (e.g. a corner of the box)."""
        start = self.nudge(p, equalities, lambda q: any(all(c.holds(q) for c in piece.constraints)
                                                         for piece in self.pieces))
        if start is None:
            return p, tuple((-x,) + _unit(i, self.pm.k) for i, x in enumerate(p))
        return start, equalities

    def nudge(self, point: Point, equalities: tuple[Affine, ...], covered: Callable[[Point], bool]
              ) -> Point | None:
        """A point near ``point`` in the hull ``equalities``, in a random direction, in the box and not ``covered``.

        None if there is none (the hull meets the box only in ``point`` near it, or all around is covered).
        """
        origin, basis = self.subspace(equalities)
        if not basis:
            return point
        for attempt in range(20):
            if equalities:
                weights = [Fraction(self.rng.randint(-1000, 1000), 1000) for _ in basis]
                direction = [sum((w * b[i] for w, b in zip(weights, basis)), Fraction(0)) for i in range(self.pm.k)]
            else:
                other = [p.lo + (p.hi - p.lo) * Fraction(self.rng.randint(0, 1000), 1000) for p in self.pm.params]
                direction = [b - a for a, b in zip(point, other)]
            step = _STEP
            for _ in range(40):
                moved = tuple(a + step * d for a, d in zip(point, direction))
                if all(c.holds(moved) for c in self.box) and not covered(moved):
                    return moved
                step /= 2
        return None

    def plane(self, affine: Affine) -> Affine:
        """``affine`` normalised; in float mode snapped to a known half-space within the float accuracy, so
        that the regions on both sides of a boundary share it exactly (no sliver between them)."""
        a = _normalise(affine)
        if self.exact:
            return a
        known = self.near(a)
        if known is not None:
            return known
        a = tuple(Fraction(round(float(x), 12)).limit_denominator(10**12) for x in a)
        self.planes.append(a)
        return a

    def near(self, a: Affine) -> Affine | None:
        return next((known for known in self.planes if all(abs(x - y) <= _FLOAT_PLANE for x, y in zip(a, known))),
                    None)

    def snap(self, a: Affine) -> Affine:
        """A half-space :meth:`plane` gave (in a piece found apart): the known one near it, else it, now known."""
        known = self.near(a)
        if known is None:
            self.planes.append(a)
        return a if known is None else known

    def independent(self, affines: Sequence[Affine]) -> tuple[Affine, ...]:
        """A linearly independent subset of the equalities ``affines == 0`` with the same solutions."""
        kept: list[Affine] = []
        for a in dict.fromkeys(_normalise(a) for a in affines if any(a[1:])):
            if _rank([*kept, a]) > len(kept):
                kept.append(a)
        return tuple(kept)

    def subspace(self, equalities: tuple[Affine, ...]) -> tuple[Point, list[Point]]:
        """``{w : e(w) = 0 for e in equalities}`` as ``origin + span(basis)``, exactly."""
        cached = self.subspaces.get(equalities)
        if cached is None:
            k = self.pm.k
            if not equalities:
                cached = (tuple(Fraction(0) for _ in range(k)), [_unit(i, k) for i in range(k)])
            else:
                A = sympy.Matrix([[_rational(a) for a in e[1:]] for e in equalities])
                b = sympy.Matrix([-_rational(e[0]) for e in equalities])
                solution, free = A.gauss_jordan_solve(b)
                at_zero = solution.subs({t: 0 for t in free})
                origin = tuple(Fraction(int(x.p), int(x.q)) for x in at_zero)
                basis = [tuple(Fraction(int(x.p), int(x.q)) for x in solution.diff(t)) for t in free]
                cached = (origin, basis)
            self.subspaces[equalities] = cached
        return cached

    # -- one piece
    def add_piece(self, point: Point, equalities: tuple[Affine, ...]) -> _Piece:
        """:meth:`find_piece`, added."""
        return self.accept(self.find_piece(point, equalities))

    def find_piece(self, point: Point, equalities: tuple[Affine, ...]) -> tuple[_Piece, tuple[Affine, ...]]:
        """The piece of the generic ``point`` of the hull ``equalities``, and the float half-spaces it brought
        (:meth:`accept` adds them; the piece is a new Region when full-dimensional and in none).

        Its behaviour ``B`` (the optimal rows of the states they reach) is optimal on a convex set: where
        the policy ``pi`` of the point is optimal at every state ``B`` reaches. That set lies inside the
        polyhedron of ``pi``'s gaps at those states (necessary conditions); cutting planes make them
        sufficient: at each vertex where ``pi`` is not optimal, ``V^pi(s) <= V^sigma(s)`` for the optimal
        ``sigma`` there cuts the vertex off. When every vertex is optimal, so is the polyhedron (convexity).
        Inside it no other row ties (a gap that is concave and >= 0 and 0 somewhere inside is 0 everywhere,
        so 0 at the generic point too), so ``B`` is the behaviour of the whole relative interior.

        With checks under agents (:attr:`planners`), the piece is also where each agent's decisions stay the
        same (:func:`mdp.parametric.plan_conditions`, exact conditions, no cuts needed), and ``B`` covers the
        states the agents reach as well (``exploits_critic`` compares their rows with the optimal ones there).
        """
        model = self.pm.model
        optimum = self.optimum(point)
        plans = [self.plan(agent, critic, point) for agent, critic in self.planners]
        reach = reachable_states(model, optimum.optimal)
        for planned in plans:
            reach = reach | planned.reach
        behaviour = (np.flatnonzero(optimum.optimal & reach[model.row_state]).tobytes(),
                     *(np.flatnonzero(p.rows & p.reach[model.row_state]).tobytes() for p in plans))
        region = self.region_of.get(behaviour) if not equalities else None
        known = len(self.planes)
        if region is not None and all(c.holds(point) for c in self.regions[region].constraints):
            inequalities = tuple(c.affine for c in self.regions[region].constraints)
        else:
            region = None
            inequalities = self.polyhedron(optimum, np.flatnonzero(reach), equalities, point,
                                           tuple(c for p in plans for c in p.conditions))
        signs = tuple(Constraint(f, _sign(_value(f, point))) for _, f in self.splits(optimum, point))
        added = tuple(self.planes[known:])
        del self.planes[known:]
        return _Piece(equalities, inequalities, signs, point, behaviour, region), added

    def find_pieces(self, starts: Sequence[tuple[Point, tuple[Affine, ...]]]
                    ) -> list[tuple[_Piece, tuple[Affine, ...]]]:
        """:meth:`find_piece` of each ``(point, equalities)``, all from the pieces known now."""
        return [self.find_piece(point, equalities) for point, equalities in starts]

    def accept(self, found: tuple[_Piece, tuple[Affine, ...]]) -> _Piece:
        """Add a piece of :meth:`find_piece` (a new Region when full-dimensional and not in one), with the float
        half-spaces it introduced snapped to those known now."""
        piece, added = found
        if added:
            snapped = {a: self.snap(a) for a in added}
            piece = replace(piece, inequalities=tuple(snapped.get(a, a) for a in piece.inequalities))
        if not piece.equalities and piece.region is None:
            piece = replace(piece, region=len(self.regions))
            self.regions.append(Region(len(self.regions), tuple(Constraint(a, ">=") for a in piece.inequalities),
                                       piece.point))
            self.region_of[piece.behaviour] = len(self.regions) - 1
        self.pieces.append(piece)
        return piece

    def plan(self, agent: Agent, critic: list[list[Fraction]] | None, point: Point) -> PlanConditions:
        """What ``agent`` plans at ``point`` and the conditions that keep it (cached by point)."""
        key = (agent.name, point)
        cached = self.plans.get(key)
        if cached is None:
            cached = self.plans[key] = plan_conditions(self.pm, critic, agent.steps, point)
        return cached

    def optimum(self, point: Point) -> _Optimum:
        """A policy optimal at ``point``: the float solver's, in exact mode improved in rationals until no gap
        is negative (the solver reads the costs at ``point`` back from floats, which may round a tie)."""
        cached = self.optima.get(point)
        if cached is not None:
            return cached
        pm, rows_state = self.pm, self.pm.model.row_state
        policy = solve(pm.at(point)).policy.copy()
        for _ in range(100):
            gaps = policy_gaps(pm, policy, exact=self.exact, terms=self.terms_needed)
            optimal = np.zeros(pm.model.n_rows, dtype=bool)
            if not self.exact:
                at = gaps.gap[gaps.near] @ np.array([1.0, *(float(x) for x in point)])
                optimal[gaps.near[np.abs(at) <= _FLOAT_TIE * self.scale]] = True
                break
            exact_at = {r: _value(g, point) for r, g in (gaps.exact or {}).items()}
            worse: dict[int, int] = {}
            for r, g in exact_at.items():
                s = int(rows_state[r])
                if g < 0 and (s not in worse or g < exact_at[worse[s]]):
                    worse[s] = r
            if not worse:
                optimal[[r for r, g in exact_at.items() if g == 0]] = True
                break
            for s, r in worse.items():
                policy[s] = r
        else:  # pragma: no cover - policy iteration ends long before
            raise RuntimeError(f"no optimal policy found at {point}")
        optimum = _Optimum(gaps, optimal, [r for r in gaps.near.tolist() if not optimal[r] and
                                           (not self.exact or r in (gaps.exact or {}))], self.exact)
        self.optima[point] = optimum
        return optimum

    def zero(self, x: Fraction) -> bool:
        return x == 0 if self.exact else abs(x) <= _FLOAT_TIE * self.scale

    def polyhedron(self, optimum: _Optimum, states: npt.NDArray[np.int64], equalities: tuple[Affine, ...],
                   point: Point, conditions: tuple[Affine, ...] = ()) -> tuple[Affine, ...]:
        """The non-redundant inequalities of the set where ``optimum``'s policy is optimal at ``states`` and the
        further ``conditions`` (exact ones, an agent's) are >= 0: its facets, the constraints whose vertices span a
        face of one dimension less (where ties meet, many more planes pass through one vertex; three params gave
        regions of 20-67 constraints, and z3 a minute to prove the box covered)."""
        model, params = self.pm.model, self.pm.params
        on = np.zeros(model.n_states, dtype=bool)
        on[states] = True
        constraints: dict[Affine, None] = {}

        def add(a: Affine) -> None:
            if any(a[1:]) and _box_min(_normalise(a), params) <= 0:
                constraints[self.plane(a)] = None

        for r in optimum.candidates:
            if on[model.row_state[r]]:
                add(optimum.gap(r))
        for condition in conditions:
            add(condition)
        while True:
            kept = self.prune(list(constraints), equalities)
            vertices = self.vertices(equalities, kept)
            cuts = [cut for v in vertices for cut in self.cuts(optimum, states, v)]
            if not cuts:
                break
            for cut in cuts:
                add(cut)
        dimension = len(self.subspace(equalities)[1]) if equalities else self.pm.k
        return tuple(a for a in _facet_defining(kept, vertices, dimension) if _value(a, point) != 0)

    def cuts(self, optimum: _Optimum, states: npt.NDArray[np.int64], v: Point) -> list[Affine]:
        """``V^sigma - V^pi >= 0`` at every state of ``states`` where ``pi`` is not optimal at ``v``."""
        best = self.optimum(v)
        out = []
        for s, mine, theirs in zip(states.tolist(), optimum.values_at(states, v), best.values_at(states, v)):
            if mine is not None and theirs is not None and theirs < mine and not self.zero(theirs - mine):
                a, b = optimum.value(s), best.value(s)
                if a is not None and b is not None:
                    out.append(tuple(y - x for x, y in zip(a, b)))
        return out

    def prune(self, affines: list[Affine], equalities: tuple[Affine, ...] = ()) -> list[Affine]:
        """Full-dimensional with three or more params: drop the constraints the others make strictly positive.

        A constraint goes if an LP (HiGHS) finds it above a small margin on the rest; z3 confirms each drop.
        Otherwise (one or two params, or a lower-dimensional hull) vertex enumeration is cheap and the
        callers keep the constraints that are 0 at a vertex.
        """
        if self.pm.k <= 2 or equalities or not affines:
            return affines
        kept = list(affines)
        for a in list(affines):
            others = [b for b in kept if b != a]
            low = _lp_min(a, others, self.pm.params)
            if low is not None and low > 1e-7 * max(1.0, max(abs(float(x)) for x in a)):
                s = self.solver()
                s.add(*[self.term(b) >= 0 for b in others])
                s.add(self.term(a) <= 0)
                if s.check() == z3.unsat:
                    kept = others
        return kept

    def vertices(self, equalities: tuple[Affine, ...], affines: Sequence[Affine]) -> list[Point]:
        """The vertices of ``{w in box : e(w) = 0, a(w) >= 0}``, exactly."""
        if not equalities and self.pm.k <= 2:
            return _vertices(self.pm.params, affines)
        origin, basis = self.subspace(equalities)
        d = len(basis)
        rows = [(_value(a, origin),) + tuple(sum((x * y for x, y in zip(a[1:], b)), Fraction(0)) for b in basis)
                for a in [*affines, *(c.affine for c in self.box)]]
        if d <= 1:  # a point, or an interval of a line: its ends
            if any(r[0] < 0 for r in rows if not any(r[1:])):
                return []
            if d == 0:
                return [origin]
            lo = max(-r[0] / r[1] for r in rows if r[1] > 0)
            hi = min(-r[0] / r[1] for r in rows if r[1] < 0)
            return [] if lo > hi else list(dict.fromkeys(
                tuple(o + t * b for o, b in zip(origin, basis[0])) for t in (lo, hi)))
        found: dict[Point, None] = {}
        for t in _feasible_intersections(rows, d):
            found[tuple(o + sum((ti * b[i] for ti, b in zip(t, basis)), Fraction(0))
                        for i, o in enumerate(origin))] = None
        return list(found)

    def closure_vertices(self, constraints: tuple[Constraint, ...]) -> list[Point]:
        """The vertices of the closure of a cell given by its defining constraints (cached)."""
        cached = self.closures.get(constraints)
        if cached is None:
            equalities = self.independent([c.affine for c in constraints if c.op == "=="])
            closed = [c.affine if c.op in (">", ">=") else tuple(-a for a in c.affine)
                      for c in constraints if c.op != "=="]
            cached = self.closures[constraints] = self.vertices(equalities, closed)
        return cached

    # -- cells
    def splits(self, optimum: _Optimum, point: Point) -> list[tuple[str, Affine]]:
        """Affine functions whose sign decides a check inside a piece: a cost value minus its bound."""
        out = []
        for check in self.checks:
            prop = check.property
            if isinstance(prop, CostBound):
                gaps = optimum.gaps
                value = gaps.total_initial if prop.term is None else gaps.initial[f"cost:{prop.term}"]
                affine = tuple(Fraction(x) if not isinstance(x, Fraction) else x for x in value)
                f = (affine[0] - prop.bound,) + affine[1:]
                if any(f[1:]):
                    out.append((check.name, f))
        return out

    def cells(self) -> tuple[Cell, ...]:
        """The pieces as cells, in the order of their points, each with every check's verdict."""
        k = self.pm.k
        placed = sorted(((piece, self.face_point(piece) if piece.equalities else
                          self.centre(piece.constraints, piece.point)) for piece in self.pieces),
                        key=lambda item: item[1])
        self.evaluate_all(placed)
        cells = []
        for index, (piece, point) in enumerate(placed):
            results = self.evaluate(piece, point)
            region = piece.region if piece.region is not None else next(
                (r.index for r in self.regions if all(c.holds(point) for c in r.constraints)), 0)
            cells.append(Cell(index, region, k - len(piece.equalities), piece.constraints, point,
                              tuple((r.name, r.verdict) for r in results), results))
            if self.progress:
                self.progress("cells", index + 1)
        full = [c for c in cells if c.dimension == k]
        return tuple(replace(cell, neighbours=tuple(f.index for f in full if all(
            c.closed().holds(cell.point) for c in f.constraints))) if cell.dimension < k else cell
            for cell in cells)

    def face_point(self, piece: _Piece) -> Point:
        """A simple point inside a lower-dimensional piece: the mean of its closure's vertices."""
        vertices = self.closure_vertices(piece.constraints)
        if vertices:
            mean = tuple(sum(xs, Fraction(0)) / len(vertices) for xs in zip(*vertices))
            if all(c.holds(mean) for c in piece.constraints):
                return mean
        return piece.point

    def centre(self, defining: tuple[Constraint, ...], fallback: Point) -> Point:
        """The Chebyshev centre of a full-dimensional cell, as a simple rational strictly inside; else ``fallback``."""
        rows = [c.affine if c.op in (">", ">=") else tuple(-a for a in c.affine) for c in defining] + \
            [c.affine for c in self.box]
        A = np.array([[-float(a) for a in r[1:]] + [float(np.linalg.norm([float(a) for a in r[1:]]))] for r in rows])
        b = np.array([float(r[0]) for r in rows])
        k = self.pm.k
        result = scipy.optimize.linprog(np.r_[np.zeros(k), -1.0], A_ub=A, b_ub=b,
                                        bounds=[(None, None)] * k + [(0, None)], method="highs")
        if result.status != 0 or result.x is None:
            return fallback
        centre, radius = result.x[:k], result.x[k]
        for denominator in (2, 4, 8, 10, 12, 100, 1000, 10**6):
            point = tuple(Fraction(float(x)).limit_denominator(denominator) for x in centre)
            if float(np.linalg.norm(np.array([float(x) for x in point]) - centre)) <= radius / 2 \
                    and all(c.holds(point) for c in defining) and all(c.holds(point) for c in self.box):
                return point
        return fallback

    def evaluate(self, piece: _Piece, point: Point) -> tuple[CheckResult, ...]:
        """Every check at ``point``; pieces with the same behaviour and cost signs share verdicts."""
        key = piece.verdict_key
        if key not in self.verdict_cache:
            samples, seed = self.power_samples
            self.verdict_cache[key] = _verdicts(_at_weights(self.spec, self.pm, point), self.pm.at(point), self.exact,
                                                tuple(c.name for c in self.checks), samples, seed)
        return self.verdict_cache[key]

    def evaluate_all(self, placed: Sequence[tuple[_Piece, Point]]) -> None:
        """With an executor, the checks of every distinct piece at once, in parallel, into the cache (the
        cells are then assembled in order, as without one)."""
        if self.executor is None:
            return
        todo: dict[Any, Point] = {}
        for piece, point in placed:
            todo.setdefault(piece.verdict_key, point)
        keys = [key for key in todo if key not in self.verdict_cache]
        samples, seed = self.power_samples
        names = tuple(c.name for c in self.checks)
        futures = [self.executor.submit(_verdicts_at, self.spec, self.pm, todo[key], self.exact, names, samples, seed)
                   for key in keys]
        for key, future in zip(keys, futures):
            self.verdict_cache[key] = future.result()


def _at_weights(spec: Spec, pm: ParametricModel, point: Point) -> Spec:
    """``spec`` with the swept params at ``point``: what a hand-written critic reads at that weight vector."""
    weights = dict(zip(pm.names, point))
    return replace(spec, params=tuple(replace(p, value=weights.get(p.name, p.value)) for p in spec.params))


def _verdicts_at(spec: Spec, pm: ParametricModel, point: Point, exact: bool, checks: tuple[str, ...], samples: int,
                 seed: int) -> tuple[CheckResult, ...]:
    """:func:`_verdicts` at ``point`` of the swept model, the spec and model at that point made where it runs:
    an executor then sends the point alone (the spec and the swept model go to each worker once, where a new
    spec and model per cell went to every worker and made the cells slower on two workers than here)."""
    return _verdicts(_at_weights(spec, pm, point), pm.at(point), exact, checks, samples, seed)


def _verdicts(spec: Spec, model: TabularMDP, exact: bool, checks: tuple[str, ...], samples: int,
              seed: int) -> tuple[CheckResult, ...]:
    """The checks of ``spec`` on ``model`` (the swept model at one point), solved and verified here or on a
    worker: a module-level function, so that an executor can ship it."""
    solution = solve(model, exact=exact, exact_limit=max(model.n_states, 1))
    return verify_model(spec, model, solution, exact=exact, checks=checks, sweep=False, samples=samples,
                        seed=seed).checks


# --- margins and descriptions ------------------------------------------------------------------


def _margins(result: SweepResult, state: _Sweep) -> tuple[Margin, ...]:
    if result.current_cell is None:
        return ()
    here = result.cells[result.current_cell]
    c = result.current
    out = []
    for i, p in enumerate(result.params):
        for direction in (-1, 1):
            best: tuple[Fraction, str, Verdict] | None = None
            limit = (c[i] - p.lo) if direction < 0 else (p.hi - c[i])
            for cell in result.cells:
                changed = [(name, v) for name, v in cell.verdicts if v is not here.verdict(name)]
                if not changed:
                    continue
                constraints = [k.closed() for k in cell.constraints]
                t = _nearest_along(constraints, c, i, direction, limit)
                if t is not None and (best is None or t < best[0]):
                    best = (t, changed[0][0], changed[0][1])
            if best is None:
                out.append(Margin(p.name, direction, None, None, None, None))
            else:
                out.append(Margin(p.name, direction, best[0], c[i] + direction * best[0], best[1], best[2]))
    return tuple(out)


def _nearest_along(constraints: Sequence[Constraint], c: Point, i: int, direction: int, limit: Fraction
                   ) -> Fraction | None:
    """The smallest ``t`` in ``[0, limit]`` with ``c + direction * t * e_i`` satisfying all (closed) constraints."""
    lo, hi = Fraction(0), limit
    for k in constraints:
        base = _value(k.affine, c)
        slope = k.affine[1 + i] * direction
        # base + slope * t  op  0
        if k.op in (">=", "<="):
            sign = 1 if k.op == ">=" else -1
            b, s = sign * base, sign * slope
            if s == 0:
                if b < 0:
                    return None
            elif s > 0:
                lo = max(lo, -b / s)
            else:
                hi = min(hi, -b / s)
        elif k.op == "==":
            if slope == 0:
                if base != 0:
                    return None
            else:
                t = -base / slope
                lo, hi = max(lo, t), min(hi, t)
        if lo > hi:
            return None
    return lo


def _describe(result: SweepResult, state: _Sweep, check: str) -> str:
    """Where ``check`` holds, as simplified inequalities in the swept params (sympy)."""
    symbols = [sympy.Symbol(name) for name in result.names]
    full = result.full_cells()
    holds = [c for c in full if c.verdict(check) is Verdict.HOLDS]
    if len(result.params) == 1:
        w = symbols[0]
        p = result.params[0]
        pieces = []
        for cell in result.cells:
            if cell.verdict(check) is not Verdict.HOLDS:
                continue
            lo, hi, lo_open, hi_open = _interval(cell, state, p)
            pieces.append(sympy.Interval(lo, hi, lo_open, hi_open))
        where = sympy.Union(*pieces) if pieces else sympy.S.EmptySet
        box = sympy.Interval(sympy.Rational(p.lo), sympy.Rational(p.hi))
        if where == box:
            return "everywhere in the box"
        if where == sympy.S.EmptySet:
            return "nowhere in the box"
        return _readable(str(where.as_relational(w)))
    if len(holds) == len(full):
        return "everywhere in the box" + _face_exceptions(result, check)
    if not holds:
        return "nowhere in the box" + _face_exceptions(result, check)
    # the half-spaces that contain every region where it holds; enough if they exclude every other region
    candidates = {k.affine for cell in holds for k in cell.constraints
                  if k.op != "=="}
    oriented = []
    for a in candidates:
        for b in (a, tuple(-x for x in a)):
            if all(_contains(state, cell, Constraint(b, ">=")) for cell in holds):
                oriented.append(b)
    others = [c for c in full if c.verdict(check) is not Verdict.HOLDS]
    if all(_disjoint(state, oriented, cell) for cell in others):
        kept = _facets(result.params, list(dict.fromkeys(oriented))) if len(result.params) == 2 else \
            state.prune(list(dict.fromkeys(oriented)))
        described = _closed_or_strict(result, kept, check)
        wrong = {c.index for c in result.cells
                 if all(k.holds(c.point) for k in described) != (c.verdict(check) is Verdict.HOLDS)}
        if wrong <= {face.index for face, name in result.odd_faces() if name == check}:
            return " and ".join(_relation(k, symbols) for k in described) + _face_exceptions(result, check)
    return (f"in {len(holds)} of {len(full)} regions, not one convex piece (see the table and the plot)"
            + _face_exceptions(result, check))


def _closed_or_strict(result: SweepResult, kept: Sequence[Affine], check: str) -> list[Constraint]:
    """Each bounding plane strict where most boundary faces on it (strictly inside the other planes) do not
    hold: the face between a region where the check holds and one where it fails may go either way (a tie
    that fails). The caller checks the result against every cell."""
    described = []
    for a in kept:
        on = [f for f in result.faces()
              if _value(a, f.point) == 0 and all(_value(b, f.point) > 0 for b in kept if b is not a)]
        holding = sum(1 for f in on if f.verdict(check) is Verdict.HOLDS)
        described.append(Constraint(a, ">" if 2 * holding < len(on) else ">="))
    return described


def _facets(params: Sequence[Parameter], affines: list[Affine]) -> list[Affine]:
    """Two params: the constraints that bound the polygon along an edge (not a box side, not a vertex only)."""
    out: list[Affine] = []
    for a in _facet_defining(affines, _vertices(params, affines), 2):
        if sum(1 for x in a[1:] if x) == 1:  # parallel to a box side: a side itself?
            i = next(j for j, x in enumerate(a[1:]) if x)
            t = -a[0] / a[1 + i]
            if t in (params[i].lo, params[i].hi):
                continue
        out.append(a)
    return out


def _readable(text: str) -> str:
    """sympy's ``(0 <= w) & Ne(w, 1)`` as ``(0 <= w) and w != 1``."""
    text = re.sub(r"Ne\(([^,()]+), ([^()]+)\)", r"\1 != \2", text)
    return text.replace(" & ", " and ").replace(" | ", " or ")


def _face_exceptions(result: SweepResult, check: str) -> str:
    n = sum(1 for _, name in result.odd_faces() if name == check)
    return f" (except on {n} boundary face(s), listed below)" if n else ""


def _contains(state: _Sweep, cell: Cell, half: Constraint) -> bool:
    """Whether the half-space holds the cell's closure: a polytope lies in it iff its vertices do."""
    vertices = state.closure_vertices(cell.constraints)
    return all(half.holds(v) for v in vertices)


def _disjoint(state: _Sweep, halves: Sequence[Affine], cell: Cell) -> bool:
    s = state.solver()
    s.add(*[state.formula(k) for k in cell.constraints])
    s.add(*[state.term(a) > 0 for a in halves])
    return bool(s.check() == z3.unsat)


def _relation(constraint: Constraint, symbols: list[Any]) -> str:
    """``a_0 + a.w >= 0`` (``>``, ``==``) solved for its last param: ``w_2 >= 3/2*w_1 - 1/5``."""
    affine = constraint.affine
    j = max(i for i, a in enumerate(affine[1:]) if a)
    a = sympy.Rational(affine[1 + j].numerator, affine[1 + j].denominator)
    rest = sympy.Rational(affine[0].numerator, affine[0].denominator) + sum(
        sympy.Rational(x.numerator, x.denominator) * s for i, (x, s) in enumerate(zip(affine[1:], symbols)) if i != j)
    bound = sympy.expand(-rest / a)
    bound = bound.xreplace({r: sympy.Float(r, 6) for r in bound.atoms(sympy.Rational) if r.q > 1000})
    if constraint.op == "==":
        return f"{symbols[j]} == {bound}"
    relation = {(">", True): sympy.Gt, (">=", True): sympy.Ge, (">", False): sympy.Lt, (">=", False): sympy.Le}
    return str(relation[constraint.op, a > 0](symbols[j], bound))


def _interval(cell: Cell, state: _Sweep, p: Parameter) -> tuple[Any, Any, bool, bool]:
    """One param: the cell as an interval (endpoints exact)."""
    lo, hi, lo_open, hi_open = p.lo, p.hi, False, False
    for k in cell.constraints:
        a0, a1 = k.affine if k.op in (">", ">=", "==") else (-k.affine[0], -k.affine[1])
        if a1 == 0:
            continue
        t = -a0 / a1
        if k.op == "==":
            return sympy.Rational(t), sympy.Rational(t), False, False
        strict = k.op in (">", "<")
        if a1 > 0:  # w >= t
            if t > lo or (t == lo and strict):
                lo, lo_open = t, strict
        else:
            if t < hi or (t == hi and strict):
                hi, hi_open = t, strict
    return sympy.Rational(lo), sympy.Rational(hi), lo_open, hi_open


# --- small exact helpers -----------------------------------------------------------------------


def _value(affine: Affine, point: Sequence[Fraction]) -> Fraction:
    return affine[0] + sum((a * x for a, x in zip(affine[1:], point)), Fraction(0))


def _unit(i: int, k: int, sign: int = 1) -> tuple[Fraction, ...]:
    return tuple(Fraction(sign if j == i else 0) for j in range(k))


def _normalise(affine: Affine) -> Affine:
    """The same half-space with its largest coefficient 1 in size (so equal half-spaces compare equal)."""
    size = max(abs(a) for a in affine[1:])
    return tuple(a / size for a in affine) if size else affine


def _rational(x: Fraction) -> Any:
    return sympy.Rational(x.numerator, x.denominator)


def _sign(x: Fraction) -> str:
    return ">" if x > 0 else "<" if x < 0 else "=="


def _facet_defining(affines: Sequence[Affine], vertices: Sequence[Point], dimension: int) -> list[Affine]:
    """The constraints ``a >= 0`` of a polytope of ``dimension`` (given by its ``vertices``) whose zero set
    meets it in a facet: vertices on it spanning ``dimension - 1``. A plane through a vertex only, or an edge
    of a 3-d polytope, is redundant."""
    return [a for a in affines if _affine_rank([v for v in vertices if _value(a, v) == 0]) == dimension - 1]


def _affine_rank(points: Sequence[Point]) -> int:
    """The dimension of the affine hull of ``points`` (-1 for none), exactly."""
    if len(points) <= 1:
        return len(points) - 1
    return int(sympy.Matrix([[x - y for x, y in zip(p, points[0])] for p in points[1:]]).rank())


def _box_min(affine: Affine, params: Sequence[Parameter]) -> Fraction:
    return affine[0] + sum((min(a * p.lo, a * p.hi) for a, p in zip(affine[1:], params)), Fraction(0))


def _vertices(params: Sequence[Parameter], affines: Sequence[Affine]) -> list[Point]:
    """The vertices of ``{w in box : a(w) >= 0 for a in affines}`` for one or two params, exactly."""
    if len(params) == 1:
        lo, hi = params[0].lo, params[0].hi
        for a0, a1 in affines:
            if a1 > 0:
                lo = max(lo, -a0 / a1)
            elif a1 < 0:
                hi = min(hi, -a0 / a1)
        return [(lo,), (hi,)] if lo <= hi else []
    (x0, x1), (y0, y1) = (params[0].lo, params[0].hi), (params[1].lo, params[1].hi)
    polygon: list[Point] = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    for a in affines:  # Sutherland-Hodgman clipping against a(w) >= 0, in rationals
        out: list[Point] = []
        for i, p in enumerate(polygon):
            q = polygon[(i + 1) % len(polygon)]
            vp, vq = _value(a, p), _value(a, q)
            if vp >= 0:
                out.append(p)
            if (vp > 0 > vq) or (vp < 0 < vq):
                t = vp / (vp - vq)
                out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        polygon = list(dict.fromkeys(out))
        if not polygon:
            return []
    return polygon


def _feasible_intersections(rows: Sequence[Affine], d: int) -> Iterator[list[Fraction]]:
    """Every point ``t`` where ``d`` of the affine ``rows`` (``r[0] + r[1:] . t``) are 0, one subset at a time,
    that all the rows keep ``>= 0``: the vertices, exactly.

    Each subset is tried in floats first, all at once with numpy: a well-conditioned one (condition number
    below 1e8) whose float point some row puts below 0 by more than its rounding can explain (64 u times the
    condition number, relative) is no vertex; every other subset is solved and checked in rationals. (Trying every subset in rationals took minutes with a
    hundred rows and three params.)"""
    m = len(rows)
    if m < d:
        return
    F = np.array([[float(x) for x in r] for r in rows])
    size = np.abs(F).sum(axis=1)
    integer = [_integer_row(r) for r in rows]
    seen: set[_IntPoint] = set()
    for chunk in _chunks(itertools.combinations(range(m), d), 20_000):
        subsets = np.array(chunk, dtype=np.int64)
        A, b = F[subsets][:, :, 1:], -F[subsets][:, :, 0]
        with np.errstate(all="ignore"):
            condition = np.linalg.cond(A)
            usable = np.isfinite(condition) & (condition < 1e8)
            t = np.zeros((subsets.shape[0], d))
            if usable.any():
                t[usable] = np.linalg.solve(A[usable], b[usable][..., None])[..., 0]
            # the float point is off by about cond * u relative (its rows rounded to floats, then solved)
            margin = (1e-12 + 64 * np.finfo(float).eps * np.where(usable, condition, 0.0))[:, None] * \
                size[None, :] * (1.0 + np.abs(t).max(axis=1, initial=0.0))[:, None]
            residual = F[:, 0][None, :] + t @ F[:, 1:].T
            clearly_out = (residual < -margin).any(axis=1)
        groups: dict[tuple[float, ...], list[list[int]]] = {}  # well-conditioned subsets by their float point
        for subset in subsets[~usable].tolist():
            groups.setdefault((math.nan, len(groups)), []).append(subset)  # (a group of its own)
        keep = usable & ~clearly_out
        for subset, near in zip(subsets[keep].tolist(), t[keep].tolist()):
            groups.setdefault(tuple(float(f"{x:.9e}") for x in near), []).append(subset)
        for group in groups.values():
            for point in _group_points(integer, group):
                if point in seen:
                    continue
                seen.add(point)
                if all(_at(r, point) >= 0 for r in integer):
                    yield [Fraction(x, point[-1]) for x in point[:-1]]


def _integer_row(row: Affine) -> tuple[int, ...]:
    """``row`` times the positive common denominator of its entries: the same zero set and signs, in integers
    (Python's integer arithmetic is some 20 times faster than its fractions')."""
    scale = math.lcm(*(x.denominator for x in row))
    return tuple(x.numerator * (scale // x.denominator) for x in row)


_IntPoint = tuple[int, ...]  # (n_1, ..., n_d, q) with q > 0: the point (n_1 / q, ..., n_d / q)


def _at(row: tuple[int, ...], point: _IntPoint) -> int:
    """The sign-carrying value of the integer affine ``row`` at ``point``, times the point's denominator."""
    return row[0] * point[-1] + sum(a * n for a, n in zip(row[1:], point))


def _group_points(rows: Sequence[tuple[int, ...]], group: list[list[int]]) -> Iterator[_IntPoint]:
    """The exact points of subsets whose float points agree: one solve when every row of the group is 0
    at the first subset's exact point (a degenerate vertex: then every nonsingular subset of them meets
    there), else one solve per subset."""
    first = _solve_integer([rows[i] for i in group[0]])
    if first is not None and len(group) > 1:
        if all(_at(rows[i], first) == 0 for i in {i for subset in group for i in subset}):
            yield first
            return
    if first is not None:
        yield first
    for subset in group[1:]:
        point = _solve_integer([rows[i] for i in subset])
        if point is not None:
            yield point


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _solve_integer(rows: Sequence[tuple[int, ...]]) -> _IntPoint | None:
    """Where the ``d`` integer affine ``rows`` (``r[0] + r[1:] . t``) are all 0, by Cramer's rule with
    fraction-free (Bareiss) determinants: ``(n_1, ..., n_d, q)`` in lowest terms, or None if singular."""
    A = [list(r[1:]) for r in rows]
    q = _determinant(A)
    if q == 0:
        return None
    numerators = [_determinant([[-r[0] if j == i else a for j, a in enumerate(r[1:])] for r in rows])
                  for i in range(len(rows))]
    if q < 0:
        q, numerators = -q, [-n for n in numerators]
    common = math.gcd(q, *numerators)
    return (*(n // common for n in numerators), q // common)


def _determinant(matrix: list[list[int]]) -> int:
    """The determinant of a square integer matrix, exactly, by Bareiss's fraction-free elimination."""
    M = [row[:] for row in matrix]
    n, sign, previous = len(M), 1, 1
    for k in range(n - 1):
        if M[k][k] == 0:
            swap = next((i for i in range(k + 1, n) if M[i][k] != 0), None)
            if swap is None:
                return 0
            M[k], M[swap], sign = M[swap], M[k], -sign
        for i in range(k + 1, n):
            for j in range(k + 1, n):
                M[i][j] = (M[i][j] * M[k][k] - M[i][k] * M[k][j]) // previous
        previous = M[k][k]
    return sign * M[n - 1][n - 1] if n else 1


def _lp_min(a: Affine, others: Sequence[Affine], params: Sequence[Parameter]) -> float | None:
    """The minimum of ``a`` over the box and ``others >= 0``, in floats (None if the LP fails)."""
    A = np.array([[-float(x) for x in b[1:]] for b in others]) if others else None
    b = np.array([float(x[0]) for x in others]) if others else None
    result = scipy.optimize.linprog([float(x) for x in a[1:]], A_ub=A, b_ub=b,
                                    bounds=[(float(p.lo), float(p.hi)) for p in params], method="highs")
    return float(result.fun) + float(a[0]) if result.status == 0 and result.fun is not None else None


def _fraction(value: Any) -> Fraction:
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    return Fraction(value.as_decimal(20).rstrip("?"))  # pragma: no cover - linear real arithmetic is rational


@contextmanager
def _long_integers() -> Iterator[None]:
    """Let Python convert integers of any length to and from text while the sweep runs: exact weights from a
    subnormal discount (``discount 1e-320``) have thousands of digits, and z3 and sympy pass them as text
    (Python refuses more than 4,300 digits by default, against untrusted input; these are our own)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


def _rank(rows: list[tuple[Fraction, ...]]) -> int:
    return int(sympy.Matrix([[sympy.Rational(a.numerator, a.denominator) for a in r] for r in rows]).rank()) \
        if rows else 0


# --- `check ... for all params` ----------------------------------------------------------------

FOR_ALL_MAX_REGIONS = 100
"""Region budget of the sweep behind ``check ... for all params`` in ``corrigo verify``."""


def for_all_results(spec: Spec, model: TabularMDP, checks: Sequence[Any],
                    max_regions: int = FOR_ALL_MAX_REGIONS, samples: int = 1000,
                    seed: int = 0, executor: Executor | None = None) -> dict[str, CheckResult]:
    """Decide ``check ... for all params`` checks over the whole param box with one sweep.

    A check holds only if it holds in every region and on every boundary face; otherwise its result
    is the one at a counterexample weight vector (with its trace), named with its region.
    """
    result = sweep_model(spec, model, max_regions=max_regions, checks=tuple(c.name for c in checks),
                         samples=samples, power_seed=seed, executor=executor)
    out = {}
    for check in checks:
        if check.under is not None and check.under not in result.agents:  # above the exact limit: no plan followed
            base = result.cells[0].result(check.name)
            out[check.name] = replace(base, verdict=Verdict.INCONCLUSIVE, trace=None, attribution=None, summary=(
                f"the sweep follows the plan of '{check.under}' in rational arithmetic only, and the model's "
                f"{result.n_states:,} states are above the exact limit ({_EXACT_LIMIT:,})"),
                settle="drop `for all params` and check the weights of interest one by one (-D)")
            continue
        verdict = result.verdict(check.name)
        if verdict is Verdict.HOLDS:
            base = result.cells[0].result(check.name)
            out[check.name] = replace(base, summary=(
                f"holds for every weight in the box: {len(result.full_cells())} region(s) and "
                f"{len(result.faces())} boundary face(s), {_how(result)}"), trace=None, attribution=None)
            continue
        if verdict is Verdict.FAILS:
            failing = [(_nearest_in(result, c, result.current), c) for c in result.cells
                       if c.verdict(check.name) is Verdict.FAILS]
            (_, point), cell = min(failing, key=lambda item: (item[0][0], item[1].index))
            base = cell.result(check.name)
            if point != cell.point:  # the check's trace and numbers at the point reported
                swept = with_exact_numbers(spec, model) if result.exact else model
                at = parametric(spec, swept, result.names)
                again = _verdicts(_at_weights(spec, at, point), at.at(point), result.exact,
                                  (check.name,), samples, seed)[0]
                base = again if again.verdict is Verdict.FAILS else base
                point = point if again.verdict is Verdict.FAILS else cell.point
            where = "on a boundary face where behaviours tie" if cell.is_face else "in a region"
            out[check.name] = replace(base, summary=(
                f"fails at {format_point(result.names, point)} ({where}: "
                f"{describe_cell(result, cell)}): {base.summary}"))
            continue
        undecided = next((c for c in result.cells if c.verdict(check.name) is Verdict.INCONCLUSIVE), None)
        base = (undecided or result.cells[0]).result(check.name)
        if undecided is not None:
            summary = f"inconclusive at {format_point(result.names, undecided.point)}: {base.summary}"
            settle = base.settle
        else:
            summary = (f"holds in the {len(result.regions)} region(s) found, but they do not cover the box "
                       f"(e.g. {format_point(result.names, result.uncovered or ())} is outside them)")
            settle = f"'corrigo sweep --max-regions N' with N above {max_regions}"
        out[check.name] = replace(base, verdict=Verdict.INCONCLUSIVE, summary=summary, settle=settle,
                                  trace=None, attribution=None)
    return out


def _nearest_in(result: SweepResult, cell: Cell, target: Point) -> tuple[Fraction, Point]:
    """A simple point of ``cell`` next to the point of its closure nearest ``target`` (Euclidean), and its
    squared distance from ``target``, exactly.

    The nearest point of the closure (a small quadratic program, in floats) may lie on the cell's boundary,
    which belongs to a neighbour: the point returned is the first of the rationals on the way from it to the
    cell's own point (``Cell.point``, inside) that lies inside, at most 1/1000 of the way along, with a
    denominator of at most 1000 if one such is inside (else 10^6).
    """
    constraints = [c for c in cell.constraints if any(c.affine[1:])]
    start = np.array([float(x) for x in cell.point])
    goal = np.array([float(x) for x in target])
    A = np.array([[float(v) for v in c.affine] for c in constraints]).reshape(len(constraints), 1 + len(start))
    A[[c.op in ("<", "<=") for c in constraints]] *= -1.0  # every row a0 + a x >= 0 (or == 0)
    equal = np.array([c.op == "==" for c in constraints], dtype=bool)

    def distance(x: npt.NDArray[np.float64]) -> float:
        return float(((x - goal) ** 2).sum())

    def gradient(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2.0 * (x - goal)

    def rows(which: npt.NDArray[np.bool_]) -> Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
        return lambda x: A[which, 0] + A[which, 1:] @ x
    conditions: list[Any] = [{"type": kind, "fun": rows(which)} for kind, which in (("ineq", ~equal), ("eq", equal))
                             if which.any()]
    found = scipy.optimize.minimize(distance, start, jac=gradient, method="SLSQP", constraints=conditions,
                                    bounds=[(float(p.lo), float(p.hi)) for p in result.params])
    candidates = []
    if found.success:
        for t in (0.0, 1e-6, 1e-4, 1e-3):
            raw = found.x + t * (start - found.x)
            candidates += [tuple(Fraction(float(x)).limit_denominator(d) for x in raw) for d in (1000, 10**6)]
    point = next((q for q in candidates if all(c.holds(q) for c in cell.constraints)
                  and all(p.lo <= x <= p.hi for p, x in zip(result.params, q))), cell.point)
    return sum(((a - b) ** 2 for a, b in zip(point, target)), Fraction(0)), point


def _how(result: SweepResult) -> str:
    return "confirmed in rational arithmetic" if result.exact else "computed in floats"


def format_number(x: Fraction) -> str:
    """An exact rational when it is short (``3/7``), else a decimal (``0.148018``)."""
    if x.denominator <= 1000:
        return str(x)
    return f"{float(x):.6g}"


def format_point(names: Sequence[str], point: Sequence[Fraction]) -> str:
    return ", ".join(f"{n}={format_number(x)}" for n, x in zip(names, point))


def _short_point(point: Sequence[Fraction]) -> str:
    """``(1, 0.148018, 3/7)``, cut to 50 characters (a repr's)."""
    return clip("(" + ", ".join(format_number(x) for x in point) + ")", 50)


def polygon_of(result: SweepResult, cell: Cell) -> list[Point]:
    """One or two params: the vertices of the cell's closure, in order (an interval's two ends for one)."""
    affines: list[Affine] = []
    for k in cell.constraints:
        if k.op in (">", ">=", "=="):
            affines.append(k.affine)
        if k.op in ("<", "<=", "=="):
            affines.append(tuple(-a for a in k.affine))
    return _vertices(result.params, affines)


def runs(result: SweepResult, key: Callable[[Cell], object]) -> list[list[Cell]]:
    """One param: the cells in order along it, neighbours with the same ``key`` in one run."""
    out: list[list[Cell]] = []
    for cell in sorted(result.cells, key=lambda c: (c.point[0], c.is_face)):
        if out and key(out[-1][-1]) == key(cell):
            out[-1].append(cell)
        else:
            out.append([cell])
    return out


def describe_cell(result: SweepResult, cell: Cell) -> str:
    """The cell's defining inequalities (without the box), readable."""
    symbols = [sympy.Symbol(name) for name in result.names]
    parts = []
    for k in cell.constraints:
        if not any(k.affine[1:]) or (cell.is_face and k.op != "=="):
            continue
        flipped = {"<": ">", "<=": ">="}
        parts.append(_relation(Constraint(tuple(-a for a in k.affine), flipped[k.op]) if k.op in flipped else k,
                               symbols))
    return " and ".join(dict.fromkeys(parts)) or "the whole box"
