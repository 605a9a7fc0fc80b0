"""Export a :class:`~mdp.model.TabularMDP` to PRISM's language, explicit state, for Storm and PRISM.

The export is *explicit state* on purpose: one integer variable ``s`` numbers the states exactly as the
model does, and every row (enabled state-action choice) becomes one command ``[action] s=i -> p:(s'=j) +
...;``. Storm then checks exactly the model corrigo built and solved, so a disagreement points at the
solver, not at a second translation of the spec. (The compiler is checked separately, against tiny specs
whose models are enumerated by hand.) The price is size: Storm and PRISM evaluate every command's guard in
every state while building, which is quadratic in the number of states (Storm: 1,000 states of 4
actions build in 2.5 s, 4,000 in 20 s), so keep exports to a few thousand states.

Costs become state-action rewards on labelled commands, ``[action] s=i : c;``, one reward structure per
cost term and ``"cost"`` for their sum; each state has at most one choice per action, so every row gets
exactly its own cost. The properties file asks Storm for the minimal expected discounted total cost from
the initial state (``R{"cost"}min=? [ Cdiscount=γ ]``, Storm >= 1.11; PRISM has no discounted operator) or,
for discount 1, the minimal expected total cost to reach a terminal state, and for the maximal probability
of ever reaching each label.

Numbers are written with Python's ``repr``, the shortest decimal that reads back as the same double. PRISM
reads them exactly; Storm evaluates them through ExprTk, which can land one or two units in the last
place away, far below any solver tolerance (and within Storm's check that probabilities sum to one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dsl.spec import (
    ActionIs, AlwaysCheck, Check, CostBound, Eventually, Expr, Globally, IntDomain, NeverCheck, Next, ProbabilityBound,
    Spec, Until,
)

from .expressions import UndefinedValueError, vectorize
from .model import ModelError, TabularMDP

__all__ = ["CheckProperty", "PrismChecks", "PrismNames", "RESERVED_WORDS", "prism_checks", "prism_names",
           "properties_text", "to_prism", "to_prism_files", "write_with_properties"]

STATE_VARIABLE = "s"
TOTAL_COST = "cost"
"""The reward structure holding the sum of all cost terms, and the name of the property that minimises it."""
TERMINAL_LABEL = "terminal"

# Words PRISM or Storm reserve in models and properties (including built-in functions and labels); an
# identifier equal to one of them gets a suffix.
RESERVED_WORDS = frozenset(
    """
    A bool clock const ctmc ctmdp C double dtmc E endinit endinvariant endmodule endobservables endplayer
    endrewards endsystem false formula filter func F global G init invariant I int label ma max mdp min
    module observable observables nondeterministic P Pmax Pmin pomdp popomdp prob probabilistic pta player
    rate rewards Rmax Rmin R S smg stochastic system true U W X ceil floor round pow mod log sqrt exp sin
    cos multi quantile deadlock
    """.split()
)


@dataclass(frozen=True, slots=True)
class PrismNames:
    """The PRISM identifiers :func:`to_prism` gives the model's names: legal, unique, no reserved words.

    ``move(dock)`` becomes ``move_dock``, the terminal self-loop ``terminal``; a name that would collide
    with another or with a reserved word gets a numeric suffix (``cost_2``, ``init_2``).
    """

    module: str
    actions: tuple[str, ...]  # command label of each entry of model.action_names
    terms: Mapping[str, str]  # cost term -> its reward structure ("cost" itself is the total)
    labels: Mapping[str, str]  # model label -> PRISM label; "terminal" is always the terminal states
    reach_properties: Mapping[str, str]  # model label -> name of its Pmax property
    reach_min_properties: Mapping[str, str]  # model label -> name of its Pmin property


def _identifier(name: str, taken: set[str]) -> str:
    """A legal, unused PRISM identifier close to ``name``; records it in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "x"
    if base[0].isdigit():
        base = "x_" + base
    candidate, suffix = base, 2
    while candidate in taken or candidate in RESERVED_WORDS or candidate == STATE_VARIABLE:
        candidate, suffix = f"{base}_{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def prism_names(model: TabularMDP) -> PrismNames:
    """The identifiers the export uses for the model's actions, cost terms and labels.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=0.5, action_names=["move(dock)"])
    >>> prism_names(model).actions
    ('move_dock', 'terminal')
    """
    module = _identifier(model.name, set())
    actions: list[str] = []
    taken_actions = {module}
    for name in model.action_names:
        actions.append(_identifier(name, taken_actions))
    taken_terms = {TOTAL_COST}
    terms = {}
    for term in model.costs:
        if term == TOTAL_COST and len(model.costs) == 1:
            terms[term] = TOTAL_COST  # the only term is the total
        else:
            terms[term] = _identifier(term, taken_terms)
    # labels and property names share one namespace: PRISM reads `"x"` in a property as either
    taken = {TERMINAL_LABEL, TOTAL_COST}
    labels = {label: _identifier(label, taken) for label in model.labels}
    reach = {label: _identifier(f"reach_{labels[label]}", taken) for label in model.labels}
    reach_min = {label: _identifier(f"reach_min_{labels[label]}", taken) for label in model.labels}
    return PrismNames(module, tuple(actions), terms, labels, reach, reach_min)


def _number(value: float) -> str:
    """The shortest decimal that reads back as ``value``; PRISM and Storm accept the exponent form."""
    if not math.isfinite(value):
        raise ModelError(f"cannot export the non-finite number {value} to PRISM")
    return repr(float(value))


def _fraction(value: float) -> str:
    """``value`` as the exact fraction of its shortest decimal: ``0.95`` becomes ``19/20``."""
    exact = Fraction(repr(float(value)))
    return str(exact.numerator) if exact.denominator == 1 else f"{exact.numerator}/{exact.denominator}"


def _state_set(mask: npt.NDArray[np.bool_]) -> str:
    """A PRISM expression true exactly in the states of ``mask``: runs become ranges."""
    if not mask.any():
        return "false"
    if mask.all():
        return "true"
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    parts = []
    for first, stop in zip(edges[0::2].tolist(), edges[1::2].tolist()):
        last = stop - 1
        if first == last:
            parts.append(f"{STATE_VARIABLE}={first}")
        else:
            parts.append(f"({STATE_VARIABLE}>={first} & {STATE_VARIABLE}<={last})")
    return " | ".join(parts)


def _is_plain_index(model: TabularMDP) -> bool:
    """True when the decoder only repeats the index (``s=3``), as for models from arrays."""
    if len(model.variables) != 1 or model.state_codes is None:
        return False
    variable = model.variables[0]
    return (variable.name == STATE_VARIABLE and isinstance(variable.domain, IntDomain) and variable.domain.lo == 0
            and np.array_equal(model.state_codes[:, 0], np.arange(model.n_states)))


def _check_one_choice_per_action(model: TabularMDP) -> None:
    """Raise unless every state has at most one row per action (costs are attached by action label)."""
    key = model.row_state * (len(model.action_names) + 1) + model.row_action
    if np.unique(key).size != key.size:
        values, counts = np.unique(key, return_counts=True)
        state, action = divmod(int(values[counts > 1][0]), len(model.action_names) + 1)
        raise ModelError(
            f"state {state} has several choices of action '{model.action_names[action]}': the PRISM export "
            "needs at most one choice per action and state"
        )


def to_prism(model: TabularMDP, spec: Spec | None = None) -> tuple[str, str]:
    """The model as an explicit-state PRISM ``mdp``, and a properties file Storm can check on it.

    Parameters
    ----------
    model
        Any tabular model; practical up to a few thousand states (Storm's build of an explicit-state
        program is quadratic in the states).
    spec
        The spec ``model`` was compiled from: its checks then follow in the properties file, each after a
        comment with its name, as written, and what Storm's answer says of it (:func:`prism_checks`), and
        the model gets the labels they need.

    Returns
    -------
    tuple of str
        The model text (module, one reward structure per cost term plus ``"cost"``, labels including
        ``"terminal"``) and the properties text: ``"cost"`` (the minimal expected total cost from the
        initial state, discounted as the model is), ``"reach_<label>"`` (``Pmax=? [ F "<label>" ]``) and
        ``"reach_min_<label>"`` (``Pmin=? [ F "<label>" ]``) for each label, then, with ``spec``, its checks.
        :func:`prism_names` tells which identifier stands for which name.

    Raises
    ------
    ModelError
        On a non-finite cost or probability, a state with two choices of the same action, or a start
        distribution (``init``), which PRISM's single initial state cannot hold.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[2, 0]], discount=0.95, terminal=[False, True])
    >>> text, props = to_prism(model)
    >>> print(props.splitlines()[-1])
    "cost": R{"cost"}min=? [ Cdiscount=19/20 ];
    """
    _check_one_choice_per_action(model)
    if len(model.starts) > 1:
        raise ModelError("the model starts in one of several states at random (`init`); a PRISM model has one "
                         "initial state (or a set, not a distribution): export each start state's spec instead")
    names = prism_names(model)
    checks = prism_checks(model, spec, names) if spec is not None else None
    n, s = model.n_states, STATE_VARIABLE
    P = model.P.tocsr()
    indptr, indices, data = P.indptr.tolist(), P.indices.tolist(), P.data.tolist()
    row_groups = model.row_groups.tolist()
    row_action = model.row_action.tolist()
    describes = model.state_codes is not None and not _is_plain_index(model)

    out = [
        f"// {model.name}: exported by corrigo as an explicit-state model, one command per choice",
        f"// {n} states, {model.n_rows} choices, {model.n_transitions} transitions, discount "
        f"{_fraction(model.discount)}",
    ]
    renamed = [(label, name) for label, name in zip(names.actions, model.action_names) if label != name]
    if renamed:
        out.append("// action labels: " + ", ".join(f"[{label}] is {name}" for label, name in renamed))
    out += ["", "mdp", "", f"module {names.module}", f"  {s} : [0..{n - 1}] init {model.initial};"]
    for state in range(n):
        if describes:
            out.append(f"  // {s}={state}: {model.describe(state)}")
        for row in range(row_groups[state], row_groups[state + 1]):
            branches = []
            for k in range(indptr[row], indptr[row + 1]):
                if data[k] != 0.0:
                    branches.append(f"{_number(data[k])}:({s}'={indices[k]})")
            out.append(f"  [{names.actions[row_action[row]]}] {s}={state} -> {' + '.join(branches)};")
    out += ["endmodule", ""]

    structures = [(TOTAL_COST, model.cost)]
    structures += [(names.terms[term], vector) for term, vector in model.costs.items()
                   if names.terms[term] != TOTAL_COST]
    row_state = model.row_state.tolist()
    for structure, vector in structures:
        out.append(f'rewards "{structure}"')
        nonzero = np.flatnonzero(vector).tolist()
        values = vector.tolist()
        for row in nonzero:
            out.append(f"  [{names.actions[row_action[row]]}] {s}={row_state[row]} : {_number(values[row])};")
        if not nonzero:
            out.append("  true : 0;  // Storm rejects an empty reward structure")
        out += ["endrewards", ""]

    out.append(f'label "{TERMINAL_LABEL}" = {_state_set(model.terminal)};')
    for label, mask in model.labels.items():
        out.append(f'label "{names.labels[label]}" = {_state_set(np.asarray(mask, dtype=bool))};')
    if checks is not None:
        for label, (states, text) in checks.labels.items():
            comment = f"  // {text}" if text and text != label else ""
            out.append(f'label "{label}" = {_state_set(states)};{comment}')
    return "\n".join(out) + "\n", properties_text(model, names, checks)


def _check_lines(checks: PrismChecks) -> str:
    """The checks' part of the properties file: a comment per check, then its property if it has one."""
    if not checks.properties:
        return ""
    out = [CHECKS_PREAMBLE]
    for prop in checks.properties:
        out.append(f"// {prop.check}: {prop.text} -- {prop.note}")
        if prop.is_exported:
            out.append(f'"{prop.name}": {prop.formula};')
    return "\n".join(out) + "\n"


def properties_text(model: TabularMDP, names: PrismNames, checks: PrismChecks | None = None) -> str:
    """The properties file: the optimal total cost, then the reachability of every label, then ``checks``.

    Every property ends in ``;``: stormpy's ``parse_properties`` does not split properties at line breaks.
    """
    if model.discount < 1:
        out = [
            "// minimal expected discounted total cost from the initial state (Storm >= 1.11 syntax)",
            f'"{TOTAL_COST}": R{{"{TOTAL_COST}"}}min=? [ Cdiscount={_fraction(model.discount)} ];',
        ]
    else:
        out = [
            "// minimal expected total cost until a terminal state is reached",
            f'"{TOTAL_COST}": R{{"{TOTAL_COST}"}}min=? [ F "{TERMINAL_LABEL}" ];',
        ]
    if model.labels:
        out.append("// maximal and minimal probability of ever reaching each label")
    for label in model.labels:
        out.append(f'"{names.reach_properties[label]}": Pmax=? [ F "{names.labels[label]}" ];')
        out.append(f'"{names.reach_min_properties[label]}": Pmin=? [ F "{names.labels[label]}" ];')
    return "\n".join(out) + "\n" + (_check_lines(checks) if checks is not None else "")


# --- the spec's checks as properties -----------------------------------------------------------

CHECKS_PREAMBLE = """\
// The spec's checks, each after a comment with its name and what Storm's answer says of it.
// corrigo checks every optimal policy (each policy minimising the expected cost); a P or R bound below
// holds when it holds for every policy of the model, a larger set: true means the check holds too,
// false may come from a policy no optimal agent takes (then only corrigo's verdict decides).
// The optimal cost is Rmin over every policy, so a `cost` check is exported as the query of that
// number, to compare with the check's bound."""


@dataclass(frozen=True, slots=True)
class CheckProperty:
    """One check of the spec in the properties file: its PRISM/Storm property, or why it has none."""

    check: str  # the check's name in the spec
    text: str  # its property as written in the spec
    note: str  # how Storm's answer relates to corrigo's verdict, or why there is no property
    name: str | None = None  # the property's name in the file (None: not exported)
    formula: str | None = None  # the property, in syntax Storm reads (and PRISM, but for Cdiscount)

    @property
    def is_exported(self) -> bool:
        return self.formula is not None


@dataclass(frozen=True, slots=True)
class PrismChecks:
    """The spec's checks as properties, and the labels they need beyond the model's own."""

    properties: tuple[CheckProperty, ...]  # one per check, in the spec's order
    labels: Mapping[str, tuple[npt.NDArray[np.bool_], str]]  # label -> (n,) its states, the condition as written


def prism_checks(model: TabularMDP, spec: Spec, names: PrismNames | None = None) -> PrismChecks:
    """The checks of ``spec`` (the spec ``model`` was compiled from) as PRISM/Storm properties.

    A condition becomes a label of the explicit-state model: the model's own label when it is a bool
    formula of the spec, else a new one, named after the condition when that is a bare name (``off``) and
    after the check otherwise (``no_sabotage_target``; ``_hold`` for the left of ``U``, ``G`` and
    ``always``). ``never φ`` becomes ``P<=0 [ F φ ]``, ``always φ`` ``P>=1 [ G φ ]``, ``P ~ p [ path ]``
    itself, ``cost[TERM] ~ x`` ``R{"TERM"}~x [ C ]``: each a bound over every policy, which implies the
    check (over the optimal ones). ``cost ~ x`` becomes the query ``R{"cost"}min=? [ C ]``: the optimal
    cost itself. The costs are discounted (``Cdiscount``, Storm only) or, with discount 1, summed until a
    terminal state (``F "terminal"``). Checks of corrigo's own kinds, checks under a policy or an agent,
    in another scenario, or whose condition mentions the action taken have no property.

    Examples
    --------
    >>> import dsl, mdp
    >>> spec = dsl.load("model m\\ndiscount 0.5\\nvar off : bool\\naction stop: off' = true\\nterminal off\\n"
    ...                 "cost time = 1\\ncheck stops : P >= 1 [ F off ]\\ncheck quick : cost <= 1\\n")
    >>> checks = prism_checks(mdp.compile(spec), spec)
    >>> [(p.name, p.formula) for p in checks.properties]
    [('stops', 'P>=1 [ F "off" ]'), ('quick', 'R{"cost"}min=? [ Cdiscount=1/2 ]')]
    >>> {label: states.tolist() for label, (states, _) in checks.labels.items()}
    {'off': [False, True]}
    """
    return _CheckExport(model, spec, names or prism_names(model)).run()


class _CheckExport:
    """The labels made so far (one per distinct condition) and the names taken, while checks are exported."""

    def __init__(self, model: TabularMDP, spec: Spec, names: PrismNames) -> None:
        self.model, self.spec, self.names = model, spec, names
        self.taken = {TERMINAL_LABEL, TOTAL_COST, *names.labels.values(), *names.reach_properties.values(),
                      *names.reach_min_properties.values()}
        self.labels: dict[str, tuple[npt.NDArray[np.bool_], str]] = {}
        self.by_text: dict[str, str] = {}
        self.cost_path = (f"Cdiscount={_fraction(model.discount)}" if model.discount < 1
                          else f'F "{TERMINAL_LABEL}"')

    def run(self) -> PrismChecks:
        return PrismChecks(tuple(self.export(check) for check in self.spec.checks), self.labels)

    def export(self, check: Check) -> CheckProperty:
        prop = check.property

        def skip(reason: str) -> CheckProperty:
            return CheckProperty(check.name, check.text, f"not exported: {reason}")

        if check.under is not None:
            return skip(f"it is checked under '{check.under}', which the model does not fix")
        if check.scenario is not None:
            return skip(f"it is checked in the scenario '{check.scenario}', not in the exported world")
        if not isinstance(prop, (NeverCheck, AlwaysCheck, ProbabilityBound, CostBound)):
            return skip("corrigo's own kind of check, with no PRISM or Storm property")
        implies = "true implies the check holds"
        try:
            if isinstance(prop, (NeverCheck, AlwaysCheck)):
                if any(isinstance(node, ActionIs) for node in prop.condition.traverse()):
                    return skip("the condition mentions the action taken, which a state label cannot")
                if isinstance(prop, NeverCheck):
                    formula = f'P<=0 [ F "{self.label(prop.condition, check.name, "target")}" ]'
                else:
                    formula = f'P>=1 [ G "{self.label(prop.condition, check.name, "hold")}" ]'
                note = implies
            elif isinstance(prop, ProbabilityBound):
                formula = f"P{prop.comparison.value}{_decimal(prop.bound)} [ {self.path(prop, check.name)} ]"
                note = implies
            elif prop.term is None:
                formula = f'R{{"{TOTAL_COST}"}}min=? [ {self.cost_path} ]'
                note = (f"Rmin is corrigo's optimal cost: the check holds iff it is {prop.comparison.value} "
                        f"{_decimal(prop.bound)}")
            else:
                structure = self.names.terms[prop.term]
                formula = f'R{{"{structure}"}}{prop.comparison.value}{_decimal(prop.bound)} [ {self.cost_path} ]'
                note = implies
                if self.model.discount == 1 and bool((self.model.costs[prop.term] < 0).any()):
                    note += " (Storm's total reward needs costs >= 0)"
        except UndefinedValueError as error:
            return skip(f"{error.problem} in its condition, in some state")
        if check.for_all_params:
            note += "; at the exported weights only, the check is for all params"
        return CheckProperty(check.name, check.text, note, _identifier(check.name, self.taken), formula)

    def path(self, prop: ProbabilityBound, check: str) -> str:
        path = prop.path
        if isinstance(path, Globally):
            return f'G "{self.label(path.target, check, "hold")}"'
        if isinstance(path, Until):  # (the hold label first: labels are made in the order they are read)
            hold = self.label(path.hold, check, "hold")
            return f'"{hold}" U "{self.label(path.target, check, "target")}"'
        target = f'"{self.label(path.target, check, "target")}"'
        if isinstance(path, Eventually):
            return f"F {target}" if path.steps is None else f"F<={path.steps} {target}"
        assert isinstance(path, Next)
        return f"X {target}"

    def label(self, condition: Expr, check: str, role: str) -> str:
        """The label of the states where ``condition`` holds: the model's own for a formula, else a new one."""
        for formula in self.spec.formulas:
            if formula.name in self.names.labels and formula.expr == condition:
                return self.names.labels[formula.name]
        text = self.spec.source.text_at(condition.span) if condition.span is not None else ""
        if text in self.by_text:
            return self.by_text[text]
        codes = self.model.state_codes
        columns = list(codes.T) if codes is not None else []
        states = vectorize(condition, self.spec.param_values())(columns, size=self.model.n_states).astype(bool)
        name = _identifier(text if text.isidentifier() else f"{check}_{role}", self.taken)
        self.labels[name] = (states, text)
        if text:
            self.by_text[text] = name
        return name


def _decimal(value: Fraction) -> str:
    """A bound as PRISM and Storm read it exactly: the shortest decimal when there is one, else a fraction."""
    text = repr(float(value))
    if math.isfinite(float(value)) and Fraction(text) == value:
        return text[:-2] if text.endswith(".0") else text
    return f"{value.numerator}/{value.denominator}"


def to_prism_files(model: TabularMDP, path: str | Path, spec: Spec | None = None) -> tuple[Path, Path]:
    """Write :func:`to_prism`'s texts to ``<path>.prism`` and ``<path>.props``; return the two paths.

    A suffix on ``path`` is replaced, so ``out`` and ``out.prism`` both give ``out.prism`` and
    ``out.props``.
    """
    return write_with_properties(*to_prism(model, spec), path, ".prism")


def write_with_properties(model_text: str, properties: str, path: str | Path, suffix: str) -> tuple[Path, Path]:
    """Write an export's model to ``<path><suffix>`` and its properties to ``<path>.props``; return the paths."""
    model_path, properties_path = Path(path).with_suffix(suffix), Path(path).with_suffix(".props")
    model_path.write_text(model_text, encoding="utf-8")
    properties_path.write_text(properties, encoding="utf-8")
    return model_path, properties_path
