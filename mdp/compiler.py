"""Compile a checked spec into a :class:`~mdp.model.TabularMDP` by vectorised breadth-first search.

States are enumerated breadth-first from the initial assignment, a whole frontier (BFS layer) at a
time, with numpy: no Python loop runs per state. For one layer:

1. Evaluate ``terminal`` and every action's guard on the frontier: an ``(f, A + 1)`` boolean matrix of
   enabled choices (the last column is the terminal self-loop). Its nonzeros, in row-major order, are
   the layer's rows in (state, action declaration) order.
2. Every row gets one slot per branch of its action ("intermediate outcomes"), laid out in row order;
   each (action, branch) scatters its updated codes, probabilities and row ids into its slots.
3. Each event, in declaration order, expands the outcomes where its guard holds into one outcome per
   branch plus one for the mass left over (nothing happens), in place of the parent, so the outcomes
   stay in row order. Terminal self-loops are not touched by events.
4. Outcomes are encoded as int64 keys (mixed radix over the variables' domains, each digit counted from
   its domain's low end, so the key space is the product of the domains' sizes; beyond int64, Python ints
   in object arrays) and looked up among known states: a dense key -> index table when the key space is
   moderate, sorted runs of keys (searchsorted, merged like a binomial heap so the total work stays
   O(n log n)) otherwise. Unknown keys become new states, numbered in the order of their first
   occurrence: breadth-first numbering with the initial state as 0, which keeps neighbours close in
   memory for the solver.

Before a layer allocates its arrays (and before each event multiplies its outcomes), the memory the
model will need is estimated from the counts so far plus the layer's, and the compile stops with a
:class:`StateLimitError` beyond ``max_bytes``: a spec whose domains explode stops in seconds, naming the
variables with the most values reached.

The layers' (row, successor, probability) triples are stacked into one CSR matrix at the end, where
scipy sorts each row and sums duplicate successors. Costs, intents and labels are evaluated on the same
arrays. Model errors (deadlocks, updates out of domain, bad probabilities, division by zero) are
collected per layer, with the first offending state of each, and raised together as a
:class:`~mdp.model.ModelError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.errors import Diagnostic, ResourceLimitError, Span
from dsl.spec import Action, ActionIs, Branch, Spec, Update, VarRef

from .expressions import DivisionByZeroError, Vectorized, vectorize
from .model import TERMINAL_ACTION, ModelError, TabularMDP

__all__ = ["DEFAULT_MAX_BYTES", "StateLimitError", "compile"]

_DENSE_TABLE_LIMIT = 1 << 26
"""Key spaces up to this size use a dense key -> index table (4 bytes per possible state, touched only
where keys occur)."""

_PROBABILITY_TOLERANCE = 1e-9
"""How far the branch probabilities of an action may sum from 1 (they are floats of exact numbers)."""

_LEFTOVER_ZERO = 1e-12
"""An event's left-over mass below this is float noise of probabilities that sum to 1."""

_MAX_INT64 = (1 << 63) - 1

_Keys = npt.NDArray[Any]
"""State keys: int64, or Python ints in an object array when the key space is beyond int64."""
_MAX_STATES = int(np.iinfo(np.int32).max)  # states are numbered with int32 (the CSR column indices)
_MAX_LAYER_OUTCOMES = _MAX_STATES  # a layer numbers its rows with int32, and _number marks its outcomes so
_PATH_SHOWN = 8  # actions shown of a long path to an offending state
_DISABLED_SHOWN = 6  # other disabled actions named in a deadlock's notes
_CULPRITS_SHOWN = 6  # variables (or events) named in the notes of a size limit

DEFAULT_MAX_BYTES = 4 << 30
"""The memory budget of a compile without ``max_states``: 4 GiB of the compiler's own arrays.

The estimate runs 1.15-1.4 times what tracemalloc measures. The 10^6-state grid world of
``benchmarks/compile.py`` (9.5e6 transitions; ~1 GB of process memory in all) is estimated at 0.71 GiB,
so the budget holds models five times that size, or 10^6 states with over 100 transitions each; the
reliability case ``state_explosion_9x100`` (10^18 combinations of values) stops in about 8 s at 3.1e6
states and 1.7 GB of process memory, where it used to take 5+ GB and 90 s to run out of memory.
``max_states`` replaces the budget by a limit on states.
"""

# What the compiler holds, in bytes, for the memory estimate (see _Compiler._bytes): measured on the arrays
# of _expand and _finish, where the per-layer parts and their concatenations are alive at once.
_STATE_BYTES = 70  # BFS parents 12, row counts and groups 24, terminal mask 2, sorted-run key and index 32
_STATE_VARIABLE_BYTES = 16  # a code per layer and in state_codes
_ROW_BYTES = 36  # action 4 + 4, transition count 8 + 8, row pointer 8 + 4
_ROW_TERM_BYTES = 16  # a cost or intent per layer and concatenated
_TRANSITION_BYTES = 24  # successor 4 + probability 8, per layer and concatenated
_LAYER_BYTES = 2048  # the dozen small arrays and dicts of one layer (a long chain has one state per layer)
_CHOICE_BYTES = 8  # in flight, per (state, action) of a frontier: the enabled matrix, its copy, row numbers
_IN_FLIGHT_ROW_BYTES = 48  # in flight, per row: its state and action, branch slots, per-action gathers
_OUTCOME_BYTES = 96  # in flight, per outcome: key, probability, row, a filtered copy, np.unique's work
_OUTCOME_COLUMN_BYTES = 16  # in flight, per outcome and variable an event reads or writes (and its spread)
_PYTHON_INT_BYTES = 40  # per key held as a Python int (key spaces beyond int64)
_PAGE_BYTES = 4096  # of the dense key table, mapped when first written


class StateLimitError(ResourceLimitError):
    """The model outgrew a limit before it was built: ``max_states``, the memory budget, or 32-bit numbering.

    Its text is a message (the limit, the states found), notes naming what makes the model big (the
    variables with the most values reached, with their lines, and the events that multiply outcomes), and
    a hint saying what to change, rendered like a diagnostic's.

    Attributes
    ----------
    message
        The first line.
    n_states
        States found when the enumeration stopped.
    n_unexplored
        Of those, states whose successors were not computed yet.
    notes, hint
        As in a :class:`~dsl.errors.Diagnostic`.
    """

    def __init__(self, message: str, n_states: int, n_unexplored: int, notes: tuple[str, ...] = (),
                 hint: str | None = None) -> None:
        self.message = message
        self.n_states = n_states
        self.n_unexplored = n_unexplored
        self.notes = notes
        self.hint = hint
        lines = [message, *(f"    = note: {note}" for note in notes)]
        if hint:
            lines.append(f"    = hint: {hint}")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable
        return (type(self), (self.message, self.n_states, self.n_unexplored, self.notes, self.hint))


def compile(spec: Spec, max_states: int | None = None,
            progress: Callable[[int, int], object] | None = None, max_bytes: int | None = None) -> TabularMDP:
    """Enumerate the reachable states of ``spec`` and build its tabular MDP.

    Parameters
    ----------
    spec
        A checked spec (:func:`dsl.load`).
    max_states
        Stop with :class:`StateLimitError` once more states than this are found.
    progress
        Called once per breadth-first layer as ``progress(n_states_so_far, frontier_size)``.
    max_bytes
        Stop with :class:`StateLimitError` before the compiler's arrays would take more than this many
        bytes, estimated from the states, choices and transitions built so far and those of the layer
        about to be built. Default: :data:`DEFAULT_MAX_BYTES` without ``max_states``, none with it (a
        limit on states the caller chose replaces the budget).

    Returns
    -------
    TabularMDP
        States numbered breadth-first from the initial state (index 0); rows in state order, then
        action declaration order (a terminal state has one zero-cost ``TERMINAL_ACTION`` self-loop);
        ``costs``/``intents`` per term and row; ``labels`` for every bool formula that does not
        mention actions; ``state_codes`` ``(n, k)`` to decode states.

    Raises
    ------
    ModelError
        A reachable non-terminal state with no enabled action, an update outside its variable's
        domain, branch probabilities outside ``[0, 1]`` or not summing to 1 (at most 1 for events),
        or a division by zero. Each diagnostic points at the source and names the offending state.
    StateLimitError
        More than ``max_states`` states, more memory than ``max_bytes``, or more states or outcomes of one
        layer than 32-bit indices can number (a :class:`~dsl.errors.ResourceLimitError`).

    Examples
    --------
    >>> from fractions import Fraction
    >>> from dsl.errors import Source
    >>> from dsl.spec import BOOL, INT, Action, Binary, Branch, IntDomain, Literal, Spec, Update, VarRef, Variable
    >>> x = VarRef(0, "x", INT)
    >>> step = Action("step", "step", Binary("<", x, Literal(2, INT), BOOL),
    ...               (Branch(Literal(1, INT), (Update(0, Binary("+", x, Literal(1, INT), INT)),)),))
    >>> spec = Spec("count", "", Source("<doc>", ""), Fraction(1), (), (), (Variable("x", IntDomain(0, 2), 0),),
    ...             (), (step,), (), Binary("==", x, Literal(2, INT), BOOL), (), (), ())
    >>> model = compile(spec)
    >>> model.n_states, model.state_codes.ravel().tolist(), model.actions(2)
    (3, [0, 1, 2], ('<terminal>',))
    """
    if max_bytes is None and max_states is None:
        max_bytes = DEFAULT_MAX_BYTES
    return _Compiler(spec, max_states, progress, max_bytes).run()


# --- the compiled spec -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CompiledUpdate:
    update: Update
    value: Vectorized
    lo: int
    hi: int
    is_bool: bool


@dataclass(frozen=True, slots=True)
class _CompiledBranch:
    branch: Branch
    probability: Vectorized
    updates: tuple[_CompiledUpdate, ...]


@dataclass(frozen=True, slots=True)
class _CompiledChoice:
    """An action or an event: a guard and branches."""

    name: str
    kind: str  # "action" | "event"
    span: Span | None
    guard: Vectorized
    branches: tuple[_CompiledBranch, ...]


@dataclass(frozen=True, slots=True)
class _CompiledTerm:
    """A cost or intent term: evaluated per state, or specialised to each action."""

    kind: str  # "cost" | "intent"
    name: str
    per_state: Vectorized | None
    per_action: tuple[Vectorized, ...] | None
    span: Span | None  # its expression, for errors


@dataclass(frozen=True, slots=True)
class _Problem:
    """One model error found in a layer, at the first (lowest-numbered) offending state."""

    state: int
    message: str
    span: Span | None
    hint: str | None
    notes: tuple[str, ...] = ()


@dataclass(slots=True)
class _Layer:
    """What one BFS layer contributes to the model (concatenated at the end)."""

    rows_per_state: npt.NDArray[np.int64]
    row_action: npt.NDArray[np.int32]
    entries_per_row: npt.NDArray[np.int64]
    successors: npt.NDArray[np.int32]
    probabilities: npt.NDArray[np.float64]
    terminal: npt.NDArray[np.bool_]
    costs: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    intents: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)


class _Subset(Sequence[npt.NDArray[np.int64]]):
    """The columns of the states at ``index``, gathered lazily (only the variables an expression reads)."""

    __slots__ = ("_columns", "_index", "_cache")

    def __init__(self, columns: Sequence[npt.NDArray[np.int64]], index: npt.NDArray[np.int64]) -> None:
        self._columns = columns
        self._index = index
        self._cache: dict[int, npt.NDArray[np.int64]] = {}

    def __len__(self) -> int:
        return len(self._columns)

    # columns are read one at a time, never sliced: only the int half of Sequence's overloads is needed
    def __getitem__(self, j: int) -> npt.NDArray[np.int64]:  # type: ignore[override]
        column = self._cache.get(j)
        if column is None:
            column = self._cache[j] = self._columns[j][self._index]
        return column


class _Outcomes(NamedTuple):
    """A layer's outcomes, in row order: successor key, tracked columns, probability, row, and whether
    events apply (``None``: all of them)."""

    key: _Keys
    columns: dict[int, npt.NDArray[np.int64]]
    probability: npt.NDArray[np.float64]
    row: npt.NDArray[np.int32]
    live: npt.NDArray[np.bool_] | None


class _Tracked(Sequence[npt.NDArray[np.int64]]):
    """The columns outcomes carry, indexed like all variables (the others are never read)."""

    __slots__ = ("_columns", "_k")

    def __init__(self, columns: dict[int, npt.NDArray[np.int64]], k: int) -> None:
        self._columns = columns
        self._k = k

    def __len__(self) -> int:
        return self._k

    def __getitem__(self, j: int) -> npt.NDArray[np.int64]:  # type: ignore[override]  # never sliced either
        return self._columns[j]


class _SortedRuns:
    """Known states as sorted runs of (key, index): lookups by searchsorted, runs merged by size.

    Used when the key space is too large for a dense table. Runs keep sizes decreasing by at least
    half, so there are O(log n) of them and each key is merged O(log n) times in total.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[_Keys, npt.NDArray[np.int64]]] = []

    def lookup(self, keys: _Keys) -> npt.NDArray[np.int64]:
        """Index of each (sorted, unique) key, -1 where unknown."""
        out = np.full(keys.shape, -1, dtype=np.int64)
        for run_keys, run_index in self.runs:
            position = np.searchsorted(run_keys, keys)
            np.minimum(position, run_keys.size - 1, out=position)
            hit = run_keys[position] == keys
            out[hit] = run_index[position[hit]]
        return out

    def add(self, keys: _Keys, index: npt.NDArray[np.int64]) -> None:
        """Add sorted, new keys with their indices."""
        if keys.size == 0:
            return
        self.runs.append((keys, index))
        while len(self.runs) >= 2 and self.runs[-2][0].size <= 2 * self.runs[-1][0].size:
            (k1, i1), (k2, i2) = self.runs.pop(), self.runs.pop()
            merged = np.concatenate([k2, k1])
            order = np.argsort(merged, kind="stable")  # two sorted runs: timsort merges them linearly
            self.runs.append((merged[order], np.concatenate([i2, i1])[order]))


# --- the enumeration ---------------------------------------------------------------------------


class _Compiler:
    """The state of one compilation; :meth:`run` does the breadth-first enumeration."""

    def __init__(self, spec: Spec, max_states: int | None,
                 progress: Callable[[int, int], object] | None, max_bytes: int | None) -> None:
        self.spec = spec
        self.max_states = max_states
        self.max_bytes = max_bytes
        self.progress = progress
        params = spec.param_values()
        self.variables = spec.variables
        self.k = len(spec.variables)

        # mixed-radix keys: the last variable varies fastest
        sizes = [v.domain.size for v in spec.variables]
        space = 1
        for size in sizes:
            space *= size
        self.key_space = space
        # beyond int64, keys are Python ints in object arrays: slower, but only such specs pay for it
        self.key_dtype: type = np.int64 if space <= _MAX_INT64 else object
        strides, stride = [], 1
        for size in reversed(sizes):
            strides.append(stride)
            stride *= size
        self.strides = tuple(reversed(strides))
        # (k, 1) columns for _decode: digit j of a key is key // stride_j % size_j, its code that plus lo_j
        self.digit_strides = np.array(self.strides, dtype=self.key_dtype).reshape(-1, 1)
        self.digit_sizes = np.array(sizes, dtype=self.key_dtype).reshape(-1, 1)
        lows = [v.domain.lo for v in spec.variables]
        self.digit_lows = np.array(lows, dtype=self.key_dtype).reshape(-1, 1) if any(lows) else None

        self.actions = tuple(self._choice(a.name, "action", a.span, a.guard, a.branches, params)
                             for a in spec.actions)
        self.events = tuple(self._choice(e.name, "event", e.span, e.guard, e.branches, params)
                            for e in spec.events)
        self.action_names = tuple(a.name for a in spec.actions) + (TERMINAL_ACTION,)
        # outcomes carry their key, plus the columns of the variables events read or write
        tracked: set[int] = set()
        for event in spec.events:
            for expr in (event.guard, *(b.probability for b in event.branches),
                         *(u.expr for b in event.branches for u in b.updates)):
                tracked.update(node.index for node in expr.traverse() if isinstance(node, VarRef))
            tracked.update(u.variable for b in event.branches for u in b.updates)
        self.tracked = tuple(sorted(tracked))
        self.outcome_bytes = (_OUTCOME_BYTES + _OUTCOME_COLUMN_BYTES * len(self.tracked)
                              + (_PYTHON_INT_BYTES if self.key_dtype is object else 0))
        self.terminal = vectorize(spec.terminal, params) if spec.terminal is not None else None
        self.costs = tuple((t.name, vectorize(t.expr, params)) for t in spec.costs)
        self.intents = tuple((t.name, vectorize(t.expr, params)) for t in spec.intents)
        # a term that does not mention the action is evaluated once per state and copied to its rows;
        # one that does is specialised to each action (often a constant then)
        self.terms = tuple(
            _CompiledTerm(kind, t.name, term, None, t.expr.span or t.span) if not _mentions_action(t.expr) else
            _CompiledTerm(kind, t.name, None, tuple(vectorize(t.expr, params, a.name) for a in spec.actions),
                          t.expr.span or t.span)
            for kind, terms in (("cost", spec.costs), ("intent", spec.intents))
            for t, (_, term) in zip(terms, self.costs if kind == "cost" else self.intents))
        self.labels = tuple((f.name, vectorize(f.expr, params)) for f in spec.formulas
                            if f.expr.type.kind == "bool"
                            and not _mentions_action(f.expr))
        # per action: its branches' probabilities when they are the same in every state
        self.constant_probabilities = tuple(
            [float(b.probability.constant) for b in a.branches]
            if all(b.probability.is_constant for b in a.branches) else None
            for a in self.actions)
        self.checked_constants = [False] * len(self.actions)  # constant probabilities: checked once

        # filled while enumerating
        self.n_states = 0
        self.n_rows = 0
        self.n_transitions = 0  # (before scipy merges duplicate successors of a row)
        self.layers: list[_Layer] = []
        self.columns: list[list[npt.NDArray[np.int64]]] = [[] for _ in range(self.k)]  # per variable, per layer
        self.parent_state: list[npt.NDArray[np.int64]] = []  # per layer: BFS parent of each new state
        self.parent_action: list[npt.NDArray[np.int32]] = []
        self.problems: dict[tuple[Any, ...], _Problem] = {}
        self.explored = 0  # states whose successors are known: those before the frontier being expanded
        self.fans: list[tuple[_CompiledChoice, int]] = []  # events that multiplied this layer's outcomes, by how much
        if space <= _DENSE_TABLE_LIMIT:
            # key -> state index + 1, 0 for unknown keys: zeros are mapped lazily, so a large table costs
            # memory only where keys occur
            self.table: npt.NDArray[np.int32] | None = np.zeros(space, dtype=np.int32)
            self.runs: _SortedRuns | None = None
        else:
            self.table, self.runs = None, _SortedRuns()

    def _choice(self, name: str, kind: str, span: Span | None, guard: Any, branches: Sequence[Branch],
                params: dict[str, Any]) -> _CompiledChoice:
        compiled = []
        for branch in branches:
            updates = []
            for update in branch.updates:
                domain = self.variables[update.variable].domain
                updates.append(_CompiledUpdate(update, vectorize(update.expr, params), domain.lo, domain.hi,
                                               domain.type.kind == "bool"))
            compiled.append(_CompiledBranch(branch, vectorize(branch.probability, params), tuple(updates)))
        return _CompiledChoice(name, kind, span, vectorize(guard, params), tuple(compiled))

    # --- driver --------------------------------------------------------------------------------

    def run(self) -> TabularMDP:
        initial = [np.array([v.initial], dtype=np.int64) for v in self.variables]
        for variable, column in zip(self.variables, initial):
            if not variable.domain.contains(int(column[0])):
                raise ModelError(Diagnostic(
                    f"the initial value of '{variable.name}' is outside its domain {variable.domain}",
                    variable.span), self.spec.source)
        keys = self._keys(initial, 1)
        self._remember(keys, np.zeros(1, dtype=np.int64))
        self._store_new(initial, np.array([-1]), np.array([-1], dtype=np.int32))
        frontier, size, base = (initial, keys), 1, 0
        with np.errstate(over="ignore", invalid="ignore"):  # overflows become problems (see _finite, _outside)
            return self._enumerate(frontier, size, base)

    def _enumerate(self, frontier: tuple[list[npt.NDArray[np.int64]], _Keys], size: int,
                   base: int) -> TabularMDP:
        while size:
            frontier = self._expand(frontier[0], frontier[1], size, base)
            base += size
            size = frontier[1].size
            if self.progress is not None:
                self.progress(self.n_states, size)
            if self.max_states is not None and self.n_states > self.max_states:
                self.explored = base
                raise self._limit(f"the model has more than {self.max_states:,} states (--max-states)",
                                  "raise --max-states, or shrink the domains of these variables (or set consts "
                                  "and params with -D)")
        return self._finish()

    def _store_new(self, columns: Sequence[npt.NDArray[np.int64]], parent_state: npt.NDArray[np.int64],
                   parent_action: npt.NDArray[np.int32]) -> None:
        for j in range(self.k):
            self.columns[j].append(columns[j])
        self.parent_state.append(parent_state)
        self.parent_action.append(parent_action)
        self.n_states += len(parent_state)

    def _keys(self, columns: Sequence[npt.NDArray[np.int64]], size: int) -> _Keys:
        """Mixed-radix keys: the sum of (code - lo) * stride over the variables.

        Each digit is taken relative to its domain's low end before it is scaled, so every intermediate
        value lies in ``[0, key_space)``: a domain near the int64 limits (``9e18..9e18 + 1``) has small
        digits although ``lo * stride`` would not fit in 64 bits.
        """
        key: _Keys = np.zeros(size, dtype=self.key_dtype)
        for column, stride, variable in zip(columns, self.strides, self.variables):
            key += (column.astype(self.key_dtype) - variable.domain.lo) * stride
        return key

    def _decode(self, keys: _Keys) -> list[npt.NDArray[np.int64]]:
        """The codes of every variable in ``keys``, as contiguous columns.

        One ``(k, n)`` operation for all variables: a long chain of small layers pays the per-call cost of
        numpy once per layer, not once per variable.
        """
        codes = keys[None, :] // self.digit_strides  # (k, n)
        codes %= self.digit_sizes  # digit j of each key
        if self.digit_lows is not None:
            codes += self.digit_lows
        return list(codes.astype(np.int64, copy=False))  # (object keys: Python ints, now values of the domains)

    def _remember(self, keys: _Keys, index: npt.NDArray[np.int64]) -> None:
        if self.table is not None:
            self.table[keys] = index + 1
        else:
            assert self.runs is not None
            order = np.argsort(keys)
            self.runs.add(keys[order], index[order])

    # --- one layer -----------------------------------------------------------------------------

    def _expand(self, frontier: list[npt.NDArray[np.int64]], frontier_keys: _Keys, f: int,
                base: int) -> tuple[list[npt.NDArray[np.int64]], _Keys]:
        """Expand the states ``base .. base + f - 1``; return the next frontier (columns and keys)."""
        n_actions = len(self.actions)
        at = lambda i: base + i  # noqa: E731  (position in the frontier -> state)
        self.explored, self.fans = base, []
        self._check_size(0, 0, f * (n_actions + 1) * _CHOICE_BYTES)

        # 1. enabled choices: (A + 1, f), the last row is the terminal self-loop; its transpose, read
        #    row-major, lists the layer's rows in (state, action) order
        by_action = np.zeros((n_actions + 1, f), dtype=bool)
        if self.terminal is not None:
            by_action[n_actions] = self._evaluate(self.terminal, frontier, None, "'terminal'", at)
        live = ~by_action[n_actions]
        for a, action in enumerate(self.actions):
            guard = self._evaluate(action.guard, frontier, action.name, f"the guard of '{action.name}'", at)
            np.logical_and(guard, live, out=by_action[a])
        enabled = by_action.T
        rows_per_state = by_action.sum(axis=0)
        deadlocked = np.flatnonzero(rows_per_state == 0)
        if deadlocked.size:
            self._deadlock(base + int(deadlocked[0]))
        flat = enabled.ravel()  # (a copy: the transpose is not contiguous)
        row_state, row_action = np.divmod(np.flatnonzero(flat), n_actions + 1)  # the layer's rows, in order
        m = row_state.size
        # row_of[s, a]: the layer's row of (s, a) where enabled
        row_of = np.cumsum(flat, dtype=np.int32 if flat.size < 2**31 else np.int64).reshape(f, n_actions + 1)
        np.subtract(row_of, 1, out=row_of)

        # 2. intermediate outcomes: one slot per branch of each row, in row order
        n_branches = np.array([len(a.branches) for a in self.actions] + [1], dtype=np.int64)
        slots = n_branches[row_action]
        start = np.cumsum(slots) - slots
        total = int(slots.sum())
        self._check_size(m, total, m * _IN_FLIGHT_ROW_BYTES + total * self.outcome_bytes)
        out_key: _Keys = np.empty(total, dtype=self.key_dtype)
        out_columns = {j: np.empty(total, dtype=np.int64) for j in self.tracked}
        out_probability = np.empty(total, dtype=np.float64)
        out_row = np.empty(total, dtype=np.int32)
        layer = _Layer(rows_per_state.astype(np.int64), row_action.astype(np.int32), np.empty(0, np.int64),
                       np.empty(0, np.int32), np.empty(0), ~live)
        layer.costs = {name: np.zeros(m) for name, _ in self.costs}
        layer.intents = {name: np.zeros(m) for name, _ in self.intents}

        for a, action in enumerate(self.actions):
            states = np.flatnonzero(by_action[a])
            if states.size == 0:
                continue
            rows = row_of[states, a]
            first = start[rows]
            sub = _Subset(frontier, states)
            parent_keys = frontier_keys[states]
            where = lambda i, states=states: base + int(states[i])  # noqa: E731
            context = lambda i, name=action.name: (f"taking action '{name}'",)  # noqa: E731
            probabilities = self._action_probabilities(a, sub, where)
            for b, branch in enumerate(action.branches):
                position = first + b if b else first
                updated = self._updates(action, branch, sub, where, context)
                out_key[position] = self._moved(parent_keys, updated, sub)
                for j, column in out_columns.items():
                    column[position] = updated[j] if j in updated else sub[j]
                out_probability[position] = probabilities[b]
                out_row[position] = rows
            for term in self.terms:
                if term.per_action is not None:
                    target = layer.costs if term.kind == "cost" else layer.intents
                    target[term.name][rows] = self._evaluate(term.per_action[a], sub, action.name,
                                                             f"{term.kind} '{term.name}'", where, context)
        terminal_states = np.flatnonzero(~live)
        terminal_rows = row_of[terminal_states, n_actions]
        for term in self.terms:
            if term.per_state is not None:
                value = self._evaluate(term.per_state, frontier, None, f"{term.kind} '{term.name}'", at,
                                       care=live)
                target = layer.costs if term.kind == "cost" else layer.intents
                if np.ndim(value):
                    target[term.name] = np.asarray(value, dtype=np.float64)[row_state]
                else:
                    target[term.name].fill(value)
                target[term.name][terminal_rows] = 0.0
        for term in self.terms:
            self._finite(term, (layer.costs if term.kind == "cost" else layer.intents)[term.name], row_state,
                         row_action, base)
        out_live = None  # outcomes of terminal self-loops are not live: events leave them alone
        if terminal_states.size:
            out_live = np.ones(total, dtype=bool)
            position = start[terminal_rows]
            out_key[position] = frontier_keys[terminal_states]
            for j, column in out_columns.items():
                column[position] = frontier[j][terminal_states]
            out_probability[position] = 1.0
            out_row[position] = terminal_rows
            out_live[position] = False

        # 3. events, in declaration order, each on every outcome where its guard holds
        outcomes = _Outcomes(out_key, out_columns, out_probability, out_row, out_live)
        for e, event in enumerate(self.events):
            outcomes = self._apply_event(event, outcomes, row_state, row_action, base, e == len(self.events) - 1)
        self._raise_problems()

        out_key, out_probability, out_row = outcomes.key, outcomes.probability, outcomes.row
        if not np.all(out_probability):  # branches of probability 0 leave no transition
            keep = out_probability != 0
            out_key, out_probability, out_row = out_key[keep], out_probability[keep], out_row[keep]

        # 4. successors: known states by lookup, new ones numbered in order of first occurrence
        successors, first = self._number(out_key)
        new_keys = out_key[first]
        new_columns = self._decode(new_keys)
        parent_rows = out_row[first]
        self._store_new(new_columns, base + row_state[parent_rows].astype(np.int64),
                        row_action[parent_rows].astype(np.int32))

        layer.successors = successors
        layer.probabilities = out_probability
        layer.entries_per_row = np.bincount(out_row, minlength=m)
        self.layers.append(layer)
        self.n_rows += m
        self.n_transitions += successors.size
        return new_columns, new_keys

    def _moved(self, keys: _Keys, updated: dict[int, Any], old: Sequence[Any]) -> Any:
        """``keys`` after the variables in ``updated`` change from their ``old`` codes."""
        for j, value in updated.items():
            if self.key_dtype is object:  # exact: a domain wider than 2**63 has differences beyond int64
                delta = np.asarray(value).astype(object) - old[j].astype(object)
            else:
                delta = np.subtract(value, old[j])
            if self.strides[j] != 1:
                delta *= self.strides[j]
            keys = keys + delta
        return keys

    def _number(self, keys: _Keys) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """Successor index of every key, and the positions of first occurrences of new states, in order."""
        n = self.n_states
        if self.table is not None:
            table = self.table
            index = table[keys]  # index + 1, 0 where unknown
            unknown = np.flatnonzero(index == 0)
            if unknown.size:
                # mark each unknown key with its first position: values -size-1 .. -2 grow with the
                # position, so the minimum is the first occurrence, and they stay below the 0 of unknown keys
                unknown_keys = keys[unknown]
                marks = (unknown - (keys.size + 1)).astype(np.int32)
                np.minimum.at(table, unknown_keys, marks)
                is_first = table[unknown_keys] == marks
                first = unknown[is_first]  # increasing: the order of discovery
                table[keys[first]] = np.arange(n + 1, n + 1 + first.size, dtype=np.int32)
                index[unknown] = table[unknown_keys]
            else:
                first = unknown
            index -= 1
            return index, first
        assert self.runs is not None
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        found = self.runs.lookup(unique)
        missing = np.flatnonzero(found < 0)
        order = np.argsort(first[missing], kind="stable")
        numbers = np.empty(missing.size, dtype=np.int64)
        numbers[order] = np.arange(n, n + missing.size)
        found[missing] = numbers
        self.runs.add(unique[missing], numbers)
        if n + missing.size > _MAX_STATES:
            raise self._limit(f"the model has more than {_MAX_STATES:,} states, the most corrigo can number "
                              "(a fixed limit: 32-bit state indices)",
                              "shrink the domains of these variables (or set consts and params with -D)")
        return found[inverse].astype(np.int32), first[missing[order]]

    # --- actions and events --------------------------------------------------------------------

    def _action_probabilities(self, a: int, sub: _Subset, where: Callable[[int], int]) -> list[Any]:
        action = self.actions[a]
        constant = self.constant_probabilities[a]
        if constant is not None:
            values: list[Any] = constant
            if self.checked_constants[a]:
                return values
        else:
            values = [self._evaluate(b.probability, sub, action.name, f"a probability of '{action.name}'",
                                     where) for b in action.branches]
        out_of_range = False
        for branch, value in zip(action.branches, values):
            out_of_range |= self._probability_in_range(value, branch, f"action '{action.name}'", action.span,
                                                       where, lambda i: ())
        total = sum(values[1:], values[0])
        bad = _outside(total, 1 - _PROBABILITY_TOLERANCE, 1 + _PROBABILITY_TOLERANCE)
        if bad is not None and not out_of_range:  # (a branch out of range says enough)
            i = _first(bad)
            self._problem(("sum", action.span, action.name if action.span is None else ""), where(i), _Problem(
                where(i), f"the branch probabilities of action '{action.name}' sum to {_format(total, i)}, "
                "they must sum to 1",
                _branches_span(action),
                "make the probabilities of the branches add up to 1 in every state where the guard holds"))
        elif constant is not None:
            self.checked_constants[a] = not self.problems
        return values

    def _updates(self, choice: _CompiledChoice, branch: _CompiledBranch, sub: _Subset,
                 where: Callable[[int], int], context: Callable[[int], tuple[str, ...]]) -> dict[int, Any]:
        """The new codes of the variables a branch updates (scalars or arrays), checked against domains."""
        updated: dict[int, Any] = {}
        for u in branch.updates:
            variable = self.variables[u.update.variable]
            try:
                value = u.value.evaluate(sub, choice.name if choice.kind == "action" else None)
            except DivisionByZeroError as error:
                self._division(error, where(error.index), f"an update of '{choice.name}'", context(error.index))
                value = sub[u.update.variable]
            if u.is_bool:
                value = np.asarray(value).astype(np.int64) if np.ndim(value) else int(bool(value))
            else:
                bad = _outside(value, u.lo, u.hi)
                real = isinstance(value, float) or isinstance(value, np.ndarray) and value.dtype.kind == "f"
                fraction: Any = np.not_equal(np.rint(value), value) if real else False
                if bad is not None or real and np.any(fraction):
                    i = _first(np.logical_or(bad if bad is not None else False, fraction))
                    if bool(fraction[i] if np.ndim(fraction) else fraction):
                        message = (f"the update gives '{variable.name}' the value {_format(value, i)}, but its "
                                   f"domain {variable.domain} holds integers only")
                        hint = f"round it, e.g. {variable.name}' = (... >= 0.5 ? 1 : 0), or make the values integers"
                    else:
                        message = (f"the update gives '{variable.name}' the value {_format(value, i)}, outside its "
                                   f"domain {variable.domain}")
                        hint = f"clamp it, e.g. {variable.name}' = max({u.lo}, min({u.hi}, ...))"
                    self._problem(("domain", id(u.update) if u.update.span is None else u.update.span),
                                  where(i), _Problem(where(i), message, u.update.span or choice.span, hint,
                                                     context(i)))
                    value = np.clip(np.nan_to_num(value), u.lo, u.hi)
                if real:
                    value = np.rint(value).astype(np.int64) if np.ndim(value) else int(np.rint(value))
            updated[u.update.variable] = value
        return updated

    def _apply_event(self, event: _CompiledChoice, outcomes: _Outcomes, row_state: npt.NDArray[np.int64],
                     row_action: npt.NDArray[np.int64], base: int, last: bool) -> _Outcomes:
        """Replace each outcome where the event's guard holds by its branches and the left-over mass.

        After the ``last`` event only keys, probabilities and rows are still needed.
        """
        key, columns, probability, row, live = outcomes
        size = probability.size
        view = _Tracked(columns, self.k)
        notes = lambda position: self._event_notes(outcomes, row_state, row_action, base, position)  # noqa: E731
        try:
            guard = event.guard.evaluate(view, None, live)
        except DivisionByZeroError as error:
            self._division(error, base + int(row_state[row[error.index]]), f"the guard of event '{event.name}'",
                           notes(error.index))
            return outcomes
        firing = np.logical_and(guard, live) if live is not None else np.broadcast_to(guard, (size,))
        fires = np.flatnonzero(firing)
        if fires.size == 0:
            return outcomes
        sub = _Subset(view, fires)
        where = lambda i: base + int(row_state[row[fires[i]]])  # noqa: E731
        context = lambda i: notes(int(fires[i]))  # noqa: E731

        values: list[Any] = []
        out_of_range = False
        for branch in event.branches:
            try:
                value = branch.probability.evaluate(sub, None)
            except DivisionByZeroError as error:
                self._division(error, where(error.index), f"a probability of event '{event.name}'",
                               context(error.index))
                value = 0.0
            out_of_range |= self._probability_in_range(value, branch, f"event '{event.name}'", event.span,
                                                       where, context)
            values.append(value)
        total = sum(values[1:], values[0]) if values else 0.0
        bad = np.greater(total, 1 + _PROBABILITY_TOLERANCE)
        if np.any(bad) and not out_of_range:
            i = _first(bad)
            self._problem(("event-sum", event.span, event.name), where(i), _Problem(
                where(i), f"the branch probabilities of event '{event.name}' sum to {_format(total, i)}, "
                "they must sum to at most 1",
                _branches_span(event), "the mass left over (1 - sum) is the chance that nothing happens, so the "
                "probabilities must not add up to more than 1", context(i)))
        leftover = np.subtract(1.0, total)
        leftover = np.where(np.abs(leftover) <= _LEFTOVER_ZERO, 0.0, np.maximum(leftover, 0.0))
        has_leftover = bool(np.any(leftover > 0))

        # each firing outcome becomes `fan` consecutive outcomes: its branches, then the left-over
        fan = len(event.branches) + has_leftover
        growth = fan - 1
        new_size = size + growth * fires.size
        if growth:
            self._check_event(event, fan, row_state.size, new_size, last)
        place = np.arange(size, dtype=np.int64)  # where each old outcome (or its first child) goes
        if growth:
            fired_before = np.cumsum(firing, dtype=np.int64)
            fired_before -= firing
            place += growth * fired_before
        first = place[fires]

        def spread(old: npt.NDArray[Any]) -> npt.NDArray[Any]:
            if not growth:
                return old.copy()
            new = np.empty(new_size, dtype=old.dtype)
            new[place] = old
            repeated = old[fires]
            for slot in range(1, fan):
                new[first + slot] = repeated
            return new

        new_key = spread(key)
        new_columns = {j: spread(column) for j, column in columns.items()} if not last else {}
        new_probability = spread(probability)
        parent_key, parent_probability = key[fires], probability[fires]
        for b, branch in enumerate(event.branches):
            slot = first + b if b else first
            updated = self._updates(event, branch, sub, where, context)
            if updated:
                new_key[slot] = self._moved(parent_key, updated, sub)
            for j, value in updated.items():
                if j in new_columns:
                    new_columns[j][slot] = value
            new_probability[slot] = parent_probability * values[b]
        if has_leftover:
            new_probability[first + len(event.branches)] = parent_probability * leftover
        new_live = None if live is None or last else spread(live) if growth else live
        return _Outcomes(new_key, new_columns, new_probability, spread(row) if growth else row, new_live)

    def _event_notes(self, outcomes: _Outcomes, row_state: npt.NDArray[np.int64],
                     row_action: npt.NDArray[np.int64], base: int, position: int) -> tuple[str, ...]:
        r = int(outcomes.row[position])
        action = self.action_names[int(row_action[r])]
        state = base + int(row_state[r])
        key = outcomes.key[position:position + 1]
        codes = [int(column[0]) for column in self._decode(key)]
        if codes == self._codes(state):
            return (f"after action '{action}'",)
        return (f"after action '{action}', which led to {self.spec.describe(codes)}",)

    # --- size limits ---------------------------------------------------------------------------

    def _bytes(self, rows: int, transitions: int) -> int:
        """The estimated peak of the compiler's arrays once the current layer, with ``rows`` and
        ``transitions``, is part of the model and the model is assembled (new states not counted yet)."""
        per_state = _STATE_BYTES + _STATE_VARIABLE_BYTES * self.k + len(self.labels)
        if self.key_dtype is object:
            per_state += _PYTHON_INT_BYTES
        per_row = _ROW_BYTES + _ROW_TERM_BYTES * len(self.terms)
        # the dense table's pages are mapped when first written, at most one per state
        table = min(self.table.nbytes, self.n_states * _PAGE_BYTES) if self.table is not None else 0
        return (per_state * self.n_states + per_row * (self.n_rows + rows)
                + _TRANSITION_BYTES * (self.n_transitions + transitions) + _LAYER_BYTES * (len(self.layers) + 1)
                + table)

    def _check_size(self, rows: int, outcomes: int, in_flight: int, notes: tuple[str, ...] = (),
                    hint: str | None = None) -> None:
        """Stop before the layer being built allocates, if the model would outgrow ``max_bytes`` or 32-bit rows.

        ``rows`` and ``outcomes`` are the layer's, which stay in the model; ``in_flight`` the bytes it needs
        only while it is built. ``notes`` and ``hint`` say what makes the layer big when the variables
        alone do not (the events).
        """
        if outcomes > _MAX_LAYER_OUTCOMES:
            raise self._limit(f"one breadth-first layer of the model has {outcomes:,} outcomes, the most corrigo "
                              f"can number is {_MAX_LAYER_OUTCOMES:,} (a fixed limit: 32-bit row numbers)",
                              hint or "shrink the domains of these variables (or set consts and params with -D)",
                              notes)
        if self.max_bytes is None:
            return
        need = self._bytes(rows, outcomes) + in_flight
        if need > self.max_bytes:
            raise self._limit(f"the model would need about {_size(need)} to build, more than its memory budget of "
                              f"{_size(self.max_bytes)}",
                              (hint or "shrink the domains of these variables (or set consts and params with -D)")
                              + "; --max-states N builds up to N states, however much memory they take", notes)

    def _check_event(self, event: _CompiledChoice, fan: int, rows: int, outcomes: int, last: bool) -> None:
        """Stop before ``event`` turns this layer's outcomes into ``outcomes`` if they outgrow the limits.

        Outcomes carry the columns events read until the last event, which spreads keys only.
        """
        self.fans.append((event, fan))
        per_outcome = self.outcome_bytes - (_OUTCOME_COLUMN_BYTES * len(self.tracked) if last else 0)
        self._check_size(rows, outcomes, rows * _IN_FLIGHT_ROW_BYTES + outcomes * per_outcome,
                         (f"this layer's {rows:,} choice{'s lead' if rows != 1 else ' leads'} to {outcomes:,} "
                          "outcomes after the events", *self._event_notes_of_fans()),
                         "every event multiplies the outcomes of a step by its branches (one more when mass is "
                         "left over): use fewer events or narrower guards, or shrink the domains of these "
                         "variables")

    def _limit(self, message: str, hint: str, notes: tuple[str, ...] = ()) -> StateLimitError:
        """A :class:`StateLimitError` that counts the states found and names the variables that vary most."""
        n, unexplored = self.n_states, self.n_states - self.explored
        return StateLimitError(f"{message}: {n:,} state{'s' if n != 1 else ''} found ({unexplored:,} not yet "
                               "explored)", n, unexplored, notes + self._variable_notes(), hint)

    def _variable_notes(self) -> tuple[str, ...]:
        """The variables with the most distinct values among the states found, with their lines: where the
        size comes from (declaration order among equals)."""
        counts = [(_n_values(self.columns[j], v.domain), j) for j, v in enumerate(self.variables)]
        ranked = sorted((-count, j) for count, j in counts if count > 1)
        notes = []
        for minus_count, j in ranked[:_CULPRITS_SHOWN]:
            variable = self.variables[j]
            line = f" (line {variable.span.line})" if variable.span is not None else ""
            notes.append(f"'{variable.name}'{line}: {-minus_count:,} of its {variable.domain.size:,} values reached")
        if len(ranked) > _CULPRITS_SHOWN:
            notes.append(f"and {len(ranked) - _CULPRITS_SHOWN} more variables")
        return tuple(notes)

    def _event_notes_of_fans(self) -> tuple[str, ...]:
        """The events that multiplied this layer's outcomes, with their lines and factors."""
        notes = [f"event '{event.name}'{f' (line {event.span.line})' if event.span else ''} turns each outcome "
                 f"where it applies into {fan}" for event, fan in self.fans[:_CULPRITS_SHOWN]]
        if len(self.fans) > _CULPRITS_SHOWN:
            notes.append(f"and {len(self.fans) - _CULPRITS_SHOWN} more events")
        return tuple(notes)

    # --- errors --------------------------------------------------------------------------------

    def _evaluate(self, expr: Vectorized, columns: Sequence[npt.NDArray[np.int64]], action: str | None,
                  what: str, where: Callable[[int], int],
                  context: Callable[[int], tuple[str, ...]] | None = None, care: Any = None) -> Any:
        """Evaluate, turning a division by zero into a recorded problem (the value is then 0).

        ``where`` maps a position in ``columns`` to its state; ``context`` gives notes for it; ``care``
        masks the positions whose value is used.
        """
        try:
            return expr.evaluate(columns, action, care)
        except DivisionByZeroError as error:
            self._division(error, where(error.index), what, context(error.index) if context else ())
            return 0

    def _probability_in_range(self, value: Any, branch: Any, owner: str, span: Span | None,
                              where: Callable[[int], int], context: Callable[[int], tuple[str, ...]]) -> bool:
        """Record a problem where a branch probability leaves [0, 1]; True when it does somewhere."""
        bad = _outside(value, 0, 1)
        if bad is None:
            return False
        i = _first(bad)
        self._problem(("range", id(branch.branch)), where(i), _Problem(
            where(i), f"probability {_format(value, i)} of {owner} is outside [0, 1]",
            branch.branch.probability.span or branch.branch.span or span,
            "a probability must lie between 0 and 1 in every state where the guard holds", context(i)))
        return True

    def _finite(self, term: _CompiledTerm, values: npt.NDArray[np.float64], row_state: npt.NDArray[np.int64],
                row_action: npt.NDArray[np.int64], base: int) -> None:
        """Record a problem where a cost or intent term overflows to ±inf (or NaN) in this layer's rows."""
        infinite = ~np.isfinite(values)
        if not infinite.any():
            return
        r = int(np.argmax(infinite))
        state = base + int(row_state[r])
        self._problem(("finite", term.kind, term.name), state, _Problem(
            state, f"{term.kind} '{term.name}' evaluates to {values[r]}, expected a finite number", term.span,
            "keep its factors small enough that the value stays within ±1.8e308",
            (f"taking action '{self.action_names[int(row_action[r])]}'",)))

    def _division(self, error: DivisionByZeroError, state: int, what: str, notes: tuple[str, ...]) -> None:
        span = getattr(error.expr, "span", None)
        self._problem(("division", span or id(error.expr)), state, _Problem(
            state, f"division by zero in {what}", span, "guard the division, e.g. `d == 0 ? 0 : n / d`", notes))

    def _deadlock(self, state: int) -> None:
        """Record a deadlock at ``state``, located at the guard of the first declared action.

        In a state that is not terminal, an action is disabled only by its guard, so every guard is false
        there: the caret goes under the first, a note names each other declaration (expansions of one
        parametrised action share their guard). A guardless action is enabled in every such state, and
        ``dsl.typecheck`` rejects a spec without actions at its ``model`` line, so only specs built in
        Python without spans fall back to the first action's declaration, or to no location at all.
        """
        declared: dict[str, Action] = {}
        for action in self.spec.actions:
            declared.setdefault(action.base, action)
        guarded = [a for a in declared.values() if a.guard_span is not None]
        span = guarded[0].guard_span if guarded else self.spec.actions[0].span if self.spec.actions else None
        notes = [f"'{a.base}' is disabled: its guard `{self.spec.source.text_at(a.guard_span)}` is false "
                 f"(line {a.guard_span.line})" for a in guarded[1:1 + _DISABLED_SHOWN] if a.guard_span]
        if len(guarded) > 1 + _DISABLED_SHOWN:
            notes.append(f"and {len(guarded) - 1 - _DISABLED_SHOWN} more actions, all disabled")
        self._problem(("deadlock",), state, _Problem(
            state, "deadlock: no action is enabled in a reachable state that is not terminal", span,
            "add an action that is enabled there (such as a `wait` action), or make the state `terminal`",
            tuple(notes)))

    def _problem(self, key: tuple[Any, ...], state: int, problem: _Problem) -> None:
        known = self.problems.get(key)
        if known is None or state < known.state:
            self.problems[key] = problem

    def _raise_problems(self) -> None:
        if not self.problems:
            return
        problems = sorted(self.problems.values(), key=lambda p: (
            p.span is None, (p.span.line, p.span.column) if p.span else (0, 0), p.state))
        diagnostics = [Diagnostic(p.message, p.span, p.hint,
                                  (f"in state {self.spec.describe(self._codes(p.state))}",) + p.notes
                                  + (self._path_note(p.state),))
                       for p in problems]
        raise ModelError(diagnostics, self.spec.source)

    def _codes(self, state: int) -> list[int]:
        for layer_columns in zip(*self.columns) if self.k else ():
            size = len(layer_columns[0])
            if state < size:
                return [int(column[state]) for column in layer_columns]
            state -= size
        return []

    def _path_note(self, state: int) -> str:
        parent_state = np.concatenate(self.parent_state)
        parent_action = np.concatenate(self.parent_action)
        actions = []
        while state > 0:
            actions.append(self.action_names[int(parent_action[state])])
            state = int(parent_state[state])
        if not actions:
            return "this is the initial state"
        actions.reverse()
        steps = f"{len(actions)} step{'s' if len(actions) > 1 else ''}"
        if len(actions) > _PATH_SHOWN:
            actions = ["..."] + actions[-_PATH_SHOWN:]
        return f"reached from the initial state in {steps}: {', '.join(actions)}"

    # --- the model -----------------------------------------------------------------------------

    def _finish(self) -> TabularMDP:
        n = self.n_states
        layers = self.layers
        rows_per_state = np.concatenate([layer.rows_per_state for layer in layers])
        row_groups = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(rows_per_state, out=row_groups[1:])
        entries = np.concatenate([layer.entries_per_row for layer in layers])
        indptr = np.zeros(entries.size + 1, dtype=np.int64)
        np.cumsum(entries, out=indptr[1:])
        indices = np.concatenate([layer.successors for layer in layers]).astype(np.int32, copy=False)
        data = np.concatenate([layer.probabilities for layer in layers])
        for layer in layers:  # free the per-layer copies before scipy works on the whole matrix
            layer.successors, layer.probabilities = np.empty(0, np.int32), np.empty(0)
        if indptr[-1] <= np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        P = sp.csr_array((data, indices, indptr), shape=(entries.size, n))
        P.sum_duplicates()  # sorts each row's successors and adds up repeated ones

        # column-major, so each variable's codes are contiguous (state_codes.T is a (k, n) C array)
        state_codes = np.empty((n, self.k), dtype=np.int64, order="F")
        for j, parts in enumerate(self.columns):
            np.concatenate(parts, out=state_codes[:, j])
        columns = [state_codes[:, j] for j in range(self.k)]
        labels = {}
        for name, formula in self.labels:
            try:
                labels[name] = formula(columns, size=n)
            except DivisionByZeroError as error:
                self._division(error, error.index, f"formula '{name}'", ())
        self._raise_problems()
        return TabularMDP(
            P=P,
            row_groups=row_groups,
            row_action=np.concatenate([layer.row_action for layer in layers]),
            action_names=self.action_names,
            costs={name: np.concatenate([layer.costs[name] for layer in layers]) for name, _ in self.costs},
            discount=float(self.spec.discount),
            initial=0,
            terminal=np.concatenate([layer.terminal for layer in layers]),
            labels=labels,
            intents={name: np.concatenate([layer.intents[name] for layer in layers])
                     for name, _ in self.intents},
            variables=self.variables,
            state_codes=state_codes,
            name=self.spec.name,
            source=self.spec.source,
            discount_span=self.spec.discount_span,
        )


def _mentions_action(expr: Any) -> bool:
    return any(isinstance(node, ActionIs) for node in expr.traverse())


def _branches_span(choice: _CompiledChoice) -> Span | None:
    """From the first branch to the last, as written (where a wrong sum of probabilities is), else the choice."""
    first, last = choice.branches[0].branch.span, choice.branches[-1].branch.span
    if first is None or last is None:
        return choice.span
    return Span(first.path, first.line, first.column, last.end_line, last.end_column)


def _outside(value: Any, lo: float, hi: float) -> Any:
    """``None`` when every value lies in ``[lo, hi]``, else the mask (or True) of those outside (NaN included)."""
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return None if lo <= value <= hi else True
    if value.size == 0 or (value.min() >= lo and value.max() <= hi):
        return None
    return ~np.logical_and(np.greater_equal(value, lo), np.less_equal(value, hi))


def _first(mask: Any) -> int:
    """The first position where ``mask`` holds (0 for a scalar)."""
    return int(np.argmax(mask)) if np.ndim(mask) else 0


def _format(value: Any, i: int) -> str:
    x = value[i] if np.ndim(value) else value
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _n_values(parts: Sequence[npt.NDArray[np.int64]], domain: Any) -> int:
    """How many distinct codes of ``domain`` occur in ``parts`` (a bitmap when the domain is moderate)."""
    if not parts:
        return 0
    if domain.size <= 1 << 24:
        seen = np.zeros(domain.size, dtype=bool)
        for part in parts:
            seen[part - domain.lo if domain.lo else part] = True
        return int(seen.sum())
    return int(np.unique(np.concatenate(parts)).size)


def _size(n_bytes: int) -> str:
    """``4.03 GiB``, ``19.5 KiB``, ``253 KiB``: a memory size to three digits (an estimate just over a budget
    should not read as equal to it)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n_bytes >= 1 << shift:
            value = n_bytes / (1 << shift)
            return f"{value:.{2 if value < 10 else 1 if value < 100 else 0}f} {unit}"
    return f"{n_bytes} bytes"
