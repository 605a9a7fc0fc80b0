"""``never φ`` and ``always φ``: graph reachability in the optimal sub-model M*.

``never φ`` holds iff no state reachable from the initial state under any optimal policy satisfies φ;
``always φ`` iff every such state does. When φ mentions the action (``always (pressed -> [comply])``) it
ranges over the reachable state-action pairs of M*: every optimal choice the agent could make there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dsl.spec import AlwaysCheck, Check, Expr, NeverCheck
from mdp.model import TabularMDP

from ..explain import attribute, best_row
from ..results import CheckResult, Quantity, Step, Trace, Verdict
from ..submodel import shortest_trace
from .common import Context, mentions_action, result

__all__ = ["check_always", "check_never"]


def check_never(check: Check, context: Context) -> CheckResult:
    """``never φ``: no reachable state (or optimal state-action pair) of M* satisfies φ."""
    assert isinstance(check.property, NeverCheck)
    return _invariant(check, context, check.property.condition, kind="never", violating=True)


def check_always(check: Check, context: Context) -> CheckResult:
    """``always φ``: every reachable state (or optimal state-action pair) of M* satisfies φ."""
    assert isinstance(check.property, AlwaysCheck)
    return _invariant(check, context, check.property.condition, kind="always", violating=False)


def _invariant(check: Check, context: Context, condition: Expr, *, kind: str, violating: bool) -> CheckResult:
    sub, model = context.sub, context.model
    if mentions_action(condition):
        satisfied = context.rows_where(condition)
        bad_rows = satisfied if violating else ~satisfied
        return _row_invariant(check, context, kind, bad_rows, good_rows=~bad_rows)
    satisfied = context.states_where(condition)
    bad = satisfied if violating else ~satisfied
    what = "satisfies" if violating else "violates"
    if not (bad & sub.reachable).any():
        return result(check, kind, Verdict.HOLDS,
                      f"no {context.words.reachable_state} ({sub.n_states} states) {what} the condition", context)
    path = shortest_trace(sub, bad)
    assert path is not None
    if not sub.surely_reached(bad):
        return result(check, kind, Verdict.INCONCLUSIVE,
                      "a violating state is reachable only through choices that floats cannot tell optimal or "
                      "not (near-ties; the trace shows one)", context, trace=path.trace)
    trace = path.trace
    attribution = None
    if path.rows:
        previous, row = path.states[-2], path.rows[-1]
        # the best alternative at the last decision: a row that cannot move into a violating state
        into_bad = (model.P @ bad.astype(float)) > 0
        alternative = best_row(model, context.solution, previous, ~into_bad & _other(model, row))
        if alternative is None:
            alternative = best_row(model, context.solution, previous, _other(model, row))
        attribution = attribute(model, context.solution, row, alternative)
    summary = (f"the initial state {what} the condition" if not path.rows else
               f"{context.words.some} reaches a state that {what} the condition in {trace.n_actions} step(s), "
               f"with probability {trace.probability:.4g}")
    return result(check, kind, Verdict.FAILS, summary, context, trace=trace, attribution=attribution,
                  quantities=(Quantity("path probability", trace.probability, 0.0),))


def _other(model: TabularMDP, row: int) -> npt.NDArray[np.bool_]:
    mask = np.ones(model.n_rows, dtype=bool)
    mask[row] = False
    return mask


def _row_invariant(check: Check, context: Context, kind: str, bad_rows: npt.NDArray[np.bool_],
                   good_rows: npt.NDArray[np.bool_]) -> CheckResult:
    sub, model = context.sub, context.model
    bad_rows = bad_rows & ~model.terminal[model.row_state]  # the agent makes no choice in a terminal state
    surely, possibly = sub.violations(bad_rows)
    if not possibly.any():
        n_pairs = int(sub.reachable_rows.sum())
        return result(check, kind, Verdict.HOLDS,
                      f"{context.words.every_choice} in every {context.words.reachable_state} ({n_pairs} state-action "
                      "pairs) satisfies the condition", context)
    if not (surely.any() and sub.surely_reached(surely)):
        found = shortest_trace(sub, possibly)
        return result(check, kind, Verdict.INCONCLUSIVE,
                      "a violating choice is optimal only within a near-tie that floats cannot decide (the trace "
                      "leads to its state)", context, trace=found.trace if found else None)
    path = shortest_trace(sub, surely)
    assert path is not None
    end, trace = path.end, path.trace
    rows = np.arange(model.row_groups[end], model.row_groups[end + 1])
    row = int(rows[(bad_rows & sub.rows)[rows]][0])
    action = model.action_names[model.row_action[row]]
    steps = trace.steps[:-1] + (Step(trace.steps[-1].state, action, None),)
    trace = Trace(steps, trace.probability)
    alternative = best_row(model, context.solution, end, good_rows)
    attribution = attribute(model, context.solution, row, alternative)
    where = ("in the initial state" if len(steps) == 1 else
             f"after {len(steps) - 1} step(s) with probability {trace.probability:.4g}")
    summary = (f"{context.words.some} takes '{action}' where the condition "
               f"{'forbids it' if kind == 'never' else 'requires otherwise'}, {where}")
    return result(check, kind, Verdict.FAILS, summary, context, trace=trace, attribution=attribution,
                  quantities=(Quantity("path probability", trace.probability, 0.0),))
