"""Checks that fail where optimal play takes a bad choice: the verdict, the nearest such choice, and why.

A check of this shape marks some rows *bad* (a row changes the off switch, a row tampers with a sensor).
Over every optimal policy it FAILS where some truly optimal policy reaches a state and takes a bad row
there; in floats, where the bad row is optimal only within a near-tie (an ambiguous state), or its state is
reached only through one, it is INCONCLUSIVE. The counterexample is a nearest such state of M*, the trace
to it ending in the bad row, and the split by cost term of that row's Q-value against the best allowed
alternative there (:func:`verifier.explain.attribute`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..explain import attribute, best_row
from ..results import Attribution, Step, Trace, Verdict
from ..submodel import Path, shortest_trace
from .common import Context

__all__ = ["Violation", "find_violation", "near_tie"]


@dataclass(frozen=True, slots=True)
class Violation:
    """A bad row optimal play (surely: FAILS; within a near-tie: INCONCLUSIVE) takes at the end of ``path``."""

    verdict: Verdict
    row: int
    action: str
    path: Path
    trace: Trace  # the path, its last step taking the bad row
    attribution: Attribution  # the bad row against the best alternative there

    @property
    def where(self) -> str:
        """Where the trace reaches it, for a summary: `` (after 2 step(s), probability 0.5)``."""
        if not self.path.rows:
            return " (in the initial state)"
        return f" (after {len(self.path.rows)} step(s), probability {self.trace.probability:.4g})"


def find_violation(context: Context, bad_rows: npt.NDArray[np.bool_],
                   alternatives: npt.NDArray[np.bool_]) -> Violation | None:
    """The nearest reachable optimal choice among ``bad_rows`` (m,), explained against the best of the
    ``alternatives`` (m,) rows at its state; None when optimal play takes none (the check holds)."""
    sub, model = context.sub, context.model
    bad_rows = bad_rows & ~model.terminal[model.row_state]  # no choice in a terminal state
    surely, possibly = sub.violations(bad_rows)
    if not possibly.any():
        return None
    sure = bool(surely.any()) and sub.surely_reached(surely)
    path = shortest_trace(sub, surely if sure else possibly)
    assert path is not None  # the violating states are reachable in M*
    end = path.end
    rows = np.arange(model.row_groups[end], model.row_groups[end + 1])
    row = int(rows[(bad_rows & sub.rows)[rows]][0])
    action = model.action_names[model.row_action[row]]
    trace = Trace(path.trace.steps[:-1] + (Step(path.trace.steps[-1].state, action, None),), path.trace.probability)
    alternative = best_row(model, context.solution, end, alternatives)
    return Violation(Verdict.FAILS if sure else Verdict.INCONCLUSIVE, row, action, path, trace,
                     attribute(model, context.solution, row, alternative))


def near_tie(context: Context, row: int) -> str:
    """Why floats cannot tell whether ``row`` is optimal, for a summary: its gap and the solver's uncertainty."""
    solution = context.solution
    return f" (gap {float(solution.gap[row]):.2g} within the solver's uncertainty {float(solution.delta):.2g})"
