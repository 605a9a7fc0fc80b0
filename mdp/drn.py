"""Export a :class:`~mdp.model.TabularMDP` in Storm's explicit DRN format, for Storm, stormpy and stormvogel.

DRN ("direct encoding") lists the model state by state, exactly as Storm holds it: each state, its
labels, then each of its choices (an action with its rewards) and the choice's successors with their
probabilities. Storm reads it without evaluating any guard, in time linear in the model, so unlike the
explicit-state PRISM export (:mod:`mdp.prism`) it suits models of any size corrigo can build. The grammar
is that of Storm's ``DirectEncodingParser`` (``src/storm-parsers/parser/DirectEncodingParser.cpp``)::

    @type: MDP
    @value_type: double                  (rational when the numbers are the spec's exact fractions)
    @parameters
                                         (none: an empty line)
    @reward_models
    cost fun effort                      (names, separated by spaces)
    @nr_states
    4
    @nr_choices
    5
    @model
    state 0 init                         (the state's number, then its labels)
    //[room=dock & !asked & !off]        (its variables: a comment, as Storm's own DRN export writes them)
        action go [0.5,0,0.5]            (an action, its reward in each reward model)
            1 : 0.5                      (a successor and its probability)

Choices are indented by one tab, transitions by two, and the parts of a valuation separated by a tab and
``&``, as in the DRN files Storm writes.

States keep corrigo's numbers (the initial state is 0 for compiled specs), choices keep their order and
their action names (as the PRISM export renames them: legal identifiers), and every choice of corrigo
is one choice of Storm, the terminal self-loop included. Costs are action rewards, one reward model per
cost term and ``"cost"`` for their sum; the labels are ``init``, ``terminal`` and the spec's state
formulas of type bool. Storm's parser keeps no variables: DRN has no place for them beyond the comment
line under each state, which Storm writes but does not read. :mod:`mdp.jani` keeps them as variables.

DRN declares a label or a reward by using it: a label no state has is missing from Storm's labelling,
and a reward model that is zero on every choice is empty to Storm, which refuses a property of it (a
comment in the header names such reward models).
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from dsl.spec import BoolDomain, IntDomain, Spec

from .model import ModelError, TabularMDP
from .prism import TERMINAL_LABEL, prism_checks, prism_names, properties_text, write_with_properties
from .storm_numbers import Number, require_single_start, storm_numbers

__all__ = ["INITIAL_LABEL", "to_drn", "to_drn_files", "valuation"]

INITIAL_LABEL = "init"
"""The label of the initial state: Storm takes its initial states from it."""


def _number(value: Number) -> str:
    """A DRN number: an exact fraction as ``p/q``, a float as its shortest decimal (integers without ``.0``)."""
    if isinstance(value, (Fraction, int)):  # an int where the spec's number is one
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if not math.isfinite(value):
        raise ModelError(f"cannot export the non-finite number {value} to DRN")
    return str(int(value)) if value.is_integer() and abs(value) < 2.0**53 else repr(float(value))


def valuation(model: TabularMDP, state: int) -> str:
    """The state's variables as Storm's DRN export writes a state valuation: ``[room=dock\\t& !asked]``.

    Integers and enum values are ``name=value``, booleans ``name`` or ``!name``.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=0.5)
    >>> valuation(model, 1)
    '[s=1]'
    """
    if model.state_codes is None:
        return f"[s={state}]"
    parts = []
    for variable, code in zip(model.variables, model.state_codes[state].tolist()):
        if isinstance(variable.domain, BoolDomain):
            parts.append(variable.name if code else f"!{variable.name}")
        elif isinstance(variable.domain, IntDomain):
            parts.append(f"{variable.name}={code}")
        else:
            parts.append(f"{variable.name}={variable.domain.decode(code)}")
    return "[" + "\t& ".join(parts) + "]"


def to_drn(model: TabularMDP, spec: Spec | None = None) -> tuple[str, str]:
    """The model in Storm's DRN format, and a properties file Storm can check on it.

    Parameters
    ----------
    model
        Any tabular model with one start state.
    spec
        The spec ``model`` was compiled from: its checks then follow in the properties file, as
        :func:`mdp.prism.to_prism` writes them, and the states get the labels they need.

    Returns
    -------
    tuple of str
        The DRN text and the properties text. The properties are those of :func:`mdp.prism.to_prism`
        (the minimal expected total cost ``"cost"``, discounted as the model is, the reachability of each
        label and, with ``spec``, its checks), and they name the same reward models and labels.

    Raises
    ------
    ModelError
        On a non-finite cost or probability, or a start distribution (``init``), which Storm's set of
        initial states cannot hold.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[2, 0]], discount=1, action_names=["go"], terminal=[False, True])
    >>> text, props = to_drn(model)
    >>> print(text.split("@model\\n")[1].expandtabs(4), end="")
    state 0 init
    //[s=0]
        action go [2]
            1 : 1
    state 1 terminal
    //[s=1]
        action terminal [0]
            1 : 1
    >>> print(props.splitlines()[-1])
    "cost": R{"cost"}min=? [ F "terminal" ];
    """
    require_single_start(model, "DRN")
    names = prism_names(model)
    numbers = storm_numbers(model, names)
    row_groups, row_action = model.row_groups.tolist(), model.row_action.tolist()
    rewards = list(numbers.rewards.values())
    zero = [name for name, values in numbers.rewards.items() if not any(values)]
    labels = [(names.labels[label], np.asarray(mask, dtype=bool)) for label, mask in model.labels.items()]
    checks = prism_checks(model, spec, names) if spec is not None else None
    if checks is not None:
        labels += [(label, states) for label, (states, _) in checks.labels.items()]
    discount = model.rationals.discount if model.rationals is not None else Fraction(repr(float(model.discount)))

    out = [
        f"// {model.name}: exported by corrigo, state by state as corrigo built it",
        f"// {model.n_states} states, {model.n_rows} choices, {numbers.n_transitions} transitions, discount "
        f"{_number(discount)}; costs are rewards: Rmin is corrigo's optimum",
    ]
    renamed = [(label, name) for label, name in zip(names.actions, model.action_names) if label != name]
    if renamed:
        out.append("// actions: " + ", ".join(f"{label} is {name}" for label, name in renamed))
    relabelled = [(names.labels[label], label) for label in model.labels if names.labels[label] != label]
    if relabelled:
        out.append("// labels: " + ", ".join(f"{label} is {name}" for label, name in relabelled))
    if checks is not None and checks.labels:
        out.append("// labels of the checks: " + ", ".join(f"{label} is {text}" if text else label
                                                          for label, (_, text) in checks.labels.items()))
    if zero:
        out.append(f"// zero everywhere, so empty to Storm (a property of it is refused): {', '.join(zero)}")
    out += [
        "@type: MDP",
        f"@value_type: {'rational' if numbers.exact else 'double'}",
        "@parameters",
        "",
        "@reward_models",
        " ".join(numbers.rewards),
        "@nr_states",
        str(model.n_states),
        "@nr_choices",
        str(model.n_rows),
        "@model",
    ]
    for state in range(model.n_states):
        marks = [INITIAL_LABEL] if state == model.initial else []
        if model.terminal[state]:
            marks.append(TERMINAL_LABEL)
        marks += [label for label, mask in labels if mask[state]]
        out.append(" ".join([f"state {state}", *marks]))
        out.append("//" + valuation(model, state))
        for row in range(row_groups[state], row_groups[state + 1]):
            values = ",".join(_number(vector[row]) for vector in rewards)
            out.append(f"\taction {names.actions[row_action[row]]} [{values}]")
            for successor, probability in zip(numbers.successors[row], numbers.probabilities[row]):
                out.append(f"\t\t{successor} : {_number(probability)}")
    return "\n".join(out) + "\n", properties_text(model, names, checks)


def to_drn_files(model: TabularMDP, path: str | Path, spec: Spec | None = None) -> tuple[Path, Path]:
    """Write :func:`to_drn`'s texts to ``<path>.drn`` and ``<path>.props``; return the two paths.

    A suffix on ``path`` is replaced, so ``out`` and ``out.drn`` both give ``out.drn`` and ``out.props``.
    """
    return write_with_properties(*to_drn(model, spec), path, ".drn")
