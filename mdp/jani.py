"""Export a :class:`~mdp.model.TabularMDP` as a JANI model that keeps the spec's variables, for Storm and stormpy.

JANI (https://jani-spec.org) is the JSON exchange format of the quantitative verification tools; Storm
reads it with ``stormpy.parse_jani_model``. The export is faithful state by state and keeps the
variables:

- the spec's variables are JANI variables of the same names (an integer range a bounded ``int``, a
  ``bool`` a ``bool``, an enum a bounded ``int`` numbering its values in declaration order, which the
  variable's ``comment`` lists), initially the initial state's values;
- one automaton, named as the model, with one location per state (``s0``, ``s1``, ... in corrigo's
  order) and one edge per choice, from the state's location, labelled with its action (as the PRISM
  export renames actions: legal identifiers), no guard; each destination goes to the successor's
  location with its probability and assigns the variables that change, so the variables always hold
  the values of the state the location stands for (a variable that never changes is assigned its one
  value on the first edge: Storm makes a variable nothing assigns a constant, missing from its states);
- costs are transient ``real`` variables assigned on every destination of a choice: Storm reads one
  reward model per cost term and ``"cost"`` for their sum, as action rewards;
- labels (``terminal`` and the spec's state formulas of type bool) are transient ``bool`` variables set
  by the locations of the states where they hold, which Storm reads as state labels.

Storm's state valuations then name every variable with its value, plus ``_loc_<automaton>`` (the location,
which is corrigo's state index) and the transient variables. With one location per state Storm finds
the edges of a state without evaluating guards, so it builds the model in time linear in its size. The
properties go in a separate file (:func:`to_jani` returns it): the PRISM export's, which Storm parses
against the JANI model (``stormpy.parse_properties(text, jani_model)``); JANI itself has no discounted
reward operator.

Numbers are those of :mod:`mdp.storm_numbers`: the spec's exact fractions (``{"op": "/", ...}``) for a
model compiled with ``exact=True``, otherwise the floats' shortest decimals, which Storm reads as exact
rationals and rounds to doubles by truncation: up to two units in the last place below the float (the
DRN export reads back exactly).
"""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from dsl.spec import BoolDomain, EnumDomain, IntDomain, Spec, Variable

from .model import ModelError, TabularMDP
from .prism import (
    RESERVED_WORDS, TERMINAL_LABEL, TOTAL_COST, CheckProperty, PrismChecks, PrismNames, prism_checks, prism_names,
    properties_text, write_with_properties,
)
from .storm_numbers import Number, require_single_start, reward_names, storm_numbers

__all__ = ["JANI_VERSION", "jani_text", "jani_variable_names", "to_jani", "to_jani_files"]

JANI_VERSION = 1

_INT64 = 2**63


def _number(value: Number) -> int | float | dict[str, Any]:
    """A JANI number: an int, a float, or an exact fraction as the expression ``left / right``."""
    if isinstance(value, (Fraction, int)):
        if value.denominator == 1 and abs(value.numerator) < _INT64:
            return int(value.numerator)
        if abs(value.numerator) < _INT64 and value.denominator < _INT64:  # JSON readers stop at 64 bits
            return {"op": "/", "left": int(value.numerator), "right": int(value.denominator)}
        return float(value)
    if not math.isfinite(value):
        raise ModelError(f"cannot export the non-finite number {value} to JANI")
    return int(value) if value.is_integer() and abs(value) < 2.0**53 else float(value)


def jani_variable_names(model: TabularMDP, names: PrismNames | None = None) -> tuple[str, ...]:
    """The JANI name of each of the model's variables: its own, unless a reward, a label or a word Storm
    reserves has it (then with a suffix, ``cost_2``).

    Examples
    --------
    >>> import dataclasses
    >>> from dsl.spec import IntDomain, Variable
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=0.5)
    >>> model = dataclasses.replace(model, variables=(Variable("cost", IntDomain(0, 1), 0),))
    >>> jani_variable_names(model)
    ('cost_2',)
    """
    names = names if names is not None else prism_names(model)
    taken = {TERMINAL_LABEL, *names.labels.values(), *reward_names(model, names)}
    chosen = []
    for variable in model.variables:
        candidate, suffix = variable.name, 2
        while candidate in taken or candidate in RESERVED_WORDS:
            candidate, suffix = f"{variable.name}_{suffix}", suffix + 1
        taken.add(candidate)
        chosen.append(candidate)
    return tuple(chosen)


def _type(variable: Variable) -> dict[str, Any] | str:
    domain = variable.domain
    if isinstance(domain, BoolDomain):
        return "bool"
    if isinstance(domain, IntDomain):
        return {"kind": "bounded", "base": "int", "lower-bound": domain.lo, "upper-bound": domain.hi}
    assert isinstance(domain, EnumDomain)
    return {"kind": "bounded", "base": "int", "lower-bound": 0, "upper-bound": len(domain.values) - 1}


def _value(variable: Variable, code: int) -> int | bool:
    """The JANI value of a variable's code: an int for ranges and enums (the position), a bool for bools."""
    return bool(code) if isinstance(variable.domain, BoolDomain) else int(code)


def to_jani(model: TabularMDP, spec: Spec | None = None) -> tuple[dict[str, Any], str]:
    """The model as a JANI document with its variables, and a properties file Storm can check on it.

    Parameters
    ----------
    model
        Any tabular model with one start state.
    spec
        The spec ``model`` was compiled from: its checks then follow in the properties file, as
        :func:`mdp.prism.to_prism` writes them, and the model gets the labels they need (a label named
        like a variable, such as ``off`` for ``F off``, gets a suffix here, in the model and in the
        properties: JANI has one namespace for both).

    Returns
    -------
    tuple
        The JANI model as a JSON-ready dict, and the properties text of :func:`mdp.prism.to_prism`
        (reward models and labels have the same names, but for such check labels).

    Raises
    ------
    ModelError
        On a non-finite cost or probability, a start distribution (``init``), or a cost term and a label
        of the same name (JANI has one namespace for both).

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[2, 0]], discount=1, action_names=["go"], terminal=[False, True])
    >>> document, props = to_jani(model)
    >>> [v["name"] for v in document["variables"]]
    ['s', 'cost', 'terminal']
    >>> document["automata"][0]["edges"][0]  # doctest: +NORMALIZE_WHITESPACE
    {'location': 's0', 'action': 'go',
     'destinations': [{'location': 's1', 'assignments': [{'ref': 's', 'value': 1}, {'ref': 'cost', 'value': 2}]}]}
    """
    require_single_start(model, "JANI")
    names = prism_names(model)
    numbers = storm_numbers(model, names)
    rewards = reward_names(model, names)
    labels = [(TERMINAL_LABEL, np.asarray(model.terminal, dtype=bool))]
    labels += [(names.labels[label], np.asarray(mask, dtype=bool)) for label, mask in model.labels.items()]
    clash = set(rewards) & {label for label, _ in labels}
    if clash:
        raise ModelError(f"'{sorted(clash)[0]}' names both a cost term and a label; JANI has one namespace for "
                         "variables, rewards and labels: rename one of them")
    variables = model.variables if model.state_codes is not None else ()
    codes = model.state_codes.tolist() if model.state_codes is not None else [[] for _ in range(model.n_states)]
    variable_names = jani_variable_names(model, names) if variables else ()
    checks = prism_checks(model, spec, names) if spec is not None else None
    label_comments: dict[str, str] = {}
    if checks is not None:
        checks = _check_labels_apart(checks, names, {*rewards, *variable_names})
        labels += [(label, states) for label, (states, _) in checks.labels.items()]
        label_comments = {label: f"the states where {text} holds" for label, (_, text) in checks.labels.items()
                          if text}

    declarations: list[dict[str, Any]] = []
    for variable, name, code in zip(variables, variable_names, codes[model.initial]):
        declaration: dict[str, Any] = {"name": name, "type": _type(variable), "initial-value": _value(variable, code)}
        if isinstance(variable.domain, EnumDomain):
            declaration["comment"] = ", ".join(f"{i}: {value}" for i, value in enumerate(variable.domain.values))
        if name != variable.name:
            declaration["comment"] = "; ".join(filter(None, [f"corrigo's '{variable.name}'",
                                                             declaration.get("comment")]))
        declarations.append(declaration)
    for reward in rewards:
        comment = "the sum of the cost terms" if reward == TOTAL_COST and len(rewards) > 1 else "a cost term"
        declarations.append({"name": reward, "type": "real", "transient": True, "initial-value": 0,
                             "comment": f"reward: {comment}"})
    for label, _ in labels:
        declarations.append({"name": label, "type": "bool", "transient": True, "initial-value": False})
        if label in label_comments:
            declarations[-1]["comment"] = label_comments[label]

    locations = []
    for state in range(model.n_states):
        location: dict[str, Any] = {"name": f"s{state}"}
        holding = [{"ref": label, "value": True} for label, mask in labels if mask[state]]
        if holding:
            location["transient-values"] = holding
        locations.append(location)

    edges = []
    row_action, row_state = model.row_action.tolist(), model.row_state.tolist()
    reward_values = list(numbers.rewards.items())
    for row in range(model.n_rows):
        state = row_state[row]
        paid = [{"ref": reward, "value": _number(values[row])} for reward, values in reward_values if values[row]]
        destinations = []
        for successor, probability in zip(numbers.successors[row], numbers.probabilities[row]):
            changes = [{"ref": name, "value": _value(variable, after)}
                       for variable, name, before, after in zip(variables, variable_names, codes[state],
                                                                codes[successor]) if before != after]
            destination: dict[str, Any] = {"location": f"s{successor}"}
            if probability != 1:
                destination["probability"] = {"exp": _number(probability)}
            if changes or paid:
                destination["assignments"] = changes + paid
            destinations.append(destination)
        edges.append({"location": f"s{state}", "action": names.actions[row_action[row]],
                      "destinations": destinations})

    # Storm turns a variable that no edge assigns into a constant, which its state valuations leave out: such
    # a variable (it has one value in every state) is assigned that value on the first edge
    assigned = {a["ref"] for edge in edges for d in edge["destinations"] for a in d.get("assignments", ())}
    constant = [{"ref": d["name"], "value": d["initial-value"]} for d in declarations[:len(variables)]
                if d["name"] not in assigned]
    if constant:
        first = edges[0]["destinations"][0]
        first["assignments"] = constant + first.get("assignments", [])

    used = sorted(set(row_action))
    document = {
        "jani-version": JANI_VERSION,
        "name": model.name,
        "metadata": {"description": f"{model.name}, exported by corrigo: one location per state, one edge per "
                                    "choice; costs are rewards, so Emin/Rmin is corrigo's optimum"},
        "type": "mdp",
        "actions": [{"name": names.actions[a]} for a in used],
        "variables": declarations,
        "properties": [],
        "automata": [{
            "name": names.module,
            "locations": locations,
            "initial-locations": [f"s{model.initial}"],
            "edges": edges,
        }],
        "system": {"elements": [{"automaton": names.module}]},
    }
    return document, properties_text(model, names, checks)


def _check_labels_apart(checks: PrismChecks, names: PrismNames, taken: set[str]) -> PrismChecks:
    """``checks`` with each of its own labels that ``taken`` has (a variable's or a reward's name) renamed,
    in the labels and in the properties that read them (``"off"`` becomes ``"off_2"``)."""
    others = taken | {TERMINAL_LABEL, TOTAL_COST, *names.labels.values(), *names.reach_properties.values(),
                      *names.reach_min_properties.values(), *(p.name for p in checks.properties if p.name)}
    taken = others | set(checks.labels)
    renamed: dict[str, str] = {}
    for label in checks.labels:
        if label in others or label in RESERVED_WORDS:
            candidate, suffix = f"{label}_2", 3
            while candidate in taken or candidate in RESERVED_WORDS:
                candidate, suffix = f"{label}_{suffix}", suffix + 1
            taken.add(candidate)
            renamed[label] = candidate
    if not renamed:
        return checks

    def relabel(prop: CheckProperty) -> CheckProperty:
        formula = prop.formula
        for old, new in renamed.items():
            formula = formula.replace(f'"{old}"', f'"{new}"') if formula is not None else None
        return dataclasses.replace(prop, formula=formula)

    return PrismChecks(tuple(relabel(p) for p in checks.properties),
                       {renamed.get(label, label): value for label, value in checks.labels.items()})


def to_jani_files(model: TabularMDP, path: str | Path, spec: Spec | None = None) -> tuple[Path, Path]:
    """Write :func:`to_jani`'s document and properties to ``<path>.jani`` and ``<path>.props``.

    A suffix on ``path`` is replaced, so ``out`` and ``out.jani`` both give ``out.jani`` and ``out.props``.
    """
    document, props = to_jani(model, spec)
    return write_with_properties(jani_text(document), props, path, ".jani")


def jani_text(document: dict[str, Any]) -> str:
    """The JANI document as the export writes it: JSON with one action, variable, location or edge per line.

    Examples
    --------
    >>> print(jani_text({"name": "m", "actions": [{"name": "go"}, {"name": "stop"}], "properties": []}))
    {
      "name": "m",
      "actions": [
        {"name": "go"},
        {"name": "stop"}
      ],
      "properties": []
    }
    <BLANKLINE>
    """
    return _encode(document, "", 4) + "\n"


def _is_records(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _encode(value: object, indent: str, depth: int) -> str:
    """``value`` as JSON: lists of objects, and objects holding such lists, one item per line down to ``depth``
    levels (the document, its lists, the automaton, its locations and edges); the rest on one line each, as
    ``json.dumps`` writes it (which is also fast, where indenting every level is not)."""
    inner = indent + "  "
    if depth > 0 and isinstance(value, dict) and any(_is_records(v) for v in value.values()):
        items = (f"{inner}{json.dumps(key)}: {_encode(item, inner, depth - 1)}" for key, item in value.items())
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if depth > 0 and isinstance(value, list) and _is_records(value):
        return "[\n" + ",\n".join(inner + _encode(item, inner, depth - 1) for item in value) + f"\n{indent}]"
    return json.dumps(value)
