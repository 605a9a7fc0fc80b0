"""How large a spec may be, and why: each limit keeps one stage fast and inside Python's call stack.

Each limit is checked where the spec is read or checked, before the work it bounds is done, and going
past it is a located error whose hint says how to stay within it.
"""

from __future__ import annotations

__all__ = ["MAX_ACTIONS", "MAX_EXPRESSION_SIZE", "MAX_HORIZON", "MAX_NESTING"]

MAX_NESTING = 200
"""How deeply an expression may nest: operands, operators and calls on its longest path (``a + b + c``
is 3 deep, ``(a + b) + (c + d)`` too), with formulas written out where they are used. The checker and the
compiler walk expressions recursively, three Python frames a level at most, so 200 keeps them well
inside Python's default limit of 1000 frames, wherever they are called from; a sum of 200 cost terms
fits, and parentheses or several ``cost`` terms make longer ones shallow."""

MAX_EXPRESSION_SIZE = 10_000
"""How many operands, operators and calls one expression may have once its formulas are written out.
Each use of a formula copies it, so formulas that use others several times can grow exponentially
(``formula f2 = f1 + f1``, ``formula f3 = f2 + f2``, ...); the compiler turns every node into a step
of the computation for each action, and 10,000 nodes leave room for any hand-written spec."""

MAX_ACTIONS = 10_000
"""How many actions a spec may have once ``action move(to: room)`` is expanded into one action per
value: each expansion is checked on its own (about 0.1 ms) and is a choice in every state of the
model, so 10,000 keep ``corrigo lint`` near a second while grids such as ``grab(x: 0..99, y: 0..99)``
still fit."""

MAX_HORIZON = 1_000_000
"""The longest episode a ``horizon`` may declare: each step is one stage of the time-expanded model, so a
horizon this long is a resource question long before it is a language one."""
