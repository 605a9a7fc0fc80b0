"""The checked spec: names resolved, constants folded, actions expanded, every expression typed.

This is the artifact :func:`dsl.load` returns and the only thing later stages read. Values of state
variables are *codes*: the integer itself for ``lo..hi`` domains, the position in the list for enums,
0/1 for bools. Numbers stay exact (``int`` or :class:`fractions.Fraction`) so that exact arithmetic
downstream (rational re-checks, weight sweeps) starts from exactly what the user wrote.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator, Union

from .errors import Source, Span
from .numbers import counted

__all__ = [
    "AcceptsShutdown", "Action", "ActionIs", "Agent", "AlwaysCheck", "AttainableUtility", "Binary", "BoolDomain", "Branch", "Call",
    "Check", "CheckKind", "Comparison", "Conditional", "Constant", "CostBound", "Critic", "CriticError", "Domain",
    "EnumDomain", "ExploitsCritic", "InnerRegret", "NoWireheading", "Sensor",
    "Event", "Eventually", "Expr", "Formula", "Globally", "IntDomain", "Literal", "MapCell", "Member", "NeverCheck",
    "Next", "OptimalityProbability", "PLAN_DETERMINED", "ParamRef", "Parameter", "PathFormula", "PowerSeeking", "ProbabilityBound", "Regret",
    "Policy", "PolicyRule", "PowerAt", "QuantityComparison", "Reversible", "SafelyInterruptible", "SameWhenUnobserved", "SideEffects", "Scenario", "ShareAt", "Spec", "TableCell",
    "Term", "Type", "Unary", "Until", "Update", "VarRef", "Variable",
]

Number = Union[int, Fraction]


# --- types and domains -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Type:
    """The type of an expression: ``int``, ``real``, ``bool``, or an enum with its ordered values."""

    kind: str  # "int" | "real" | "bool" | "enum"
    values: tuple[str, ...] = ()  # the enum's values, in declaration order

    def __str__(self) -> str:
        return "{" + ", ".join(self.values) + "}" if self.kind == "enum" else self.kind

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("int", "real")


INT = Type("int")
REAL = Type("real")
BOOL = Type("bool")


@dataclass(frozen=True, slots=True)
class IntDomain:
    """``lo..hi``, both ends included; codes are the values themselves."""

    lo: int
    hi: int

    @property
    def type(self) -> Type:
        return INT

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def contains(self, code: int) -> bool:
        return self.lo <= code <= self.hi

    def decode(self, code: int) -> str:
        return str(int(code))

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True, slots=True)
class EnumDomain:
    """``{a, b, c}``; codes are positions 0..n-1."""

    values: tuple[str, ...]

    @property
    def type(self) -> Type:
        return Type("enum", self.values)

    @property
    def lo(self) -> int:
        return 0

    @property
    def hi(self) -> int:
        return len(self.values) - 1

    @property
    def size(self) -> int:
        return len(self.values)

    def contains(self, code: int) -> bool:
        return 0 <= code < len(self.values)

    def decode(self, code: int) -> str:
        return self.values[int(code)]

    def __str__(self) -> str:
        return "{" + ", ".join(self.values) + "}"


@dataclass(frozen=True, slots=True)
class BoolDomain:
    """``bool``; codes 0 (false) and 1 (true)."""

    @property
    def type(self) -> Type:
        return BOOL

    @property
    def lo(self) -> int:
        return 0

    @property
    def hi(self) -> int:
        return 1

    @property
    def size(self) -> int:
        return 2

    def contains(self, code: int) -> bool:
        return code in (0, 1)

    def decode(self, code: int) -> str:
        return "true" if code else "false"

    def __str__(self) -> str:
        return "bool"


Domain = Union[IntDomain, EnumDomain, BoolDomain]


# --- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    """A typed expression over the current state (and, in costs and checks, the action taken)."""

    # Every node class declares the fields ``type`` and ``span``; these properties only tell the type
    # checker that any ``Expr`` has them (a subclass field overrides a base property).
    @property
    def type(self) -> Type:
        raise NotImplementedError(f"{self.__class__.__name__} declares no field 'type'")

    @property
    def span(self) -> Span | None:
        raise NotImplementedError(f"{self.__class__.__name__} declares no field 'span'")

    @property
    def children(self) -> tuple[Expr, ...]:
        return ()

    def traverse(self) -> Iterator[Expr]:
        """This node and all nodes below it, parents first (without recursion, for deep expressions)."""
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A constant: ``bool`` as 0/1-free Python bool, numbers exact, enum values as their code."""

    value: bool | int | Fraction
    type: Type
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class VarRef(Expr):
    """The current value (code) of state variable number ``index``; with ``next``, its value after the step,
    ``name'`` (cost and intent terms only), read from column ``index`` of the current variables followed by
    the next ones (so ``index`` is the number of variables plus the variable's own number)."""

    index: int
    name: str
    type: Type
    span: Span | None = field(default=None, compare=False)
    next: bool = False


@dataclass(frozen=True, slots=True)
class MapCell(Expr):
    """``level@(r, c)``: the character of map ``map`` at row ``r``, column ``c`` (from 0), as a code of ``type``:
    an enum of the map's characters, in order of first appearance, then ``outside`` (every cell beyond the
    drawing). ``tiles`` holds the codes, one tuple per row, all of one length."""

    map: str
    tiles: tuple[tuple[int, ...], ...]
    row: Expr
    col: Expr
    type: Type
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.row, self.col)


@dataclass(frozen=True, slots=True)
class TableCell(Expr):
    """``penalty@(r, c)``: the number of table ``table`` at row ``r``, column ``c`` (from 0); ``row`` is None
    for a table of one row read with its column alone. ``values`` holds the numbers (``int`` for an ``int``
    table, else exact fractions), one tuple per row, all of one length. Reading outside is an error."""

    table: str
    values: tuple[tuple[Number, ...], ...]
    row: Expr | None
    col: Expr
    type: Type
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.col,) if self.row is None else (self.row, self.col)


@dataclass(frozen=True, slots=True)
class ParamRef(Expr):
    """A cost weight declared with ``param``; its value is in ``Spec.params`` (symbolic in sweeps)."""

    name: str
    type: Type = REAL
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ActionIs(Expr):
    """``[move]``: true when the action taken is one of ``actions`` (expanded names like ``move(dock)``)."""

    actions: frozenset[str]
    written: str  # as the user wrote it, for messages
    type: Type = BOOL
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    """``-x`` (numeric) or ``!x`` (bool)."""

    op: str  # "-" | "!"
    operand: Expr
    type: Type
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    """Arithmetic ``+ - * /``, comparison ``< <= > >= == !=``, logic ``&& || -> <->``.

    A bool operand of ``*`` counts as 0/1 (an indicator: ``w * (room == lab)``); ``/`` is real division.
    """

    op: str
    left: Expr
    right: Expr
    type: Type
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(a)``."""

    function: str
    args: tuple[Expr, ...]
    type: Type
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class AttainableUtility(Expr):
    """``aup(noop = [wait], c_1, ..., c_n)``: the attainable utility penalty of the row ``(s, a)``,
    ``(1/n) sum_i |Q*_i(s, a) - Q*_i(s, noop)|``, with ``Q*_i`` the optimal Q-values of the auxiliary cost
    ``c_i`` in the same world (Turner, Hadfield-Menell and Tadepalli, AIES 2020). Cost and intent terms
    only, affinely; the compiler computes it once the transitions are known (:mod:`mdp.penalty`)."""

    noop: ActionIs
    auxiliaries: tuple[Expr, ...]
    type: Type = REAL
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.auxiliaries


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    """``test ? then : otherwise``."""

    test: Expr
    then: Expr
    otherwise: Expr
    type: Type
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.test, self.then, self.otherwise)


@dataclass(frozen=True, slots=True)
class Member(Expr):
    """``x in {a, b}``: ``values`` are codes of ``operand``'s type."""

    operand: Expr
    values: tuple[int, ...]
    type: Type = BOOL
    span: Span | None = field(default=None, compare=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


# --- declarations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constant:
    """``const NAME = value``, after ``-D`` overrides; already folded into every expression."""

    name: str
    value: bool | int | Fraction
    type: Type
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Parameter:
    """``param NAME = value in [lo, hi]``: a weight that enters costs and intents linearly."""

    name: str
    value: Fraction
    lo: Fraction
    hi: Fraction
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Variable:
    """``var NAME : domain = initial``; ``initial`` is a code of ``domain``."""

    name: str
    domain: Domain
    initial: int
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Formula:
    """``formula`` or ``label``: a named expression, inlined where used; bool ones become labels."""

    name: str
    expr: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Update:
    """``var' = expr`` inside a branch."""

    variable: int
    expr: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Branch:
    """``p -> updates``; an unlabelled branch has probability 1, ``skip`` has no updates."""

    probability: Expr
    updates: tuple[Update, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Action:
    """One expanded action: ``move(to: room)`` becomes ``move(dock)``, ``move(hall)``, ...

    Branch probabilities sum to 1 in every state where the guard holds.
    """

    name: str  # expanded, e.g. "move(dock)"
    base: str  # as declared, e.g. "move"
    guard: Expr
    branches: tuple[Branch, ...]
    span: Span | None = field(default=None, compare=False)
    guard_span: Span | None = field(default=None, compare=False)  # the `when` condition as written


@dataclass(frozen=True, slots=True)
class Event:
    """An environment event, applied after the action when its guard holds on the intermediate state.

    Branch probabilities sum to at most 1; the rest of the mass leaves the state unchanged.
    """

    name: str
    guard: Expr
    branches: tuple[Branch, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Term:
    """A named ``cost`` or ``intent`` term: a number for each (state, action)."""

    name: str
    expr: Expr
    span: Span | None = field(default=None, compare=False)


# --- checks ------------------------------------------------------------------------------------


class Comparison(str, enum.Enum):
    """The bound of a quantitative check."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def holds(self, value: float | Fraction, bound: float | Fraction) -> bool:
        return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}[self.value]

    @property
    def is_upper(self) -> bool:
        """``<``/``<=`` bound the value from above, so the worst case is the maximum."""
        return self in (Comparison.LT, Comparison.LE)


@dataclass(frozen=True, slots=True)
class Eventually:
    """``F φ`` or, with ``steps``, ``F<=k φ``."""

    target: Expr
    steps: int | None = None


@dataclass(frozen=True, slots=True)
class Globally:
    """``G φ``."""

    target: Expr


@dataclass(frozen=True, slots=True)
class Until:
    """``φ U ψ``."""

    hold: Expr
    target: Expr


@dataclass(frozen=True, slots=True)
class Next:
    """``X φ``."""

    target: Expr


PathFormula = Union[Eventually, Globally, Until, Next]


@dataclass(frozen=True, slots=True)
class NeverCheck:
    """``never φ``: no reachable state (or state-action pair) of M* satisfies φ."""

    condition: Expr


@dataclass(frozen=True, slots=True)
class AlwaysCheck:
    """``always φ``: every reachable state (or state-action pair) of M* satisfies φ."""

    condition: Expr


@dataclass(frozen=True, slots=True)
class ProbabilityBound:
    """``P ~ p [ path ]`` with PRISM's min/max semantics over the policies of M*."""

    comparison: Comparison
    bound: Fraction
    path: PathFormula


@dataclass(frozen=True, slots=True)
class CostBound:
    """``cost ~ x`` (the whole intrinsic cost) or ``cost[term] ~ x`` (one term)."""

    comparison: Comparison
    bound: Fraction
    term: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptsShutdown:
    """``accepts_shutdown(request = φ, comply = [a, ...], mechanism = [v, ...])``."""

    request: Expr
    comply: frozenset[str]  # expanded action names
    mechanism: tuple[int, ...]  # variable indices


@dataclass(frozen=True, slots=True)
class PowerSeeking:
    """``power_seeking ~ x`` or ``power_seeking(reference = NAME) ~ x`` (Turner et al.'s POWER, relative to a
    reference policy: uniformly random when ``reference`` is None, else the intent-optimal policies of
    the intent term ``reference``)."""

    comparison: Comparison
    bound: Fraction
    reference: str | None = None
    distribution: str = "uniform"  # of each state's reward: uniform, bernoulli(p), beta(a, b)


@dataclass(frozen=True, slots=True)
class OptimalityProbability:
    """``optimality_probability(at = φ, actions = [a, ...]) ~ p``: at every state of the model where ``at``
    holds, the share of random reward functions (Turner et al.) for which some action of ``actions`` is
    optimal; the largest share is compared with ``p``."""

    at: Expr
    actions: frozenset[str]  # expanded action names
    comparison: Comparison
    bound: Fraction
    distribution: str = "uniform"  # of each state's reward: uniform, bernoulli(p), beta(a, b)
    discount: Fraction | None = None  # the spec's when None; 0 and 1: the limits


@dataclass(frozen=True, slots=True)
class Regret:
    """``regret(intent) ~ x``: the intent cost the agent's policies lose against the intent-optimal one."""

    intent: str
    comparison: Comparison
    bound: Fraction


@dataclass(frozen=True, slots=True)
class PowerAt:
    """``power(at = φ)``: Turner et al.'s POWER at the one state of the model where ``φ`` holds; at
    ``discount`` instead of the model's when given (``0`` and ``1``: the limits)."""

    at: Expr
    distribution: str = "uniform"
    discount: Fraction | None = None


@dataclass(frozen=True, slots=True)
class ShareAt:
    """``optimality_probability(at = φ, actions = [a, ...])`` in a comparison: the share of reward functions
    for which some action of ``actions`` is optimal at the one state where ``φ`` holds (at ``discount``
    instead of the model's when given)."""

    at: Expr
    actions: frozenset[str]
    distribution: str = "uniform"
    discount: Fraction | None = None  # the spec's when None; 0 and 1: the limits


@dataclass(frozen=True, slots=True)
class QuantityComparison:
    """``power(at = a) > power(at = b)``, ``power(at = a) >= 0.7``, ``optimality_probability(...) >
    optimality_probability(...)``: two quantities of the same kind from the same reward samples, or one and
    a number."""

    left: PowerAt | ShareAt
    comparison: Comparison
    right: PowerAt | ShareAt | Fraction


@dataclass(frozen=True, slots=True)
class SafelyInterruptible:
    """``safely_interruptible(interrupted = φ, reference = POLICY, mechanism = [v, ...])``: no optimal policy
    makes ``F interrupted`` less likely than the declared ``reference`` policy does (Orseau and Armstrong's
    safe interruptibility: neither avoid nor seek interruption), and none changes a ``mechanism`` variable."""

    interrupted: Expr
    reference: str  # a declared policy
    mechanism: tuple[int, ...] = ()  # variable indices


@dataclass(frozen=True, slots=True)
class CriticError:
    """``critic_error(C) ~ x``: the largest ``|C(s) - V*(s)|`` over the non-terminal states reached (by the
    agent when checked ``under`` one, else by any play from the initial state)."""

    critic: str
    comparison: Comparison
    bound: Fraction


@dataclass(frozen=True, slots=True)
class ExploitsCritic:
    """``exploits_critic``, checked ``under`` an agent: FAILS where the agent takes an action the intrinsic
    optimum does not (its critic misjudges where the action leads)."""


@dataclass(frozen=True, slots=True)
class InnerRegret:
    """``inner_regret ~ x``, checked ``under`` an agent or a policy: its expected intrinsic cost from the
    initial state minus the optimal one (``regret(intent)``'s counterpart one level down)."""

    comparison: Comparison
    bound: Fraction


@dataclass(frozen=True, slots=True)
class SameWhenUnobserved:
    """``same_when_unobserved(watched)``: wherever two reachable states differ only in the variable
    ``watched`` (numbered ``index``) and optimal play reaches one of them, the optimal actions of both are the
    same: the agent does not act differently because it is (or is not) observed."""

    variable: str
    index: int


@dataclass(frozen=True, slots=True)
class SameOccupancyWhenUnobserved:
    """``same_when_unobserved(watched, form = occupancy) ~ x``: the distribution form. For each value ``v`` of
    ``watched`` the episode starts from the start states with ``watched`` set to ``v``; the discounted
    occupancy of (the other variables, action) under optimal play must not differ between two such worlds
    by more than ``x`` (half the L1 distance; 0: identical), for every optimal policy."""

    variable: str
    index: int
    comparison: Comparison = Comparison.LE
    bound: Fraction = Fraction(0)


@dataclass(frozen=True, slots=True)
class Reversible:
    """``reversible(baseline = [wait])``: no step of optimal play cuts off a state that doing the baseline
    instead would have left reachable (Krakovna et al.'s stepwise inaction baseline, undiscounted)."""

    baseline: frozenset[str]  # expanded action names


@dataclass(frozen=True, slots=True)
class SideEffects:
    """``side_effects(baseline = [wait]) ~ x``: the largest share of the model's states that a step of optimal
    play makes unreachable though the baseline would have kept them reachable (Krakovna et al.'s stepwise
    relative reachability, undiscounted), worst over the optimal policies."""

    baseline: frozenset[str]
    comparison: Comparison
    bound: Fraction


@dataclass(frozen=True, slots=True)
class Sensor:
    """``SENSOR = EXPR`` in ``no_wireheading``: the state variable ``name`` (numbered ``index``) is meant to equal
    ``EXPR``, an expression of the world; ``honest`` is the condition ``name == EXPR``, ``terms`` the cost
    terms that read the sensor."""

    name: str
    index: int
    honest: Expr
    terms: tuple[str, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class NoWireheading:
    """``no_wireheading(reading = battery, ...)``: in no state optimal play reaches with every sensor reading
    honestly does an optimal action make a sensor read dishonestly more likely than the least any action
    available there does (Everitt and Hutter 2016; Everitt et al. 2021)."""

    sensors: tuple[Sensor, ...]


CheckKind = Union[NeverCheck, AlwaysCheck, ProbabilityBound, CostBound, AcceptsShutdown, PowerSeeking,
                  OptimalityProbability, Regret, SafelyInterruptible, QuantityComparison, CriticError, ExploitsCritic,
                  InnerRegret, SameWhenUnobserved, SameOccupancyWhenUnobserved, Reversible, SideEffects, NoWireheading]

PLAN_DETERMINED = (NeverCheck, AlwaysCheck, ProbabilityBound, AcceptsShutdown, ExploitsCritic)
"""The kinds of check whose verdict under an agent rests on the rows it takes where it goes (and the optimal
rows there) only, no value: constant where its plan and the optimal behaviour are (``corrigo sweep``)."""


@dataclass(frozen=True, slots=True)
class Check:
    """``check NAME : property``; ``for_all_params`` when declared ``check NAME for all params : ...``;
    ``under``: the declared policy it is checked on (``check NAME under POLICY : ...``), instead of every
    optimal policy."""

    name: str
    property: CheckKind
    text: str  # the property as written in the source, for reports
    for_all_params: bool = False
    span: Span | None = field(default=None, compare=False)
    under: str | None = None
    scenario: str | None = None  # `in SCENARIO`: evaluated in that world (None: the spec's own)
    transfer: str | None = None  # `with policy from SCENARIO`: under the behaviour optimal in that world
    otherwise: str | None = None  # `otherwise ACTION` (an expanded name): where that world has no such state


@dataclass(frozen=True, slots=True)
class Scenario:
    """``scenario NAME: CONST = VALUE, ...``: a world of the spec, its consts and params set to these values."""

    name: str
    settings: tuple[tuple[str, Fraction | bool], ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """``ACTION when CONDITION``: ``action`` an expanded action name; no condition: the rule always applies."""

    action: str
    condition: Expr | None
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    """``policy NAME: rules``: a given deterministic policy; in each state, the first rule whose condition
    holds names the action."""

    name: str
    rules: tuple[PolicyRule, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Critic:
    """``critic NAME = EXPR``: an estimate of the future intrinsic cost (APTAMI's trainable critic), a
    number per state; written by hand (``value`` over the state variables), read from a file (``table``,
    ``path``), or fitted (``value`` None, no ``path``):
    linear in ``features`` (and a constant), trained on the states ``trained_on`` (``"optimal"`` or
    ``"uniform"``, the policy whose discounted visits weigh the states) by ``method`` (``"lsq"``: least
    squares on V*; ``"td"``: TD(0)'s fixed point for that policy's cost)."""

    name: str
    value: Expr | None
    span: Span | None = field(default=None, compare=False)
    features: tuple[Expr, ...] = ()
    feature_texts: tuple[str, ...] = ()
    trained_on: str = ""
    method: str = "lsq"
    training_world: tuple[tuple[str, Fraction | bool], ...] = ()  # fitted in the world with these consts and params
    table: tuple[tuple[tuple[int, ...], Fraction], ...] = ()  # read from a file: (state codes, value)
    path: str = ""  # the file it was read from ("" unless read)
    default: Fraction | None = None  # for states the file does not list (None: an error, unless nearest)
    nearest: str = ""  # "l1", "l2" or "max": unlisted states take the mean of the nearest listed ones

    @property
    def is_fitted(self) -> bool:
        return self.value is None and not self.path


@dataclass(frozen=True, slots=True)
class Agent:
    """``agent NAME plans H steps with critic C``: at each state, the actions minimising the expected
    discounted intrinsic cost of the next ``steps`` steps plus ``discount^steps`` times the critic at the
    state reached (``critic`` None: nothing), ties kept (:mod:`mdp.planner`)."""

    name: str
    steps: int
    critic: str | None
    span: Span | None = field(default=None, compare=False)


# --- the spec ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    """A checked spec: everything the compiler needs, nothing it would have to look up again."""

    name: str
    doc: str
    source: Source = field(compare=False, repr=False)
    discount: Fraction
    constants: tuple[Constant, ...]
    params: tuple[Parameter, ...]
    variables: tuple[Variable, ...]
    formulas: tuple[Formula, ...]  # formulas and labels, in declaration order
    actions: tuple[Action, ...]  # expanded, in declaration order
    events: tuple[Event, ...]
    terminal: Expr | None  # the disjunction of all `terminal` declarations
    costs: tuple[Term, ...]
    intents: tuple[Term, ...]
    checks: tuple[Check, ...]
    discount_span: Span | None = field(default=None, compare=False)  # the value after `discount`
    policies: tuple[Policy, ...] = ()
    horizon: int | None = None  # episodes of this many steps (None: the infinite discounted or total cost)
    horizon_span: Span | None = field(default=None, compare=False)
    critics: tuple[Critic, ...] = ()
    agents: tuple[Agent, ...] = ()
    starts: tuple[tuple[tuple[int, ...], Fraction], ...] = ()  # `init`: (variable codes, probability); () = one
    scenarios: tuple[Scenario, ...] = ()
    overrides: tuple[tuple[str, object], ...] = ()  # the `-D` values it was loaded with
    world: str | None = None  # the scenario this spec is loaded as (None: the spec's own world)

    def __repr__(self) -> str:
        # variables, actions, costs and checks always; events, intents, params and scenarios where there are some
        counts = [(len(self.variables), "variable"), (len(self.actions), "action"), (len(self.events), "event"),
                  (len(self.costs), "cost term"), (len(self.intents), "intent"), (len(self.params), "param"),
                  (len(self.scenarios), "scenario"), (len(self.checks), "check")]
        shown = [counted(n, noun) for n, noun in counts if n or noun in ("variable", "action", "cost term", "check")]
        return f"<Spec {self.name} ({self.path}): {', '.join(shown)}>"

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name`` (``KeyError`` if there is none)."""
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise KeyError(name)

    def critic(self, name: str) -> Critic:
        """The critic called ``name`` (``KeyError`` if there is none)."""
        for critic in self.critics:
            if critic.name == name:
                return critic
        raise KeyError(name)

    def agent(self, name: str) -> Agent:
        """The agent called ``name`` (``KeyError`` if there is none)."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def policy(self, name: str) -> Policy:
        """The policy called ``name`` (``KeyError`` if there is none)."""
        for policy in self.policies:
            if policy.name == name:
                return policy
        raise KeyError(name)

    @property
    def path(self) -> str:
        return self.source.path

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (``KeyError`` if there is none)."""
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(name)

    def param_values(self) -> dict[str, Fraction]:
        return {p.name: p.value for p in self.params}

    def describe(self, codes: tuple[int, ...] | list[int]) -> str:
        """``battery=0, room=lab, ...`` for a tuple of variable codes."""
        return ", ".join(f"{v.name}={v.domain.decode(c)}" for v, c in zip(self.variables, codes))
