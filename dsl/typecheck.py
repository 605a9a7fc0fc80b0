"""From a syntax tree to a checked :class:`~dsl.spec.Spec`: names, types, domains, constants, expansion.

The checker reports every independent mistake it finds, in source order, as one
:class:`~dsl.errors.SpecTypeError`. An expression that fails to check yields ``None`` and its parents
stay silent, so one typo gives one message, not a cascade.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from fractions import Fraction
from typing import TypeVar

from . import spec as T
from . import syntax as S
from .errors import Diagnostic, Source, Span, SpecTypeError
from .critic_npy import NpyCriticError, read_npy_critic
from .distributions import parse_distribution
from .limits import MAX_ACTIONS, MAX_EXPRESSION_SIZE, MAX_HORIZON, MAX_NESTING
from .numbers import INT64_LIMIT, MAX_DIGITS, NumberError, fit_problem, read_number, shorten
from .spec import BOOL, INT, REAL, Type

__all__ = ["typecheck", "CHECK_NAMES", "is_affine_in_params"]

CHECK_NAMES = ("never", "always", "P", "cost", "accepts_shutdown", "safely_interruptible", "power_seeking",
               "optimality_probability", "power", "regret", "critic_error", "exploits_critic", "inner_regret",
               "same_when_unobserved", "reversible", "side_effects", "no_wireheading")
_SUGGESTIONS = 100  # unknown names that get a "did you mean" hint, in a file that has thousands
_FRACTION = re.compile(r"(\d{1,%d})/(\d{1,%d})" % (MAX_DIGITS, MAX_DIGITS))  # -D p=1/3
_SHUTDOWN_ARGUMENTS = ("request", "comply", "mechanism")
_SHUTDOWN_EXAMPLE = "accepts_shutdown(request = pressed, comply = [comply], mechanism = [switch])"
_OPTIMALITY_ARGUMENTS = ("at", "actions")
_INTERRUPTIBLE_ARGUMENTS = ("interrupted", "reference", "mechanism")
_COMPARISON_EXAMPLE = "power(at = room == hall) > power(at = room == lab)"
_INTERRUPTIBLE_EXAMPLE = "safely_interruptible(interrupted = frozen, reference = through_corridor)"
_WIREHEADING_EXAMPLE = "no_wireheading(reading = battery)"
_POWER_EXAMPLE = "power_seeking(reference = welfare) <= 0.05"
_OPTIMALITY_EXAMPLE = "optimality_probability(at = pressed, actions = [disable_switch]) <= 0.5"
Value = bool | int | Fraction
_Checked = TypeVar("_Checked")


def typecheck(module: S.Module, source: Source,
              overrides: Mapping[str, object] | None = None, world: str | None = None) -> T.Spec:
    """Resolve, type and expand ``module``; ``overrides`` replace const and param values (``-D``).

    ``world`` names the scenario the spec is loaded as (None: the spec's own world): the actions, events and
    policies declared only in other scenarios are checked, then left out of the spec.

    Raises
    ------
    SpecTypeError
        With every problem found, in source order.
    """
    return _Checker(module, source, dict(overrides or {}), world).run()


OUTSIDE = "outside"  # the value of a map's cells beyond its drawing
STEP_NAME = "step"  # with a horizon: the steps taken so far, in checks and policies (mdp.horizon's counter)
NEAREST_METRICS = ("l1", "l2", "max")  # `default nearest by METRIC`: cKDTree's p = 1, 2, inf
UNTRAINED_NAME = "untrained"  # in checks under an agent: the states its critic was not trained on
ANY_WORLD = "*"  # what an expression is checked for when it may hold in any world (a cost term, a formula)
_NEXT_STATE_HINT = ("values after the step (`x'`) belong in cost and intent terms, where the compiler takes their "
                    "expectation over the successors")

@dataclass(frozen=True)
class _Scope:
    """Where an expression stands: what it may mention, and how to name the place in messages."""

    where: str  # "a guard", "a cost term", ...
    bindings: Mapping[str, T.Literal] = field(default_factory=dict)  # action parameters
    allow_actions: bool = False
    allow_params: bool = False
    allow_next: bool = False  # `x'`, the value after the step
    allow_step: bool = False  # `step`, the steps taken, with a horizon: checks and policies
    allow_penalty: bool = False  # `aup(...)`: cost and intent terms


@dataclass
class _FormulaInfo:
    declaration: S.Formula
    checked: T.Expr | None = None
    done: bool = False
    mentions_actions: bool = False  # an action indicator somewhere in ``checked``
    mentions_params: bool = False  # a param somewhere in ``checked``
    mentions_next: bool = False  # a next-state value `x'` somewhere in ``checked``


@dataclass(frozen=True, slots=True)
class _Measure:
    """A checked expression seen as a tree, with its formulas written out in place."""

    depth: int  # nodes on its longest path, itself and the leaf included
    size: int  # nodes
    magnitude: int  # the largest |value| it can take as an int over the variables' domains (capped)


class _Checker:
    def __init__(self, module: S.Module, source: Source, overrides: dict[str, object], world: str | None) -> None:
        self.module = module
        self.world = world  # the scenario loaded (None: the spec's own world)
        self.only_in: dict[str, tuple[str, ...]] = {}  # action or event declared `in` scenarios -> those scenarios
        self.check_world: str | None = ANY_WORLD  # the world of the check being checked, for the actions it names
        # a policy that takes scenario-only actions -> the scenarios that have them all, and one such action
        self.policy_worlds: dict[str, tuple[frozenset[str], str]] = {}
        self.source = source
        self.overrides = overrides  # consumed as the declarations they set are checked
        self.given_overrides = tuple(overrides.items())  # kept for the spec: its scenarios are loaded with them
        self.diagnostics: list[Diagnostic] = []
        self.declared: dict[str, S.Node] = {}  # every declared name, for duplicates and messages
        self.duplicated: set[str] = set()  # names declared twice: reported once, then looked up silently
        self.rejected: set[str] = set()  # maps and tables whose drawing was reported wrong: used silently
        self.constants: dict[str, T.Constant] = {}
        self.params: dict[str, T.Parameter] = {}
        self.variables: dict[str, T.Variable] = {}
        self.formulas: dict[str, _FormulaInfo] = {}
        self.policies: dict[str, T.Policy] = {}
        self.critics: dict[str, T.Critic] = {}
        self.used_untrained = False  # the check being checked reads `untrained`
        self.starts: tuple[tuple[tuple[int, ...], Fraction], ...] = ()  # `init`, once checked
        self.agents: dict[str, T.Agent] = {}
        self.scenarios: dict[str, T.Scenario] = {}
        self.horizon: int | None = None
        self.formula_actions: dict[str, bool] = {}  # formula -> mentions an action, as written (_mentions_actions)
        self.measures: dict[int, tuple[T.Expr, _Measure]] = {}  # by id; the node is kept so the id stays its own
        self.enum_types: dict[str, list[Type]] = {}  # enum value name -> types it belongs to
        self.actions: dict[str, list[T.Action]] = {}  # base name -> expansions
        self.action_params: dict[str, tuple[S.ActionParam, ...]] = {}
        self.cost_names: list[str] = []
        self.cost_terms: list[T.Term] | None = []  # once checked (None: one failed); checks name those reading a sensor
        self.intent_names: list[str] = []
        self.checked: set[str] = set()  # constants, params and variables whose declaration was checked
        self.made_real: dict[str, Value] = {}  # int constants a -D override made real: name -> override
        self.made_real_uses: list[tuple[Span, str]] = []  # where they are used, to explain int type errors
        self.n_actions = 0  # expanded actions so far, held below MAX_ACTIONS
        self.n_unknown = 0  # unknown names reported so far
        self.maps: dict[str, tuple[tuple[tuple[int, ...], ...], T.Type]] = {}  # map -> (tile codes, tile type)
        self.tables: dict[str, tuple[tuple[tuple[T.Number, ...], ...], T.Type]] = {}  # table -> (numbers, type)

    # --- driver --------------------------------------------------------------------------------

    def run(self) -> T.Spec:
        declarations = self._declare_names(self.module.declarations)
        for declaration in declarations:  # constants, params and variables first: everything uses them
            if isinstance(declaration, S.Const):
                self._const(declaration)
            elif isinstance(declaration, S.Param):
                self._param(declaration)
            elif isinstance(declaration, S.Var):
                self._var(declaration)
            elif isinstance(declaration, (S.Map, S.Table)):
                self._map(declaration) if isinstance(declaration, S.Map) else self._table(declaration)
                if declaration.name.text not in self.maps and declaration.name.text not in self.tables:
                    self.rejected.add(declaration.name.text)
            if isinstance(declaration, (S.Const, S.Param, S.Var)):
                self.checked.add(declaration.name.text)
        self._unused_overrides()
        discount = self._discount([d for d in declarations if isinstance(d, S.Discount)])
        horizons = [d for d in declarations if isinstance(d, S.Horizon)]
        horizon = self.horizon = self._horizon(horizons)
        for declaration in declarations:  # actions before formulas, terms and checks, which may refer to them
            if isinstance(declaration, S.Action) and self._only_in(declaration):
                self._action(declaration)  # checks the formulas it uses, which cannot mention actions
        for declaration in declarations:
            if isinstance(declaration, S.Formula):
                self._formula(declaration.name.text)
        events: list[T.Event | None] = []
        costs: list[T.Term | None] = []
        intents: list[T.Term | None] = []
        terminals: list[T.Expr | None] = []
        checks: list[T.Check | None] = []
        for declaration in declarations:
            if isinstance(declaration, S.Event):
                events.append(self._event(declaration) if self._only_in(declaration) else None)
            elif isinstance(declaration, S.Terminal):
                terminals.append(self._expr(declaration.condition, _Scope("a terminal condition"), BOOL))
            elif isinstance(declaration, S.Term):
                term = self._term(declaration)
                (costs if declaration.kind == "cost" else intents).append(term)
        self.cost_terms = None if None in costs else [term for term in costs if term is not None]
        policies = [self._policy(d) for d in declarations if isinstance(d, S.Policy)]
        starts = self.starts = self._init([d for d in declarations if isinstance(d, S.Init)])
        critics = [self._critic(d) for d in declarations if isinstance(d, S.Critic)]
        agents = [self._agent(d) for d in declarations if isinstance(d, S.Agent)]
        scenarios = [self._scenario(d) for d in declarations if isinstance(d, S.Scenario)]
        for declaration in declarations:
            if isinstance(declaration, S.Check):
                scenario = declaration.scenario
                self.check_world = None if scenario is None else scenario.text if isinstance(
                    self.declared.get(scenario.text), S.Scenario) else ANY_WORLD  # (an unknown one is reported)
                checks.append(self._check(declaration))
                self.check_world = ANY_WORLD
        if not self.actions and not self.diagnostics:
            self._error("the spec declares no action", self.module.header.name.span,
                        hint="add at least one, e.g. `action wait: skip`")
        elif all(name in self.only_in for name in self.actions) and not self.diagnostics:
            self._error("every action is declared only in some scenarios, so the spec's own world has none",
                        self.module.header.name.span, hint="declare at least one action without `in`, e.g. "
                                                           "`action wait: skip`")
        if self.diagnostics:
            unique = {(d.span.line if d.span else 0, d.span.column if d.span else 0, d.message): d
                      for d in self.diagnostics}
            raise SpecTypeError([unique[k] for k in sorted(unique)], self.source)
        terminal = self._any_of(list(_checked(terminals)))
        return T.Spec(
            name=self.module.header.name.text,
            doc=self.module.header.doc,
            source=self.source,
            discount=discount,
            constants=tuple(self.constants.values()),
            params=tuple(self.params.values()),
            variables=tuple(self.variables.values()),
            formulas=tuple(T.Formula(name, info.checked, info.declaration.span)
                           for name, info in self.formulas.items() if info.checked is not None),
            actions=tuple(a for name, expansions in self.actions.items() if self._exists_in(name, self.world)
                    for a in expansions),
            events=tuple(e for e in _checked(events) if self._exists_in(e.name, self.world)),
            terminal=terminal,
            costs=_checked(costs),
            intents=_checked(intents),
            checks=_checked(checks),
            discount_span=next(d.value.span for d in declarations if isinstance(d, S.Discount)),
            policies=tuple(p for p in _checked(policies)
                           if p.name not in self.policy_worlds or self.world in self.policy_worlds[p.name][0]),
            critics=_checked(critics),
            starts=starts,
            agents=_checked(agents),
            horizon=horizon,
            horizon_span=horizons[0].value.span if horizons else None,
            scenarios=_checked(scenarios),
            overrides=self.given_overrides,
            world=self.world,
        )

    def _only_in(self, declaration: S.Action | S.Event) -> bool:
        """``in SCENARIO, ...`` of an action or event: each a declared scenario, named once (False: in error,
        reported; the action stays declared, so its uses are silent)."""
        names: list[str] = []
        for ident in declaration.only_in:
            if not isinstance(self.declared.get(ident.text), S.Scenario):
                scenarios = [n for n, d in self.declared.items() if isinstance(d, S.Scenario)]
                self._unknown(ident.text, ident.span, scenarios, "scenario")
            elif ident.text in names:
                self._error(f"{_kind(declaration)} '{declaration.name}' names the scenario '{ident.text}' twice",
                            ident.span, hint="name each scenario once")
            else:
                names.append(ident.text)
                continue
            if isinstance(declaration, S.Action):
                self.action_params[declaration.name.text] = declaration.params
            return False
        if names:
            self.only_in[declaration.name.text] = tuple(names)
        return True

    def _any_of(self, conditions: list[T.Expr]) -> T.Expr | None:
        """The conditions or-ed as a balanced tree: a thousand `terminal` lines nest only ten levels deep."""
        while len(conditions) > 1:
            paired = [self._fold(T.Binary("||", a, b, BOOL, b.span)) for a, b in zip(conditions[::2], conditions[1::2])]
            conditions = [c for c in paired if c is not None] + conditions[2 * len(paired):]
        return conditions[0] if conditions else None

    def _error(self, message: str, span: Span | None, hint: str | None = None,
               notes: tuple[str, ...] = ()) -> None:
        self.diagnostics.append(Diagnostic(message, span, hint, notes))

    # --- names ---------------------------------------------------------------------------------

    def _declare_names(self, declarations: tuple[S.Declaration, ...]) -> list[S.Declaration]:
        """The declarations to check: a duplicate is reported here and dropped, so the first one stays in scope."""
        kept = []
        for declaration in declarations:
            name = getattr(declaration, "name", None)
            if name is None:
                kept.append(declaration)
                continue
            previous = self.declared.get(name.text)
            if previous is not None:
                where = "" if previous.span is None else f" at line {previous.span.line}" \
                    if name.span is not None and previous.span.path == name.span.path else f" at {previous.span}"
                if isinstance(declaration, (S.Action, S.Event)) and isinstance(previous, (S.Action, S.Event)) and (
                        declaration.only_in or previous.only_in):
                    self._error(f"'{name.text}' is already declared{where}: an action or event declared `in` a "
                                "scenario needs a name of its own", name.span,
                                hint="rename one; to change what an action does in a scenario, guard its branches "
                                     "with a const the scenario sets")
                else:
                    self._error(f"'{name.text}' is already declared{where}", name.span,
                                hint="give each declaration its own name")
                self.duplicated.add(name.text)
                continue
            kept.append(declaration)
            self.declared[name.text] = declaration
            if isinstance(declaration, S.Formula):
                self.formulas[name.text] = _FormulaInfo(declaration)
            if isinstance(declaration, S.Term):
                (self.cost_names if declaration.kind == "cost" else self.intent_names).append(name.text)
        return kept

    def _candidates(self, scope: _Scope) -> list[str]:
        names = list(scope.bindings) + list(self.constants) + list(self.variables) + list(self.formulas)
        names += list(self.enum_types)
        if scope.allow_params:
            names += list(self.params)
        return names

    def _unknown(self, name: str, span: Span | None, candidates: list[str], what: str = "name") -> None:
        if name in self.duplicated or name in self.rejected:  # already reported at its declaration
            return
        self.n_unknown += 1
        # each suggestion compares the name with every candidate: the first hundred are enough for a person
        close = get_close_matches(name, candidates, n=1, cutoff=0.6) if self.n_unknown <= _SUGGESTIONS else []
        self._error(f"unknown {what} '{name}'", span, hint=f"did you mean '{close[0]}'?" if close else None)

    # --- constants, params, variables ----------------------------------------------------------

    def _constant_value(self, node: S.Expr, what: str, expected: Type | None = None) -> T.Literal | None:
        """Check ``node`` as an expression that must be known before the model is built."""
        checked = self._expr(node, _Scope(what), expected)
        if checked is None:
            return None
        if not isinstance(checked, T.Literal):
            self._error(f"{what} must be a constant, but it depends on the state", node.span,
                        hint="use numbers, constants and arithmetic only")
            return None
        return checked

    def _override(self, name: str, span: Span | None) -> Value | None:
        """The value of ``-D name=VALUE`` (None when there is none, or after an error located at ``span``).

        VALUE is ``true``, ``false``, or a number as the language writes it or a fraction ``n/d``, with an
        optional sign; its size is checked before it is built (``1e99999999`` must not build 10**99999999).
        From Python, a bool, int, Fraction or finite float is taken as it is, if the model can hold it.
        """
        if name not in self.overrides:
            return None
        raw = self.overrides.pop(name)
        if isinstance(raw, bool):
            return raw
        try:
            text = str(raw).strip()
        except ValueError:  # an int from Python too long to print
            text = "…"
        if text in ("true", "false"):
            return text == "true"
        try:
            if isinstance(raw, (int, Fraction)) or (isinstance(raw, float) and math.isfinite(raw)):
                value: int | Fraction = Fraction(raw) if isinstance(raw, float) else raw
            else:
                unsigned = text[1:] if text[:1] in "+-" else text
                fraction = _FRACTION.fullmatch(unsigned)  # exact, such as 1/3; a real, as `/` makes in a spec
                value = Fraction(int(fraction[1]), int(fraction[2])) if fraction else read_number(unsigned)
                value = -value if text.startswith("-") else value
            problem = fit_problem(value, is_int=isinstance(value, int))
            if problem is not None:
                raise problem
        except NumberError as error:
            self._error(f"-D {name}={shorten(text)}: the value {error.what}", span, hint=error.hint)
            return None
        except (ValueError, ZeroDivisionError):
            self._error(f"-D {name}={shorten(text)}: '{shorten(text)}' is not a number or a bool", span,
                        hint=f"write e.g. -D {name}=3, -D {name}=-0.5 or -D {name}=true")
            return None
        return value

    def _made_real_hint(self, span: Span | None) -> str | None:
        """Why a number inside ``span`` is real where an int is needed, when a -D override made it so."""
        for use, name in self.made_real_uses:
            if span is not None and (span.line, span.column) <= (use.line, use.column) and (
                    use.end_line, use.end_column) <= (span.end_line, span.end_column):
                return (f"-D {name}={_show(self.made_real[name])} made the int constant '{name}' real; "
                        f"override it with a whole number")
        return None

    def _unused_overrides(self) -> None:
        for name in list(self.overrides):
            known = list(self.constants) + list(self.params)
            close = get_close_matches(name, known, n=1, cutoff=0.6)
            kind = "a variable" if name in self.variables else "not a constant or param of this spec"
            self._error(f"-D {name}=...: '{name}' is {kind}", None,
                        hint=f"did you mean '{close[0]}'?" if close else
                        ("-D overrides `const` and `param` declarations"
                         + (f"; this spec has {', '.join(known)}" if known else "")))
        self.overrides.clear()

    def _const(self, declaration: S.Const) -> None:
        literal = self._constant_value(declaration.value, f"constant '{declaration.name}'")
        if literal is None:
            return
        value, type_ = literal.value, literal.type
        override = self._override(declaration.name.text, declaration.name.span)
        if override is not None:
            if type_.kind == "enum" or isinstance(value, bool) != isinstance(override, bool):
                self._error(f"-D {declaration.name}={_show(override)}: constant '{declaration.name}' is "
                            f"of type {type_}", declaration.name.span,
                            hint="-D gives numbers and bools; an enum constant cannot be overridden"
                            if type_.kind == "enum" else f"give a value of type {type_}")
                return
            if type_ == INT and not isinstance(override, int):  # the constant takes the override's type
                type_ = REAL
                self.made_real[declaration.name.text] = override
            value = override if type_ != REAL else Fraction(override)
        self.constants[declaration.name.text] = T.Constant(declaration.name.text, value, type_, declaration.span)

    def _param(self, declaration: S.Param) -> None:
        name = declaration.name.text
        parts = [self._constant_value(node, f"the {what} of param '{name}'", REAL)
                 for node, what in ((declaration.value, "value"), (declaration.lo, "lower end"),
                                    (declaration.hi, "upper end"))]
        if any(p is None for p in parts):
            return
        value, lo, hi = (Fraction(p.value) for p in parts if p is not None)
        override = self._override(name, declaration.name.span)
        if isinstance(override, bool):
            self._error(f"-D {name}={_show(override)}: param '{name}' is a number", declaration.name.span,
                        hint=f"give a number in its range [{_show(lo)}, {_show(hi)}]")
            return
        if override is not None:
            value = Fraction(override)
        if lo > hi:
            self._error(f"param '{name}' has an empty range [{_show(lo)}, {_show(hi)}]", declaration.lo.span,
                        hint="write the lower end first")
            return
        if not lo <= value <= hi:
            span = declaration.name.span if override is not None else declaration.value.span
            self._error(f"param '{name}' = {_show(value)} lies outside its range [{_show(lo)}, {_show(hi)}]",
                        span, hint="choose a value inside the range, or widen the range")
            return
        self.params[name] = T.Parameter(name, value, lo, hi, declaration.span)

    def _domain(self, node: S.Domain, owner: str) -> T.Domain | None:
        if isinstance(node, S.BoolDomain):
            return T.BoolDomain()
        if isinstance(node, S.EnumDomain):
            values = [v.text for v in node.values]
            seen: set[str] = set()
            for value in node.values:
                if value.text in seen:
                    self._error(f"'{value}' appears twice in the values of {owner}", value.span)
                    return None
                seen.add(value.text)
                if value.text in self.declared:
                    self._error(f"enum value '{value}' has the name of a declared "
                                f"{_kind(self.declared[value.text])}", value.span,
                                hint="rename one of them: in expressions the two could not be told apart")
                    return None
            return T.EnumDomain(tuple(values))
        if isinstance(node, S.DomainOf):
            variable = self.variables.get(node.variable.text)
            if variable is None:
                self._unknown(node.variable.text, node.variable.span, list(self.variables), "variable")
                return None
            return variable.domain
        lo = self._constant_value(node.lo, f"the lower bound of {owner}", INT)
        hi = self._constant_value(node.hi, f"the upper bound of {owner}", INT)
        if lo is None or hi is None:
            return None
        for end in (lo, hi):
            if end.type != INT:
                self._error(f"the bounds of {owner} must be integers, found {_show(end.value)}", end.span,
                            hint=self._made_real_hint(end.span))
                return None
        if lo.value > hi.value:
            self._error(f"{owner} has an empty range {lo.value}..{hi.value}", node.span,
                        hint="write the smaller bound first")
            return None
        return T.IntDomain(int(lo.value), int(hi.value))

    def _var(self, declaration: S.Var) -> None:
        name = declaration.name.text
        domain = self._domain(declaration.domain, f"variable '{name}'")
        if domain is None:
            return
        if isinstance(domain, T.EnumDomain):
            enum = domain.type
            for value in domain.values:
                types = self.enum_types.setdefault(value, [])
                if enum not in types:
                    types.append(enum)
        initial = domain.lo
        if declaration.initial is not None:
            written = self._constant_value(declaration.initial, f"the initial value of '{name}'", domain.type)
            literal = (self._coerce(written, domain.type, declaration.initial.span, f"'{name}'")
                       if written is not None else None)
            if not isinstance(literal, T.Literal):
                return
            initial = int(literal.value)
            if not domain.contains(initial):
                self._error(f"the initial value {_show(literal.value)} of '{name}' is outside its domain {domain}",
                            declaration.initial.span, hint=f"choose a value in {domain}")
                return
        self.variables[name] = T.Variable(name, domain, initial, declaration.span)

    def _map(self, declaration: S.Map) -> None:
        """A map drawn as text: its rows (dedented, the blank first and last lines dropped, padded with spaces
        to the longest) and the enum of its characters, then ``outside``."""
        name = declaration.name.text
        if "\t" in declaration.art:
            self._error(f"map '{name}' contains a tab, whose width is ambiguous", declaration.art_span,
                        hint="draw maps with spaces")
            return
        rows = textwrap.dedent(declaration.art).split("\n")
        while rows and not rows[0].strip():
            rows = rows[1:]
        while rows and not rows[-1].strip():
            rows = rows[:-1]
        if not rows:
            self._error(f"map '{name}' is empty", declaration.art_span, hint='draw it between """ and """, one line a row')
            return
        width = max(len(row) for row in rows)
        characters = list(dict.fromkeys("".join(row.ljust(width) for row in rows)))
        type_ = T.Type("enum", (*characters, OUTSIDE))
        tiles = tuple(tuple(characters.index(ch) for ch in row.ljust(width)) for row in rows)
        self.maps[name] = (tiles, type_)

    def _table(self, declaration: S.Table) -> None:
        """A table of numbers drawn as text: ``int`` when every entry is whole, else ``real``; its rows of one
        length; each entry a number as the language writes them, with an optional sign and ``/``."""
        name = declaration.name.text
        if not declaration.rows:
            self._error(f"table '{name}' is empty", declaration.text_span,
                        hint='write its numbers between """ and """, one line a row, separated by spaces')
            return
        rows: list[tuple[T.Number, ...]] = []
        for entries in declaration.rows:
            numbers = []
            for text, span in entries:
                number = self._table_entry(f"table '{name}'", text, span)
                if number is None:
                    return
                numbers.append(number)
            rows.append(tuple(numbers))
        width = len(rows[0])
        for numbers_of_row, entries in zip(rows[1:], declaration.rows[1:]):
            if len(numbers_of_row) != width:
                span = entries[min(width, len(entries) - 1)][1]
                self._error(f"table '{name}' has rows of {width} numbers and of {len(numbers_of_row)}", span,
                            hint="give every row the same number of entries")
                return
        whole = all(isinstance(x, int) for row in rows for x in row)
        self.tables[name] = (tuple(rows), INT if whole else REAL)

    def _table_entry(self, where: str, text: str, span: Span) -> T.Number | None:
        """One entry of a table (``where``: "table 'penalty'"): ``-3``, ``0.25``, ``1e-3`` or ``2/3``, exactly;
        else a located error."""
        sign, number, denominator = _TABLE_ENTRY.fullmatch(text).groups()  # type: ignore[union-attr]
        try:
            value: T.Number = read_number(number)
            if denominator is not None:
                divisor = read_number(denominator)
                if divisor == 0:
                    self._error(f"'{text}' in {where} divides by zero", span, hint="write a number")
                    return None
                value = Fraction(value) / divisor
                value = int(value) if value.denominator == 1 else value
        except NumberError as error:
            self._error(f"'{shorten(text)}' {error.what}", span, hint=error.hint)
            return None
        except ValueError:
            self._error(f"'{shorten(text)}' in {where} is not a number", span,
                        hint="write a number such as 3, -0.5, 1e-3 or 2/3")
            return None
        value = -value if sign == "-" else value
        problem = fit_problem(value, isinstance(value, int))
        if problem is not None:
            self._error(f"'{shorten(text)}' {problem.what}", span, hint=problem.hint)
            return None
        return value

    def _map_cell(self, node: S.MapCellRef, scope: _Scope) -> T.Expr | None:
        """``level@(r, c)`` of a map or a table: whole numbers, row then column; ``bonus@(i)``: the column
        of a table of one row."""
        name = node.name.text
        is_table = name in self.tables
        what = "table" if is_table else "map"
        if node.col is None:
            if not is_table or len(self.tables[name][0]) != 1:
                rows = len(self.tables[name][0]) if is_table else len(self.maps[name][0])
                self._error(f"{what} '{name}' has {rows} rows: read it with a row and a column", node.span,
                            hint=f"write `{name}@(row, column)`, both counted from 0")
                return None
        parts = [part for part in (node.row, node.col) if part is not None]
        checked = [self._expr(part, scope, INT) for part in parts]
        indices: list[T.Expr] = []
        for index, part in zip(checked, parts):
            if index is None:
                return None
            if index.type != INT:
                self._error(f"a row or column of {what} '{name}' is a whole number, found {index.type}", part.span)
                return None
            indices.append(index)
        if not is_table:
            tiles, map_type = self.maps[name]
            return T.MapCell(name, tiles, indices[0], indices[1], map_type, node.span)
        values, type_ = self.tables[name]
        sizes = (len(values), len(values[0]))[-len(indices):]
        for index, part, size, kind in zip(indices, parts, sizes, ("rows", "columns")[-len(indices):]):
            if isinstance(index, T.Literal) and not 0 <= int(index.value) < size:
                self._error(f"table '{name}' has {kind} 0..{size - 1}, not {index.value}", part.span,
                            hint="rows and columns are counted from 0")
                return None
        row = indices[0] if len(indices) == 2 else None
        return T.TableCell(name, values, row, indices[-1], type_, node.span)

    def _horizon(self, declarations: list[S.Horizon]) -> int | None:
        """``horizon H``: a whole number of steps, at least 1 (at most one declaration)."""
        if not declarations:
            return None
        for extra in declarations[1:]:
            self._error("`horizon` is declared twice", extra.span, hint="keep one")
        literal = self._constant_value(declarations[0].value, "the horizon", INT)
        if literal is None:
            return None
        if literal.type != INT or not 1 <= literal.value <= MAX_HORIZON:
            self._error(f"the horizon must be a whole number of steps from 1 to {MAX_HORIZON:,}, found "
                        f"{_show(literal.value)}", declarations[0].value.span,
                        hint="`horizon 100`: episodes of 100 steps")
            return None
        return int(literal.value)

    def _discount(self, declarations: list[S.Discount]) -> Fraction:
        if not declarations:
            self._error("the spec has no `discount`", self.module.header.name.span,
                        hint="add `discount 0.95` (future costs count less) or `discount 1` (total cost "
                             "until a terminal state)")
            return Fraction(1)
        for extra in declarations[1:]:
            self._error("`discount` is declared twice", extra.span, hint="keep one")
        literal = self._constant_value(declarations[0].value, "the discount", REAL)
        if literal is None:
            return Fraction(1)
        value = Fraction(literal.value) if not isinstance(literal.value, bool) else None
        if value is None or not 0 < value <= 1:
            self._error(f"the discount must lie in (0, 1], found {_show(literal.value)}", declarations[0].value.span,
                        hint="0.95 weighs a cost 20 steps ahead at about a third; 1 sums costs until a terminal")
            return Fraction(1)
        if value < 1 and float(value) == 1:  # the solver would silently treat it as a discount of 1
            self._error(f"the discount '{self._text(declarations[0].value.span)}' is below 1 but rounds to 1 in "
                        "64-bit floats", declarations[0].value.span,
                        hint="write 0.9999999999999999, the largest 64-bit float below 1, or 1 for the total cost "
                             "until a terminal state")
            return Fraction(1)
        return value

    # --- formulas, actions, events, terms ------------------------------------------------------

    def _formula(self, name: str) -> _FormulaInfo:
        """The checked formula ``name``, checking first, in order, every unchecked formula it uses.

        The formulas are ordered so that each is checked after the formulas it uses: checking one
        never recurses into another, and a chain of thousands of formulas stays flat. A cycle is
        reported at the formula it returns to, which then counts as failed.
        """
        if not self.formulas[name].done:
            for unchecked in self._formulas_below(name):
                if not self.formulas[unchecked].done:
                    self._check_formula(self.formulas[unchecked])
        return self.formulas[name]

    def _formulas_below(self, name: str) -> list[str]:
        """``name`` and the unchecked formulas it uses, directly or not, each after those it uses."""
        order: list[str] = []
        on_path: dict[str, int] = {name: 0}  # the formulas being ordered, by their place on the path
        uses = [iter(self._uses(name))]
        seen = {name}
        while uses:
            used = next(uses[-1], None)
            if used is None:
                order.append(on_path.popitem()[0])  # the last formula on the path: all it uses are done
                uses.pop()
            elif used in on_path:
                cycle = list(on_path)[on_path[used]:] + [used]
                if len(cycle) > 8:  # name the start and the end of a long cycle
                    cycle = cycle[:3] + [f"... {len(cycle) - 6} more ..."] + cycle[-3:]
                info = self.formulas[used]
                self._error(f"formula '{used}' is defined in terms of itself ({' -> '.join(cycle)})",
                            info.declaration.name.span)
                info.done = True  # failed: its uses stay silent
            elif used not in seen and not self.formulas[used].done:
                seen.add(used)
                on_path[used] = len(on_path)
                uses.append(iter(self._uses(used)))
        return order

    def _uses(self, name: str) -> list[str]:
        """The formulas that formula ``name`` mentions, in source order."""
        value = self.formulas[name].declaration.value
        return [node.name for node in S.walk(value) if isinstance(node, S.Name) and node.name in self.formulas]

    def _mentions_actions(self, name: str) -> bool:
        """Whether formula ``name`` has an action indicator, directly or through the formulas it uses, as
        written: known before any action is checked, so an action's guard can refuse it unchecked."""
        known = self.formula_actions.get(name)
        if known is None:
            known = False
            seen, todo = {name}, [name]
            while todo and not known:
                for node in S.walk(self.formulas[todo.pop()].declaration.value):
                    if isinstance(node, S.ActionSet):
                        known = True
                        break
                    if isinstance(node, S.Name) and node.name in self.formulas and node.name not in seen:
                        seen.add(node.name)
                        todo.append(node.name)
            self.formula_actions[name] = known
        return known

    def _check_formula(self, info: _FormulaInfo) -> None:
        name = info.declaration.name.text
        scope = _Scope(f"{'label' if info.declaration.is_label else 'formula'} '{name}'",
                       allow_actions=True, allow_params=True, allow_next=True)
        checked = self._expr(info.declaration.value, scope)
        if checked is not None and info.declaration.is_label and checked.type != BOOL:
            self._error(f"label '{name}' must be a condition, found {checked.type}", info.declaration.value.span,
                        hint="a label names a set of states; use `formula` for a number")
            checked = None
        info.checked, info.done = checked, True
        if checked is not None:
            mentions = list(checked.traverse())
            info.mentions_actions = any(isinstance(node, T.ActionIs) for node in mentions)
            info.mentions_params = any(isinstance(node, T.ParamRef) for node in mentions)
            info.mentions_next = any(isinstance(node, T.VarRef) and node.next for node in mentions)

    def _action(self, declaration: S.Action) -> None:
        name = declaration.name.text
        domains: list[tuple[str, T.Domain]] = []
        for param in declaration.params:
            domain = self._domain(param.domain, f"parameter '{param.name}' of action '{name}'")
            if domain is None:
                return
            if param.name.text in self.declared or param.name.text in [n for n, _ in domains]:
                self._error(f"action parameter '{param.name}' hides another name", param.name.span,
                            hint="give the parameter a name of its own")
                return
            domains.append((param.name.text, domain))
        self.action_params[name] = declaration.params
        if not self._may_expand(declaration, [d for _, d in domains]):
            return
        expansions = []
        for codes in itertools.product(*(range(d.lo, d.hi + 1) for _, d in domains)):
            bindings = {p: T.Literal(_literal_value(d, c), d.type, declaration.span)
                        for (p, d), c in zip(domains, codes)}
            label = name + (f"({', '.join(d.decode(c) for (_, d), c in zip(domains, codes))})" if domains else "")
            guard = (self._expr(declaration.guard, _Scope("a guard", bindings), BOOL)
                     if declaration.guard is not None else T.Literal(True, BOOL))
            branches = self._branches(declaration.branches, bindings, f"action '{label}'", exact_sum=True)
            if guard is None or branches is None:
                continue
            expansions.append(T.Action(label, name, guard, branches, declaration.span,
                                       declaration.guard.span if declaration.guard is not None else None))
        self.actions[name] = expansions

    def _may_expand(self, declaration: S.Action, domains: list[T.Domain]) -> bool:
        """Whether the spec stays within ``MAX_ACTIONS`` once this action is expanded, decided before expanding."""
        count = math.prod(d.size for d in domains)
        if self.n_actions + count <= MAX_ACTIONS:
            self.n_actions += count
            return True
        span = declaration.name.span
        if declaration.params and declaration.params[0].span and declaration.params[-1].span:
            first, last = declaration.params[0].span, declaration.params[-1].span
            span = Span(first.path, first.line, first.column, last.end_line, last.end_column)
        total = f", {self.n_actions + count:,} with the actions declared before it," if self.n_actions else ","
        self._error(f"action '{declaration.name}' expands to {count:,} action{'s' if count > 1 else ''}{total} "
                    f"more than the {MAX_ACTIONS:,} corrigo builds", span,
                    notes=tuple(f"'{param.name}' takes {domain.size:,} values ({domain})"
                                for param, domain in zip(declaration.params, domains)),
                    hint="each combination of parameter values is one action: shrink the parameters' domains, or "
                         "make the value a variable that an action sets")
        return False

    def _event(self, declaration: S.Event) -> T.Event | None:
        guard = (self._expr(declaration.guard, _Scope("an event guard"), BOOL)
                 if declaration.guard is not None else T.Literal(True, BOOL))
        branches = self._branches(declaration.branches, {}, f"event '{declaration.name}'", exact_sum=False)
        if guard is None or branches is None:
            return None
        return T.Event(declaration.name.text, guard, branches, declaration.span)

    def _branches(self, nodes: tuple[S.Branch, ...], bindings: Mapping[str, T.Literal], owner: str,
                  exact_sum: bool) -> tuple[T.Branch, ...] | None:
        branches, total, all_constant, ok = [], Fraction(0), True, True
        for node in nodes:
            if node.probability is None:
                probability: T.Expr | None = T.Literal(1, INT, node.span)
            else:
                probability = self._expr(node.probability, _Scope("a probability", bindings), REAL)
                if probability is not None and not probability.type.is_numeric:
                    self._error(f"a probability must be a number, found {probability.type}",
                                node.probability.span)
                    probability = None
            if isinstance(probability, T.Literal):
                if not 0 <= probability.value <= 1:
                    self._error(f"probability {_show(probability.value)} of {owner} is outside [0, 1]",
                                node.probability.span if node.probability else node.span)
                    ok = False
                total += Fraction(probability.value)
            else:
                all_constant = False
            updates = self._updates(node.updates, bindings, owner)
            if probability is None or updates is None:
                ok = False
                continue
            branches.append(T.Branch(probability, updates, node.span))
        if ok and all_constant and (total != 1 if exact_sum else total > 1):
            span = nodes[0].span
            if span is not None and nodes[-1].span is not None:
                span = Span(span.path, span.line, span.column, nodes[-1].span.end_line, nodes[-1].span.end_column)
            expected = "sum to 1" if exact_sum else "sum to at most 1"
            self._error(f"the branch probabilities of {owner} sum to {_show(total)}, they must {expected}",
                        span, hint="adjust the probabilities" + (
                            "; an event's missing mass means nothing happens" if not exact_sum else
                            "; write the remaining case as a `skip` branch"))
            ok = False
        return tuple(branches) if ok else None

    def _updates(self, nodes: tuple[S.Update, ...], bindings: Mapping[str, T.Literal],
                 owner: str) -> tuple[T.Update, ...] | None:
        updates, seen, ok = [], set(), True
        names = list(self.variables)
        for node in nodes:
            target = node.target.text
            variable = self.variables.get(target)
            if variable is None:
                if isinstance(self.declared.get(target), S.Var):
                    ok = False  # its declaration failed to check and was reported there
                    continue
                if target in self.declared and target not in self.duplicated:
                    self._error(f"'{target}' is {_a(_kind(self.declared[target]))}, only variables can be updated",
                                node.target.span)
                else:
                    self._unknown(target, node.target.span, names, "variable")
                ok = False
                continue
            if target in seen:
                self._error(f"'{target}' is updated twice in one outcome of {owner}", node.target.span,
                            hint="updates are simultaneous: give each variable one new value")
                ok = False
                continue
            seen.add(target)
            value = self._expr(node.value, _Scope("an update", bindings), variable.domain.type)
            if value is None:
                ok = False
                continue
            value = self._coerce(value, variable.domain.type, node.value.span, f"'{target}'")
            if value is None:
                ok = False
                continue
            if isinstance(value, T.Literal) and not variable.domain.contains(int(value.value)):
                self._error(f"{owner} sets '{target}' to {_show_literal(value)}, outside its domain "
                            f"{variable.domain}", node.value.span, hint="keep the value in range, e.g. with min/max")
                ok = False
                continue
            updates.append(T.Update(list(self.variables).index(target), value, node.span))
        return tuple(updates) if ok else None

    def _term(self, declaration: S.Term) -> T.Term | None:
        what = "a cost term" if declaration.kind == "cost" else "an intent term"
        expr = self._expr(declaration.value, _Scope(what, allow_actions=True, allow_params=True, allow_next=True,
                                                    allow_penalty=True))
        if expr is None:
            return None
        if expr.type == BOOL:  # a condition counts 1 where it holds
            expr = T.Binary("*", T.Literal(1, INT), expr, INT, expr.span)
        if not expr.type.is_numeric:
            self._error(f"{what} must be a number, found {expr.type}", declaration.value.span)
            return None
        if not self._is_linear(expr, declaration.value.span):
            return None
        return T.Term(declaration.name.text, expr, declaration.span)

    def _is_linear(self, expr: T.Expr, span: Span | None) -> bool:
        """Params must enter costs linearly, so that values are linear in the weights (corrigo sweep); an
        ``aup(...)`` penalty, computed after the transitions, must enter affinely too, and once."""
        if not is_affine_in_params(expr):
            param = next(n for n in expr.traverse() if isinstance(n, T.ParamRef))
            self._error(f"param '{param.name}' must enter this term linearly", param.span or span,
                        hint="write terms as weight * feature, e.g. `w_hunger * (battery <= 1)`; "
                             "a param cannot be multiplied by a param, divide, or sit inside min/max/abs "
                             "or a condition")
            return False
        penalties = [n for n in expr.traverse() if isinstance(n, T.AttainableUtility)]
        if len(penalties) > 1:
            self._error("a term can hold one aup(...) penalty", penalties[1].span or span,
                        hint="give each penalty a `cost` term of its own")
            return False
        if penalties and _degree(expr, lambda node: isinstance(node, T.AttainableUtility)) is None:
            self._error("aup(...) must enter this term linearly", penalties[0].span or span,
                        hint="write the term as weight * aup(...), e.g. `LAMBDA * aup(noop = [wait], box_free)`; "
                             "the penalty cannot divide, or sit inside min/max/abs or a condition")
            return False
        return True

    # --- checks --------------------------------------------------------------------------------

    def _check(self, declaration: S.Check) -> T.Check | None:
        self.used_untrained = False
        prop = declaration.property
        state = _Scope("a check", allow_step=True)
        with_actions = _Scope("a check", allow_actions=True, allow_step=True)
        kind: T.CheckKind | None = None
        if isinstance(prop, (S.Never, S.Always)):
            condition = self._expr(prop.condition, with_actions, BOOL)
            if condition is not None:
                kind = T.NeverCheck(condition) if isinstance(prop, S.Never) else T.AlwaysCheck(condition)
        elif isinstance(prop, S.Probability):
            bound = self._bound(prop.bound, "a probability bound", probability=True)
            path = self._path(prop.path, state)
            if bound is not None and path is not None:
                kind = T.ProbabilityBound(T.Comparison(prop.op), bound, path)
        elif isinstance(prop, S.CostBound):
            bound = self._bound(prop.bound, "a cost bound")
            term = None
            if prop.term is not None:
                term = prop.term.text
                if term not in self.cost_names:
                    if term in self.intent_names and term not in self.duplicated:
                        self._error(f"'{term}' is an intent, not a cost term", prop.term.span,
                                    hint=f"the agent never sees intents; use `regret({term}) <= x` to check it")
                    else:
                        self._unknown(term, prop.term.span, self.cost_names, "cost term")
                    term = None
                    bound = None
            if bound is not None:
                kind = T.CostBound(T.Comparison(prop.op), bound, term)
        else:
            kind = self._named_check(prop, state)
        if kind is not None and self.horizon is not None and \
                isinstance(kind, (T.PowerSeeking, T.OptimalityProbability, T.QuantityComparison)):
            self._error(f"{_power_kind_name(kind)} is defined for the discounted infinite horizon (Turner et al.), "
                        "not for episodes of `horizon` steps", prop.span,
                        hint="drop `horizon` (and use a discount below 1) to check POWER")
            kind = None
        if self.used_untrained and kind is not None and not self._trained_agent(declaration):
            self._error(f"'{UNTRAINED_NAME}' means the states an agent's critic was not trained on: check it under an "
                        "agent whose critic is fitted or read from a file", declaration.name.span,
                        hint=f"write `check {declaration.name} under AGENT : P <= 0.1 [ F {UNTRAINED_NAME} ]`")
            kind = None
        if isinstance(kind, T.PowerSeeking) and len(self.starts) > 1:
            self._error("power_seeking is measured along the trajectories from one initial state; corrigo does not "
                        "average it over an `init` distribution yet", prop.span,
                        hint="compare POWER at given states instead: `power(at = ...) > power(at = ...)`")
            kind = None
        if declaration.for_all_params and not self.params:
            self._error(f"check '{declaration.name}' is for all params, but the spec declares no param",
                        declaration.name.span, hint="declare weights with `param w = 1 in [0, 10]`")
            kind = None
        under = declaration.under
        if under is not None and under.text not in self.policies and under.text not in self.agents:
            if not isinstance(self.declared.get(under.text), (S.Policy, S.Agent)):  # (one in error was reported)
                self._unknown(under.text, under.span, [*self.policies, *self.agents], "policy or agent")
            kind = None
        elif under is not None and declaration.for_all_params and not self._swept_under(declaration, kind):
            kind = None
        elif under is not None and not self._policy_in_check_world(under.text, under.span):
            kind = None
        if isinstance(kind, (T.ExploitsCritic, T.InnerRegret)) and (under is None or under.text in self.policies
                                                                     and isinstance(kind, T.ExploitsCritic)):
            needs = "an agent" if isinstance(kind, T.ExploitsCritic) else "an agent or a policy"
            self._error(f"{'exploits_critic' if isinstance(kind, T.ExploitsCritic) else 'inner_regret'} is about "
                        f"{needs}: check it under one", declaration.name.span,
                        hint=f"write `check {declaration.name} under AGENT : ...`" + (
                            "" if self.agents else "; declare one with `agent NAME plans 3 steps with critic C`"))
            kind = None
        world = self._check_world(declaration)
        if kind is None or world is None:
            return None
        return T.Check(declaration.name.text, kind, self._text(prop.span), declaration.for_all_params,
                       declaration.span, under.text if under is not None else None, *world)

    def _swept_under(self, declaration: S.Check, kind: object) -> bool:
        """``check NAME under AGENT for all params``: the sweep follows the agent's plan (its critic written by hand,
        affine in the params) and decides checks on what it does; not a given policy's costs, nor values."""
        under = declaration.under
        assert under is not None
        name = declaration.name
        agent = self.agents.get(under.text)
        if agent is None:
            self._error(f"check '{name}' is under '{under.text}' and for all params: a given policy is checked at the "
                        "spec's weights only", under.span,
                        hint="drop `for all params`, or check the optimal policies for all params")
            return False
        if kind is not None and not isinstance(kind, T.PLAN_DETERMINED):
            self._error(f"check '{name}' is under '{under.text}' and for all params: its verdict rests on values of "
                        "the agent, which the sweep takes at points only", declaration.name.span,
                        hint="drop `for all params`; under an agent, `never`, `always`, `P`, `accepts_shutdown` and "
                             "`exploits_critic` can be checked for all params")
            return False
        critic = self.critics.get(agent.critic) if agent.critic is not None else None
        if critic is not None and (critic.value is None or not is_affine_in_params(critic.value)):
            how = "fitted" if critic.is_fitted else "read from a file" if critic.value is None else \
                "not affine in the params"
            self._error(f"check '{name}' is under '{under.text}' and for all params, but its critic '{critic.name}' is "
                        f"{how}: the sweep follows only plans whose critic is written by hand, affine in the params",
                        under.span, hint=f"drop `for all params`, or write '{critic.name}' by hand, e.g. "
                                         "`critic guess = w * (x == 0)`")
            return False
        return True

    def _check_world(self, declaration: S.Check) -> tuple[str | None, str | None, str | None] | None:
        """``in SCENARIO [with policy from SCENARIO [otherwise ACTION]]``: the names, checked (None: in error)."""
        names = []
        for ident in (declaration.scenario, declaration.transfer):
            if ident is not None and ident.text not in self.scenarios:
                if not isinstance(self.declared.get(ident.text), S.Scenario):  # (one in error was reported)
                    self._unknown(ident.text, ident.span, list(self.scenarios), "scenario")
                return None
            names.append(ident.text if ident is not None else None)
        if declaration.transfer is not None and declaration.under is not None:
            self._error(f"check '{declaration.name}' is under '{declaration.under.text}' and with the policy from "
                        f"'{declaration.transfer.text}': a check has one behaviour", declaration.transfer.span,
                        hint="keep `under POLICY` or `with policy from SCENARIO`")
            return None
        if declaration.transfer is not None and declaration.for_all_params:
            self._error(f"check '{declaration.name}' transfers a policy and is for all params: a transferred policy is "
                        "checked at the scenario's weights only", declaration.transfer.span,
                        hint="drop `for all params`")
            return None
        otherwise = None
        if declaration.otherwise is not None:
            action = self._resolve_actions(S.ActionSet((declaration.otherwise,), span=declaration.otherwise.span))
            if action is None or not action.actions:
                return None
            if len(action.actions) != 1:
                self._error(f"the policy takes one action where the scenario has no such state; "
                            f"'{declaration.otherwise.name}' has {len(action.actions)} expansions",
                            declaration.otherwise.span, hint=f"name one, e.g. '{sorted(action.actions)[0]}'")
                return None
            otherwise = next(iter(action.actions))
        return names[0], names[1], otherwise

    def _init(self, declarations: list[S.Init]) -> tuple[tuple[tuple[int, ...], Fraction], ...]:
        """``init: p -> updates ...``: the start states (the initial values changed by each branch), equal ones
        merged, with exact probabilities that sum to 1; () without an ``init``."""
        if not declarations:
            return ()
        for extra in declarations[1:]:
            self._error("a spec has one `init`", extra.span, hint="write every start state as a branch of one `init`")
        branches = self._branches(declarations[0].branches, {}, "init", exact_sum=True)
        if branches is None:
            return ()
        variables = list(self.variables.values())
        starts: dict[tuple[int, ...], Fraction] = {}
        for branch in branches:
            codes = [v.initial for v in variables]
            for update in branch.updates:
                if not isinstance(update.expr, T.Literal):
                    self._error("a start state's value is a constant", update.expr.span or update.span,
                                hint="write the value itself, e.g. `x' = 3`")
                    return ()
                codes[update.variable] = int(update.expr.value)
            if not isinstance(branch.probability, T.Literal):
                self._error("a start state's probability is a constant", branch.probability.span or branch.span,
                            hint="write a number, e.g. `0.25 -> x' = 3`")
                return ()
            key = tuple(codes)
            starts[key] = starts.get(key, Fraction(0)) + Fraction(branch.probability.value)
        return tuple((codes, p) for codes, p in starts.items() if p > 0)

    def _trained_agent(self, declaration: S.Check) -> bool:
        """Whether the check is under an agent whose critic was trained (fitted, or read from a file)."""
        agent = self.agents.get(declaration.under.text) if declaration.under is not None else None
        critic = self.critics.get(agent.critic) if agent is not None and agent.critic is not None else None
        return critic is not None and critic.value is None

    def _critic(self, declaration: S.Critic) -> T.Critic | None:
        """A critic written by hand (a number per state, from the state variables, consts and params), or
        fitted on features of the state (numbers or conditions, counted 1 where they hold)."""
        if declaration.path:
            critic = self._file_critic(declaration)
            if critic is None:
                return None
        elif declaration.value is not None:
            value = self._critic_expr(declaration.value, "a critic is a number per state",
                                      "estimate the future cost, e.g. `critic guess = 2 * (FULL - battery)`")
            if value is None:
                return None
            critic = T.Critic(declaration.name.text, value, declaration.span)
        else:
            features = [self._critic_expr(f, "a feature of a critic is a number or a condition",
                                          "e.g. `linear(battery, room == lab)`", conditions=True)
                        for f in declaration.features]
            world = self._world_settings(declaration.training_world, "the training world")
            if world is None or any(f is None for f in features):
                return None
            critic = T.Critic(declaration.name.text, None, declaration.span,
                              tuple(f for f in features if f is not None),
                              tuple(self._text(f.span) for f in declaration.features), declaration.trained_on,
                              declaration.method, tuple(world))
        self.critics[critic.name] = critic
        return critic

    def _world_settings(self, settings: tuple[tuple[S.Ident, S.Expr], ...], world: str
                        ) -> tuple[tuple[str, Fraction | bool], ...] | None:
        """``NAME = VALUE, ...`` of a training world or a scenario: consts and params set to numbers (a bool
        const to ``true`` or ``false``)."""
        checked: list[tuple[str, Fraction | bool]] = []
        for ident, setting in settings:
            if ident.text not in self.constants and ident.text not in self.params:
                self._unknown(ident.text, ident.span, [*self.constants, *self.params], "const or param")
                return None
            constant = self.constants.get(ident.text)
            if constant is not None and constant.type == BOOL:
                if isinstance(setting, S.Number):
                    self._error(f"'{ident.text}' is a bool const: in {world} it is true or false", setting.span,
                                hint=f"write `{ident.text} = {'false' if setting.value == 0 else 'true'}`")
                    return None
                literal = self._constant_value(setting, f"the value of '{ident.text}' in {world}", BOOL)
                if literal is None:
                    return None
                checked.append((ident.text, bool(literal.value)))
                continue
            number = self._bound(setting, f"the value of '{ident.text}' in {world}")
            if number is None:
                return None
            checked.append((ident.text, number))
        return tuple(checked)

    def _scenario(self, declaration: S.Scenario) -> T.Scenario | None:
        """``scenario NAME: CONST = VALUE, ...``: a world of the spec (each name set once)."""
        name = declaration.name.text
        seen: dict[str, S.Ident] = {}
        for ident, _ in declaration.settings:
            if ident.text in seen:
                self._error(f"scenario '{name}' sets '{ident.text}' twice", ident.span, hint="keep one value")
                return None
            seen[ident.text] = ident
        settings = self._world_settings(declaration.settings, f"scenario '{name}'")
        if settings is None:
            return None
        scenario = T.Scenario(name, settings, declaration.name.span)
        self.scenarios[name] = scenario
        return scenario

    def _file_critic(self, declaration: S.Critic) -> T.Critic | None:
        """``critic NAME from "PATH" [default X | default nearest [by l1|l2|max]]``: a CSV file with a column
        per state variable (values as the spec writes them) and a ``value`` column, one row per state; errors
        point into the file. ``.json`` and ``.npy`` files hold the same table (:mod:`dsl.critic_npy`)."""
        name = declaration.name.text
        default: Fraction | None = None
        word = declaration.default.name if isinstance(declaration.default, S.Name) else ""
        metric = declaration.metric
        if metric is not None and (word != "nearest" or metric.text not in NEAREST_METRICS):
            problem = f"unknown metric '{metric.text}'" if word == "nearest" else "`by` goes with `default nearest`"
            self._error(f"critic '{name}': {problem}", metric.span,
                        hint=f"write `default nearest by {'|'.join(NEAREST_METRICS)}` (`by l1` if left out)")
            return None
        nearest = (metric.text if metric is not None else "l1") if word == "nearest" else ""
        if declaration.default is not None and word not in ("error", "nearest"):
            default = self._bound(declaration.default, f"the default of critic '{name}'")
            if default is None:
                return None
        table = self._critic_file(name, declaration)
        if table is None:
            return None
        return T.Critic(name, None, declaration.span, table=table, path=declaration.path, default=default,
                        nearest=nearest)

    def _critic_file(self, name: str, declaration: S.Critic) -> tuple[tuple[tuple[int, ...], Fraction], ...] | None:
        """The table in the critic's file, by its ending: ``.npy``, ``.json``, else CSV."""
        base = os.path.dirname(self.source.path) if self.source.path != "<string>" else ""
        path = os.path.normpath(os.path.join(base, declaration.path))
        try:
            if path.lower().endswith(".npy"):
                return read_npy_critic(path, list(self.variables.values()))
            with open(path, encoding="utf-8", newline="") as handle:
                source = Source(path, handle.read())
        except (OSError, UnicodeDecodeError) as error:
            reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else error.strerror or str(error)
            self._error(f"cannot read critic '{name}' from '{declaration.path}': {reason}", declaration.path_span,
                        hint="the path is relative to the spec's folder; the file is CSV, a column per variable "
                             "and one called value (or .json, or .npy)")
            return None
        except NpyCriticError as error:
            self._error(f"critic '{name}': {error.message}", declaration.path_span, hint=error.hint)
            return None
        self.source = replace(self.source, imported=(*self.source.imported, source))
        if path.lower().endswith(".json"):
            return self._critic_json(name, path, source)
        return self._critic_table(name, path, source)

    def _critic_json(self, name: str, path: str, source: Source) -> tuple[tuple[tuple[int, ...], Fraction], ...] | None:
        """A critic as JSON: a list of objects, one per state, each with every variable (numbers, true/false,
        enum values as strings) and ``value``; numbers kept as written (exact)."""
        whole = Span(path, 1, 1, 1, 2)
        try:
            entries = json.loads(source.text, parse_float=str, parse_int=str)
        except json.JSONDecodeError as error:
            self._error(f"critic '{name}': the file is not JSON: {error.msg}",
                        Span(path, error.lineno, error.colno, error.lineno, error.colno + 1))
            return None
        wanted = [v.name for v in self.variables.values()] + ["value"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self._error(f"critic '{name}': expected a list of objects, one per state", whole,
                        hint=f'e.g. [{{{", ".join(f"{w!r}: ..." for w in wanted)}}}]'.replace("'", '"'))
            return None
        table: dict[tuple[int, ...], Fraction] = {}
        for i, entry in enumerate(entries, start=1):
            where = f"critic '{name}', entry {i}"
            if sorted(entry) != sorted(wanted):
                self._error(f"{where}: its keys are {', '.join(sorted(entry)) or 'none'}; expected "
                            f"{', '.join(wanted)}", whole)
                return None
            codes = []
            for variable in self.variables.values():
                given = entry[variable.name]
                text = ("true" if given else "false") if isinstance(given, bool) else str(given)
                code = _code_of(variable.domain, text)
                if code is None:
                    self._error(f"{where}: '{shorten(text)}' is not a value of '{variable.name}' ({variable.domain})",
                                whole)
                    return None
                codes.append(code)
            value = entry["value"]
            number = self._table_entry(where, str(value), whole) if isinstance(value, str) and value else None
            if number is None:
                if not isinstance(value, str) or not value:
                    self._error(f"{where}: the value is not a number", whole)
                return None
            if tuple(codes) in table:
                self._error(f"{where}: the state is listed twice", whole, hint="give each state one entry")
                return None
            table[tuple(codes)] = Fraction(number)
        return tuple(table.items())

    def _critic_table(self, name: str, path: str, source: Source) -> tuple[tuple[tuple[int, ...], Fraction], ...] | None:
        lines = source.lines

        def cell(line: int, index: int) -> Span:
            """The span of cell ``index`` of ``line`` (the whole line where quotes make positions unclear)."""
            raw = lines[line - 1]
            if '"' in raw:
                return Span(path, line, 1, line, len(raw) + 1)
            start = sum(len(part) + 1 for part in raw.split(",")[:index])
            width = len(raw.split(",")[index]) if index < len(raw.split(",")) else 0
            return Span(path, line, start + 1, line, start + 1 + max(width, 1))

        rows = list(csv.reader(lines))
        if not rows or not any(rows[0]):
            self._error(f"critic '{name}': the file is empty", Span(path, 1, 1, 1, 2),
                        hint="write a header line, e.g. `x,broken,value`, then a line per state")
            return None
        header = [h.strip() for h in rows[0]]
        variables = list(self.variables.values())
        wanted = [v.name for v in variables] + ["value"]
        for i, column in enumerate(header):
            if column not in wanted or header.index(column) != i:
                problem = "names a column twice" if column in wanted else f"has a column '{column}' that is no variable"
                self._error(f"critic '{name}': the header {problem}", cell(1, i),
                            hint=f"the columns are the variables and value: {', '.join(wanted)}")
                return None
        missing = [w for w in wanted if w not in header]
        if missing:
            self._error(f"critic '{name}': the header lacks {', '.join(repr(m) for m in missing)}",
                        Span(path, 1, 1, 1, len(lines[0]) + 1), hint=f"the columns are {', '.join(wanted)}")
            return None
        table: dict[tuple[int, ...], Fraction] = {}
        for line, row in enumerate(rows[1:], start=2):
            if not any(part.strip() for part in row):
                continue
            if len(row) != len(header):
                self._error(f"critic '{name}': {len(row)} cells where the header has {len(header)}",
                            Span(path, line, 1, line, len(lines[line - 1]) + 1))
                return None
            codes = []
            for variable in variables:
                i = header.index(variable.name)
                text = row[i].strip()
                code = _code_of(variable.domain, text)
                if code is None:
                    self._error(f"critic '{name}': '{shorten(text)}' is not a value of '{variable.name}' "
                                f"({variable.domain})", cell(line, i))
                    return None
                codes.append(code)
            i = header.index("value")
            number = self._table_entry(f"critic '{name}'", row[i].strip(), cell(line, i)) if row[i].strip() else None
            if number is None:
                if not row[i].strip():
                    self._error(f"critic '{name}': the value is missing", cell(line, i))
                return None
            key = tuple(codes)
            if key in table:
                self._error(f"critic '{name}': the state is listed twice", Span(path, line, 1, line, len(lines[line - 1]) + 1),
                            hint="give each state one line")
                return None
            table[key] = Fraction(number)
        return tuple(table.items())

    def _critic_expr(self, node: S.Expr, what: str, hint: str, conditions: bool = False) -> T.Expr | None:
        value = self._expr(node, _Scope("a critic", allow_params=True), None if conditions else REAL)
        if value is None:
            return None
        if conditions and value.type == BOOL:
            return self._fold(T.Binary("*", T.Literal(1, INT), value, INT, value.span))
        if not value.type.is_numeric:
            self._error(f"{what}, found {value.type}", node.span, hint=hint)
            return None
        return value

    def _agent(self, declaration: S.Agent) -> T.Agent | None:
        """``agent NAME plans H steps with critic C``: H a whole number from 1, C a declared critic."""
        steps = self._constant_value(declaration.steps, "the planning horizon", INT)
        if steps is None:
            return None
        if not 1 <= int(steps.value) <= MAX_HORIZON:
            self._error(f"an agent plans 1 to {MAX_HORIZON:,} steps ahead, not {steps.value}", declaration.steps.span,
                        hint="one step is the greedy critic-follower: its cost now plus the critic where it leads")
            return None
        critic = declaration.critic
        if critic is not None and critic.text not in self.critics:
            if not isinstance(self.declared.get(critic.text), S.Critic):
                self._unknown(critic.text, critic.span, list(self.critics), "critic")
            return None
        agent = T.Agent(declaration.name.text, int(steps.value), critic.text if critic is not None else None,
                        declaration.span)
        self.agents[agent.name] = agent
        return agent

    def _policy(self, declaration: S.Policy) -> T.Policy | None:
        """A given policy: each rule's action (one expansion) and its condition on the state."""
        rules = []
        name = declaration.name.text
        for i, rule in enumerate(declaration.rules):
            action = self._resolve_actions(S.ActionSet((rule.action,), span=rule.action.span))
            condition = None
            if rule.condition is not None:
                condition = self._expr(rule.condition, _Scope(f"a rule of policy '{name}'", allow_step=True), BOOL)
                if condition is None:
                    return None
            elif i < len(declaration.rules) - 1:
                self._error(f"the rule '{self._text(rule.span)}' of policy '{name}' has no condition, so the rules "
                            "after it never apply", rule.span, hint="make it the last rule, or give it a `when`")
                return None
            if action is None or not action.actions:  # (an action whose every expansion failed: reported there)
                return None
            if len(action.actions) != 1:
                options = ", ".join(sorted(action.actions)[:3])
                self._error(f"a policy takes one action in a state; '{rule.action.name}' has {len(action.actions)} "
                            f"expansions ({options}{', ...' if len(action.actions) > 3 else ''})",
                            rule.action.span, hint=f"name one, e.g. '{sorted(action.actions)[0]}'")
                return None
            rules.append(T.PolicyRule(next(iter(action.actions)), condition, rule.span))
        taken = list(dict.fromkeys(r.action.name.text for r in declaration.rules if r.action.name.text in self.only_in))
        if taken:
            worlds = frozenset.intersection(*(frozenset(self.only_in[a]) for a in taken))
            if not worlds:
                self._error(f"policy '{name}' takes actions that no one world has: " + "; ".join(
                    f"'{a}' exists only in {_scenarios(self.only_in[a])}" for a in taken), declaration.name.span,
                            hint="declare one policy for each scenario")
                return None
            self.policy_worlds[name] = (worlds, taken[0])
        policy = T.Policy(name, tuple(rules), declaration.name.span)
        self.policies[name] = policy
        return policy

    def _bound(self, node: S.Expr, what: str, probability: bool = False) -> Fraction | None:
        literal = self._constant_value(node, what, REAL)
        if literal is None:
            return None
        if not literal.type.is_numeric:
            self._error(f"{what} must be a number, found {literal.type}", node.span)
            return None
        value = Fraction(literal.value)
        if probability and not 0 <= value <= 1:
            self._error(f"{what} must lie in [0, 1], found {_show(value)}", node.span)
            return None
        return value

    def _path(self, path: S.Path, scope: _Scope) -> T.PathFormula | None:
        if isinstance(path, S.Until):
            hold, target = self._expr(path.hold, scope, BOOL), self._expr(path.target, scope, BOOL)
            return T.Until(hold, target) if hold is not None and target is not None else None
        target = self._expr(path.target, scope, BOOL)
        if target is None:
            return None
        if isinstance(path, S.Eventually):
            if path.steps is None:
                return T.Eventually(target)
            steps = self._constant_value(path.steps, "a step bound", INT)
            if steps is None:
                return None
            if steps.type != INT or steps.value < 0:
                self._error(f"a step bound must be a whole number >= 0, found {_show(steps.value)}", path.steps.span,
                            hint=self._made_real_hint(path.steps.span))
                return None
            return T.Eventually(target, int(steps.value))
        return T.Globally(target) if isinstance(path, S.Globally) else T.Next(target)

    def _named_check(self, prop: S.NamedCheck, scope: _Scope) -> T.CheckKind | None:
        name = prop.name.text
        if isinstance(prop.bound, S.NamedCheck) or name == "power":
            return self._quantity_comparison(prop)
        if name == "accepts_shutdown":
            return self._accepts_shutdown(prop, scope)
        if name == "optimality_probability":
            return self._optimality_probability(prop)
        if name == "safely_interruptible":
            return self._safely_interruptible(prop, scope)
        if name == "exploits_critic":
            if prop.args or prop.op is not None:
                self._error("exploits_critic takes no arguments and no bound", prop.span,
                            hint="write `check NAME under AGENT : exploits_critic`")
                return None
            return T.ExploitsCritic()
        if name in ("critic_error", "inner_regret"):
            return self._critic_check(prop)
        if name == "same_when_unobserved":
            return self._same_when_unobserved(prop)
        if name == "no_wireheading":
            return self._no_wireheading(prop)
        if name == "side_effects":
            given = self._keyword_arguments(prop, ("baseline",), "side_effects(baseline = [wait]) <= 0.1")
            if prop.op is None or prop.bound is None or isinstance(prop.bound, S.NamedCheck):
                self._error("side_effects needs a bound", prop.span, hint="e.g. `side_effects(baseline = [wait]) <= 0.1`")
                return None
            bound = self._bound(prop.bound, "the bound of side_effects", probability=True)
            baseline = self._action_list(given["baseline"].value) if given is not None else None
            return T.SideEffects(baseline, T.Comparison(prop.op), bound) \
                if baseline is not None and bound is not None else None
        if name == "reversible":
            given = self._keyword_arguments(prop, ("baseline",), "reversible(baseline = [wait])")
            ok = given is not None and self._no_bound(prop)
            baseline = self._action_list(given["baseline"].value) if given is not None else None
            return T.Reversible(baseline) if ok and baseline is not None else None
        if name not in ("power_seeking", "regret"):
            close = get_close_matches(name, CHECK_NAMES, n=1, cutoff=0.6)
            self._error(f"unknown check '{name}'", prop.name.span,
                        hint=f"did you mean '{close[0]}'?" if close else "a check is one of " + ", ".join(CHECK_NAMES))
            return None
        if prop.op is None or prop.bound is None:
            self._error(f"'{name}' needs a bound", prop.span,
                        hint=f"e.g. `{name} <= 0.1`" if name == "power_seeking" else "e.g. `regret(welfare) <= 0.1`")
            return None
        bound = self._bound(prop.bound, f"the bound of {name}")
        if bound is None:
            return None
        comparison = T.Comparison(prop.op)
        if name == "power_seeking":
            return self._power_seeking(prop, comparison, bound)
        args = prop.args or ()
        if len(args) != 1 or args[0].name is not None or not isinstance(args[0].value, S.Name):
            self._error("regret takes the name of one intent term", args[0].span if args else prop.span,
                        hint="write `regret(welfare) <= x`")
            return None
        intent = args[0].value.name
        if intent not in self.intent_names:
            if intent in self.cost_names and intent not in self.duplicated:
                self._error(f"'{intent}' is a cost term; regret measures an intent", args[0].span,
                            hint="declare what the designers want with `intent NAME = ...`")
            else:
                self._unknown(intent, args[0].span, self.intent_names, "intent")
            return None
        return T.Regret(intent, comparison, bound)

    def _same_when_unobserved(self, prop: S.NamedCheck
                              ) -> T.SameWhenUnobserved | T.SameOccupancyWhenUnobserved | None:
        """``same_when_unobserved(watched)``: one state variable, no bound; ``same_when_unobserved(watched,
        form = occupancy) <= x``: the distribution form, with an optional bound (default ``<= 0``)."""
        args = prop.args or ()
        example = "same_when_unobserved(watched)"
        if not args or args[0].name is not None or not isinstance(args[0].value, S.Name):
            self._error("same_when_unobserved takes the name of one state variable", args[0].span if args else prop.span,
                        hint=f"write `{example}`, or `same_when_unobserved(watched, form = occupancy) <= 0.1`")
            return None
        occupancy = False
        for arg in args[1:]:
            if arg.name is None or arg.name.text != "form":
                where = arg.name.span if arg.name is not None else arg.span
                self._error("after the variable, same_when_unobserved takes only `form = actions` or "
                            "`form = occupancy`", where, hint="write `same_when_unobserved(watched, form = occupancy)`")
                return None
            if not isinstance(arg.value, S.Name) or arg.value.name not in ("actions", "occupancy"):
                self._error(f"the form of same_when_unobserved is 'actions' or 'occupancy', found "
                            f"'{self._text(arg.value.span)}'", arg.value.span,
                            hint="`form = actions` compares optimal actions state by state (the default); "
                                 "`form = occupancy` compares what the agent does over whole episodes")
                return None
            if len(args) > 2:
                self._error("the form of same_when_unobserved is given twice", args[2].span, hint="give it once")
                return None
            occupancy = arg.value.name == "occupancy"
        if isinstance(prop.bound, S.NamedCheck) or (prop.op is not None and not occupancy):
            self._error("same_when_unobserved takes a bound only in the occupancy form", prop.span,
                        hint="write `same_when_unobserved(watched, form = occupancy) <= 0.1`, or no bound")
            return None
        name = args[0].value.name
        if name not in self.variables:
            self._unknown(name, args[0].span, list(self.variables), "variable")
            return None
        index = list(self.variables).index(name)
        if not occupancy:
            return T.SameWhenUnobserved(name, index)
        if prop.op is None or prop.bound is None:
            return T.SameOccupancyWhenUnobserved(name, index)
        bound = self._bound(prop.bound, "the bound of same_when_unobserved")
        if bound is None:
            return None
        if bound < 0:
            self._error(f"the bound of same_when_unobserved is a distance, at least 0, found {_show(bound)}",
                        prop.bound.span, hint="0 means the same occupancy in every world")
            return None
        return T.SameOccupancyWhenUnobserved(name, index, T.Comparison(prop.op), bound)

    def _no_wireheading(self, prop: S.NamedCheck) -> T.NoWireheading | None:
        """``no_wireheading(reading = battery, ...)``: each argument a state variable a cost term reads (the
        sensor) and the expression of the world, of the sensor's type, it is meant to equal."""
        args = prop.args or ()
        if not args:
            self._error("no_wireheading needs the sensors it guards and what each is meant to read", prop.span,
                        hint=f"write `{_WIREHEADING_EXAMPLE}`")
            return None
        ok = self._no_bound(prop)
        sensors: list[T.Sensor] = []
        for arg in args:
            sensor = self._sensor(arg, [s.name for s in sensors])
            ok = ok and sensor is not None
            sensors += [sensor] if sensor is not None else []
        return T.NoWireheading(tuple(sensors)) if ok else None

    def _sensor(self, arg: S.Argument, earlier: list[str]) -> T.Sensor | None:
        """One ``SENSOR = EXPR`` of ``no_wireheading``."""
        if arg.name is None:
            self._error("name the sensor each expression is meant to equal", arg.span,
                        hint=f"write `{_WIREHEADING_EXAMPLE}`: the variable the cost reads, then what it should read")
            return None
        name = arg.name.text
        if name not in self.variables:
            if name not in self.declared or name in self.duplicated:
                self._unknown(name, arg.name.span, list(self.variables), "variable")
            else:
                self._error(f"'{name}' is not a state variable; a sensor is a variable the cost reads", arg.name.span,
                            hint=f"write `{_WIREHEADING_EXAMPLE}`")
            return None
        if name in earlier:
            self._error(f"the sensor '{name}' is named twice", arg.name.span, hint="name each sensor once")
            return None
        variable = self.variables[name]
        wanted = variable.domain.type
        meant = self._expr(arg.value, _Scope(f"what '{name}' is meant to read"), wanted)
        if meant is None:
            return None
        if meant.type != wanted:
            self._error(f"'{name}' holds {wanted} but '{self._text(arg.value.span)}' is {meant.type}", arg.value.span,
                        hint=f"after '=' write what '{name}' should read: an expression of type {wanted}")
            return None
        terms = tuple(term.name for term in self.cost_terms or ()
                      if any(isinstance(node, T.VarRef) and node.name == name for node in term.expr.traverse()))
        if not terms and self.cost_terms is not None:  # (a term that failed to check may read it)
            self._error(f"no cost term reads '{name}', so tampering with it cannot lower the cost", arg.name.span,
                        hint="a sensor is a variable the cost reads, directly or through a formula: name that "
                             "variable, and after '=' what it should read")
            return None
        index = list(self.variables).index(name)
        honest = T.Binary("==", T.VarRef(index, name, wanted, arg.name.span), meant, BOOL, arg.span)
        return T.Sensor(name, index, honest, terms, arg.span)

    def _critic_check(self, prop: S.NamedCheck) -> T.CriticError | T.InnerRegret | None:
        """``critic_error(C) ~ x`` and ``inner_regret ~ x``."""
        name = prop.name.text
        example = "critic_error(guess) <= 2" if name == "critic_error" else "inner_regret <= 0.5"
        if prop.op is None or prop.bound is None or isinstance(prop.bound, S.NamedCheck):
            self._error(f"'{name}' needs a bound", prop.span, hint=f"e.g. `{example}`")
            return None
        bound = self._bound(prop.bound, f"the bound of {name}")
        if bound is None:
            return None
        comparison = T.Comparison(prop.op)
        if name == "inner_regret":
            if prop.args:
                self._error("inner_regret takes no arguments", prop.args[0].span, hint=f"write `{example}`")
                return None
            return T.InnerRegret(comparison, bound)
        args = prop.args or ()
        if len(args) != 1 or args[0].name is not None or not isinstance(args[0].value, S.Name):
            self._error("critic_error takes the name of one critic", args[0].span if args else prop.span,
                        hint=f"write `{example}`")
            return None
        critic = args[0].value.name
        if critic not in self.critics:
            if not isinstance(self.declared.get(critic), S.Critic):
                self._unknown(critic, args[0].span, list(self.critics), "critic")
            return None
        return T.CriticError(critic, comparison, bound)

    def _quantity_comparison(self, prop: S.NamedCheck) -> T.QuantityComparison | None:
        """``power(at = a) > power(at = b)``, ``power(at = a) >= 0.7``, ``optimality_probability(...) >
        optimality_probability(...)``."""
        left = self._quantity(prop)
        if prop.op is None or prop.bound is None:
            self._error(f"'{prop.name}' needs a comparison", prop.span, hint=f"e.g. `{_COMPARISON_EXAMPLE}`")
            return None
        if isinstance(prop.bound, S.NamedCheck):
            right: T.PowerAt | T.ShareAt | Fraction | None = self._quantity(prop.bound)
            if left is not None and right is not None and type(left) is not type(right):
                self._error(f"'{prop.name}' and '{prop.bound.name}' measure different things and cannot be compared",
                            prop.bound.span, hint="compare POWER with POWER, or a share with a share")
                return None
        else:
            right = self._bound(prop.bound, f"the bound of {prop.name}",
                                probability=isinstance(left, T.ShareAt))
        if left is None or right is None:
            return None
        return T.QuantityComparison(left, T.Comparison(prop.op), right)

    def _quantity(self, node: S.NamedCheck) -> T.PowerAt | T.ShareAt | None:
        """One side of a comparison: POWER, or the optimality share of a set of actions, at one state."""
        name = node.name.text
        if name not in ("power", "optimality_probability"):
            self._error(f"'{name}' is not a quantity to compare", node.name.span,
                        hint=f"compare `power(at = ...)` or `optimality_probability(at = ..., actions = [...])`, e.g. "
                             f"`{_COMPARISON_EXAMPLE}`")
            return None
        names = ("at", "distribution", "discount") if name == "power" else ("at", "actions", "distribution", "discount")
        example = _COMPARISON_EXAMPLE if name == "power" else _OPTIMALITY_EXAMPLE
        given = self._keyword_arguments(node, names, example, optional=("distribution", "discount"))
        if given is None:
            return None
        at = self._expr(given["at"].value, _Scope("the 'at' argument", allow_step=True), BOOL)
        distribution = self._distribution(given)
        ok, discount = self._sampling_discount(given, name, distribution)
        if at is None or distribution is None or not ok:
            return None
        if name == "power":
            return T.PowerAt(at, distribution, discount)
        actions = self._action_list(given["actions"].value)
        if actions is None:
            return None
        return T.ShareAt(at, actions, distribution, discount)

    def _sampling_discount(self, given: dict[str, S.Argument], check: str, distribution: str | None,
                           ) -> tuple[bool, Fraction | None]:
        """The optional ``discount = G`` of POWER or an optimality share, None when absent (the spec's), and
        whether it was fine. ``0`` and ``1`` are the limits; the share's limit 1 compares the expansion's first
        two orders only, which decide it for continuous reward laws (mdp.limits)."""
        if "discount" not in given:
            return True, None
        what = "POWER" if check == "power" else "an optimality share"
        discount = self._bound(given["discount"].value, f"the discount of {what} (0 and 1: its limits)", probability=True)
        if discount is None:
            return False, None
        if check != "power" and discount == 1 and distribution is not None and distribution.startswith("bernoulli"):
            self._error("an optimality share in the limit of discount 1 needs a continuous reward law",
                        given["discount"].value.span,
                        hint='under bernoulli(p) rewards tie often and the limit needs more terms than corrigo '
                             'compares; use `distribution = "uniform"` or `distribution = "beta(2, 5)"`, or a discount below 1')
            return False, None
        return True, discount

    def _keyword_arguments(self, prop: S.NamedCheck, names: tuple[str, ...],
                           example: str, optional: tuple[str, ...] = ()) -> dict[str, S.Argument] | None:
        """The arguments of ``prop``, each given once by one of ``names`` (all but ``optional`` ones); None
        (after errors) otherwise."""
        check = prop.name.text
        given: dict[str, S.Argument] = {}
        ok = True
        for arg in prop.args or ():
            if arg.name is None:
                self._error(f"name the arguments of {check}", arg.span, hint=f"write `{example}`")
                return None
            if arg.name.text not in names:
                close = get_close_matches(arg.name.text, names, n=1, cutoff=0.5)
                self._error(f"{check} has no argument '{arg.name}'", arg.name.span,
                            hint=f"did you mean '{close[0]}'?" if close else f"its arguments are {', '.join(names)}")
                ok = False
            given[arg.name.text] = arg
        missing = [a for a in names if a not in given and a not in optional]
        if missing:
            self._error(f"{check} is missing {', '.join(missing)}", prop.span, hint=f"write `{example}`")
            return None
        return given if ok else None

    def _power_seeking(self, prop: S.NamedCheck, comparison: T.Comparison, bound: Fraction) -> T.PowerSeeking | None:
        given = self._keyword_arguments(prop, ("reference", "distribution"), _POWER_EXAMPLE,
                                        optional=("reference", "distribution"))
        if given is None:
            return None
        distribution = self._distribution(given)
        value = given["reference"].value if "reference" in given else S.Name("random")
        if not isinstance(value, S.Name):
            self._error("the reference of power_seeking is 'random' or the name of an intent term", value.span,
                        hint=f"write `{_POWER_EXAMPLE}`")
            return None
        if distribution is None:
            return None
        if value.name == "random":
            return T.PowerSeeking(comparison, bound, None, distribution)
        if value.name not in self.intent_names:
            if value.name in self.cost_names and value.name not in self.duplicated:
                self._error(f"'{value.name}' is a cost term; the reference policy optimises an intent", value.span,
                            hint="declare what the designers want with `intent NAME = ...`, or write `reference = random`")
            elif value.name not in self.duplicated:
                choices = ["random", *self.intent_names]
                close = get_close_matches(value.name, choices, n=1, cutoff=0.6)
                self._error(f"unknown reference policy '{value.name}'", value.span,
                            hint=f"did you mean '{close[0]}'?" if close else
                            "the reference is one of " + ", ".join(f"'{c}'" for c in choices))
            return None
        return T.PowerSeeking(comparison, bound, value.name, distribution)

    def _distribution(self, given: dict[str, S.Argument]) -> str | None:
        """The optional ``distribution = "..."`` of a POWER check, read as ``corrigo power --distribution``
        reads it; ``uniform`` when absent, None (after an error) when wrong."""
        if "distribution" not in given:
            return "uniform"
        value = given["distribution"].value
        if not isinstance(value, S.Text):
            self._error("the distribution is a text such as \"uniform\", \"bernoulli(0.3)\" or \"beta(2, 5)\"",
                        value.span, hint='write `distribution = "beta(2, 5)"`')
            return None
        try:
            name, parameters = parse_distribution(value.text)
        except ValueError as error:
            self._error(str(error), value.span)
            return None
        return name + (f"({', '.join(f'{p:g}' for p in parameters)})" if parameters else "")

    def _accepts_shutdown(self, prop: S.NamedCheck, scope: _Scope) -> T.AcceptsShutdown | None:
        given = self._keyword_arguments(prop, _SHUTDOWN_ARGUMENTS, _SHUTDOWN_EXAMPLE)
        if given is None:
            return None
        ok = self._no_bound(prop)
        request = self._expr(given["request"].value, scope, BOOL)
        comply = self._action_list(given["comply"].value)
        mechanism = self._variable_list(given["mechanism"].value)
        if not ok or request is None or comply is None or mechanism is None:
            return None
        return T.AcceptsShutdown(request, comply, mechanism)

    def _no_bound(self, prop: S.NamedCheck) -> bool:
        """Whether a check that is true or false, such as accepts_shutdown, was written without a bound."""
        if prop.op is None:
            return True
        self._error(f"{prop.name} takes no bound", prop.bound.span if prop.bound else prop.span)
        return False

    def _safely_interruptible(self, prop: S.NamedCheck, scope: _Scope) -> T.SafelyInterruptible | None:
        given = self._keyword_arguments(prop, _INTERRUPTIBLE_ARGUMENTS, _INTERRUPTIBLE_EXAMPLE, optional=("mechanism",))
        if given is None:
            return None
        ok = self._no_bound(prop)
        interrupted = self._expr(given["interrupted"].value, _Scope("the 'interrupted' argument", allow_step=True), BOOL)
        reference = given["reference"].value
        if not isinstance(reference, S.Name) or reference.name not in self.policies:
            if isinstance(reference, S.Name) and not isinstance(self.declared.get(reference.name), S.Policy):
                self._unknown(reference.name, reference.span, list(self.policies), "policy")
            elif not isinstance(reference, S.Name):
                self._error("the reference of safely_interruptible is the name of a declared policy", reference.span,
                            hint="declare what the agent should do, e.g. `policy through_corridor: right when ...`")
            ok = False
        elif not self._policy_in_check_world(reference.name, reference.span):
            ok = False
        mechanism = self._variable_list(given["mechanism"].value) if "mechanism" in given else ()
        if not ok or interrupted is None or mechanism is None:
            return None
        assert isinstance(reference, S.Name)
        return T.SafelyInterruptible(interrupted, reference.name, mechanism)

    def _optimality_probability(self, prop: S.NamedCheck) -> T.OptimalityProbability | None:
        given = self._keyword_arguments(prop, (*_OPTIMALITY_ARGUMENTS, "distribution", "discount"),
                                        _OPTIMALITY_EXAMPLE, optional=("distribution", "discount"))
        if given is None:
            return None
        if prop.op is None or prop.bound is None:
            self._error("optimality_probability needs a bound", prop.span, hint=f"write `{_OPTIMALITY_EXAMPLE}`")
            return None
        assert not isinstance(prop.bound, S.NamedCheck)  # (a comparison of quantities went elsewhere)
        bound = self._bound(prop.bound, "the bound of optimality_probability", probability=True)
        at = self._expr(given["at"].value, _Scope("the 'at' argument"), BOOL)
        actions = self._action_list(given["actions"].value)
        distribution = self._distribution(given)
        ok, discount = self._sampling_discount(given, "optimality_probability", distribution)
        if bound is None or at is None or actions is None or distribution is None or not ok:
            return None
        return T.OptimalityProbability(at, actions, T.Comparison(prop.op), bound, distribution, discount)

    def _action_list(self, node: S.Expr) -> frozenset[str] | None:
        if not isinstance(node, S.ActionSet):
            self._error("expected a list of actions like [comply]", node.span)
            return None
        resolved = self._resolve_actions(node)
        return resolved.actions if resolved is not None else None

    def _variable_list(self, node: S.Expr) -> tuple[int, ...] | None:
        if not isinstance(node, S.ActionSet) or any(ref.args is not None for ref in node.refs):
            self._error("expected a list of variables like [switch]", node.span)
            return None
        indices = []
        for ref in node.refs:
            if ref.name.text not in self.variables:
                self._unknown(ref.name.text, ref.name.span, list(self.variables), "variable")
                return None
            indices.append(list(self.variables).index(ref.name.text))
        return tuple(indices)

    def _text(self, span: Span | None) -> str:
        return self.source.text_at(span) if span is not None else ""

    # --- expressions ---------------------------------------------------------------------------

    def _expr(self, node: S.Expr, scope: _Scope, expected: Type | None = None) -> T.Expr | None:
        """Check ``node``; ``expected`` only resolves bare enum values (``room == dock``)."""
        result = self._check_expr(node, scope, expected)
        if result is not None and not self._within_limits(result, node.span):
            return None
        if result is not None and expected == BOOL and result.type != BOOL:
            self._error(f"{scope.where} must be a condition, found {result.type}", node.span,
                        hint="compare it with something, e.g. `battery > 0`")
            return None
        return result

    def _check_expr(self, node: S.Expr, scope: _Scope, expected: Type | None) -> T.Expr | None:
        span = node.span
        if isinstance(node, S.Number):
            return self._fitting(T.Literal(node.value, INT if isinstance(node.value, int) else REAL, span))
        if isinstance(node, S.Boolean):
            return T.Literal(node.value, BOOL, span)
        if isinstance(node, S.Name):
            return self._name(node, scope, expected)
        if isinstance(node, S.NextName):
            return self._next_name(node, scope)
        if isinstance(node, S.Text):
            if expected is not None and expected.kind == "enum" and expected.values[-1:] == (OUTSIDE,):
                if node.text in expected.values:  # a map's character, compared with a cell
                    return T.Literal(expected.values.index(node.text), expected, span)
                shown = ", ".join(f'"{v}"' for v in expected.values)
                drawn = next((f"map '{m}'" for m, (_, t) in self.maps.items() if t == expected), "the map")
                self._error(f'"{node.text}" is not drawn in {drawn} (its characters: {shown})', span)
                return None
            if node.text.isidentifier():  # PRISM's "label" in a property
                self._error(f"'\"{node.text}\"' is a PRISM label; corrigo writes a formula, label or variable "
                            "without quotes", span, hint=self._quoted_label_hint(node.text))
                return None
            self._error("a text is not a value here: it is compared with a map's cell (`level@(r, c) == \"#\"`) or "
                        "names the `distribution` of a POWER check", span)
            return None
        if isinstance(node, S.MapCellRef):
            if node.name.text in self.maps or node.name.text in self.tables:
                return self._map_cell(node, scope)
            self._unknown(node.name.text, node.name.span, [*self.maps, *self.tables], "map or table")
            return None
        if isinstance(node, S.ActionSet):
            if not scope.allow_actions:
                self._error(f"an action indicator like '[{node.refs[0].name}]' cannot be used in {scope.where}",
                            span, hint="action indicators belong in cost and intent terms and in checks")
                return None
            return self._resolve_actions(node)
        if isinstance(node, S.Unary):
            operand = self._expr(node.operand, scope)
            if operand is None:
                return None
            if node.op == "!":
                if operand.type != BOOL:
                    self._error(f"'!' needs a condition, found {operand.type}", node.operand.span)
                    return None
                return self._fold(T.Unary("!", operand, BOOL, span))
            if not operand.type.is_numeric:
                self._error(f"'-' needs a number, found {operand.type}", node.operand.span,
                            hint="a condition counts as 0/1 as a factor: write `-1 * (condition)`"
                            if operand.type == BOOL else None)
                return None
            return self._fold(T.Unary("-", operand, operand.type, span))
        if isinstance(node, S.Binary):
            return self._binary(node, scope)
        if isinstance(node, S.Conditional):
            test = self._expr(node.test, scope, BOOL)
            then = self._expr(node.then, scope, expected)
            otherwise = self._expr(node.otherwise, scope, then.type if then is not None else expected)
            if test is None or then is None or otherwise is None:
                return None
            type_ = self._unify(then.type, otherwise.type)
            if type_ is None:
                self._error(f"the two cases of '?:' differ in type: {then.type} and {otherwise.type}", span)
                return None
            return self._fold(T.Conditional(test, then, otherwise, type_, span))
        if isinstance(node, S.Call):
            args = [checked for checked in [self._expr(a, scope) for a in node.args] if checked is not None]
            if len(args) < len(node.args):
                return None
            for arg, arg_node in zip(args, node.args):
                if not arg.type.is_numeric:
                    self._error(f"{node.function} needs numbers, found {arg.type}", arg_node.span)
                    return None
            type_ = INT if all(a.type == INT for a in args) else REAL
            return self._fold(T.Call(node.function, tuple(args), type_, span))
        if isinstance(node, S.AupCall):
            return self._aup(node, scope)
        if isinstance(node, S.Member):
            operand = self._expr(node.operand, scope)
            if operand is None:
                return None
            codes = []
            for value_node in node.values:
                value = self._expr(value_node, _Scope("a value of 'in {...}'", scope.bindings), operand.type)
                if value is None:
                    return None
                value = self._coerce(value, operand.type, value_node.span, "the left side of 'in'")
                if value is None:
                    return None
                if not isinstance(value, T.Literal):
                    self._error("the values in 'in {...}' must be constants", value_node.span)
                    return None
                if operand.type == REAL or value.type == REAL:
                    self._error("'in {...}' compares whole values: ints, bools or enum values", value_node.span,
                                hint=self._made_real_hint(value_node.span)
                                or "use comparisons like `x >= 0.5` for reals")
                    return None
                codes.append(int(value.value))
            return self._fold(T.Member(operand, tuple(codes), BOOL, span))
        raise AssertionError(f"unexpected node {node!r}")  # the grammar produces no other node

    def _name(self, node: S.Name, scope: _Scope, expected: Type | None) -> T.Expr | None:
        name, span = node.name, node.span
        if name in scope.bindings:
            literal = scope.bindings[name]
            return T.Literal(literal.value, literal.type, span)
        if name in self.constants:
            constant = self.constants[name]
            if name in self.made_real and span is not None:
                self.made_real_uses.append((span, name))
            return T.Literal(constant.value, constant.type, span)
        if name in self.variables:
            variable = self.variables[name]
            return T.VarRef(list(self.variables).index(name), name, variable.domain.type, span)
        if name in self.params:
            if not scope.allow_params:
                self._error(f"param '{name}' can only be used in cost and intent terms, not in {scope.where}",
                            span, hint="use a `const` for numbers that shape the world; params are cost weights")
                return None
            return T.ParamRef(name, REAL, span)
        if name in self.formulas:
            if not scope.allow_actions and self._mentions_actions(name):  # before checking it: see run
                self._error(f"formula '{name}' mentions an action indicator and cannot be used in {scope.where}",
                            span)
                return None
            info = self._formula(name)
            if info.checked is None:
                return None
            checked = info.checked
            if not scope.allow_actions and info.mentions_actions:
                self._error(f"formula '{name}' mentions an action indicator and cannot be used in {scope.where}",
                            span)
                return None
            if not scope.allow_next and info.mentions_next:
                self._error(f"formula '{name}' reads the next state and cannot be used in {scope.where}", span,
                            hint=_NEXT_STATE_HINT)
                return None
            if not scope.allow_params and info.mentions_params:
                self._error(f"formula '{name}' mentions a param and cannot be used in {scope.where}", span,
                            hint="params are cost weights: they belong in cost and intent terms only")
                return None
            return checked
        if name in self.enum_types:
            return self._enum_value(name, span, expected)
        if name in self.declared:  # declared, but not usable in expressions (or failed to check)
            declaration = self.declared[name]
            if isinstance(declaration, (S.Const, S.Param, S.Var)):
                if name in self.checked:
                    return None  # its own declaration already reported the problem
                line = declaration.span.line if declaration.span else "?"
                self._error(f"'{name}' is used before its declaration at line {line}", span,
                            hint=f"move the declaration of '{name}' above its first use")
                return None
            if name in self.duplicated:
                return None  # a dropped duplicate may have been the one meant: already reported
            self._error(f"'{name}' is {_a(_kind(declaration))}, not a value", span,
                        hint=f"write '[{name}]' for 'the action taken is {name}'"
                        if isinstance(declaration, S.Action) else None)
            return None
        if name == UNTRAINED_NAME and scope.allow_step and scope.where == "a check":
            self.used_untrained = True  # the states the agent's critic was not trained on (checked in _check)
            return T.VarRef(len(self.variables) + (self.horizon is not None), UNTRAINED_NAME, BOOL, span)
        if name == STEP_NAME and self.horizon is not None:
            if not scope.allow_step:
                self._error(f"'{STEP_NAME}', the steps taken in the episode, can be used in checks and policies, not in "
                            f"{scope.where}", span, hint="the world's own rules do not depend on the step; declare a "
                            "variable that counts if they must")
                return None
            return T.VarRef(len(self.variables), STEP_NAME, INT, span)
        self._unknown(name, span, self._candidates(scope))
        return None

    def _enum_value(self, name: str, span: Span | None, expected: Type | None) -> T.Literal | None:
        types = self.enum_types[name]
        if expected is not None and expected.kind == "enum":
            if name in expected.values:
                return T.Literal(expected.values.index(name), expected, span)
            self._error(f"'{name}' is not one of the values {expected}", span)
            return None
        if len(types) == 1:
            return T.Literal(types[0].values.index(name), types[0], span)
        self._error(f"'{name}' is a value of several enums ({', '.join(map(str, types))}); "
                    "compare it with a variable so its type is known", span)
        return None

    def _binary(self, node: S.Binary, scope: _Scope) -> T.Expr | None:
        op, span = node.op, node.span
        if op in ("==", "!="):  # resolve a bare enum value by the type of the other side
            if self._is_enum_name(node.left, scope) and not self._is_enum_name(node.right, scope):
                right = self._expr(node.right, scope)
                left = self._expr(node.left, scope, right.type) if right is not None else None
            else:
                left = self._expr(node.left, scope)
                right = None if left is None and self._is_enum_name(node.right, scope) else \
                    self._expr(node.right, scope, left.type if left is not None else None)  # (no follow-on error)
        else:
            left = self._expr(node.left, scope)
            right = self._expr(node.right, scope)
        if left is None or right is None:
            return None
        lt, rt = left.type, right.type
        if op in ("&&", "||", "->", "<->"):
            for side, side_node in ((left, node.left), (right, node.right)):
                if side.type != BOOL:
                    self._error(f"'{op}' needs conditions, found {side.type}", side_node.span,
                                hint="compare numbers first, e.g. `battery > 0`")
                    return None
            return self._fold(T.Binary(op, left, right, BOOL, span))
        if op in ("==", "!="):
            if lt != rt and lt.kind == rt.kind == "enum" and isinstance(right, T.Literal):
                right = self._coerce(right, lt, node.right.span, "the left side")
            elif lt != rt and lt.kind == rt.kind == "enum" and isinstance(left, T.Literal):
                left = self._coerce(left, rt, node.left.span, "the right side")
            elif lt != rt and not (lt.is_numeric and rt.is_numeric):
                self._error(f"cannot compare {lt} with {rt}", span)
                return None
            if left is None or right is None:
                return None
            return self._fold(T.Binary(op, left, right, BOOL, span))
        if op in ("<", "<=", ">", ">="):
            for side, side_node in ((left, node.left), (right, node.right)):
                if not side.type.is_numeric:
                    self._error(f"'{op}' compares numbers, found {side.type}", side_node.span)
                    return None
            return self._fold(T.Binary(op, left, right, BOOL, span))
        # arithmetic: a condition counts as 0/1 only as a factor of '*'
        for side, side_node in ((left, node.left), (right, node.right)):
            if side.type.is_numeric or (op == "*" and side.type == BOOL):
                continue
            hint = ("a condition counts as 0/1 as a factor: write `1 * (condition)`"
                    if side.type == BOOL else None)
            self._error(f"'{op}' needs numbers, found {side.type}", side_node.span, hint=hint)
            return None
        if op == "/":
            if isinstance(right, T.Literal) and right.value == 0:
                self._error("division by zero", node.right.span)
                return None
            type_ = REAL
        else:
            numeric = [t for t in (lt, rt) if t.is_numeric]
            type_ = INT if all(t == INT for t in numeric) else REAL
        return self._fold(T.Binary(op, left, right, type_, span))

    def _aup(self, node: S.AupCall, scope: _Scope) -> T.Expr | None:
        """``aup(noop = [wait], aux_1, ...)``: in cost and intent terms, without a horizon; each auxiliary is a
        cost over the state and action (``x'`` too), without params (the penalty would not be linear in them)."""
        if not scope.allow_penalty:
            self._error(f"aup(...) cannot be used in {scope.where}", node.span,
                        hint="the attainable utility penalty belongs in a cost or intent term, e.g. "
                             "`cost conservative = LAMBDA * aup(noop = [wait], box_free)`")
            return None
        if self.horizon is not None:
            self._error("aup(...) is defined for the discounted infinite horizon, not for episodes of `horizon` "
                        "steps", node.span, hint="drop `horizon` to add an attainable utility penalty")
            return None
        where = _Scope("an auxiliary objective of aup(...)", allow_actions=True, allow_next=True)
        noop: T.ActionIs | None = None
        auxiliaries: list[T.Expr] = []
        ok = True
        for arg in node.args:
            if arg.name is None:
                aux = self._expr(arg.value, where)
                if aux is not None and aux.type == BOOL:  # a condition counts 1 where it holds, as a term
                    aux = T.Binary("*", T.Literal(1, INT), aux, INT, aux.span)
                if aux is not None and not aux.type.is_numeric:
                    self._error(f"an auxiliary objective of aup(...) must be a number, found {aux.type}",
                                arg.value.span)
                    aux = None
                if aux is None:
                    ok = False
                else:
                    auxiliaries.append(aux)
            elif arg.name.text != "noop" or noop is not None:
                what = "is given twice" if arg.name.text == "noop" else "is not an argument of aup(...)"
                self._error(f"'{arg.name.text}' {what}", arg.name.span,
                            hint="aup(...) takes `noop = [ACTION]` and its auxiliary objectives, e.g. "
                                 "`aup(noop = [wait], box_free, vase_intact)`")
                ok = False
            elif not isinstance(arg.value, S.ActionSet):
                self._error("the noop of aup(...) is an action in brackets, e.g. `noop = [wait]`", arg.value.span)
                ok = False
            else:
                noop = self._resolve_actions(arg.value)
                ok = ok and noop is not None
        if ok and noop is None:
            self._error("aup(...) needs its no-op action, the baseline each choice is compared with", node.span,
                        hint="add `noop = [ACTION]`, e.g. `aup(noop = [wait], box_free)`")
            return None
        if ok and not auxiliaries:
            self._error("aup(...) needs at least one auxiliary objective", node.span,
                        hint="add the auxiliary costs whose attainable values the agent should preserve, e.g. "
                             "`aup(noop = [wait], box_free)`")
            return None
        if not ok or noop is None:
            return None
        return T.AttainableUtility(noop, tuple(auxiliaries), REAL, node.span)

    def _next_name(self, node: S.NextName, scope: _Scope) -> T.Expr | None:
        """``x'``: variable ``x`` after the step, where ``scope`` allows it (the compiler takes the expectation
        over the successors)."""
        variable = self.variables.get(node.name)
        if variable is None:
            if node.name in self.declared:
                self._error(f"'{node.name}' is not a state variable: only variables have a value after the step",
                            node.span, hint=f"write '{node.name}': it is the same after the step")
            else:
                self._unknown(node.name, node.span, list(self.variables), "variable")
            return None
        if not scope.allow_next:
            self._error(f"the value after the step, '{node.name}'', cannot be used in {scope.where}", node.span,
                        hint=_NEXT_STATE_HINT)
            return None
        return T.VarRef(len(self.variables) + list(self.variables).index(node.name), node.name,
                        variable.domain.type, node.span, next=True)

    def _quoted_label_hint(self, name: str) -> str:
        if name == "init":
            return "every check starts in the initial state; to name it, declare `label start = ...` over the variables"
        if name == "deadlock":
            return "a non-terminal state where no action is enabled is a model error in corrigo, not a state to check"
        if name in self.declared:
            return f"write `{name}`"
        return f"declare `label {name} = CONDITION` and write `{name}`"

    def _is_enum_name(self, node: S.Expr, scope: _Scope) -> bool:
        """A bare enum value or a text: its type is the other side's."""
        return isinstance(node, S.Text) or (isinstance(node, S.Name) and node.name in self.enum_types
                                            and node.name not in scope.bindings and node.name not in self.declared)

    def _in_check_world(self, action: str, span: Span | None) -> bool:
        """Whether ``action`` exists in the world of the check being checked (where it names actions the agent
        may take); elsewhere, in a cost term or a formula, an action that does not exist is simply not taken."""
        if self.check_world == ANY_WORLD or self._exists_in(action, self.check_world):
            return True
        self._error(f"action '{action}' exists only in {_scenarios(self.only_in[action])}, and this check is in "
                    f"{_world(self.check_world)}", span,
                    hint=f"check it there: `check NAME in {self.only_in[action][0]} : ...`")
        return False

    def _exists_in(self, name: str, world: str | None) -> bool:
        """Whether the action or event ``name`` exists in ``world`` (one not declared `in` exists in all)."""
        return name not in self.only_in or world in self.only_in[name]

    def _policy_in_check_world(self, name: str, span: Span | None) -> bool:
        """Whether the policy ``name`` can be followed in the world of the check being checked: every action it
        takes exists there."""
        if name not in self.policy_worlds or self.check_world == ANY_WORLD or \
                self.check_world in self.policy_worlds[name][0]:
            return True
        action = self.policy_worlds[name][1]
        self._error(f"policy '{name}' takes '{action}', which exists only in {_scenarios(self.only_in[action])}, "
                    f"and this check is in {_world(self.check_world)}", span,
                    hint=f"check it there: `check NAME under {name} in {self.only_in[action][0]} : ...`")
        return False

    def _resolve_actions(self, node: S.ActionSet) -> T.ActionIs | None:
        names: set[str] = set()
        for ref in node.refs:
            base = ref.name.text
            if base not in self.actions:
                if base in self.action_params:  # declared, but every expansion failed to check
                    return None
                self._unknown(base, ref.name.span, list(self.actions), "action")
                return None
            if not self._in_check_world(base, ref.name.span):
                return None
            expansions = self.actions[base]
            if ref.args is None:
                names.update(a.name for a in expansions)
                continue
            params = self.action_params[base]
            if len(ref.args) != len(params):
                self._error(f"action '{base}' has {len(params)} parameter(s), found {len(ref.args)}", ref.span)
                return None
            values = []
            for arg, param in zip(ref.args, params):
                domain = self._domain(param.domain, f"parameter '{param.name}'")
                literal = self._expr(arg, _Scope("an action argument"), domain.type if domain else None)
                if domain is None or literal is None:
                    return None
                if not isinstance(literal, T.Literal) or not domain.contains(int(literal.value)):
                    self._error(f"'{self._text(arg.span)}' is not a value of parameter '{param.name}' ({domain})",
                                arg.span)
                    return None
                values.append(domain.decode(int(literal.value)))
            names.add(f"{base}({', '.join(values)})")
        return T.ActionIs(frozenset(names), self._text(node.span), BOOL, node.span)

    # --- types and folding ---------------------------------------------------------------------

    @staticmethod
    def _unify(a: Type, b: Type) -> Type | None:
        if a == b:
            return a
        if a.is_numeric and b.is_numeric:
            return REAL
        return None

    def _coerce(self, value: T.Expr, target: Type, span: Span | None, what: str) -> T.Expr | None:
        """``value`` as a value of ``target``: ints widen to reals, enum literals move by name."""
        if value.type == target or (target == REAL and value.type == INT):
            return value
        if (target.kind == "enum" and value.type.kind == "enum" and isinstance(value, T.Literal)
                and value.type.values[int(value.value)] in target.values):
            return T.Literal(target.values.index(value.type.values[int(value.value)]), target, value.span)
        hint = None
        if target == INT and value.type == REAL:
            hint = self._made_real_hint(span) or "an int variable takes whole numbers; '/' always gives a real"
        self._error(f"{what} is of type {target}, found {value.type}", span, hint=hint)
        return None

    def _fold(self, node: T.Expr) -> T.Expr | None:
        """Replace ``node`` by a literal when all its operands are literals (exact arithmetic)."""
        children = node.children
        if not children:
            return node
        literals = [c for c in children if isinstance(c, T.Literal)]
        if len(literals) < len(children):
            return self._int_in_range(node)
        try:
            value = _evaluate(node, [c.value for c in literals])
        except ZeroDivisionError:
            self._error("division by zero", node.span)
            return None
        return self._fitting(T.Literal(value, node.type, node.span))

    def _int_in_range(self, node: T.Expr) -> T.Expr | None:
        """``node``, or ``None`` with an error when int arithmetic over the variables' domains can leave int64
        (numpy would wrap around silently)."""
        if not isinstance(node, (T.Binary, T.Unary)) or node.type != INT or node.op not in ("+", "-", "*"):
            return node
        largest = self._measure(node).magnitude
        if largest < INT64_LIMIT:
            return node
        self._error(f"'{self._text(node.span)}' can reach {largest:.3g} over the variables' domains, beyond "
                    "corrigo's 64-bit ints (±9.2e18)", node.span,
                    hint="rescale, or compute in reals: a real factor (e.g. `1.0 * ...`) makes the product a real")
        return None

    def _within_limits(self, expr: T.Expr, span: Span | None) -> bool:
        """Whether ``expr``, with its formulas written out, is as shallow and small as the compiler needs
        (``MAX_NESTING``, ``MAX_EXPRESSION_SIZE``); if not, an error at ``span``."""
        measure = self._measure(expr)
        hint = ("formulas are written out where they are used: use fewer of them inside each other, or group "
                "long sums and chains in parentheses")
        if measure.depth > MAX_NESTING:
            self._error(f"expression nested too deeply once its formulas are written out: more than {MAX_NESTING} "
                        "levels", span, hint=hint)
            return False
        if measure.size > MAX_EXPRESSION_SIZE:
            self._error(f"expression too large once its formulas are written out: {measure.size:,} parts, more "
                        f"than {MAX_EXPRESSION_SIZE:,}", span, hint=hint)
            return False
        return True

    def _measure(self, expr: T.Expr) -> _Measure:
        """``expr`` as a tree, from the measures of its children: memoised by identity, so a formula used
        many times is measured once, and computed without recursion."""
        stack = [expr]
        while stack:
            node = stack[-1]
            if id(node) in self.measures:
                stack.pop()
                continue
            unmeasured = [child for child in node.children if id(child) not in self.measures]
            if unmeasured:
                stack.extend(unmeasured)
                continue
            stack.pop()
            self.measures[id(node)] = (node, self._measured(node, [self.measures[id(c)][1] for c in node.children]))
        return self.measures[id(expr)][1]

    def _measured(self, node: T.Expr, children: list[_Measure]) -> _Measure:
        if isinstance(node, T.Literal):
            magnitude = abs(int(node.value)) if node.type == INT else 1
        elif isinstance(node, T.VarRef):
            if node.name in self.variables:
                domain = self.variables[node.name].domain
                magnitude = max(abs(domain.lo), abs(domain.hi))
            else:  # `step`
                magnitude = self.horizon or 0
        elif node.type == BOOL:  # conditions and action indicators are 0/1
            magnitude = 1
        elif isinstance(node, T.TableCell):
            magnitude = max(abs(int(x)) for row in node.values for x in row) if node.type == INT else 1
        elif isinstance(node, T.Binary) and node.op == "*":
            magnitude = children[0].magnitude * children[1].magnitude
        elif isinstance(node, T.Binary) and node.op in ("+", "-"):
            magnitude = children[0].magnitude + children[1].magnitude
        else:  # -x, min, max, abs, c ? a : b
            magnitude = max((c.magnitude for c in children), default=1)
        return _Measure(depth=1 + max((c.depth for c in children), default=0),
                        size=1 + sum(c.size for c in children), magnitude=min(magnitude, _MAGNITUDE_CAP))

    def _fitting(self, literal: T.Literal) -> T.Literal | None:
        """``literal``, or ``None`` with an error when the model's 64-bit arithmetic cannot hold its value."""
        problem = fit_problem(literal.value, literal.type == INT) if literal.type.is_numeric else None
        if problem is None:
            return literal
        self._error(f"'{shorten(self._text(literal.span))}' {problem.what}", literal.span, hint=problem.hint)
        return None


def _code_of(domain: T.Domain, text: str) -> int | None:
    """The code of a value written as the spec writes it (``3``, ``lab``, ``true``), or None if not in ``domain``."""
    if isinstance(domain, T.EnumDomain):
        return domain.values.index(text) if text in domain.values else None
    if isinstance(domain, T.BoolDomain):
        return {"false": 0, "true": 1}.get(text)
    if not re.fullmatch(r"-?[0-9]+", text):
        return None
    code = int(text)
    return code if domain.contains(code) else None


_TABLE_ENTRY = re.compile(r"([-+]?)(.*?)(?:/(.*))?")  # a table's entry: sign, number, denominator

# Magnitudes only matter up to int64. The operands of an int operation lie within int64 once checked, so
# its magnitude (shown in messages) stays below the cap; a real product of many ints stays cheap.
_MAGNITUDE_CAP = INT64_LIMIT**2


def _evaluate(node: T.Expr, values: list[Value]) -> Value:
    """The exact value of ``node`` applied to its operands' values."""
    if isinstance(node, T.Unary):
        return (not values[0]) if node.op == "!" else -values[0]
    if isinstance(node, T.Conditional):
        return values[1] if values[0] else values[2]
    if isinstance(node, T.Member):
        return int(values[0]) in node.values
    if isinstance(node, T.Call):
        # min/max of the list of values, so that one argument is fine: max(1) is 1, as max(x) is x
        functions: dict[str, Callable[..., Value]] = {"min": min, "max": max, "abs": lambda v: abs(v[0])}
        return _normalise(functions[node.function](values), node.type)
    assert isinstance(node, T.Binary)
    a, b = values
    op = node.op
    if op in ("&&", "||", "->", "<->"):
        return {"&&": a and b, "||": a or b, "->": (not a) or b, "<->": a == b}[op]
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    a, b = int(a) if isinstance(a, bool) else a, int(b) if isinstance(b, bool) else b
    if op == "/":
        return Fraction(a) / Fraction(b)
    return _normalise({"+": a + b, "-": a - b, "*": a * b}[op], node.type)


def _power_kind_name(kind: T.CheckKind) -> str:
    if isinstance(kind, T.QuantityComparison):
        return "power" if isinstance(kind.left, T.PowerAt) else "optimality_probability"
    return "power_seeking" if isinstance(kind, T.PowerSeeking) else "optimality_probability"


def _checked(items: list[_Checked | None]) -> tuple[_Checked, ...]:
    """``items`` once no diagnostic was reported, when a declaration that failed to check (None) is a bug."""
    if any(item is None for item in items):
        raise AssertionError("a declaration failed to check without a diagnostic")  # a bug in corrigo
    return tuple(item for item in items if item is not None)


def _normalise(value: Value, type_: Type) -> Value:
    return int(value) if type_ == INT else Fraction(value)


def _literal_value(domain: T.Domain, code: int) -> Value:
    return bool(code) if isinstance(domain, T.BoolDomain) else code


def _show(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        decimal = float(value)
        return repr(decimal) if Fraction(repr(decimal)) == value else str(value)
    return str(value)


def _show_literal(literal: T.Literal) -> str:
    if literal.type.kind == "enum":
        return literal.type.values[int(literal.value)]
    return _show(literal.value)


def _scenarios(names: tuple[str, ...]) -> str:
    """``scenario 'deploy'``, ``scenarios 'deploy' and 'test'``: where a declaration `in` scenarios exists."""
    quoted = [f"'{name}'" for name in names]
    return ("scenario " if len(names) == 1 else "scenarios ") + (
        quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}")


def _world(world: str | None) -> str:
    return "the spec's own world" if world is None else f"scenario '{world}'"


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _kind(declaration: S.Node) -> str:
    if isinstance(declaration, S.Formula):
        return "label" if declaration.is_label else "formula"
    if isinstance(declaration, S.Term):
        return f"{declaration.kind} term"
    return {S.Const: "constant", S.Param: "param", S.Var: "variable", S.Action: "action", S.Event: "event",
            S.Check: "check"}.get(type(declaration), "declaration")


def is_affine_in_params(expr: T.Expr) -> bool:
    """Whether ``expr`` is affine in the params (``w * x + 1``, not ``w * w`` or ``min(w, 1)``): what a cost term
    must be, and what lets the sweep treat a hand-written critic as a function of the weights."""
    return _degree(expr, lambda node: isinstance(node, T.ParamRef)) is not None


def _degree(node: T.Expr, is_variable: Callable[[T.Expr], bool]) -> int | None:
    """The degree of ``node`` in the nodes ``is_variable`` picks (0 or 1), None when it is not affine in them."""
    if is_variable(node):
        return 1
    if isinstance(node, T.Binary) and node.op in ("+", "-"):
        a, b = _degree(node.left, is_variable), _degree(node.right, is_variable)
        return None if a is None or b is None else max(a, b)
    if isinstance(node, T.Binary) and node.op == "*":
        a, b = _degree(node.left, is_variable), _degree(node.right, is_variable)
        return None if a is None or b is None or a + b > 1 else a + b
    if isinstance(node, T.Binary) and node.op == "/":
        a, b = _degree(node.left, is_variable), _degree(node.right, is_variable)
        return None if a is None or b != 0 else a
    if isinstance(node, T.Unary) and node.op == "-":
        return _degree(node.operand, is_variable)
    if isinstance(node, T.Conditional):
        test = _degree(node.test, is_variable)
        a, b = _degree(node.then, is_variable), _degree(node.otherwise, is_variable)
        return None if test != 0 or a is None or b is None else max(a, b)
    if any(is_variable(n) for n in node.traverse()):
        return None
    return 0
