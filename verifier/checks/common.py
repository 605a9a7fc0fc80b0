"""What every check needs: the solved model, M*, and formulas evaluated on states or on rows."""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from dsl.spec import ActionIs, Check, Comparison, Expr, Spec
from dsl.errors import Diagnostic
from mdp.expressions import UndefinedValueError, vectorize
from mdp.model import ModelError, TabularMDP
from mdp.planner import Plan
from mdp.quantities import Values
from mdp.solver import Solution
from mdp.solver.solution import EXACT_LIMIT

from ..results import Basis, CheckResult, Location, Verdict, decide, enclosure
from ..submodel import OptimalSubmodel

__all__ = ["AGENT", "ONE_POLICY", "OPTIMAL", "Context", "Range", "Wording", "at_initial", "location", "mentions_action",
           "result", "settle_message"]


@dataclass(frozen=True, slots=True)
class Wording:
    """How results name what the checks quantify over: every optimal policy (``verify``, M*), or one
    given policy (``verify_policy``, whose one choice per state is the sub-model)."""

    some: str = "an optimal policy"  # before a verb in the singular
    every: str = "every optimal policy"
    they_hold: str = "optimal policies hold"
    they_incur: str = "optimal policies incur"
    they_can: str = "optimal policies can"
    over: str = "over optimal policies"
    reachable_state: str = "reachable state of M*"
    reachable_choice: str = "reachable optimal choice"
    every_action: str = "every optimal action"
    every_choice: str = "every optimal choice"
    expected_cost: str = "the optimal expected cost"


OPTIMAL = Wording()
ONE_POLICY = Wording(some="the policy", every="the policy", they_hold="the policy holds",
                     they_incur="the policy incurs", they_can="the policy can", over="under the policy",
                     reachable_state="state the policy reaches", reachable_choice="choice of the policy",
                     every_action="the policy's action", every_choice="the policy's choice",
                     expected_cost="the policy's expected cost")
AGENT = Wording(some="the agent", every="the agent", they_hold="the agent holds", they_incur="the agent incurs",
                they_can="the agent can", over="under the agent", reachable_state="state the agent reaches",
                reachable_choice="choice of the agent", every_action="the agent's action",
                every_choice="the agent's choice", expected_cost="the agent's expected cost")


@dataclass(frozen=True, eq=False)
class Context:
    """A solved spec and its M*: the input of every check."""

    spec: Spec
    model: TabularMDP
    solution: Solution
    sub: OptimalSubmodel
    tol: float | None = None
    exact: bool = False  # every quantity in the spec's rationals (the solution is exact too)
    samples: int = 1000  # reward functions sampled by the POWER checks (``verify --samples``)
    seed: int = 0  # their seed: verdicts are reproducible (``verify --seed``)
    cache: dict[str, Any] = field(default_factory=dict)  # work shared by checks (e.g. the POWER estimate)
    words: Wording = OPTIMAL  # how results name the policies of ``sub``
    executor: Executor | None = None  # where POWER's sample chunks run (``verify --workers``); None: here
    optimal: Solution | None = None  # the optimum, when ``solution`` is a given policy's or an agent's
    plan: Plan | None = None  # an agent's plan, when ``solution`` is that agent's behaviour
    agent: str | None = None  # that agent's name
    untrained: npt.NDArray[np.bool_] | None = None  # (n,) where its critic was not trained: `untrained`

    @property
    def optimum(self) -> Solution:
        """The intrinsic optimum: ``solution`` itself unless that is a given policy's or an agent's."""
        return self.optimal if self.optimal is not None else self.solution

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.spec.param_values())

    @property
    def bound(self) -> float:
        """The solver's certified error bound on values."""
        return float(self.solution.bound)

    @property
    def basis(self) -> Basis:
        """What decides a numerical verdict here: exact arithmetic, or the float certificate."""
        return Basis.EXACT if self.exact else Basis.CERTIFICATE

    @property
    def agent_rows(self) -> npt.NDArray[np.bool_]:
        """(m,) the rows of M* at the states optimal policies reach: what the agent may do."""
        return self.sub.reachable_rows

    def states_where(self, expr: Expr) -> npt.NDArray[np.bool_]:
        """(n,) states where the state formula ``expr`` holds.

        Raises
        ------
        ModelError
            A division by zero in ``expr`` at some state, located at the ``/`` and naming the state.
        """
        codes = self.model.state_codes
        columns = list(codes.T if codes is not None else np.zeros((0, self.model.n_states), dtype=np.int64))
        if self.untrained is not None:
            columns.append(self.untrained.astype(np.int64))
        try:
            return vectorize(expr, self.params)(columns, size=self.model.n_states).astype(bool)
        except UndefinedValueError as error:
            raise self._undefined_error(error, error.index) from None

    def rows_where(self, expr: Expr) -> npt.NDArray[np.bool_]:
        """(m,) rows (state, action taken) where ``expr`` holds; for formulas that mention ``[action]``."""
        model = self.model
        codes = model.state_codes
        columns = list(codes[model.row_state].T if codes is not None
                       else np.zeros((0, model.n_rows), dtype=np.int64))
        if self.untrained is not None:
            columns.append(self.untrained[model.row_state].astype(np.int64))
        actions = np.asarray(model.action_names, dtype=object)[model.row_action]
        try:
            return vectorize(expr, self.params)(columns, actions, size=model.n_rows).astype(bool)
        except UndefinedValueError as error:
            raise self._undefined_error(error, int(model.row_state[error.index])) from None

    def _undefined_error(self, error: UndefinedValueError, state: int) -> ModelError:
        return undefined_formula_error(error, self.spec, self.model.describe(state))


def undefined_formula_error(error: UndefinedValueError, spec: Spec, state: str) -> ModelError:
    """A division by zero (or a table read outside it) in a check's formula, located there, at ``state``."""
    return ModelError(Diagnostic(f"{error.problem} in a check's formula", getattr(error.expr, "span", None),
                                 notes=(f"in the reachable state {state}",),
                                 hint="guard the division, e.g. 'x != 0 && y / x > 1'"
                                 if isinstance(error, ZeroDivisionError) else error.hint), spec.source)


class Range(NamedTuple):
    """What is known of a quantity: ``low <= true value <= high`` (exact ``Fraction`` ends in exact
    arithmetic), and a value with an error bound to show."""

    value: float
    bound: float
    low: float | Fraction
    high: float | Fraction

    @staticmethod
    def around(value: float, bound: float) -> Range:
        """``value ± bound``, the ends rounded outward."""
        return Range(value, bound, *enclosure(value, bound))

    @staticmethod
    def exactly(value: Fraction) -> Range:
        return Range(float(value), 0.0, value, value)

    @staticmethod
    def between(low: float | Fraction, high: float | Fraction) -> Range:
        """``[low, high]`` as given (exact ends stay exact); value and bound are for display."""
        if low == high:
            return Range(float(low), 0.0, low, high)
        return Range((float(low) + float(high)) / 2, math.nextafter((float(high) - float(low)) / 2, math.inf),
                     low, high)

    @property
    def is_exact(self) -> bool:
        """Whether the ends are exact rationals (a verdict from them is exact arithmetic's)."""
        return isinstance(self.low, Fraction) and isinstance(self.high, Fraction)

    def decide(self, comparison: Comparison, threshold: Fraction) -> Verdict:
        return decide(comparison, self.low, self.high, threshold)

    def minus(self, other: Range) -> Range:
        """The range of the difference of the two quantities (its ends computed exactly, unless one is infinite)."""
        return Range.between(_difference(self.low, other.high, -math.inf), _difference(self.high, other.low, math.inf))

    def union(self, other: Range) -> Range:
        """Both ranges: where the quantity lies when it may be either (floats cannot tell which rows of
        an ambiguous state are optimal: the truth lies between the best and the worst of them)."""
        return Range.between(min(self.low, other.low), max(self.high, other.high))


def _difference(a: float | Fraction, b: float | Fraction, unknown: float) -> float | Fraction:
    """``a - b`` exactly; in floats when an end is infinite (an unbounded range), ``unknown`` for inf - inf."""
    if all(isinstance(x, Fraction) or math.isfinite(x) for x in (a, b)):
        return Fraction(a) - Fraction(b)
    difference = float(a) - float(b)
    return unknown if math.isnan(difference) else difference


def at_initial(values: Values, model: TabularMDP, extra_bound: float = 0.0) -> Range:
    """The :class:`Range` of ``values`` at the start: the initial state, or the average over the start
    states of an ``init`` (its error at most the largest of theirs); ``extra_bound`` widens a float one."""
    pairs = model.starts or ((model.initial, Fraction(1)),)
    exact = [values.exact_at(s) for s, _ in pairs]
    if not extra_bound and all(e is not None for e in exact):
        return Range.exactly(sum((p * e for (_, p), e in zip(pairs, exact) if e is not None), Fraction(0)))
    bound = max(values.bound_at(s) for s, _ in pairs)
    return Range.around(model.at_start(values.values), bound + extra_bound)


def mentions_action(expr: Expr) -> bool:
    """Whether ``expr`` uses an action indicator ``[name]``."""
    return any(isinstance(node, ActionIs) for node in expr.traverse())


def location(check: Check) -> Location | None:
    span = check.span
    return Location(span.path, span.line, span.column, span.end_line, span.end_column) if span is not None else None


def settle_message(context: Context) -> str:
    """What would settle a verdict the numbers left inconclusive."""
    if context.exact:
        return "exact arithmetic could not decide it within its limits (the summary says which)"
    n = context.model.n_states
    if n > EXACT_LIMIT:
        return f"re-run with --settle-limit {n}: exact arithmetic decides it (slow at this size)"
    return "re-run with --exact: exact arithmetic decides it (or raise --settle-limit to this model's size)"


def result(check: Check, kind: str, verdict: Verdict, summary: str, context: Context, **rest: Any) -> CheckResult:
    """A :class:`CheckResult` for ``check``, with the settle hint filled in when inconclusive and the basis
    (default: the context's arithmetic)."""
    if verdict is Verdict.INCONCLUSIVE and "settle" not in rest:
        rest["settle"] = settle_message(context)
    rest.setdefault("basis", context.basis)
    return CheckResult(name=check.name, kind=kind, text=check.text, location=location(check), verdict=verdict,
                       summary=summary, **rest)


def undiscounted(check: Check, kind: str, what: str, why: str, context: Context) -> CheckResult | None:
    """INCONCLUSIVE when the model's discount is 1, where ``what`` (POWER, an optimality share) is not defined
    (``why``); None otherwise."""
    discount = context.model.discount
    if discount < 1:
        return None
    return result(check, kind, Verdict.INCONCLUSIVE, f"{what} is not defined for discount {discount:g} ({why}); this "
                  "check was not evaluated", context, settle="declare a discount below 1, e.g. 'discount 0.99'",
                  basis=Basis.SAMPLING)
