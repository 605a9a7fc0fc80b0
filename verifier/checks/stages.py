"""The checks of a finite horizon decided stage by stage, without the time-expanded model.

A spec with ``horizon H`` means the time-expanded model of :mod:`mdp.horizon`: states ``(s, t)``. The
checks that look only at the optimal policies of that model and at the objectives' optima (``never``,
``always``, ``P``, ``cost``, ``regret``) are decided here from :func:`mdp.stages.solve_stages`, one sweep per step over the world's own arrays:
the same verdicts, quantities, summaries, traces and attributions as on the expanded model, in the
memory of a row flag per state and step. Checks that need more (a given policy or agent, a shutdown or
interruption comparison, a sweep over params, exact arithmetic) run on the expanded model
(:func:`verifier.verification.verify`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from dsl.spec import (AlwaysCheck, Check, CostBound, Eventually, Expr, Globally, NeverCheck, Next, ProbabilityBound,
                      Regret, Spec, Until, VarRef)
from mdp.expressions import UndefinedValueError, vectorize
from mdp.horizon import step_name
from mdp.model import TabularMDP
from mdp.stages import Stages, every_policy_reaches, extremal, path_to, policy_term_values, reachable

from ..explain import split_gap
from ..results import Attribution, Basis, CheckResult, Quantity, Step, Trace, Verdict
from .common import OPTIMAL, Range, location, mentions_action, undefined_formula_error
from .cost import number_text
from .probability import probability_text
from .regret import regret_verdict

__all__ = ["StageChecks", "decided_by_stages"]

BoolArray = npt.NDArray[np.bool_]
_STAGED = (NeverCheck, AlwaysCheck, ProbabilityBound, CostBound, Regret)
_KEEP_BYTES = 1 << 28  # the intent's values of every step, kept to find a regret's first deviation
_SETTLE = "re-run with --exact: exact arithmetic decides it on the time-expanded model"


def decided_by_stages(check: Check) -> bool:
    """Whether ``check`` is decided stage by stage: it looks only at the optimal policies of the intrinsic cost
    (and, for ``regret``, at the intent's optimum)."""
    return isinstance(check.property, _STAGED) and check.under is None and check.transfer is None and \
        not check.for_all_params


@dataclass(eq=False)
class StageChecks:
    """The checks of ``spec`` over the optimal policies of its ``stages``."""

    spec: Spec
    stages: Stages
    _formulas: dict[tuple[Expr, bool], BoolArray] = field(default_factory=dict)

    def run(self, check: Check) -> CheckResult:
        prop = check.property
        if isinstance(prop, (NeverCheck, AlwaysCheck)):
            kind = "never" if isinstance(prop, NeverCheck) else "always"
            if mentions_action(prop.condition):
                return self._row_invariant(check, kind, prop.condition)
            return self._invariant(check, kind, prop.condition)
        if isinstance(prop, ProbabilityBound):
            return self._probability(check, prop)
        if isinstance(prop, Regret):
            return self._regret(check, prop)
        assert isinstance(prop, CostBound)
        return self._cost(check, prop)

    # --- what the checks share ----------------------------------------------------------------------

    def _basis(self, bound: float = 0.0) -> Basis:
        """Exact arithmetic once the optimal rows were decided exactly (:func:`mdp.stages.decide_exactly`)
        and the numbers the verdict rests on have no error; the float certificate otherwise."""
        return Basis.EXACT if self.stages.exact_start_values is not None and not bound else Basis.CERTIFICATE

    @cached_property
    def reach(self) -> BoolArray:
        """(H + 1, n) the pairs some optimal policy reaches."""
        return reachable(self.stages, self._optimal)

    def _optimal(self, t: int) -> BoolArray:
        return self.stages.optimal(t)

    @cached_property
    def has_uncertain(self) -> bool:
        """Whether a reachable pair has optimal rows floats cannot tell apart."""
        stages, row_state = self.stages, self.stages.model.row_state
        return any(bool((stages.optimal(t) & ~stages.certain(t) & self.reach[t][row_state]).any())
                   for t in range(stages.steps))

    def pairs_where(self, expr: Expr) -> BoolArray:
        """(H + 1, n) the pairs ``(t, s)`` where the state formula ``expr`` holds (``step`` is ``t``)."""
        return self._where(expr, rows=False)

    def rows_where(self, expr: Expr) -> BoolArray:
        """(H, m) the rows at each step where ``expr`` (a formula with ``[action]``) holds."""
        return self._where(expr, rows=True)

    def _where(self, expr: Expr, rows: bool) -> BoolArray:
        key = (expr, rows)
        if key in self._formulas:
            return self._formulas[key]
        model, steps = self.stages.model, self.stages.steps
        codes = model.state_codes if model.state_codes is not None else np.zeros((model.n_states, 0), dtype=np.int64)
        index = model.row_state if rows else slice(None)
        columns = list(codes[index].T)
        size = model.n_rows if rows else model.n_states
        extra = (np.asarray(model.action_names, dtype=object)[model.row_action],) if rows else ()
        counter = len(self.spec.variables)
        timed = any(isinstance(node, VarRef) and node.index == counter for node in expr.traverse())
        function = vectorize(expr, dict(self.spec.param_values()))
        stages = range(steps if rows else steps + 1)
        at = 0
        try:
            if timed:
                parts = []
                for at in stages:
                    parts.append(function(columns + [np.full(size, at, dtype=np.int64)], *extra, size=size)
                                 .astype(bool))
                out = np.stack(parts)
            else:
                once = function(columns + [np.zeros(size, dtype=np.int64)], *extra, size=size).astype(bool)
                out = np.broadcast_to(once, (len(stages), size))
        except UndefinedValueError as error:
            state = int(model.row_state[error.index]) if rows else error.index
            raise undefined_formula_error(error, self.spec, self.describe(at, state)) from None
        self._formulas[key] = out
        return out

    def describe(self, t: int, state: int) -> str:
        return f"{self.stages.model.describe(state)}, {step_name(self.stages.model)}={t}"

    def _trace(self, goal: BoolArray) -> tuple[Trace, list[tuple[int, int]], list[int]] | None:
        """A shortest path of optimal play to a ``goal`` pair: the trace, its pairs and its rows."""
        found = path_to(self.stages, self.reach, self._optimal, goal)
        if found is None:
            return None
        pairs, taken = found
        return self._trace_of(pairs, taken), pairs, [row for row, _ in taken]

    def _trace_of(self, pairs: list[tuple[int, int]], taken: list[tuple[int, float]]) -> Trace:
        """The trace of a path of :func:`mdp.stages.path_to`, from its start's probability on."""
        model = self.stages.model
        starts = dict(zip(model.start_states.tolist(), model.start_probabilities.tolist()))
        probability = starts[pairs[0][1]]
        steps = []
        for (t, state), (row, p) in zip(pairs, taken):
            steps.append(Step(self.describe(t, state), model.action_names[model.row_action[row]], p))
            probability *= p
        steps.append(Step(self.describe(*pairs[-1])))
        return Trace(tuple(steps), probability)

    def _surely_reached(self, goal: BoolArray) -> bool:
        """Whether a truly optimal policy surely reaches a ``goal`` pair (as :class:`OptimalSubmodel`'s)."""
        if self.stages.is_decided or not self.has_uncertain:
            return bool((goal & self.reach).any())
        everyone = every_policy_reaches(self.stages, goal)
        return bool(everyone[0][self.stages.model.start_states].any())

    def _attribution(self, t: int, chosen: int, allowed: BoolArray) -> Attribution:
        """The split by term of ``chosen`` (a row at step ``t``) against the best ``allowed`` row of its state."""
        stages, model = self.stages, self.stages.model
        state = int(model.row_state[chosen])
        rows = np.arange(model.row_groups[state], model.row_groups[state + 1])
        rows = rows[allowed[rows]]
        Q = stages.Q(t)
        alternative = int(rows[np.argmin(Q[rows])]) if rows.size else None
        values = policy_term_values(stages, t + 1) if alternative is not None else {}
        tie = alternative is not None and bool(stages.optimal(t)[[alternative, chosen]].all()
                                               and stages.certain(t)[[alternative, chosen]].all())
        return split_gap(model, self.describe(t, state), chosen, alternative, values, Q, tie)

    # --- the checks ---------------------------------------------------------------------------------

    def _invariant(self, check: Check, kind: str, condition: Expr) -> CheckResult:
        violating = kind == "never"
        satisfied = self.pairs_where(condition)
        bad = satisfied if violating else ~satisfied
        what = "satisfies" if violating else "violates"
        words = OPTIMAL
        if not (bad & self.reach).any():
            return _result(check, kind, Verdict.HOLDS, f"no {words.reachable_state} ({int(self.reach.sum())} states) "
                           f"{what} the condition", self._basis())
        found = self._trace(bad)
        assert found is not None
        trace, pairs, rows = found
        if not self._surely_reached(bad):
            return _result(check, kind, Verdict.INCONCLUSIVE, "a violating state is reachable only through choices "
                           "that floats cannot tell optimal or not (near-ties; the trace shows one)", trace=trace)
        attribution = None
        if rows:
            model = self.stages.model
            t, row = pairs[-2][0], rows[-1]
            into_bad = (model.P @ bad[t + 1].astype(float)) > 0
            others = np.ones(model.n_rows, dtype=bool)
            others[row] = False
            attribution = self._attribution(t, row, ~into_bad & others)
            if attribution.alternative is None:
                attribution = self._attribution(t, row, others)
        summary = (f"the initial state {what} the condition" if not rows else
                   f"{words.some} reaches a state that {what} the condition in {trace.n_actions} step(s), "
                   f"with probability {trace.probability:.4g}")
        return _result(check, kind, Verdict.FAILS, summary, self._basis(), trace=trace, attribution=attribution,
                       quantities=(Quantity("path probability", trace.probability, 0.0),))

    def _row_invariant(self, check: Check, kind: str, condition: Expr) -> CheckResult:
        stages, model = self.stages, self.stages.model
        satisfied = self.rows_where(condition)
        terminal = np.asarray(model.terminal, dtype=bool)[model.row_state]
        H, n = stages.steps, model.n_states
        possibly = np.zeros((H + 1, n), dtype=bool)
        surely = np.zeros((H + 1, n), dtype=bool)
        pairs_seen = int(self.reach[H].sum())  # each end of the episode: one (terminal) choice
        firsts, counts = np.asarray(model.row_groups[:-1]), np.diff(model.row_groups)
        for t in range(H):
            bad_rows = (satisfied[t] if kind == "never" else ~satisfied[t]) & ~terminal
            optimal = stages.optimal(t)
            live = optimal & np.repeat(self.reach[t], counts)
            pairs_seen += int(np.count_nonzero(live))
            hits = np.add.reduceat(bad_rows & live, firsts, dtype=np.int64)
            possibly[t] = hits > 0
            surely[t] = possibly[t] if stages.is_decided else \
                possibly[t] & (hits == np.add.reduceat(optimal, firsts, dtype=np.int64))
        words = OPTIMAL
        if not possibly.any():
            return _result(check, kind, Verdict.HOLDS, f"{words.every_choice} in every {words.reachable_state} "
                           f"({pairs_seen} state-action pairs) satisfies the condition", self._basis())
        if not (surely.any() and self._surely_reached(surely)):
            found = self._trace(possibly)
            return _result(check, kind, Verdict.INCONCLUSIVE, "a violating choice is optimal only within a near-tie "
                           "that floats cannot decide (the trace leads to its state)",
                           trace=found[0] if found else None)
        found = self._trace(surely)
        assert found is not None
        trace, pairs, _ = found
        t, end = pairs[-1]
        rows = np.arange(model.row_groups[end], model.row_groups[end + 1])
        bad_rows = satisfied[t] if kind == "never" else ~satisfied[t]
        row = int(rows[(bad_rows & stages.optimal(t))[rows]][0])
        action = model.action_names[model.row_action[row]]
        steps = trace.steps[:-1] + (Step(trace.steps[-1].state, action, None),)
        trace = Trace(steps, trace.probability)
        attribution = self._attribution(t, row, ~bad_rows)
        where = ("in the initial state" if len(steps) == 1 else
                 f"after {len(steps) - 1} step(s) with probability {trace.probability:.4g}")
        summary = (f"{words.some} takes '{action}' where the condition "
                   f"{'forbids it' if kind == 'never' else 'requires otherwise'}, {where}")
        return _result(check, kind, Verdict.FAILS, summary, self._basis(), trace=trace, attribution=attribution,
                       quantities=(Quantity("path probability", trace.probability, 0.0),))

    def _probability(self, check: Check, prop: ProbabilityBound) -> CheckResult:
        path = prop.path
        formulas = [getattr(path, name) for name in ("target", "hold") if hasattr(path, name)]
        if any(mentions_action(f) for f in formulas):
            return _result(check, "probability", Verdict.INCONCLUSIVE,
                           "action indicators inside a path formula are not supported",
                           settle="state the path formula over variables only")
        maximize = prop.comparison.is_upper
        value, bound = self._probabilities(prop, maximize)
        known = Range.around(value, bound)
        if self.has_uncertain:
            known = known.union(Range.around(*self._probabilities(prop, not maximize)))
        name = "Pmax" if maximize else "Pmin"
        quantity = Quantity(name, value, bound)
        verdict = known.decide(prop.comparison, prop.bound)
        summary = (f"{name} = {probability_text(quantity)} {OPTIMAL.over}; required {prop.comparison.value} "
                   f"{float(prop.bound):g}")
        trace = None
        witness = self._witness(prop, maximize) if verdict is Verdict.FAILS else None
        if witness is not None:
            found = self._trace(witness)
            trace = found[0] if found is not None and found[2] else None
            if trace is not None:
                summary += ("; the trace leads to a state from which some optimal policy never gets there"
                            if not maximize and not isinstance(path, Globally) else
                            "; the trace shows a shortest way there")
        return _result(check, "probability", verdict, summary, self._basis(known.bound), quantities=(quantity,),
                       trace=trace)

    def _targets(self, prop: ProbabilityBound) -> tuple[Callable[[int], BoolArray], Callable[[int], BoolArray] | None]:
        """The target pairs of the path formula (by step) and those it must avoid on the way."""
        path = prop.path
        target = self.pairs_where(path.target)
        if isinstance(path, Eventually) and path.steps is not None:
            limit = path.steps
            return (lambda t: target[t] if t <= limit else np.zeros_like(target[t])), None
        if isinstance(path, Until):
            hold = self.pairs_where(path.hold)
            return (lambda t: target[t]), (lambda t: ~hold[t])
        if isinstance(path, Next):  # the state after one step (a terminal start stays where it is)
            terminal = np.asarray(self.stages.model.terminal, dtype=bool)
            return (lambda t: target[1] if t == 1 else target[0] & terminal if t == 0 else
                    np.zeros_like(target[t])), None
        return (lambda t: target[t]), None

    def _probabilities(self, prop: ProbabilityBound, maximize: bool) -> tuple[float, float]:
        """Pmin or Pmax of the path formula from the start, and its certified error."""
        model = self.stages.model
        if isinstance(prop.path, Globally):  # P(G phi) = 1 - P(F !phi), the extremes swapped
            holds = self.pairs_where(prop.path.target)
            values, bound = extremal(self.stages, None, maximize=not maximize, target=lambda t: ~holds[t])
            return 1.0 - model.at_start(values), bound + 2.0**-53
        target, avoid = self._targets(prop)
        values, bound = extremal(self.stages, None, maximize=maximize, target=target, avoid=avoid)
        return model.at_start(values), bound

    def _witness(self, prop: ProbabilityBound, maximize: bool) -> BoolArray | None:
        """The pairs a failure's trace leads to: too likely, a target; too unlikely, a pair that never gets
        there (``G``: a pair that leaves the formula)."""
        path = prop.path
        if isinstance(path, Globally):
            return None if maximize else ~self.pairs_where(path.target)
        if isinstance(path, Next) or (isinstance(path, Eventually) and path.steps is not None):
            return None
        target, avoid = self._targets(prop)
        goal = self.pairs_where(path.target)
        if maximize:
            return goal
        values, bound = extremal(self.stages, None, maximize=False, target=target, avoid=avoid, keep=True)
        return ~goal & (values + bound <= 1e-12)

    def _cost(self, check: Check, prop: CostBound) -> CheckResult:
        stages = self.stages
        model = stages.model
        if prop.term is None:
            exact = stages.exact_start_values
            known = Range.around(stages.value, float(stages.bound[0])) if exact is None else \
                Range.exactly(model.exact_at_start(exact) or Fraction(0))
            summary = (f"{OPTIMAL.expected_cost} is {number_text(known.value, known.bound)}, "
                       f"bound {prop.comparison.value} {float(prop.bound):g}")
            return _result(check, "cost", known.decide(prop.comparison, prop.bound), summary, self._basis(known.bound),
                           quantities=(Quantity("cost", known.value, known.bound),))
        low_values, low_bound = extremal(stages, prop.term, maximize=False)
        high_values, high_bound = extremal(stages, prop.term, maximize=True)
        low = Range.around(model.at_start(low_values), low_bound)
        high = Range.around(model.at_start(high_values), high_bound)
        worst = low.union(high) if self.has_uncertain else high if prop.comparison.is_upper else low
        side = "at most" if prop.comparison.is_upper else "at least"
        spread = (f"exactly {number_text(low.value, max(low.bound, high.bound))}"
                  if abs(high.value - low.value) <= max(low.bound, high.bound) else
                  f"{number_text(low.value, low.bound)} to {number_text(high.value, high.bound)}")
        summary = f"{OPTIMAL.they_incur} {spread} of '{prop.term}'; {side} {float(prop.bound):g} is required"
        return _result(check, "cost", worst.decide(prop.comparison, prop.bound), summary,
                       quantities=(Quantity(f"cost[{prop.term}] min over M*", low.value, low.bound),
                                   Quantity(f"cost[{prop.term}] max over M*", high.value, high.bound)))

    def _regret(self, check: Check, prop: Regret) -> CheckResult:
        """``regret(intent)``: the intent's cost under the worst optimal policy minus its optimum over every
        policy (as :func:`verifier.checks.regret.check_regret`, step by step)."""
        stages, model, intent = self.stages, self.stages.model, prop.intent
        agent = Range.around(*_at_start(model, extremal(stages, intent, maximize=True)))
        if self.has_uncertain:
            agent = agent.union(Range.around(*_at_start(model, extremal(stages, intent, maximize=False))))
        small = (stages.steps + 1) * model.n_states * 8 <= _KEEP_BYTES
        best_values, best_bound = extremal(stages, intent, maximize=False, every_policy=True, keep=small)
        best = Range.around(model.at_start(best_values[0] if small else best_values), best_bound)
        worst = Range.around(*_at_start(model, extremal(stages, intent, maximize=True, every_policy=True)))
        quantities, verdict, summary = regret_verdict(prop, agent, best, worst, OPTIMAL.they_can)
        trace, attribution = None, None
        if verdict is Verdict.FAILS and small:
            trace, attribution = self._deviation(np.asarray(model.intents[intent]), best_values,
                                                 max(best_bound, 1e-9))
            if attribution is not None:
                summary += (f"; first deviation: '{attribution.chosen}' where the intent prefers "
                            f"'{attribution.alternative}'")
        return _result(check, "regret", verdict, summary, quantities=tuple(quantities), trace=trace,
                       attribution=attribution)

    def _deviation(self, intent: npt.NDArray[np.float64], optimum: npt.NDArray[np.float64], tolerance: float
                   ) -> tuple[Trace | None, Attribution | None]:
        """A shortest path of certainly optimal choices to one worse for the intent than its best choice."""
        stages, model = self.stages, self.stages.model
        terminal = np.asarray(model.terminal, dtype=bool)[model.row_state]
        def deviations(t: int) -> tuple[npt.NDArray[np.float64], BoolArray]:
            """The intent's Q-values at step ``t`` and the certainly optimal rows that it finds worse."""
            Q = intent + model.discount * (model.P @ optimum[t + 1])
            best = optimum[t][model.row_state]
            return Q, stages.certain(t) & ~terminal & (Q > best + 2 * tolerance + 1e-9 * np.abs(best))

        deviating = np.zeros((stages.steps + 1, model.n_states), dtype=bool)
        for t in range(stages.steps):
            deviating[t, model.row_state[deviations(t)[1]]] = True
        found = path_to(stages, reachable(stages, stages.certain), stages.certain, deviating)
        if found is None:
            return None, None
        pairs, taken = found
        t, end = pairs[-1]
        Q, rows = deviations(t)
        own = np.arange(model.row_groups[end], model.row_groups[end + 1])
        row = int(own[rows[own]][np.argmax(Q[own[rows[own]]])])
        intent_best = int(own[np.argmin(Q[own])])
        trace = self._trace_of(pairs, taken)
        trace = Trace(trace.steps[:-1] + (Step(trace.steps[-1].state, model.action_names[model.row_action[row]],
                                                None),), trace.probability)
        allowed = np.zeros(model.n_rows, dtype=bool)
        allowed[intent_best] = True
        return trace, self._attribution(t, row, allowed)


def _at_start(model: TabularMDP, values_and_bound: tuple[npt.NDArray[np.float64], float]) -> tuple[float, float]:
    values, bound = values_and_bound
    return model.at_start(values), bound


def _result(check: Check, kind: str, verdict: Verdict, summary: str, basis: Basis = Basis.CERTIFICATE,
            **rest: Any) -> CheckResult:
    """A :class:`CheckResult` (float-certified unless ``basis`` says otherwise; the settle hint on an
    inconclusive one)."""
    if verdict is Verdict.INCONCLUSIVE:
        rest.setdefault("settle", _SETTLE)
    else:
        rest.pop("settle", None)
    return CheckResult(name=check.name, kind=kind, text=check.text, location=location(check), verdict=verdict,
                       summary=summary, basis=basis, **rest)
