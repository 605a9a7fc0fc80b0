"""The DRN export, character by character on tiny models, and read back by a reader that follows Storm's
grammar (``DirectEncodingParser.cpp``); Storm's own reading of it is in tests/differential."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import dsl
import mdp
from dsl.spec import BoolDomain, EnumDomain, IntDomain, Variable
from mdp.drn import to_drn, to_drn_files, valuation
from mdp.model import ModelError, TabularMDP, from_arrays
from mdp.prism import prism_checks, prism_names, to_prism

ROOT = Path(__file__).resolve().parents[2]


def two_states(**changes: object) -> TabularMDP:
    """State 0 chooses 'go' (to the terminal state 1, cost 1.5) or 'wait' (stay, cost -0.25)."""
    model = from_arrays([[[0, 1], [0, 1]], [[1, 0], [0, 1]]], [[1.5, 0], [-0.25, 0]], discount=0.9,
                        terminal=[False, True], action_names=["go", "wait"])
    return dataclasses.replace(model, **changes)


EXPECTED_MODEL = """\
// model: exported by corrigo, state by state as corrigo built it
// 2 states, 3 choices, 3 transitions, discount 9/10; costs are rewards: Rmin is corrigo's optimum
// actions: terminal is <terminal>
@type: MDP
@value_type: double
@parameters

@reward_models
cost
@nr_states
2
@nr_choices
3
@model
state 0 init
//[s=0]
\taction go [1.5]
\t\t1 : 1
\taction wait [-0.25]
\t\t0 : 1
state 1 terminal
//[s=1]
\taction terminal [0]
\t\t1 : 1
"""


def test_two_state_model_exactly() -> None:
    text, properties = to_drn(two_states())
    assert text == EXPECTED_MODEL
    assert properties == to_prism(two_states())[1]  # the same reward model and label names


def robot() -> TabularMDP:
    """Two variables, two cost terms, a label, a renamed action and a label that needs renaming."""
    model = from_arrays([[[0.25, 0.75], [0, 1]]], {"time": [[1, 0]], "risk": [[0.1, 0]]}, discount=Fraction(19, 20),
                        terminal=[False, True], action_names=["move(dock)"])
    variables = (Variable("battery", IntDomain(0, 1), 1), Variable("room", EnumDomain(("lab", "dock")), 0),
                 Variable("charging", BoolDomain(), 0))
    return dataclasses.replace(model, name="robot", variables=variables, state_codes=np.array([[1, 0, 0], [0, 1, 1]]),
                               labels={"docked": np.array([False, True]), "init": np.array([True, True])})


def test_variables_terms_and_labels_exactly() -> None:
    text, _ = to_drn(robot())
    assert text == """\
// robot: exported by corrigo, state by state as corrigo built it
// 2 states, 2 choices, 3 transitions, discount 19/20; costs are rewards: Rmin is corrigo's optimum
// actions: move_dock is move(dock), terminal is <terminal>
// labels: init_2 is init
@type: MDP
@value_type: double
@parameters

@reward_models
cost time risk
@nr_states
2
@nr_choices
2
@model
state 0 init init_2
//[battery=1\t& room=lab\t& !charging]
\taction move_dock [1.1,1,0.1]
\t\t0 : 0.25
\t\t1 : 0.75
state 1 terminal docked init_2
//[battery=0\t& room=dock\t& charging]
\taction terminal [0,0,0]
\t\t1 : 1
"""


THIRDS = """\
model thirds
discount 1
var at : 0..2
action step when at == 0:
    1/3 -> at' = 1
    2/3 -> at' = 2
terminal at > 0
cost time = 1/3 * [step]
"""


def test_an_exact_model_writes_the_specs_fractions() -> None:
    exact, _ = to_drn(mdp.compile(dsl.load(THIRDS), exact=True))
    assert "@value_type: rational\n" in exact
    assert "\taction step [1/3,1/3]\n\t\t1 : 1/3\n\t\t2 : 2/3\n" in exact
    floats, _ = to_drn(mdp.compile(dsl.load(THIRDS)))
    assert "@value_type: double\n" in floats
    third = repr(1 / 3)
    assert f"\taction step [{third},{third}]\n\t\t1 : {third}\n\t\t2 : {repr(2 / 3)}\n" in floats


CHECKS = ROOT / "tests" / "golden" / "export" / "prism_checks.corrigo"


def test_the_checks_of_the_spec_follow_as_for_prism() -> None:
    """The properties are the PRISM export's, the spec's checks among them, and the states carry their labels."""
    spec = dsl.load(CHECKS)
    model = mdp.compile(spec)
    text, properties = to_drn(model, spec)
    assert properties == to_prism(model, spec)[1] and '"stops": P>=0.5 [ F "off" ];' in properties
    assert "// labels of the checks: never_end_target is pos == 3 & !off, near_hold is pos <= 2, off is off, " \
           "home_hold is pos <= 1, asked is asked, until_hold is !far, in_house_hold is pos <= 3\n" in text
    drn = read_drn(text)
    for label, (states, _) in prism_checks(model, spec).labels.items():
        assert [label in labels for labels in drn.labels] == states.tolist(), label
    off = [values["off"] for values in map(model.state_values, range(model.n_states))]
    assert [("off" in labels) for labels in drn.labels] == off


def test_a_reward_model_zero_everywhere_is_named_in_a_comment() -> None:
    model = from_arrays([[[0, 1], [0, 1]]], {"time": [[1, 0]], "idle": [[0, 0]]}, discount=0.5)
    assert "// zero everywhere, so empty to Storm (a property of it is refused): idle\n" in to_drn(model)[0]


def test_a_start_distribution_is_refused() -> None:
    model = two_states(starts=((0, Fraction(1, 2)), (1, Fraction(1, 2))))
    with pytest.raises(ModelError, match="a DRN model has one initial state"):
        to_drn(model)


def test_a_non_finite_cost_is_refused() -> None:
    model = two_states(costs={"cost": np.array([math.inf, -0.25, 0.0])})
    with pytest.raises(ModelError, match="cannot export the non-finite number inf to DRN"):
        to_drn(model)


def test_files_get_the_suffixes_drn_and_props(tmp_path: Path) -> None:
    model_path, properties_path = to_drn_files(two_states(), tmp_path / "out.prism")
    assert (model_path.name, properties_path.name) == ("out.drn", "out.props")
    assert model_path.read_text() == EXPECTED_MODEL


# --- read back, by Storm's grammar ----------------------------------------------------------------------


@dataclass
class Drn:
    """What Storm's DRN parser takes from a file, plus the valuation comments it skips."""

    header: dict[str, list[str]]
    labels: list[list[str]] = field(default_factory=list)  # per state
    valuations: list[str] = field(default_factory=list)  # per state, the comment under its line
    actions: list[str] = field(default_factory=list)  # per choice
    rewards: list[list[str]] = field(default_factory=list)  # per choice, one per reward model
    row_groups: list[int] = field(default_factory=list)  # first choice of each state
    transitions: list[dict[int, str]] = field(default_factory=list)  # per choice: successor -> probability


def read_drn(text: str) -> Drn:
    """Parse DRN the way ``DirectEncodingParser.cpp`` does: header sections up to ``@model``, comments only
    at the start of a line, ``state N labels...``, ``action NAME [r1,r2]``, ``target : value``."""
    lines = iter(text.split("\n"))
    header: dict[str, list[str]] = {}
    for line in lines:
        if not line or line.startswith("//"):
            continue
        if line.startswith("@type: ") or line.startswith("@value_type: "):
            key, value = line.split(": ")
            header[key] = [value]
        elif line == "@model":
            break
        else:
            header[line] = next(lines).split(" ")
    drn = Drn(header)
    for line in lines:
        if line.startswith("//"):  # Storm skips comments; the one under a state line is its valuation
            if len(drn.valuations) < len(drn.labels):
                drn.valuations.append(line[2:])
            continue
        if not line:
            continue
        line = line.lstrip()
        if line.startswith("state "):
            number, *labels = line[len("state "):].split(" ")
            assert int(number) == len(drn.labels), "state ids are ordered and without gaps"
            drn.labels.append(labels)
            drn.row_groups.append(len(drn.actions))
        elif line.startswith("action "):
            name, rewards = re.fullmatch(r"action (\S+) \[(.*)\]", line).groups()  # type: ignore[union-attr]
            drn.actions.append(name)
            drn.rewards.append(rewards.split(","))
            drn.transitions.append({})
        else:
            target, value = re.fullmatch(r"(\d+) : (\S+)", line).groups()  # type: ignore[union-attr]
            drn.transitions[-1][int(target)] = value
    return drn


def parse_valuation(text: str) -> dict[str, str | bool]:
    """``[a=1\\t& !b\\t& c]`` as ``{"a": "1", "b": False, "c": True}``."""
    assert text.startswith("[") and text.endswith("]")
    values: dict[str, str | bool] = {}
    for part in text[1:-1].split("\t& "):
        name, equals, value = part.partition("=")
        if equals:
            values[name] = value
        else:
            values[name.lstrip("!")] = not name.startswith("!")
    return values


@pytest.mark.parametrize("name", ["household_robot", "gridworld_robot", "off_switch_game"])
def test_an_example_reads_back_as_the_model(name: str) -> None:
    model = mdp.compile(dsl.load(ROOT / "examples" / f"{name}.corrigo"), exact=True)
    drn = read_drn(to_drn(model)[0])
    names = prism_names(model)

    assert drn.header["@type"] == ["MDP"] and drn.header["@value_type"] == ["rational"]
    assert drn.header["@nr_states"] == [str(model.n_states)] and len(drn.labels) == model.n_states
    assert drn.header["@nr_choices"] == [str(model.n_rows)] and len(drn.actions) == model.n_rows
    assert sum(map(len, drn.transitions)) == model.P.count_nonzero()
    assert drn.row_groups == model.row_groups[:-1].tolist()
    assert drn.actions == [names.actions[a] for a in model.row_action]

    # every state's variables, in the comment Storm writes, are corrigo's values of the state
    assert len(drn.valuations) == model.n_states
    for state in range(model.n_states):
        values = {name: str(value).lower() if isinstance(value, bool) else str(value)
                  for name, value in model.state_values(state).items()}
        shown = {name: str(value).lower() if isinstance(value, bool) else value
                 for name, value in parse_valuation(drn.valuations[state]).items()}
        assert shown == values, f"state {state}"

    # labels: init on the initial state, terminal, the spec's labels
    for state in range(model.n_states):
        expected = (["init"] if state == model.initial else []) + (["terminal"] if model.terminal[state] else [])
        expected += [names.labels[label] for label, mask in model.labels.items() if mask[state]]
        assert drn.labels[state] == expected

    # transitions and rewards are the spec's exact numbers
    assert model.rationals is not None
    P, exact_P = model.P.tocsr(), model.rationals.P
    rewards = [model.rationals.cost(), *(model.rationals.costs[t] for t in model.costs)]
    assert drn.header["@reward_models"] == ["cost", *(names.terms[t] for t in model.costs)]
    for row in range(model.n_rows):
        span = range(P.indptr[row], P.indptr[row + 1])
        assert {j: Fraction(p) for j, p in drn.transitions[row].items()} == \
            {int(P.indices[k]): exact_P[k] for k in span if exact_P[k]}
        assert [Fraction(r) for r in drn.rewards[row]] == [vector[row] for vector in rewards]


def test_floats_read_back_as_the_same_doubles() -> None:
    rng = np.random.default_rng(7)
    weights = rng.random((3, 3)) + 0.01
    model = from_arrays([weights / weights.sum(axis=1, keepdims=True)], [rng.normal(size=3)], discount=0.9)
    drn = read_drn(to_drn(model)[0])
    P = model.P.tocsr()
    for row in range(model.n_rows):
        assert {j: float(p) for j, p in drn.transitions[row].items()} == \
            dict(zip(P.indices[P.indptr[row]:P.indptr[row + 1]].tolist(), P.data[P.indptr[row]:P.indptr[row + 1]]))
        assert float(drn.rewards[row][0]) == model.cost[row]


def test_valuation_of_a_model_from_arrays_is_its_index() -> None:
    assert [valuation(two_states(), s) for s in range(2)] == ["[s=0]", "[s=1]"]
