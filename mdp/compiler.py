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

import decimal
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.errors import Diagnostic, ResourceLimitError, Span
from dsl.spec import Action, ActionIs, Branch, Expr, Spec, Update, VarRef

from .arrival import entry_row, expected_on_arrival, reads_next_state
from .expressions import UNIT_ROUNDOFF, UndefinedValueError, Vectorized, vectorize
from .horizon import HorizonTooLarge, over_horizon
from .penalty import PenaltyUndefined, penalty_of, term_values
from .model import TERMINAL_ACTION, ModelError, Rationals, Rounding, TabularMDP, nearest_float

__all__ = ["DEFAULT_MAX_BYTES", "StateLimitError", "compile", "time_expanded"]

_DENSE_TABLE_LIMIT = 1 << 26
"""Key spaces up to this size use a dense key -> index table (4 bytes per possible state, touched only
where keys occur)."""

_U = UNIT_ROUNDOFF
_FLOAT_MAX = float(np.finfo(np.float64).max)
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)  # 2.2e-308
_ZERO: Any = Fraction(0)

_MAX_INT64 = (1 << 63) - 1

_Keys = npt.NDArray[Any]
"""State keys: int64, or Python ints in an object array when the key space is beyond int64."""
_MAX_STATES = int(np.iinfo(np.int32).max)  # states are numbered with int32 (the CSR column indices)
_MAX_LAYER_OUTCOMES = _MAX_STATES  # a layer numbers its outcomes with int32 (as _number does its states)
_PATH_SHOWN = 8  # actions shown of a long path to an offending state
_DISABLED_SHOWN = 6  # other disabled actions named in a deadlock's notes
_CULPRITS_SHOWN = 6  # variables (or events) named in the notes of a size limit
_MEMO_COMBINATIONS = 64  # distinct combinations per layer up to which probabilities are remembered across layers
_SHRINK = "shrink the domains of these variables (or set consts and params with -D)"  # the hint of a size limit

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
            progress: Callable[[int, int], object] | None = None, max_bytes: int | None = None,
            exact: bool = False, expand_horizon: bool = True) -> TabularMDP:
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
    exact
        Also compute the spec's numbers exactly (:attr:`~mdp.model.TabularMDP.rationals`: probabilities,
        costs, intents, discount as ``Fraction``), for exact solving; the floats are then their correct
        rounding. Slower (Python arithmetic on the distinct values), so meant for small models.
    expand_horizon
        With a ``horizon``: the time-expanded model (:mod:`mdp.horizon`); ``False``: the world alone, for
        backward induction over its steps (:mod:`mdp.stages`).

    Every decision is exact in both modes (guards, which branches have probability 0, whether
    probabilities lie in [0, 1] and sum to 1, the values of updates): the float and the exact
    compilation of a spec have the same states, rows and transitions. Without ``exact`` the floats carry
    error bounds (:attr:`~mdp.model.TabularMDP.rounding`).

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
    model = _Compiler(spec, max_states, progress, max_bytes, exact).run()
    if spec.horizon is None or not expand_horizon:
        return model
    return time_expanded(spec, model, max_states, max_bytes)


def time_expanded(spec: Spec, model: TabularMDP, max_states: int | None = None,
                  max_bytes: int | None = None) -> TabularMDP:
    """The time-expanded model of ``spec``'s horizon over its world ``model`` (:mod:`mdp.horizon`).

    Raises
    ------
    StateLimitError
        More (state, step) pairs than ``max_states``, or rows than ``max_bytes`` hold.
    """
    assert spec.horizon is not None
    try:
        return over_horizon(model, spec.horizon, max_states, max_bytes)
    except HorizonTooLarge as error:
        limit = f"--max-states {max_states:,}" if max_states is not None else "the memory budget"
        raise StateLimitError(
            f"over its horizon of {spec.horizon:,} steps the model has more states than {limit} allows: "
            f"{error.states:,} (state, step) pairs for {model.n_states:,} states", error.states, 0,
            (f"the horizon is declared at line {spec.horizon_span.line}",) if spec.horizon_span else (),
            hint="shorten the horizon or shrink the world (-D); each step copies the states that can be met "
                 "at it") from None


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
    on_arrival: Vectorized | None = None  # reads the next state: its expectation, once the transitions are known
    with_penalty: Expr | None = None  # holds aup(...): computed once the transitions are known (mdp.penalty)

    @property
    def after_transitions(self) -> bool:
        return self.on_arrival is not None or self.with_penalty is not None


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
    exact_probabilities: npt.NDArray[Any] | None = None  # exact mode: aligned with ``probabilities``
    exact_terms: dict[str, npt.NDArray[Any]] = field(default_factory=dict)  # exact mode: cost and intent terms
    exact_rows: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)  # term -> rows whose float is exact


class _Number(NamedTuple):
    """A probability as the compiler carries it: floats, a bound on their error, and in exact mode the
    exact values (``None`` otherwise). Exactly-zero probabilities are stored as a float 0 with error 0."""

    value: Any
    error: Any
    exact: Any


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
    """A layer's outcomes, in row order: successor key, tracked columns, probability (floats, and the
    exact values in exact mode), a bound on the relative error of those floats, row, and whether events
    apply (``None``: all of them)."""

    key: _Keys
    columns: dict[int, npt.NDArray[np.int64]]
    probability: npt.NDArray[np.float64]
    relative: float
    exact: npt.NDArray[Any] | None
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
                 progress: Callable[[int, int], object] | None, max_bytes: int | None, exact: bool) -> None:
        self.spec = spec
        self.max_states = max_states
        self.max_bytes = max_bytes
        self.progress = progress
        self.exact = exact
        params = self.params = spec.param_values()
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
        self.costs = tuple((t.name, None if penalty_of(t.expr) else vectorize(t.expr, params)) for t in spec.costs)
        self.intents = tuple((t.name, None if penalty_of(t.expr) else vectorize(t.expr, params)) for t in spec.intents)
        # a term that does not mention the action is evaluated once per state and copied to its rows;
        # one that does is specialised to each action (often a constant then)
        self.terms = tuple(
            _CompiledTerm(kind, t.name, None, None, t.expr.span or t.span, with_penalty=t.expr) if term is None else
            _CompiledTerm(kind, t.name, None, None, t.expr.span or t.span, term) if reads_next_state(t.expr) else
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
            [_constant_number(b.probability, exact) for b in a.branches]
            if all(b.probability.is_constant for b in a.branches) else None
            for a in self.actions)
        self.checked_constants = [False] * len(self.actions)  # constant probabilities: checked once
        self.exact_sums: dict[tuple[str, Any], dict[tuple[int, ...], Fraction]] = {}  # see _exact_sum
        self.probability_memo: dict[int, dict[tuple[int, ...], tuple[_Number, ...]]] = {}  # see _action_probabilities
        self.term_rounding = {(t.kind, t.name): 0.0 for t in self.terms}  # largest error of a term's floats
        self.P_relative = 0.0  # bound on |float - exact| / exact of every transition probability so far

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
        starts = [codes for codes, _ in self.spec.starts] or [tuple(v.initial for v in self.variables)]
        initial = [np.array([codes[j] for codes in starts], dtype=np.int64) for j in range(len(self.variables))]
        for variable, column in zip(self.variables, initial):
            for code in column.tolist():
                if not variable.domain.contains(int(code)):
                    what = "a start value" if self.spec.starts else "the initial value"
                    raise ModelError(Diagnostic(f"{what} of '{variable.name}' is outside its domain {variable.domain}",
                                                variable.span), self.spec.source)
        size = len(starts)
        keys = self._keys(initial, size)
        self._remember(keys, np.arange(size, dtype=np.int64))
        self._store_new(initial, np.full(size, -1), np.full(size, -1, dtype=np.int32))
        frontier, base = (initial, keys), 0
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
        relative = 0.0  # of the branch probabilities of this layer's actions
        out_exact = np.empty(total, dtype=object) if self.exact else None
        out_row = np.empty(total, dtype=np.int32)
        layer = _Layer(rows_per_state.astype(np.int64), row_action.astype(np.int32), np.empty(0, np.int64),
                       np.empty(0, np.int32), np.empty(0), ~live)
        layer.costs = {name: np.zeros(m) for name, _ in self.costs}
        layer.intents = {name: np.zeros(m) for name, _ in self.intents}
        layer.exact_rows = {t.name: np.ones(m, dtype=bool) for t in self.terms}
        if self.exact:
            layer.exact_terms = {t.name: np.full(m, Fraction(0), dtype=object) for t in self.terms}

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
                number = probabilities[b]
                out_probability[position] = number.value
                relative = max(relative, _relative(number))
                if out_exact is not None:
                    out_exact[position] = number.exact
                out_row[position] = rows
            for term in self.terms:
                if term.per_action is not None:
                    self._term(layer, term, term.per_action[a], sub, action.name, None, rows, where, context)
        terminal_states = np.flatnonzero(~live)
        terminal_rows = row_of[terminal_states, n_actions]
        for term in self.terms:
            if term.per_state is not None:
                self._term(layer, term, term.per_state, frontier, None, row_state, slice(None), at, None, care=live)
            (layer.costs if term.kind == "cost" else layer.intents)[term.name][terminal_rows] = 0.0
            if self.exact:
                layer.exact_terms[term.name][terminal_rows] = Fraction(0)
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
            if out_exact is not None:
                out_exact[position] = Fraction(1)
            out_row[position] = terminal_rows
            out_live[position] = False

        # 3. events, in declaration order, each on every outcome where its guard holds
        outcomes = _Outcomes(out_key, out_columns, out_probability, relative, out_exact, out_row, out_live)
        for e, event in enumerate(self.events):
            outcomes = self._apply_event(event, outcomes, row_state, row_action, base, e == len(self.events) - 1)
        self._raise_problems()

        out_key, out_probability, out_row = outcomes.key, outcomes.probability, outcomes.row
        out_exact = outcomes.exact
        self.P_relative = max(self.P_relative, outcomes.relative)
        if not np.all(out_probability):  # branches of probability 0 (exactly: see _Number) leave no transition
            keep = out_probability != 0
            out_key, out_probability, out_row = out_key[keep], out_probability[keep], out_row[keep]
            out_exact = out_exact[keep] if out_exact is not None else None

        # 4. successors: known states by lookup, new ones numbered in order of first occurrence
        successors, first = self._number(out_key)
        new_keys = out_key[first]
        new_columns = self._decode(new_keys)
        parent_rows = out_row[first]
        self._store_new(new_columns, base + row_state[parent_rows].astype(np.int64),
                        row_action[parent_rows].astype(np.int32))

        layer.successors = successors
        layer.probabilities = out_probability
        layer.exact_probabilities = out_exact
        layer.entries_per_row = np.bincount(out_row, minlength=m)
        self.layers.append(layer)
        self.n_rows += m
        self.n_transitions += successors.size
        return new_columns, new_keys

    def _term(self, layer: _Layer, term: _CompiledTerm, expr: Vectorized, columns: Sequence[npt.NDArray[np.int64]],
              action: str | None, take: npt.NDArray[np.int64] | None, into: Any, where: Callable[[int], int],
              context: Callable[[int], tuple[str, ...]] | None, care: Any = None) -> None:
        """Evaluate a cost or intent term on ``columns`` and store ``value[take]`` (all if None) into the
        layer's rows ``into``, with its error bound; exactly, and rounded from that, in exact mode.
        ``care``: the positions whose value is used (a division by zero elsewhere is no error)."""
        target = (layer.costs if term.kind == "cost" else layer.intents)[term.name]
        try:
            value, error = expr.bounded(columns, action, care)
            exact = expr.exact_at(columns, action, None, care) if self.exact else None
        except UndefinedValueError as division:
            self._undefined(division, where(division.index), f"{term.kind} '{term.name}'",
                           context(division.index) if context else ())
            return
        if take is not None:
            value = np.asarray(value)[take] if np.ndim(value) else value
            error = np.asarray(error)[take] if np.ndim(error) else error
            exact = exact[take] if exact is not None and exact.size > 1 else exact
        if exact is not None:
            size = target[into].size
            exact = np.broadcast_to(exact, (size,)) if exact.size != size else exact
            layer.exact_terms[term.name][into] = exact
            value = _rounded(exact)
            error = _U * np.abs(value) * (1 + 2 * _U)
            layer.exact_rows[term.name][into] = [float(v) == q
                                                 for v, q in zip(np.ravel(value).tolist(), exact.tolist())]
        elif np.ndim(error) or error:
            layer.exact_rows[term.name][into] = np.equal(error, 0)
        target[into] = value
        if np.ndim(error) == 0:
            worst = float(error)
        else:
            if care is not None:  # errors where the value is not used do not count
                error = np.asarray(error)[np.asarray(care)[take] if take is not None else care]
            worst = float(np.max(error, initial=0.0))
        key = (term.kind, term.name)
        self.term_rounding[key] = max(self.term_rounding[key], worst)

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
                              _SHRINK)
        return found[inverse].astype(np.int32), first[missing[order]]

    # --- actions and events --------------------------------------------------------------------

    def _action_probabilities(self, a: int, sub: _Subset, where: Callable[[int], int]) -> list[_Number]:
        """The branch probabilities of action ``a`` at the states of ``sub``, checked (each in [0, 1], their sum
        exactly 1). State-dependent ones that read few variables are evaluated and checked once per distinct
        combination of them in the whole compile (``probability_memo``; a layer costs ~100 us per branch
        and check otherwise, which was half the compile of a 10^5-state grid), then spread to every state."""
        branches = self.actions[a].branches
        distinct = None if self.constant_probabilities[a] is not None else \
            _distinct_positions([b.probability for b in branches], sub)
        if distinct is None:
            return self._probabilities_at(a, sub, where)
        first, inverse, keys = distinct
        memo = self.probability_memo.setdefault(a, {})
        new = [i for i, key in enumerate(keys) if key not in memo]
        if new:
            at = first[new]
            numbers = self._probabilities_at(a, _Subset(sub, at), lambda i: where(int(at[i])))
            for j, i in enumerate(new):
                memo[keys[i]] = tuple(_Number(*(_item(x, j) for x in number)) for number in numbers)
        found = [memo[key] for key in keys]
        return [_Number(*(None if found[0][b][f] is None else
                          np.array([row[b][f] for row in found], dtype=object if f == 2 else np.float64)[inverse]
                          for f in range(3)))
                for b in range(len(branches))]

    def _probabilities_at(self, a: int, sub: _Subset, where: Callable[[int], int]) -> list[_Number]:
        action = self.actions[a]
        constant = self.constant_probabilities[a]
        if constant is not None:
            numbers = constant
            if self.checked_constants[a]:
                return numbers
        else:
            found = [self._probability(b.probability, sub, action.name, f"a probability of '{action.name}'",
                                       where, lambda i: ()) for b in action.branches]
            if any(number is None for number in found):  # a division by zero, reported: nothing to check
                return [_Number(0.0, 0.0, _ZERO if self.exact else None)] * len(found)
            numbers = [number for number in found if number is not None]

        def exact_at(b: int) -> Callable[[Any], Any]:
            return lambda positions: action.branches[b].probability.exact_at(sub, action.name, positions)
        out_of_range = False
        for b, (branch, number) in enumerate(zip(action.branches, numbers)):
            out_of_range |= self._probability_in_range(number, exact_at(b), branch, f"action '{action.name}'",
                                                       action.span, where, lambda i: ())
        total = _sum(numbers)
        exact_total = _exact_sum([b.probability for b in action.branches], sub, action.name,
                                 self.exact_sums.setdefault(('action', a), {}))
        bad = np.logical_not(self._within(total, 1, 1, exact_total))
        if np.any(bad) and not out_of_range:  # (a branch out of range says enough)
            i = _first(bad)
            self._problem(("sum", action.span, action.name if action.span is None else ""), where(i), _Problem(
                where(i), f"the branch probabilities of action '{action.name}' sum to "
                f"{_format_exact(total, i, exact_total)}, they must sum to 1",
                _branches_span(action),
                "make the probabilities of the branches add up to 1 in every state where the guard holds"))
        elif constant is not None:
            self.checked_constants[a] = not self.problems
        return numbers

    def _probability(self, expr: Vectorized, columns: Sequence[npt.NDArray[np.int64]], action: str | None,
                     what: str, where: Callable[[int], int], context: Callable[[int], tuple[str, ...]]) -> _Number | None:
        """A branch probability with its error bound (and exactly, in exact mode); exact zeros as 0 with error
        0; ``None`` after reporting a division by zero (no later check may evaluate it again)."""
        try:
            value, error = expr.bounded(columns, action)
            exact = expr.exact_at(columns, action) if self.exact else None
        except UndefinedValueError as division:
            self._undefined(division, where(division.index), what, context(division.index))
            return None
        if exact is not None:
            exact = exact if np.ndim(value) else exact[0]
            return _Number(_rounded(exact), 0.0, exact)
        return _settled(_Number(value, error, None), lambda positions: expr.exact_at(columns, action, positions))

    def _within(self, number: _Number, lo: int | None, hi: int | None, exact_at: Callable[[Any], Any]) -> Any:
        """Where ``lo <= p <= hi`` for the exact value ``p`` (a mask, or a bool for a scalar): from the floats
        where their error bound settles it, exactly (``exact_at(positions)``) at the other positions."""
        if number.exact is not None:
            return _inside(number.exact, lo, hi)
        value, error = number.value, number.error
        if np.ndim(value) == 0 and np.ndim(error) == 0:  # the common case: a constant
            x, e = float(value), float(error)
            margin = e * (1 + 4 * _U) + _U * abs(x) if e > 0 else 0.0
            if (lo is None or x - margin >= lo) and (hi is None or x + margin <= hi):
                return True
            if (lo is not None and x + margin < lo) or (hi is not None and x - margin > hi):
                return False
            return bool(_inside(exact_at(np.zeros(1, dtype=np.int64)), lo, hi)[0])
        slack = np.where(np.greater(error, 0), np.multiply(error, 1 + 4 * _U) + _U * np.abs(value), 0.0) \
            if np.any(error) else 0.0
        inside: Any = True
        outside: Any = False
        with np.errstate(invalid="ignore"):
            if lo is not None:
                inside = np.logical_and(inside, np.subtract(value, slack) >= lo)
                outside = np.logical_or(outside, np.add(value, slack) < lo)
            if hi is not None:
                inside = np.logical_and(inside, np.add(value, slack) <= hi)
                outside = np.logical_or(outside, np.subtract(value, slack) > hi)
        unsure = np.logical_not(np.logical_or(inside, outside))
        if not np.any(unsure):
            return inside
        if np.ndim(unsure) == 0:
            return bool(_inside(exact_at(np.zeros(1, dtype=np.int64)), lo, hi)[0])
        positions = np.flatnonzero(unsure)
        inside = np.array(np.broadcast_to(inside, unsure.shape), dtype=bool)
        inside[positions] = _inside(exact_at(positions), lo, hi)
        return inside

    def _updates(self, choice: _CompiledChoice, branch: _CompiledBranch, sub: _Subset,
                 where: Callable[[int], int], context: Callable[[int], tuple[str, ...]]) -> dict[int, Any]:
        """The new codes of the variables a branch updates (scalars or arrays), checked against domains.

        A real-valued update is evaluated exactly: whether it is a whole number, and which, decides the
        successor state."""
        updated: dict[int, Any] = {}
        action = choice.name if choice.kind == "action" else None
        for u in branch.updates:
            variable = self.variables[u.update.variable]
            real = u.value.type.kind == "real"
            value: Any
            try:
                value = u.value.exact_at(sub, action) if real else u.value.evaluate(sub, action)
            except UndefinedValueError as error:
                self._undefined(error, where(error.index), f"an update of '{choice.name}'", context(error.index))
                value = sub[u.update.variable]
                real = False
            if real and len(sub) and not np.ndim(sub[0]):  # scalar columns: one value
                value = value[0]
            if u.is_bool:
                value = np.asarray(value).astype(np.int64) if np.ndim(value) else int(bool(value))
            else:
                fraction: Any = _not_whole(value) if real else False
                bad = _outside(value, u.lo, u.hi)
                if bad is not None or np.any(fraction):
                    i = _first(np.logical_or(bad if bad is not None else False, fraction))
                    shown = _format(value, i)
                    if bool(fraction[i] if np.ndim(fraction) else fraction):
                        message = (f"the update gives '{variable.name}' the value {shown}, but its "
                                   f"domain {variable.domain} holds integers only")
                        hint = f"round it, e.g. {variable.name}' = (... >= 0.5 ? 1 : 0), or make the values integers"
                    else:
                        message = (f"the update gives '{variable.name}' the value {shown}, outside its "
                                   f"domain {variable.domain}")
                        hint = f"clamp it, e.g. {variable.name}' = max({u.lo}, min({u.hi}, ...))"
                    self._problem(("domain", id(u.update) if u.update.span is None else u.update.span),
                                  where(i), _Problem(where(i), message, u.update.span or choice.span, hint,
                                                     context(i)))
                    value = _clipped(value, u.lo, u.hi)
                if real:
                    value = _whole(value)
            updated[u.update.variable] = value
        return updated

    def _apply_event(self, event: _CompiledChoice, outcomes: _Outcomes, row_state: npt.NDArray[np.int64],
                     row_action: npt.NDArray[np.int64], base: int, last: bool) -> _Outcomes:
        """Replace each outcome where the event's guard holds by its branches and the left-over mass.

        After the ``last`` event only keys, probabilities and rows are still needed.
        """
        key, columns, probability, relative, exact, row, live = outcomes
        size = probability.size
        view = _Tracked(columns, self.k)
        notes = lambda position: self._event_notes(outcomes, row_state, row_action, base, position)  # noqa: E731
        try:
            guard = event.guard.evaluate(view, None, live)
        except UndefinedValueError as division:
            self._undefined(division, base + int(row_state[row[division.index]]),
                           f"the guard of event '{event.name}'", notes(division.index))
            return outcomes
        firing = np.logical_and(guard, live) if live is not None else np.broadcast_to(guard, (size,))
        fires = np.flatnonzero(firing)
        if fires.size == 0:
            return outcomes
        sub = _Subset(view, fires)
        where = lambda i: base + int(row_state[row[fires[i]]])  # noqa: E731
        context = lambda i: notes(int(fires[i]))  # noqa: E731

        def exact_at(b: int) -> Callable[[Any], Any]:
            return lambda positions: event.branches[b].probability.exact_at(sub, None, positions)
        numbers: list[_Number] = []
        out_of_range = False
        for b, branch in enumerate(event.branches):
            number = self._probability(branch.probability, sub, None, f"a probability of event '{event.name}'",
                                       where, context)
            if number is None:  # a division by zero, reported: the event is left out of this layer
                return outcomes
            out_of_range |= self._probability_in_range(number, exact_at(b), branch, f"event '{event.name}'",
                                                       event.span, where, context)
            numbers.append(number)
        total = _sum(numbers) if numbers else _Number(0.0, 0.0, Fraction(0) if self.exact else None)
        exact_total = _exact_sum([b.probability for b in event.branches], sub, None,
                                 self.exact_sums.setdefault(('event', event.name), {}))
        bad = np.logical_not(self._within(total, None, 1, exact_total))
        if np.any(bad) and not out_of_range:
            i = _first(bad)
            self._problem(("event-sum", event.span, event.name), where(i), _Problem(
                where(i), f"the branch probabilities of event '{event.name}' sum to "
                f"{_format_exact(total, i, exact_total)}, they must sum to at most 1",
                _branches_span(event), "the mass left over (1 - sum) is the chance that nothing happens, so the "
                "probabilities must not add up to more than 1", context(i)))
        leftover = _Number(np.subtract(1.0, total.value),
                           np.add(total.error, _U * np.abs(np.subtract(1.0, total.value))) if np.any(total.error)
                           else 0.0, None if total.exact is None else 1 - total.exact)
        nothing_left = self._within(leftover, None, 0, lambda positions: 1 - exact_total(positions))
        if np.any(nothing_left):  # exactly 0 (or, after an error above, negative): no left-over outcome
            leftover = _Number(np.where(nothing_left, 0.0, leftover.value),
                               np.where(nothing_left, 0.0, leftover.error),
                               None if leftover.exact is None else np.where(nothing_left, _ZERO, leftover.exact))
        if leftover.exact is None:  # floats: 1 - sum may round to 0 (or below) where something is left exactly
            leftover = _settled(leftover, lambda positions: 1 - exact_total(positions))
        else:
            leftover = _Number(_rounded(leftover.exact), 0.0, leftover.exact)
        if not out_of_range:
            self._representable(leftover, lambda positions: 1 - exact_total(positions),
                                f"the chance that event '{event.name}' does nothing (1 - its probabilities)",
                                _branches_span(event), where, context)
        has_leftover = not np.all(nothing_left)

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
        new_exact = spread(exact) if exact is not None else None
        parent = _Number(probability[fires], 0.0, exact[fires] if exact is not None else None)
        factor = max((_relative(n) for n in numbers + [leftover]), default=0.0)
        relative = relative + factor + relative * factor + _U  # a product of two floats, each off relatively
        for b, branch in enumerate(event.branches):
            slot = first + b if b else first
            updated = self._updates(event, branch, sub, where, context)
            if updated:
                new_key[slot] = self._moved(key[fires], updated, sub)
            for j, value in updated.items():
                if j in new_columns:
                    new_columns[j][slot] = value
            self._store_product(parent, numbers[b], slot, new_probability, new_exact, where,
                                branch.branch.probability.span or branch.branch.span or event.span)
        if has_leftover:
            self._store_product(parent, leftover, first + len(event.branches), new_probability, new_exact, where,
                                _branches_span(event))
        new_live = None if live is None or last else spread(live) if growth else live
        return _Outcomes(new_key, new_columns, new_probability, relative, new_exact, spread(row) if growth else row,
                         new_live)

    def _store_product(self, parent: _Number, factor: _Number, slot: npt.NDArray[np.int64],
                       probability: npt.NDArray[np.float64], exact: npt.NDArray[Any] | None,
                       where: Callable[[int], int], span: Span | None) -> None:
        """``parent * factor`` into ``slot``, and its exact value in exact mode (then the float is its rounding).
        A product below the smallest normal float (2.2e-308) is an error: its rounding is no longer relative
        (it may be 0), and the bound on P's rounding assumes it is."""
        probability[slot] = parent.value * factor.value
        if exact is not None:
            exact[slot] = parent.exact * factor.exact
            probability[slot] = _rounded(exact[slot])
        underflow = ((np.abs(probability[slot]) < _SMALLEST_NORMAL) & (parent.value != 0)
                     & np.not_equal(factor.value, 0))
        if np.any(underflow) and not self.problems:  # (a probability below it says enough)
            i = _first(underflow)
            self._problem(("underflow", span), where(i), _Problem(
                where(i), f"this outcome's probability, {probability[slot][i]:.3g} after the events before it, "
                "is below 2.2e-308, where 64-bit floats lose their precision", span,
                "make the product of the probabilities of the events along a step larger"))

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
                              hint or _SHRINK,
                              notes)
        if self.max_bytes is None:
            return
        need = self._bytes(rows, outcomes) + in_flight
        if need > self.max_bytes:
            raise self._limit(f"the model would need about {_size(need)} to build, more than its memory budget of "
                              f"{_size(self.max_bytes)}",
                              (hint or _SHRINK)
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
        except UndefinedValueError as error:
            self._undefined(error, where(error.index), what, context(error.index) if context else ())
            return 0

    def _probability_in_range(self, number: _Number, exact_at: Callable[[Any], Any], branch: Any, owner: str,
                              span: Span | None, where: Callable[[int], int],
                              context: Callable[[int], tuple[str, ...]]) -> bool:
        """Record a problem where a branch probability leaves [0, 1] (exactly); True when it does somewhere."""
        bad = np.logical_not(self._within(number, 0, 1, exact_at))
        if not np.any(bad):
            return self._representable(number, exact_at, f"a probability of {owner}",
                                       branch.branch.probability.span or branch.branch.span or span, where, context)
        i = _first(bad)
        self._problem(("range", id(branch.branch)), where(i), _Problem(
            where(i), f"probability {_format_exact(number, i, exact_at)} of {owner} is outside [0, 1]",
            branch.branch.probability.span or branch.branch.span or span,
            "a probability must lie between 0 and 1 in every state where the guard holds", context(i)))
        return True

    def _representable(self, number: _Number, exact_at: Callable[[Any], Any], what: str, span: Span | None,
                       where: Callable[[int], int], context: Callable[[int], tuple[str, ...]]) -> bool:
        """Record a problem where a probability is positive but below the smallest normal float (2.2e-308):
        its rounding is no longer relative, and below 4.9e-324 it is 0, which would silently drop its
        transition; True when it does somewhere."""
        positive = np.greater(number.exact, 0) if number.exact is not None else np.greater(number.error, 0)
        lost = np.logical_and(np.less(number.value, _SMALLEST_NORMAL),
                              np.logical_or(positive, np.greater(number.value, 0)))
        if not np.any(lost):
            return False
        i = _first(lost)
        exact = number.exact if number.exact is not None else exact_at(np.array([i], dtype=np.int64))
        exact = np.asarray(exact, dtype=object).reshape(-1)
        shown = exact[i if exact.size > 1 else 0]
        q = Fraction(shown)
        with decimal.localcontext() as context_:
            context_.prec = 20
            size = format(decimal.Decimal(q.numerator) / decimal.Decimal(q.denominator), ".3g")
        self._problem(("underflow", span, what), where(i), _Problem(
            where(i), f"{what} is {size}, below 2.2e-308, where 64-bit floats lose their precision", span,
            "a probability must be 0 or at least 2.2e-308, the smallest normal float; make it 0 (or larger)",
            context(i)))
        return True

    def _finite(self, term: _CompiledTerm, values: npt.NDArray[np.float64], row_state: npt.NDArray[np.int64],
                row_action: npt.NDArray[np.int64], base: int) -> None:
        """Record a problem where a cost or intent term overflows to ±inf (or NaN) in this layer's rows."""
        infinite = ~np.isfinite(values)
        if not infinite.any():
            return
        r = int(np.argmax(infinite))
        state = base + int(row_state[r])
        value = "nan (an intermediate result overflows 64-bit floats)" if np.isnan(values[r]) else values[r]
        self._problem(("finite", term.kind, term.name), state, _Problem(
            state, f"{term.kind} '{term.name}' evaluates to {value}, expected a finite number", term.span,
            "keep its factors small enough that the value stays within ±1.8e308",
            (f"taking action '{self.action_names[int(row_action[r])]}'",)))

    def _check_totals(self, costs: dict[str, npt.NDArray[np.float64]], intents: dict[str, npt.NDArray[np.float64]],
                      row_groups: npt.NDArray[np.int64]) -> None:
        """Costs that fit floats step by step can still add up beyond them: the intrinsic cost of a row (the
        sum of its terms) and, with a discount below 1, any term's or intent's discounted total (at most its
        largest step over ``1 - discount``) must stay within ±1.8e308. Discount 1: the solver checks the totals."""
        gamma = float(self.spec.discount)
        steps = 1.0 / (1.0 - gamma) if gamma < 1 else 1.0
        spans = {(t.kind, t.name): t.span for t in self.terms}
        total = np.zeros(row_groups[-1])
        with np.errstate(over="ignore", invalid="ignore"):
            for vector in costs.values():
                np.add(total, vector, out=total)
        sizes = {("cost", name): v for name, v in costs.items()} | {("intent", name): v for name, v in intents.items()}
        largest = max((key for key in sizes if key[0] == "cost"), key=lambda key: _peak(sizes[key])[1], default=None)
        for key, vector, what in [*((key, v, f"{key[0]} '{key[1]}'") for key, v in sizes.items()),
                                  (largest, total, "the intrinsic cost (the sum of the cost terms)")]:
            if key is None or not vector.size or (vector is total and self.problems):  # a term said it already
                continue
            r, peak = _peak(vector)
            if math.isfinite(peak) and peak * steps <= _FLOAT_MAX:
                continue
            state = int(np.searchsorted(row_groups, r, side="right")) - 1
            per_step = f"{peak:.3g} in one step" if math.isfinite(peak) else "more than 1.8e308 in one step"
            self._problem(("total", what), state, _Problem(
                state, f"{what} adds up to more than 1.8e308 over time ({per_step}, discount {gamma:g}), "
                "beyond the range of 64-bit floats", spans[key],
                "scale the costs down: dividing every term by the same factor keeps every optimal policy",
                (f"taking action '{self.action_names[int(self._row_action(r))]}'",)))
        self._raise_problems()

    def _row_action(self, row: int) -> int:
        """The action of a row of the finished model (its layers' rows, concatenated)."""
        for layer in self.layers:
            if row < layer.row_action.size:
                return int(layer.row_action[row])
            row -= layer.row_action.size
        raise IndexError(row)  # pragma: no cover

    def _undefined(self, error: UndefinedValueError, state: int, what: str, notes: tuple[str, ...]) -> None:
        """A division by zero or a read outside a table at ``state``, located at the ``/`` or the read."""
        span = getattr(error.expr, "span", None)
        self._problem(("undefined", span or id(error.expr)), state, _Problem(
            state, f"{error.problem} in {what}", span, error.hint, notes))

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
        while parent_state[state] >= 0:
            actions.append(self.action_names[int(parent_action[state])])
            state = int(parent_state[state])
        start = "a start state" if len(self.spec.starts) > 1 else "the initial state"
        if not actions:
            return f"this is {start}"
        actions.reverse()
        steps = f"{len(actions)} step{'s' if len(actions) > 1 else ''}"
        if len(actions) > _PATH_SHOWN:
            actions = ["..."] + actions[-_PATH_SHOWN:]
        return f"reached from {start} in {steps}: {', '.join(actions)}"

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
        exact_data = (np.concatenate([layer.exact_probabilities for layer in layers])
                      if self.exact else None)
        if indptr[-1] <= np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        if exact_data is not None:
            P, P_exact = _exact_csr(exact_data, indices, indptr, n)
            self.P_relative = _U * (1 + 2 * _U)  # the floats are rounded from the exact sums
        else:
            P = sp.csr_array((data, indices, indptr), shape=(entries.size, n))
            P.sum_duplicates()  # sorts each row's successors and adds up repeated ones
            repeated = int((entries - np.diff(P.indptr)).max(initial=0))  # additions of repeated successors
            self.P_relative = self.P_relative + repeated * _U * (1 + self.P_relative)

        # column-major, so each variable's codes are contiguous (state_codes.T is a (k, n) C array)
        state_codes = np.empty((n, self.k), dtype=np.int64, order="F")
        for j, parts in enumerate(self.columns):
            np.concatenate(parts, out=state_codes[:, j])
        columns = [state_codes[:, j] for j in range(self.k)]
        labels = {}
        for name, formula in self.labels:
            try:
                labels[name] = formula(columns, size=n)
            except UndefinedValueError as error:
                self._undefined(error, error.index, f"formula '{name}'", ())
        self._raise_problems()
        costs = {name: np.concatenate([layer.costs[name] for layer in layers]) for name, _ in self.costs}
        intents = {name: np.concatenate([layer.intents[name] for layer in layers]) for name, _ in self.intents}
        if not any(t.after_transitions for t in self.terms):
            self._check_totals(costs, intents, row_groups)
        discount = float(self.spec.discount)
        rounding = Rounding(costs={name: self.term_rounding["cost", name] for name in costs},
                            intents={name: self.term_rounding["intent", name] for name in intents},
                            exact_rows={t.name: np.concatenate([layer.exact_rows[t.name] for layer in layers])
                                        for t in self.terms},
                            # each row sums to 1 exactly (or less: an error was raised), its floats to at most 1 + rel
                            P=self.P_relative * (1 + self.P_relative),
                            discount=abs(float(Fraction(discount) - self.spec.discount)))
        rationals = None
        if exact_data is not None:
            def exact_term(name: str) -> tuple[Fraction, ...]:
                return tuple(np.concatenate([layer.exact_terms[name] for layer in layers]).tolist())
            rationals = Rationals(discount=Fraction(self.spec.discount), P=P_exact,
                                  costs={name: exact_term(name) for name in costs},
                                  intents={name: exact_term(name) for name in intents}, n_rows=entries.size)
        model = TabularMDP(
            P=P,
            row_groups=row_groups,
            row_action=np.concatenate([layer.row_action for layer in layers]),
            action_names=self.action_names,
            costs=costs,
            discount=discount,
            initial=0,
            terminal=np.concatenate([layer.terminal for layer in layers]),
            labels=labels,
            intents=intents,
            variables=self.variables,
            state_codes=state_codes,
            name=self.spec.name,
            source=self.spec.source,
            discount_span=self.spec.discount_span,
            rounding=rounding,
            rationals=rationals,
            starts=tuple((i, p) for i, (_, p) in enumerate(self.spec.starts)),
        )
        return self._with_arrivals(model) if any(t.after_transitions for t in self.terms) else model

    def _with_arrivals(self, model: TabularMDP) -> TabularMDP:
        """``model`` with the terms that read the next state filled in: each row's expectation over its
        successors (:mod:`mdp.arrival`), and the terms with an ``aup(...)`` penalty (:mod:`mdp.penalty`),
        exactly in exact mode; then the totals are checked."""
        costs, intents = dict(model.costs), dict(model.intents)
        rounding_of = {"cost": dict(model.rounding.costs), "intent": dict(model.rounding.intents)}
        exact_rows = dict(model.rounding.exact_rows)
        exact_of: dict[str, tuple[Fraction, ...]] = {}
        for term in self.terms:
            if not term.after_transitions:
                continue
            try:
                if term.with_penalty is not None:
                    arrival = term_values(term.with_penalty, model, self.params, exact=self.exact)
                else:
                    assert term.on_arrival is not None
                    arrival = expected_on_arrival(term.on_arrival, model, exact=self.exact)
            except PenaltyUndefined as error:
                self._problem(("penalty", term.name), error.state, _Problem(error.state, error.message, error.span,
                                                                           error.hint, error.notes))
                continue
            except UndefinedValueError as error:
                row = int(entry_row(model)[error.index]) if term.with_penalty is None else error.index
                self._undefined(error, int(model.row_state[row]), f"{term.kind} '{term.name}'",
                               (f"taking action '{model.action_names[int(model.row_action[row])]}'",))
                continue
            (costs if term.kind == "cost" else intents)[term.name] = arrival.values
            self._finite(term, arrival.values, model.row_state, model.row_action.astype(np.int64), 0)
            rounding_of[term.kind][term.name] = float(np.max(arrival.errors, initial=0.0))
            exact_rows[term.name] = arrival.errors == 0
            if arrival.exact is not None:
                exact_of[term.name] = arrival.exact
                exact_rows[term.name] = np.array([float(v) == q for v, q in zip(arrival.values.tolist(), arrival.exact)],
                                                 dtype=bool)
        self._raise_problems()
        self._check_totals(costs, intents, model.row_groups)
        rounding = replace(model.rounding, costs=rounding_of["cost"], intents=rounding_of["intent"],
                           exact_rows=exact_rows)
        rationals = model.rationals
        if rationals is not None:
            rationals = replace(rationals, costs={**rationals.costs, **{k: v for k, v in exact_of.items() if k in costs}},
                                intents={**rationals.intents, **{k: v for k, v in exact_of.items() if k in intents}})
        return replace(model, costs=costs, intents=intents, rounding=rounding, rationals=rationals)


def _exact_csr(exact: npt.NDArray[Any], indices: npt.NDArray[np.int32], indptr: npt.NDArray[Any], n: int
               ) -> tuple[sp.csr_array, tuple[Fraction, ...]]:
    """The transition matrix from exact entries: repeated successors of a row added up exactly, the floats
    rounded from the exact sums; and the exact data, aligned with the matrix's."""
    m = indptr.size - 1
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((indices, rows))
    rows, columns, values = rows[order], indices[order].astype(np.int64), exact[order].tolist()
    starts = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (columns[1:] != columns[:-1])]) \
        if rows.size else np.zeros(0, dtype=np.int64)
    bounds = np.r_[starts, rows.size].tolist()
    sums = tuple(sum(values[a:b], Fraction(0)) for a, b in zip(bounds[:-1], bounds[1:]))
    new_indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[starts], minlength=m), out=new_indptr[1:])
    P = sp.csr_array((_rounded(np.array(sums, dtype=object)), columns[starts].astype(np.int32),
                      new_indptr.astype(indptr.dtype)), shape=(m, n))
    return P, sums


def with_exact_numbers(spec: Spec, model: TabularMDP) -> TabularMDP:
    """``model`` (compiled from ``spec``) with its exact numbers: itself when it knows them, else ``spec``
    compiled again with ``exact=True`` (same states, choices and transitions)."""
    return model if model.knows_exact else compile(spec, exact=True)


def _constant_number(expr: Vectorized, exact: bool) -> _Number:
    """A constant branch probability, folded once."""
    value, error = expr.constant_bounded
    if exact:
        exact_value = expr.exact_constant
        return _Number(_rounded(exact_value), 0.0, exact_value)
    return _settled(_Number(value, error, None), lambda positions: np.array([expr.exact_constant], dtype=object))


def _peak(vector: npt.NDArray[np.float64]) -> tuple[int, float]:
    """The position and size of ``vector``'s largest magnitude (``nan`` if it holds one), without a copy."""
    if not vector.size:
        return 0, 0.0
    high, low = int(np.argmax(vector)), int(np.argmin(vector))
    r = high if abs(vector[high]) >= abs(vector[low]) else low
    return r, float(abs(vector[r]))


def _settled(number: _Number, exact_at: Callable[[Any], Any]) -> _Number:
    """A float probability with its exact value, rounded, wherever the floats cannot show it positive: a
    positive probability whose float is 0 or negative would drop or negate a transition. Exact zeros
    become 0 with error 0; an exact value below the smallest float becomes 0 with a positive error
    (:meth:`_Compiler._representable` reports it)."""
    value, error = number.value, number.error
    if np.ndim(value) == 0 and np.ndim(error) == 0:
        x, e = float(value), float(error)
        if e == 0.0 or x - e * (1 + 4 * _U) - _U * abs(x) > 0:
            return number
        return _rounded_number(exact_at(np.zeros(1, dtype=np.int64)))
    value, error = np.broadcast_arrays(np.asarray(value, dtype=np.float64), np.asarray(error, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        unsure = (error != 0) & ~(value - error * (1 + 4 * _U) - _U * np.abs(value) > 0)  # nan: unsure
    if not unsure.any():
        return number
    positions = np.flatnonzero(unsure)
    exact = _rounded_number(exact_at(positions))
    value, error = value.copy(), error.copy()
    value[positions], error[positions] = exact.value, exact.error
    return _Number(value, error, None)


def _rounded_number(exact: Any) -> _Number:
    """Exact values (an array of Fractions) as their nearest floats with the rounding's bound (scalars for
    one value)."""
    values = np.asarray(exact, dtype=object).reshape(-1)
    rounded = _rounded(values)
    errors = np.array([0.0 if Fraction(r) == q else math.nextafter(float(abs(Fraction(r) - q)), math.inf)
                       for r, q in zip(rounded.tolist(), values.tolist())])
    if values.size == 1:
        return _Number(float(rounded[0]), float(errors[0]), None)
    return _Number(rounded, errors, None)


def _relative(number: _Number) -> float:
    """A bound on ``|float - exact| / exact`` over a probability's positions (exact zeros have error 0)."""
    if np.ndim(number.error) == 0 and np.ndim(number.value) == 0:  # the common case: a constant probability
        error, value = float(number.error), float(number.value)
        return 0.0 if error == 0.0 else error / value if value > 0.0 else math.inf
    if not np.any(number.error):
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(number.error > 0, np.divide(number.error, number.value), 0.0)
    worst = float(np.max(ratio))
    return worst if np.isfinite(worst) and worst >= 0 else math.inf


def _rounded(exact: Any) -> Any:
    """The nearest floats of exact values (``inf`` beyond the float range, where ``float`` would raise)."""
    if isinstance(exact, np.ndarray):
        return np.array([nearest_float(q) for q in exact.ravel().tolist()], dtype=np.float64).reshape(exact.shape)
    return nearest_float(exact)


def _sum(numbers: Sequence[_Number]) -> _Number:
    """The sum of branch probabilities: floats, error bound (the terms' errors plus the rounding of the
    additions), exact values in exact mode."""
    value = sum((n.value for n in numbers[1:]), numbers[0].value)
    size = sum((np.abs(n.value) for n in numbers[1:]), np.abs(numbers[0].value))
    error = sum((n.error for n in numbers[1:]), numbers[0].error) + (len(numbers) - 1) * _U * size
    exact = None if numbers[0].exact is None else sum((n.exact for n in numbers[1:]), numbers[0].exact)
    return _Number(value, error, exact)


Combinations = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[tuple[int, ...]]]


def _combinations(expressions: Sequence[Vectorized], columns: Sequence[Any], size: int) -> Combinations:
    """``(first, inverse, keys)`` over ``size`` positions: one position per distinct combination of the
    variables ``expressions`` read, in the order they first occur (so that the first bad one is at the first
    bad position), each position's combination, and the combinations (one, ``()``, if they read nothing)."""
    reads = sorted({j for e in expressions for j in e.reads})
    if not reads:
        return np.zeros(1, dtype=np.int64), np.zeros(size, dtype=np.int64), [()]
    table = np.stack([np.asarray(columns[j]) for j in reads])
    _, first, inverse = np.unique(table, axis=1, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    first = first[order].astype(np.int64)
    return first, rank[inverse.reshape(-1)].astype(np.int64), [tuple(k) for k in table[:, first].T.tolist()]


def _distinct_positions(expressions: Sequence[Vectorized], columns: Sequence[Any]) -> Combinations | None:
    """:func:`_combinations` of what ``expressions`` read, or ``None`` when they read nothing or vary too much
    to remember (more than :data:`_MEMO_COMBINATIONS` in one layer)."""
    if not any(e.reads for e in expressions):
        return None
    combinations = _combinations(expressions, columns, 0)
    return combinations if combinations[0].size <= _MEMO_COMBINATIONS else None


def _item(x: Any, j: int) -> Any:
    """Element ``j`` of an array, or ``x`` itself when it is a scalar (or ``None``)."""
    return x[j] if x is not None and np.ndim(x) else x


def _exact_sum(probabilities: Sequence[Vectorized], columns: Sequence[Any], action: str | None,
               memo: dict[tuple[int, ...], Fraction]) -> Callable[[Any], Any]:
    """``positions -> exact sum`` of branch probabilities, added once per distinct combination of the variables
    they read in the whole compile (``memo``, one per action or event): the sum-to-1 check cannot be settled
    in floats, and exact arithmetic per state would cost seconds per 10^4 states."""
    def total(positions: Any) -> Any:
        positions = np.asarray(positions, dtype=np.int64)
        first, inverse, keys = _combinations(probabilities, _Subset(columns, positions), positions.size)
        missing = [i for i, key in enumerate(keys) if key not in memo]
        if missing:
            at = positions[first[missing]]
            sums = sum((p.exact_at(columns, action, at) for p in probabilities[1:]),
                       probabilities[0].exact_at(columns, action, at)) if probabilities else [Fraction(0)] * len(at)
            memo.update((keys[i], value) for i, value in zip(missing, sums))
        out = np.empty(len(keys), dtype=object)
        out[:] = [memo[key] for key in keys]
        return out[inverse]
    return total


def _distinct_objects(arrays: Sequence[npt.NDArray[Any]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(first, inverse)`` over the positions of equally long object arrays, grouped by the identity of their
    elements: exact values come once per distinct combination of what an expression reads, shared by every
    position with that combination, so this finds the few distinct cases without comparing any numbers."""
    ids = np.stack([np.fromiter(map(id, a), dtype=np.int64, count=a.size) for a in arrays])
    _, first, inverse = np.unique(ids, axis=1, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _inside(exact: Any, lo: int | None, hi: int | None) -> Any:
    """``lo <= exact <= hi`` elementwise (``None``: no bound), as bools; compared once per distinct object."""
    if isinstance(exact, np.ndarray) and exact.dtype == object and exact.size > 1:
        first, inverse = _distinct_objects([exact.reshape(-1)])
        return np.asarray(_compare(exact.reshape(-1)[first], lo, hi), dtype=bool)[inverse].reshape(exact.shape)
    return _compare(exact, lo, hi)


def _compare(exact: Any, lo: int | None, hi: int | None) -> Any:
    result: Any = True
    if lo is not None:
        result = np.logical_and(result, np.greater_equal(exact, lo))
    if hi is not None:
        result = np.logical_and(result, np.less_equal(exact, hi))
    return result.astype(bool) if isinstance(result, np.ndarray) else bool(result)


def _format_exact(number: _Number, i: int, exact_at: Callable[[Any], Any]) -> str:
    """A probability (or a sum of them) in a message: 6 digits, unless those hide how it differs from 0 or 1."""
    shown = _format(number.value, i)
    if shown not in ("0", "1"):
        return shown
    exact = number.exact if number.exact is not None else exact_at(np.array([i]))[0]
    if np.ndim(exact):
        exact = exact[i] if np.size(exact) > 1 else exact.reshape(-1)[0]
    return shown if exact == int(shown) else _decimal(Fraction(exact))


def _decimal(q: Fraction) -> str:
    """An exact number as a decimal when it has one of at most 40 digits, else as a fraction."""
    for digits in range(41):
        scaled = q * 10**digits
        if scaled.denominator == 1:
            text = str(abs(scaled.numerator)).rjust(digits + 1, "0")
            sign = "-" if scaled < 0 else ""
            return sign + (f"{text[:-digits]}.{text[-digits:]}" if digits else text)
    return f"{q.numerator}/{q.denominator}"


def _not_whole(exact: Any) -> Any:
    """Where exact values are not whole numbers."""
    if isinstance(exact, np.ndarray):
        return np.array([Fraction(q).denominator != 1 for q in exact.tolist()], dtype=bool)
    return Fraction(exact).denominator != 1


def _clipped(value: Any, lo: int, hi: int) -> Any:
    """Exact or float values clipped to ``[lo, hi]`` (values of an update after its domain error)."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.array([min(max(q, lo), hi) for q in value.tolist()], dtype=object)
    return np.clip(np.nan_to_num(value), lo, hi)


def _whole(exact: Any) -> Any:
    """Exact values as ``int64`` codes (rounded, where they were not whole: an error was recorded)."""
    if isinstance(exact, np.ndarray):
        return np.array([round(q) for q in exact.tolist()], dtype=np.int64)
    return int(round(exact))


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
    if isinstance(x, Fraction):
        x = x.numerator if x.denominator == 1 else float(x)
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
