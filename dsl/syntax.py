"""The abstract syntax tree of a spec, exactly as written: names unresolved, nothing evaluated.

Every node is a frozen dataclass whose ``span`` does not take part in ``==``, so a test can compare
``parse(text)`` against a tree written without positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Iterator, Union

from .errors import Span

__all__ = [
    "Action", "ActionParam", "Agent", "Critic", "ActionRef", "ActionSet", "Always", "Argument", "AupCall", "Binary",
    "BoolDomain",
    "Boolean", "Branch", "Call", "Check", "Conditional", "Const", "CostBound", "Declaration",
    "Discount", "Domain", "DomainOf", "EnumDomain", "Event", "Eventually", "Expr", "Formula",
    "Globally", "Header", "Horizon", "Ident", "Import", "Init", "IntDomain", "Map", "MapCellRef", "Member", "Module", "Name", "NamedCheck", "Never",
    "Next", "NextName", "Number", "Param", "Path", "Policy", "PolicyRule", "Probability", "Property", "Scenario", "Table",
    "Term", "Terminal", "Text", "Unary",
    "Until", "Update", "Var", "parts", "walk",
]


@dataclass(frozen=True, slots=True)
class Node:
    span: Span | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Ident(Node):
    """A name at the place it is written."""

    text: str

    def __str__(self) -> str:
        return self.text


# --- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr(Node):
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
class Number(Expr):
    """A numeric literal; ``value`` is exact (``int`` or :class:`Fraction`)."""

    value: int | Fraction


@dataclass(frozen=True, slots=True)
class Boolean(Expr):
    value: bool


@dataclass(frozen=True, slots=True)
class Name(Expr):
    """A variable, constant, param, formula, action parameter or enum value: the checker decides."""

    name: str


@dataclass(frozen=True, slots=True)
class MapCellRef(Expr):
    """``level@(r, c)``: the character of map ``level`` (or the number of table ``level``) at row ``r``,
    column ``c``; ``bonus@(i)`` (``col`` None): one index, for a table of one row."""

    name: Ident
    row: Expr
    col: Expr | None


@dataclass(frozen=True, slots=True)
class Text(Expr):
    """A string as a check's argument (``distribution = "beta(2, 5)"``), its escapes decoded."""

    text: str


@dataclass(frozen=True, slots=True)
class NextName(Expr):
    """``room'``: a variable's value after the step (cost and intent terms only: the checker decides)."""

    name: str


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "-" | "!"
    operand: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # + - * / == != < <= > >= && || -> <->
    left: Expr
    right: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    test: Expr
    then: Expr
    otherwise: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.test, self.then, self.otherwise)


@dataclass(frozen=True, slots=True)
class Call(Expr):
    function: str  # "min" | "max" | "abs"
    args: tuple[Expr, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class AupCall(Expr):
    """``aup(noop = [wait], aux_1, ...)``: the attainable utility penalty (checked in ``dsl.typecheck``)."""

    args: tuple[Argument, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return tuple(a.value for a in self.args)


@dataclass(frozen=True, slots=True)
class Member(Expr):
    """``x in {a, b}``."""

    operand: Expr
    values: tuple[Expr, ...]

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.operand, *self.values)


@dataclass(frozen=True, slots=True)
class ActionRef(Node):
    """``move`` (every expansion) or ``move(dock)`` (one) inside ``[...]``."""

    name: Ident
    args: tuple[Expr, ...] | None = None


@dataclass(frozen=True, slots=True)
class ActionSet(Expr):
    """``[a, b(x)]``: an action indicator in expressions, a list of actions or variables in checks."""

    refs: tuple[ActionRef, ...]


# --- declarations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header(Node):
    name: Ident
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Discount(Node):
    value: Expr


@dataclass(frozen=True, slots=True)
class Horizon(Node):
    value: Expr


@dataclass(frozen=True, slots=True)
class Map(Node):
    """``map NAME = "..."`` (usually a triple-quoted drawing): ``art`` the decoded string, ``art_span`` where it
    is written."""

    name: Ident
    art: str
    art_span: Span | None


@dataclass(frozen=True, slots=True)
class Import(Node):
    """``import "world.corrigo"``: ``path`` as written (relative to the importing file), ``path_span`` where."""

    path: str
    path_span: Span | None


@dataclass(frozen=True, slots=True)
class Table(Node):
    """``table NAME = "..."``: numbers drawn as text, each entry's text with where it stands, row by row."""

    name: Ident
    rows: tuple[tuple[tuple[str, Span], ...], ...]
    text_span: Span | None


@dataclass(frozen=True, slots=True)
class Const(Node):
    name: Ident
    value: Expr


@dataclass(frozen=True, slots=True)
class Param(Node):
    name: Ident
    value: Expr
    lo: Expr
    hi: Expr


@dataclass(frozen=True, slots=True)
class IntDomain(Node):
    lo: Expr
    hi: Expr


@dataclass(frozen=True, slots=True)
class EnumDomain(Node):
    values: tuple[Ident, ...]


@dataclass(frozen=True, slots=True)
class BoolDomain(Node):
    pass


@dataclass(frozen=True, slots=True)
class DomainOf(Node):
    """An action parameter's domain borrowed from a variable: ``to: room``."""

    variable: Ident


Domain = Union[IntDomain, EnumDomain, BoolDomain, DomainOf]


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: Ident
    domain: Domain
    initial: Expr | None = None


@dataclass(frozen=True, slots=True)
class Formula(Node):
    """``formula`` (``is_label`` false) or ``label``."""

    name: Ident
    value: Expr
    is_label: bool = False


@dataclass(frozen=True, slots=True)
class Update(Node):
    target: Ident
    value: Expr


@dataclass(frozen=True, slots=True)
class Branch(Node):
    """``p -> updates``; ``probability`` is None for the single branch of a certain body."""

    probability: Expr | None
    updates: tuple[Update, ...]


@dataclass(frozen=True, slots=True)
class ActionParam(Node):
    name: Ident
    domain: Domain


@dataclass(frozen=True, slots=True)
class Action(Node):
    name: Ident
    params: tuple[ActionParam, ...]
    guard: Expr | None
    branches: tuple[Branch, ...]
    only_in: tuple[Ident, ...] = ()  # `in SCENARIO, ...`: declared in those worlds only (empty: in every world)


@dataclass(frozen=True, slots=True)
class Event(Node):
    name: Ident
    guard: Expr | None
    branches: tuple[Branch, ...]
    only_in: tuple[Ident, ...] = ()  # `in SCENARIO, ...`: declared in those worlds only (empty: in every world)


@dataclass(frozen=True, slots=True)
class Init(Node):
    """``init: p -> x' = v, ...``: a distribution of start states, each branch changing the initial values."""

    branches: tuple[Branch, ...]


@dataclass(frozen=True, slots=True)
class Terminal(Node):
    condition: Expr


@dataclass(frozen=True, slots=True)
class Term(Node):
    """``cost NAME = expr`` or ``intent NAME = expr``."""

    kind: str  # "cost" | "intent"
    name: Ident
    value: Expr


# --- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Eventually(Node):
    target: Expr
    steps: Expr | None = None


@dataclass(frozen=True, slots=True)
class Globally(Node):
    target: Expr


@dataclass(frozen=True, slots=True)
class Until(Node):
    hold: Expr
    target: Expr


@dataclass(frozen=True, slots=True)
class Next(Node):
    target: Expr


Path = Union[Eventually, Globally, Until, Next]


@dataclass(frozen=True, slots=True)
class Never(Node):
    condition: Expr


@dataclass(frozen=True, slots=True)
class Always(Node):
    condition: Expr


@dataclass(frozen=True, slots=True)
class Probability(Node):
    op: str
    bound: Expr
    path: Path


@dataclass(frozen=True, slots=True)
class CostBound(Node):
    term: Ident | None
    op: str
    bound: Expr


@dataclass(frozen=True, slots=True)
class Argument(Node):
    name: Ident | None
    value: Expr


@dataclass(frozen=True, slots=True)
class NamedCheck(Node):
    """``accepts_shutdown(...)``, ``power_seeking <= x``, ``regret(welfare) <= x``, ...; ``bound`` another
    quantity in a comparison (``power(at = a) > power(at = b)``)."""

    name: Ident
    args: tuple[Argument, ...] | None
    op: str | None
    bound: Expr | NamedCheck | None


Property = Union[Never, Always, Probability, CostBound, NamedCheck]


@dataclass(frozen=True, slots=True)
class Check(Node):
    name: Ident
    property: Property
    for_all_params: bool = False
    under: Ident | None = None  # a declared policy instead of the optimal ones
    scenario: Ident | None = None  # `in SCENARIO`: evaluated in that world
    transfer: Ident | None = None  # `with policy from SCENARIO`: the behaviour optimal there
    otherwise: ActionRef | None = None  # `otherwise ACTION`: where that scenario has no such state


@dataclass(frozen=True, slots=True)
class Scenario(Node):
    """``scenario NAME: CONST = VALUE, ...``: the spec with these consts and params, a world checks can be in."""

    name: Ident
    settings: tuple[tuple[Ident, Expr], ...]


@dataclass(frozen=True, slots=True)
class PolicyRule(Node):
    """``ACTION when COND``; without a condition the rule always applies."""

    action: ActionRef
    condition: Expr | None


@dataclass(frozen=True, slots=True)
class Policy(Node):
    """``policy NAME: rule ...``: in each state, the action of the first rule whose condition holds."""

    name: Ident
    rules: tuple[PolicyRule, ...]


@dataclass(frozen=True, slots=True)
class Critic(Node):
    """``critic NAME = EXPR``: an estimate of the future intrinsic cost of each state; or (``value`` None)
    ``critic NAME = linear(FEATURES) trained on POLICY [by METHOD]``, fitted inside corrigo; or (``path``)
    ``critic NAME from "PATH" [default X | default nearest [by METRIC]]``, read from a file."""

    name: Ident
    value: Expr | None
    features: tuple[Expr, ...] = ()
    trained_on: str = ""  # "optimal" or "uniform"
    method: str = "lsq"  # "lsq" (least squares on V*) or "td" (TD(0)'s fixed point)
    training_world: tuple[tuple[Ident, Expr], ...] = ()  # `where NAME = VALUE, ...`: the world it is trained in
    path: str = ""  # `critic NAME from "PATH"`: a table of values by state
    path_span: Span | None = None
    default: Expr | None = None  # its value for states the table does not list (`error`: none; `nearest`)
    metric: Ident | None = None  # `default nearest by l1|l2|max`


@dataclass(frozen=True, slots=True)
class Agent(Node):
    """``agent NAME plans H steps with critic C``: a planner over ``steps`` steps, the critic at its horizon."""

    name: Ident
    steps: Expr
    critic: Ident | None


Declaration = Union[Import, Discount, Horizon, Init, Map, Table, Const, Param, Var, Formula, Action, Event, Terminal, Term,
                    Policy, Critic, Agent, Scenario, Check]


@dataclass(frozen=True, slots=True)
class Module(Node):
    """A whole spec file."""

    header: Header
    declarations: tuple[Declaration, ...]


def parts(node: Node) -> tuple[Node, ...]:
    """The nodes ``node`` is made of, in source order: its fields, tuples flattened.

    Unlike ``Expr.children`` this includes the arguments of action references (``[move(dock)]``), so
    a walk over parts sees every node of a module.
    """
    found: list[Node] = []
    for declared in fields(node):
        value = getattr(node, declared.name)
        found.extend(item for item in (value if isinstance(value, tuple) else (value,)) if isinstance(item, Node))
    return tuple(found)


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node it is made of, parents first, in source order (without recursion)."""
    stack = [node]
    while stack:
        top = stack.pop()
        yield top
        stack.extend(reversed(parts(top)))
