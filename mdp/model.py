"""The tabular model: a finite MDP as sparse arrays, in Storm's row-group layout.

Every enabled (state, action) pair is one *row* (a "choice"). The rows of state ``s`` are
``row_groups[s]:row_groups[s + 1]``, consecutive, in action declaration order. Terminal states have a
single zero-cost self-loop row named :data:`TERMINAL_ACTION`, so no group is empty and a Bellman backup
is a minimum over each group.
"""

from __future__ import annotations

import math

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.errors import Source, Span, SpecError
from dsl.numbers import counted, float_text
from dsl.spec import BoolDomain, IntDomain, Variable

__all__ = ["TERMINAL_ACTION", "ModelError", "Rationals", "Rounding", "TabularMDP", "exact_floats", "from_arrays"]

TERMINAL_ACTION = "<terminal>"
"""The action name of the self-loop row of a terminal state (not a valid identifier, so never a user's)."""


class ModelError(SpecError):
    """The model is not a proper MDP: a deadlock, an update out of domain, bad probabilities, an improper cycle.

    For compiled specs the diagnostic points at the source line and names the offending state; for
    models from arrays it has no location.
    """


@dataclass(frozen=True, eq=False)
class Rationals:
    """The numbers of a model exactly as its spec denotes them: the model's floats are their rounding.

    ``P`` is aligned with ``model.P.data`` (CSR order); costs and intents hold one number per row.
    """

    discount: Fraction
    P: tuple[Fraction, ...]
    costs: Mapping[str, tuple[Fraction, ...]]
    intents: Mapping[str, tuple[Fraction, ...]]
    n_rows: int

    def cost(self, terms: Iterable[str] | None = None) -> list[Fraction]:
        """The sum of the cost terms ``terms`` (default: all, the intrinsic cost) of every row, exactly."""
        vectors = [self.costs[t] for t in (self.costs if terms is None else terms)]
        if not vectors:
            return [Fraction(0)] * self.n_rows
        return [sum(column, Fraction(0)) for column in zip(*vectors)]

    def __repr__(self) -> str:
        terms = f"cost terms {', '.join(self.costs) or '(none)'}, intents {', '.join(self.intents) or '(none)'}"
        return f"<Rationals: discount {self.discount}, {len(self.P):,} probabilities, {terms}; {self.n_rows:,} rows>"


@dataclass(frozen=True)
class Rounding:
    """How far a model's floats may lie from the exact numbers its spec denotes (0 where they are exact).

    ``costs`` and ``intents``: per term, the largest ``|float - exact|`` over the rows; ``P``: the largest
    ``sum_j |P_float[r, j] - P_exact[r, j]|`` over the rows ``r``; ``discount``: ``|float - exact|``. The
    solver's certificate adds their effect, so a float verdict holds for the spec's exact numbers.
    """

    costs: Mapping[str, float] = field(default_factory=dict)
    intents: Mapping[str, float] = field(default_factory=dict)
    P: float = 0.0
    discount: float = 0.0
    from_floats: bool = False  # the exact numbers are the floats, each row of P scaled to sum to 1
    # term -> (m,) rows whose float is exact (no repr: arrays)
    exact_rows: Mapping[str, npt.NDArray[np.bool_]] = field(default_factory=dict, repr=False)

    @property
    def is_exact(self) -> bool:
        """Whether every float of the model is exactly the spec's number."""
        return not (self.P or self.discount or any(self.costs.values()) or any(self.intents.values()))

    def of(self, term: str) -> float:
        """The rounding of one cost or intent term."""
        return self.costs[term] if term in self.costs else self.intents.get(term, 0.0)

    def exact_in(self, term: str, n_rows: int) -> npt.NDArray[np.bool_]:
        """(m,) the rows where the term's float is exactly the spec's number (all of them when the term has
        no rounding; none when nothing is known)."""
        if not self.of(term) or self.from_floats:
            return np.ones(n_rows, dtype=bool)
        return self.exact_rows.get(term, np.zeros(n_rows, dtype=bool))


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP with per-term costs, as produced by :func:`mdp.compile` or :func:`from_arrays`.

    Shapes: ``n`` states, ``m`` rows (enabled state-action choices), ``k`` state variables.
    """

    P: sp.csr_array  # (m, n) row-stochastic transition probabilities
    row_groups: npt.NDArray[np.int64]  # (n + 1,) rows of state s: row_groups[s]:row_groups[s+1]
    row_action: npt.NDArray[np.int32]  # (m,) index into action_names
    action_names: tuple[str, ...]
    costs: Mapping[str, npt.NDArray[np.float64]]  # term -> (m,) cost of each row
    discount: float
    initial: int
    terminal: npt.NDArray[np.bool_]  # (n,)
    labels: Mapping[str, npt.NDArray[np.bool_]] = field(default_factory=dict)  # name -> (n,)
    intents: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)  # name -> (m,)
    variables: tuple[Variable, ...] = ()  # decoder: what the columns of state_codes mean
    state_codes: npt.NDArray[np.int64] | None = None  # (n, k) variable codes of every state
    name: str = "model"
    source: Source | None = None  # the spec's text, so solver errors render like compile errors
    discount_span: Span | None = None  # where the spec sets the discount: errors of discount-1 models point there
    rounding: Rounding = field(default_factory=Rounding)  # how far the floats may be from the spec's numbers
    rationals: Rationals | None = None  # the spec's numbers exactly (``compile(spec, exact=True)``)
    starts: tuple[tuple[int, Fraction], ...] = ()  # ``init``: (state, probability) of each start; () = ``initial``

    @property
    def start_states(self) -> npt.NDArray[np.int64]:
        """The states episodes start in: ``initial`` alone unless the spec has an ``init`` distribution."""
        return np.array([s for s, _ in self.starts] if self.starts else [self.initial], dtype=np.int64)

    @property
    def start_probabilities(self) -> npt.NDArray[np.float64]:
        return np.array([float(p) for _, p in self.starts] if self.starts else [1.0])

    def at_start(self, values: npt.ArrayLike) -> float:
        """``sum_s P(start in s) values[s]``: a per-state quantity for the episode as a whole."""
        return float(np.asarray(values, dtype=np.float64)[self.start_states] @ self.start_probabilities)

    def exact_at_start(self, values: Mapping[int, Fraction]) -> Fraction | None:
        """:meth:`at_start` exactly, from exact values by state (None if one of the starts has none)."""
        pairs = self.starts or ((self.initial, Fraction(1)),)
        if any(s not in values for s, _ in pairs):
            return None
        return sum((p * values[s] for s, p in pairs), Fraction(0))

    def __repr__(self) -> str:
        sizes = [counted(self.n_states, "state"), counted(self.n_rows, "choice"),
                 counted(self.n_transitions, "transition"),
                 counted(sum(name != TERMINAL_ACTION for name in self.action_names), "action"),
                 counted(len(self.costs), "cost term")]
        return f"<TabularMDP {self.name}: {', '.join(sizes)}, discount {float_text(self.discount)}>"

    @property
    def n_states(self) -> int:
        return self.row_groups.shape[0] - 1

    @property
    def n_rows(self) -> int:
        return self.P.shape[0]

    @property
    def n_transitions(self) -> int:
        return self.P.nnz

    @cached_property
    def cost(self) -> npt.NDArray[np.float64]:
        """(m,) the intrinsic cost of every row: the sum of all cost terms."""
        total = np.zeros(self.n_rows)
        for vector in self.costs.values():
            total += vector
        return total

    @property
    def knows_exact(self) -> bool:
        """Whether :attr:`exact` is available: compiled with ``exact=True``, built from floats, or a spec whose
        numbers the floats hold exactly."""
        return self.rationals is not None or self.rounding.is_exact or self.rounding.from_floats

    @cached_property
    def exact(self) -> Rationals:
        """The model's numbers exactly: those the compiler computed (``compile(spec, exact=True)``), or those
        the floats stand for (models from arrays: the floats, each row of ``P`` scaled to sum to exactly 1;
        specs whose numbers the floats hold exactly).

        Raises
        ------
        ValueError
            If the floats round the spec's numbers and the model was compiled without ``exact=True``.
        """
        if self.rationals is not None:
            return self.rationals
        if not self.knows_exact:
            raise ValueError(f"the floats of model '{self.name}' round its spec's numbers: compile it with "
                             "exact=True for exact arithmetic")
        data = exact_floats(self.P.data)
        indptr = self.P.indptr.tolist()
        for r in range(self.n_rows):  # a distribution: floats that sum to 1 - 1e-17 stand for one summing to 1
            total = sum(data[indptr[r]:indptr[r + 1]], Fraction(0))
            if total != 1 and total:
                data[indptr[r]:indptr[r + 1]] = [p / total for p in data[indptr[r]:indptr[r + 1]]]
        return Rationals(
            discount=Fraction(self.discount), P=tuple(data),
            costs={t: tuple(exact_floats(v)) for t, v in self.costs.items()},
            intents={t: tuple(exact_floats(v)) for t, v in self.intents.items()}, n_rows=self.n_rows)

    @cached_property
    def row_state(self) -> npt.NDArray[np.int64]:
        """(m,) the state each row belongs to."""
        return np.repeat(np.arange(self.n_states, dtype=np.int64), np.diff(self.row_groups))

    def rows(self, state: int) -> range:
        """The rows (choices) of ``state``."""
        return range(int(self.row_groups[state]), int(self.row_groups[state + 1]))

    def actions(self, state: int) -> tuple[str, ...]:
        """The names of the actions enabled in ``state``, in row order."""
        return tuple(self.action_names[self.row_action[r]] for r in self.rows(state))

    def state_values(self, state: int) -> dict[str, int | bool | str]:
        """The state as a dict of variable values: ``int`` for ranges, ``bool``, enum values as ``str``."""
        if self.state_codes is None:
            return {"s": state}
        return {v.name: _value(v, int(c)) for v, c in zip(self.variables, self.state_codes[state])}

    def describe(self, state: int) -> str:
        """The state as the user wrote its variables: ``battery=0, room=lab, ...``."""
        if self.state_codes is None:
            return f"s={state}"
        codes = self.state_codes[state]
        return ", ".join(f"{v.name}={v.domain.decode(c)}" for v, c in zip(self.variables, codes))

    def find(self, text: str) -> int:
        """The state written as :meth:`describe` writes it (``battery=0, room=lab``); variables left out may
        have any value, as long as exactly one state of the model matches.

        Raises
        ------
        ValueError
            Saying what is wrong: the form, an unknown variable, a value outside its domain, no state or
            several states matching.
        """
        variables = {v.name: (j, v) for j, v in enumerate(self.variables)} if self.state_codes is not None else \
            {"s": (0, Variable("s", IntDomain(0, self.n_states - 1), 0))}
        codes = self.state_codes if self.state_codes is not None else np.arange(self.n_states)[:, None]
        match = np.ones(self.n_states, dtype=bool)
        example = self.describe(self.initial)
        for part in (p.strip() for p in text.split(",")):
            name, equals, value = (x.strip() for x in part.partition("="))
            if not equals or not name or not value:
                raise ValueError(f"'{part}' is not of the form name=value; write a state as '{example}'")
            if name not in variables:
                raise ValueError(f"'{name}' is not a variable of the model '{self.name}'; its variables are "
                                 f"{', '.join(variables)}")
            j, variable = variables[name]
            code = _code(variable, value)
            if code is None:
                raise ValueError(f"'{value}' is not a value of '{name}' (its domain is {variable.domain})")
            match &= codes[:, j] == code
        found = np.flatnonzero(match)
        if found.size != 1:
            what = "no state of the model" if found.size == 0 else f"{found.size:,} states"
            hint = ("name the other variables too" if found.size else
                    "the model holds only the states reachable from the initial state")
            raise ValueError(f"'{text}' matches {what}: {hint}, e.g. '{example}'")
        return int(found[0])


def nearest_float(q: Fraction | int) -> float:
    """The float nearest an exact number, ``±inf`` beyond the float range (where ``float`` raises)."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def exact_floats(values: npt.ArrayLike) -> list[Fraction]:
    """The exact values of floats, each distinct value converted once."""
    distinct, inverse = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True)
    read = [Fraction(v) for v in distinct.tolist()]
    return [read[i] for i in inverse.reshape(-1).tolist()]


def _code(variable: Variable, text: str) -> int | None:
    """The code of a value as written (``3``, ``true``, ``lab``), or None if it is not in the domain."""
    domain = variable.domain
    if isinstance(domain, IntDomain):
        try:
            code = int(text)
        except ValueError:
            return None
        return code if domain.contains(code) else None
    if isinstance(domain, BoolDomain):
        return {"true": 1, "false": 0}.get(text)
    return domain.values.index(text) if text in domain.values else None


def _value(variable: Variable, code: int) -> int | bool | str:
    domain = variable.domain
    if isinstance(domain, IntDomain):
        return code
    if isinstance(domain, BoolDomain):
        return bool(code)
    return domain.decode(code)


def from_arrays(
    transitions: Sequence[npt.ArrayLike | sp.sparray | sp.spmatrix],
    costs: Sequence[npt.ArrayLike] | Mapping[str, Sequence[npt.ArrayLike]],
    discount: float,
    initial: int = 0,
    action_names: Sequence[str] | None = None,
    terminal: npt.ArrayLike | None = None,
) -> TabularMDP:
    """Build a :class:`TabularMDP` from per-action matrices, the way models from elsewhere come.

    Parameters
    ----------
    transitions
        ``transitions[a]`` is an ``n x n`` (dense or sparse) matrix; row ``s`` is the successor
        distribution of action ``a`` in state ``s``, or all zeros where ``a`` is not available.
    costs
        ``costs[a]`` is a length-``n`` vector, the cost of taking ``a`` in each state; or a mapping
        ``{term: [vector per action]}`` for named cost terms.
    discount
        In ``(0, 1]``.
    initial
        The index of the initial state.
    action_names
        Names of the actions (default ``a0, a1, ...``).
    terminal
        Optional boolean vector of absorbing zero-cost states; their given rows are replaced by the
        terminal self-loop.

    Returns
    -------
    TabularMDP
        States keep their indices; the decoder writes them as ``s=i``.

    Raises
    ------
    ModelError
        On a negative or non-summing-to-one row, a state with no available action, a shape mismatch,
        or a discount outside ``(0, 1]``.

    Examples
    --------
    >>> model = from_arrays([[[0, 1], [0, 1]], [[1, 0], [0, 1]]], [[1, 1], [2, 0]], discount=0.5)
    >>> model.n_states, model.n_rows, model.actions(0)
    (2, 4, ('a0', 'a1'))
    """
    matrices = [sp.csr_array(np.asarray(t, dtype=float)) if not sp.issparse(t) else sp.csr_array(t, dtype=float)
                for t in transitions]
    if not matrices:
        raise ModelError("from_arrays needs at least one action")
    n = matrices[0].shape[0]
    for a, matrix in enumerate(matrices):
        if matrix.shape != (n, n):
            raise ModelError(f"transitions[{a}] has shape {matrix.shape}, expected ({n}, {n})")
    if not 0 < discount <= 1:
        raise ModelError(f"discount must lie in (0, 1], got {discount}")
    if not 0 <= initial < n:
        raise ModelError(f"initial state {initial} is not in 0..{n - 1}")
    names = tuple(action_names) if action_names is not None else tuple(f"a{a}" for a in range(len(matrices)))
    if len(names) != len(matrices):
        raise ModelError(f"{len(names)} action names for {len(matrices)} actions")
    term_vectors = costs if isinstance(costs, Mapping) else {"cost": costs}
    per_term = {}
    for term, vectors in term_vectors.items():
        if len(vectors) != len(matrices):
            raise ModelError(f"cost term '{term}' has {len(vectors)} vectors for {len(matrices)} actions")
        per_term[term] = np.column_stack([np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in vectors])
    is_terminal = np.zeros(n, dtype=bool) if terminal is None else np.asarray(terminal, dtype=bool).copy()

    # (n, A) availability and row sums; a row is present where its matrix row has any mass
    sums = np.column_stack([np.asarray(m.sum(axis=1)).ravel() for m in matrices])
    for a, matrix in enumerate(matrices):
        if matrix.nnz and matrix.data.min() < 0:
            raise ModelError(f"transitions[{a}] has a negative probability")
    available = (sums > 0) & ~is_terminal[:, None]
    bad = available & ~np.isclose(sums, 1.0, rtol=0, atol=1e-9)
    if bad.any():
        s, a = np.argwhere(bad)[0]
        raise ModelError(f"row {s} of transitions[{a}] sums to {sums[s, a]:.12g}, expected 1")
    dead = ~available.any(axis=1) & ~is_terminal
    if dead.any():
        raise ModelError(f"state {int(np.flatnonzero(dead)[0])} has no available action and is not terminal")

    terminal_action = len(names)
    blocks, row_action, row_state = [], [], []
    for a, matrix in enumerate(matrices):  # rows in (state, action) order after a stable sort below
        states = np.flatnonzero(available[:, a])
        blocks.append(matrix[states])
        row_state.append(states)
        row_action.append(np.full(states.size, a, dtype=np.int32))
    loops = np.flatnonzero(is_terminal)
    blocks.append(sp.csr_array((np.ones(loops.size), (np.arange(loops.size), loops)), shape=(loops.size, n)))
    row_state.append(loops)
    row_action.append(np.full(loops.size, terminal_action, dtype=np.int32))

    state_of_row = np.concatenate(row_state)
    action_of_row = np.concatenate(row_action)
    order = np.lexsort((action_of_row, state_of_row))
    P = sp.csr_array(sp.vstack(blocks, format="csr")[order])
    P.eliminate_zeros()
    P.sort_indices()
    # the rows stand for distributions: scaled to sum to exactly 1, a row moves by |S - 1| in L1, S its exact
    # sum, which the float sum s bounds: |S - 1| <= |s - 1| + k u s (a row of one entry 1.0 moves by 0)
    lengths: npt.NDArray[np.int64] = np.diff(P.indptr).astype(np.int64)
    nonempty = lengths > 0
    row_sums = np.add.reduceat(P.data, P.indptr[:-1][nonempty]) if P.nnz else np.zeros(0)
    off = np.abs(row_sums - 1.0) + lengths[nonempty] * 2.0**-52 * row_sums
    off[(lengths[nonempty] == 1) & (row_sums == 1.0)] = 0.0
    rounding = Rounding(P=float(off.max(initial=0.0)), from_floats=True)
    state_of_row, action_of_row = state_of_row[order], action_of_row[order]
    row_groups = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(state_of_row, minlength=n), out=row_groups[1:])
    row_costs = {}
    for term, table in per_term.items():
        padded = np.column_stack([table, np.zeros(n)])  # the terminal self-loop costs nothing
        row_costs[term] = padded[state_of_row, action_of_row]
    return TabularMDP(
        P=P,
        row_groups=row_groups,
        row_action=action_of_row,
        action_names=names + (TERMINAL_ACTION,),
        costs=row_costs,
        discount=float(discount),
        initial=int(initial),
        terminal=is_terminal,
        variables=(Variable("s", IntDomain(0, n - 1), 0),),
        state_codes=np.arange(n, dtype=np.int64)[:, None],
        rounding=rounding,
    )
