"""The JANI export: the document of a tiny model exactly, and on examples that the variables the edges
assign are the values of the states the locations stand for; Storm's reading of it is in tests/differential."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dsl
import mdp
from dsl.spec import BoolDomain, EnumDomain, IntDomain, Variable
from mdp.jani import jani_text, jani_variable_names, to_jani, to_jani_files
from mdp.model import ModelError, TabularMDP, from_arrays
from mdp.prism import prism_names, to_prism

ROOT = Path(__file__).resolve().parents[2]


def two_states(**changes: object) -> TabularMDP:
    """State 0 chooses 'go' (to the terminal state 1, cost 1.5) or 'wait' (stay, cost -0.25)."""
    model = from_arrays([[[0, 1], [0, 1]], [[1, 0], [0, 1]]], [[1.5, 0], [-0.25, 0]], discount=0.9,
                        terminal=[False, True], action_names=["go", "wait"])
    return dataclasses.replace(model, **changes)


def test_two_state_model_exactly() -> None:
    document, properties = to_jani(two_states())
    assert properties == to_prism(two_states())[1]  # the same reward model and label names
    assert document == {
        "jani-version": 1,
        "name": "model",
        "metadata": {"description": "model, exported by corrigo: one location per state, one edge per choice; "
                                    "costs are rewards, so Emin/Rmin is corrigo's optimum"},
        "type": "mdp",
        "actions": [{"name": "go"}, {"name": "wait"}, {"name": "terminal"}],
        "variables": [
            {"name": "s", "type": {"kind": "bounded", "base": "int", "lower-bound": 0, "upper-bound": 1},
             "initial-value": 0},
            {"name": "cost", "type": "real", "transient": True, "initial-value": 0, "comment": "reward: a cost term"},
            {"name": "terminal", "type": "bool", "transient": True, "initial-value": False},
        ],
        "properties": [],
        "automata": [{
            "name": "model",
            "locations": [{"name": "s0"}, {"name": "s1", "transient-values": [{"ref": "terminal", "value": True}]}],
            "initial-locations": ["s0"],
            "edges": [
                {"location": "s0", "action": "go", "destinations": [
                    {"location": "s1", "assignments": [{"ref": "s", "value": 1}, {"ref": "cost", "value": 1.5}]}]},
                {"location": "s0", "action": "wait", "destinations": [
                    {"location": "s0", "assignments": [{"ref": "cost", "value": -0.25}]}]},
                {"location": "s1", "action": "terminal", "destinations": [{"location": "s1"}]},
            ],
        }],
        "system": {"elements": [{"automaton": "model"}]},
    }


def test_variables_keep_their_types_and_names() -> None:
    model = from_arrays([[[0.25, 0.75], [0, 1]]], {"time": [[1, 0]], "risk": [[0.1, 0]]}, discount=Fraction(19, 20),
                        terminal=[False, True], action_names=["move(dock)"])
    variables = (Variable("battery", IntDomain(2, 5), 5), Variable("room", EnumDomain(("lab", "dock")), 0),
                 Variable("charging", BoolDomain(), 0), Variable("risk", BoolDomain(), 0),
                 Variable("init", IntDomain(0, 1), 0))
    model = dataclasses.replace(model, name="robot", variables=variables,
                                state_codes=np.array([[5, 0, 0, 0, 0], [4, 1, 1, 0, 1]]),
                                labels={"docked": np.array([False, True])})
    document, _ = to_jani(model)
    assert jani_variable_names(model) == ("battery", "room", "charging", "risk_2", "init_2")
    assert document["variables"][:5] == [
        {"name": "battery", "type": {"kind": "bounded", "base": "int", "lower-bound": 2, "upper-bound": 5},
         "initial-value": 5},
        {"name": "room", "type": {"kind": "bounded", "base": "int", "lower-bound": 0, "upper-bound": 1},
         "initial-value": 0, "comment": "0: lab, 1: dock"},
        {"name": "charging", "type": "bool", "initial-value": False},
        {"name": "risk_2", "type": "bool", "initial-value": False, "comment": "corrigo's 'risk'"},
        {"name": "init_2", "type": {"kind": "bounded", "base": "int", "lower-bound": 0, "upper-bound": 1},
         "initial-value": 0, "comment": "corrigo's 'init'"},
    ]
    assert [(v["name"], v.get("comment")) for v in document["variables"][5:]] == [
        ("cost", "reward: the sum of the cost terms"), ("time", "reward: a cost term"), ("risk", "reward: a cost term"),
        ("terminal", None), ("docked", None)]
    move, _ = document["automata"][0]["edges"]
    assert move == {"location": "s0", "action": "move_dock", "destinations": [
        {"location": "s0", "probability": {"exp": 0.25},  # risk_2 never changes: assigned once, or Storm drops it
         "assignments": [{"ref": "risk_2", "value": False},
                         {"ref": "cost", "value": 1.1}, {"ref": "time", "value": 1}, {"ref": "risk", "value": 0.1}]},
        {"location": "s1", "probability": {"exp": 0.75},
         "assignments": [{"ref": "battery", "value": 4}, {"ref": "room", "value": 1},
                         {"ref": "charging", "value": True}, {"ref": "init_2", "value": 1},
                         {"ref": "cost", "value": 1.1}, {"ref": "time", "value": 1}, {"ref": "risk", "value": 0.1}]}]}
    assert document["automata"][0]["locations"][1] == {
        "name": "s1", "transient-values": [{"ref": "terminal", "value": True}, {"ref": "docked", "value": True}]}


def test_exact_numbers_are_fractions() -> None:
    spec = dsl.load("""\
model thirds
discount 1
var at : 0..2
action step when at == 0:
    1/3 -> at' = 1
    2/3 -> at' = 2
terminal at > 0
cost time = 1/3 * [step]
""")
    step = to_jani(mdp.compile(spec, exact=True))[0]["automata"][0]["edges"][0]
    third = {"op": "/", "left": 1, "right": 3}
    assert step["destinations"] == [
        {"location": "s1", "probability": {"exp": third},
         "assignments": [{"ref": "at", "value": 1}, {"ref": "cost", "value": third}, {"ref": "time", "value": third}]},
        {"location": "s2", "probability": {"exp": {"op": "/", "left": 2, "right": 3}},
         "assignments": [{"ref": "at", "value": 2}, {"ref": "cost", "value": third}, {"ref": "time", "value": third}]}]
    floats = to_jani(mdp.compile(spec))[0]["automata"][0]["edges"][0]
    assert floats["destinations"][0]["probability"] == {"exp": 1 / 3}


def apply(values: dict[str, Any], assignments: list[dict[str, Any]]) -> dict[str, Any]:
    """The values after a destination's assignments (JANI assigns all of them at once)."""
    return values | {a["ref"]: a["value"] for a in assignments}


def jani_values(model: TabularMDP, state: int) -> dict[str, Any]:
    """corrigo's values of ``state`` as the JANI variables hold them (an enum value: its position)."""
    values = {}
    for variable, name, code in zip(model.variables, jani_variable_names(model), model.state_codes[state].tolist()):
        values[name] = bool(code) if isinstance(variable.domain, BoolDomain) else code
    return values


@pytest.mark.parametrize("name", ["household_robot", "gridworld_robot", "off_switch_game"])
def test_every_location_holds_the_variables_of_its_state(name: str) -> None:
    """Follow every edge from a location's values: each destination arrives with its state's values."""
    model = mdp.compile(dsl.load(ROOT / "examples" / f"{name}.corrigo"))
    document = json.loads(jani_text(to_jani(model)[0]))
    (automaton,) = document["automata"]
    declared = {v["name"] for v in document["variables"] if not v.get("transient")}
    initial = {v["name"]: v["initial-value"] for v in document["variables"] if not v.get("transient")}
    assert set(initial) == declared == set(jani_values(model, 0))
    assert automaton["initial-locations"] == [f"s{model.initial}"] and initial == jani_values(model, model.initial)
    assert [location["name"] for location in automaton["locations"]] == [f"s{s}" for s in range(model.n_states)]
    assert len(automaton["edges"]) == model.n_rows

    names = prism_names(model)
    rewards = {"cost": model.cost, **{names.terms[t]: v for t, v in model.costs.items()}}
    P = model.P.tocsr()
    for row, edge in enumerate(automaton["edges"]):
        state = int(model.row_state[row])
        assert edge["location"] == f"s{state}" and edge["action"] == names.actions[model.row_action[row]]
        successors = {}
        for destination in edge["destinations"]:
            successor = int(destination["location"][1:])
            successors[successor] = destination.get("probability", {"exp": 1})["exp"]
            assignments = destination.get("assignments", [])
            after = apply(jani_values(model, state), [a for a in assignments if a["ref"] in declared])
            assert after == jani_values(model, successor), f"row {row} to state {successor}"
            paid = {a["ref"]: a["value"] for a in assignments if a["ref"] not in declared}
            assert paid == {r: float(v[row]) for r, v in rewards.items() if v[row]}
        span = slice(P.indptr[row], P.indptr[row + 1])
        assert successors == dict(zip(P.indices[span].tolist(), P.data[span].tolist()))

    labels = {"terminal": model.terminal, **{names.labels[label]: mask for label, mask in model.labels.items()}}
    for state, location in enumerate(automaton["locations"]):
        holding = {value["ref"] for value in location.get("transient-values", [])}
        assert holding == {label for label, mask in labels.items() if mask[state]}


def test_a_check_label_named_like_a_variable_gets_a_suffix() -> None:
    """``P >= 0.5 [ F off ]`` needs a label 'off', which the PRISM and DRN exports name so; in JANI 'off' is the
    variable, so the label is 'off_2', in the model and in the properties."""
    spec = dsl.load(ROOT / "tests" / "golden" / "export" / "prism_checks.corrigo")
    model = mdp.compile(spec)
    document, properties = to_jani(model, spec)
    prism = to_prism(model, spec)[1]
    assert properties == prism.replace('"off" ]', '"off_2" ]').replace('"asked" ]', '"asked_2" ]')
    assert '"stops": P>=0.5 [ F "off_2" ];' in properties
    assert '"until": P>=0.5 [ "until_hold" U "off_2" ];' in properties
    declared = {v["name"]: v for v in document["variables"]}
    assert [name for name, v in declared.items() if not v.get("transient")] == ["pos", "asked", "off"]
    assert declared["off_2"] == {"name": "off_2", "type": "bool", "transient": True, "initial-value": False,
                                 "comment": "the states where off holds"}
    for state, location in enumerate(document["automata"][0]["locations"]):
        holding = {value["ref"] for value in location.get("transient-values", [])}
        values = model.state_values(state)
        assert ("off_2" in holding, "asked_2" in holding) == (values["off"], values["asked"])


def test_a_cost_term_and_a_label_of_one_name_are_refused() -> None:
    model = two_states(costs={"docked": np.array([1.5, -0.25, 0.0])}, labels={"docked": np.array([False, True])})
    with pytest.raises(ModelError, match="'docked' names both a cost term and a label"):
        to_jani(model)


def test_a_start_distribution_is_refused() -> None:
    with pytest.raises(ModelError, match="a JANI model has one initial state"):
        to_jani(two_states(starts=((0, Fraction(1, 2)), (1, Fraction(1, 2)))))


def test_files_get_the_suffixes_jani_and_props(tmp_path: Path) -> None:
    model_path, properties_path = to_jani_files(two_states(), tmp_path / "out")
    assert (model_path.name, properties_path.name) == ("out.jani", "out.props")
    assert json.loads(model_path.read_text()) == to_jani(two_states())[0]
    edges = [line.strip() for line in model_path.read_text().splitlines() if '"action": ' in line]
    assert edges == [json.dumps(edge) + "," for edge in to_jani(two_states())[0]["automata"][0]["edges"][:-1]] + \
        ['{"location": "s1", "action": "terminal", "destinations": [{"location": "s1"}]}']  # one edge a line
