"""The PRISM export, character by character on tiny models; Storm's reading of it is in tests/differential."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from dsl.spec import EnumDomain, IntDomain, Variable
from mdp.model import ModelError, from_arrays
from mdp.prism import prism_names, to_prism, to_prism_files


def two_states(**changes):
    """State 0 chooses 'go' (to the terminal state 1, cost 1.5) or 'wait' (stay, cost -0.25)."""
    model = from_arrays([[[0, 1], [0, 1]], [[1, 0], [0, 1]]], [[1.5, 0], [-0.25, 0]], discount=0.9,
                        terminal=[False, True], action_names=["go", "wait"])
    return dataclasses.replace(model, **changes)


EXPECTED_MODEL = """\
// model: exported by corrigo as an explicit-state model, one command per choice
// 2 states, 3 choices, 3 transitions, discount 9/10
// action labels: [terminal] is <terminal>

mdp

module model
  s : [0..1] init 0;
  [go] s=0 -> 1.0:(s'=1);
  [wait] s=0 -> 1.0:(s'=0);
  [terminal] s=1 -> 1.0:(s'=1);
endmodule

rewards "cost"
  [go] s=0 : 1.5;
  [wait] s=0 : -0.25;
endrewards

label "terminal" = s=1;
"""

EXPECTED_PROPERTIES = """\
// minimal expected discounted total cost from the initial state (Storm >= 1.11 syntax)
"cost": R{"cost"}min=? [ Cdiscount=9/10 ];
"""


def test_two_state_model_exactly():
    assert to_prism(two_states()) == (EXPECTED_MODEL, EXPECTED_PROPERTIES)


def test_states_described_by_variables_terms_and_labels():
    model = from_arrays([[[0.25, 0.75], [0, 1]]], {"time": [[1, 0]], "risk": [[0.1, 0]]}, discount=Fraction(19, 20),
                        terminal=[False, True], action_names=["move(dock)"])
    variables = (Variable("battery", IntDomain(0, 1), 1), Variable("room", EnumDomain(("lab", "dock")), 0))
    model = dataclasses.replace(model, name="robot", variables=variables, state_codes=np.array([[1, 0], [0, 1]]),
                                labels={"docked": np.array([False, True]), "init": np.array([True, True])})
    text, properties = to_prism(model)
    assert text == """\
// robot: exported by corrigo as an explicit-state model, one command per choice
// 2 states, 2 choices, 3 transitions, discount 19/20
// action labels: [move_dock] is move(dock), [terminal] is <terminal>

mdp

module robot
  s : [0..1] init 0;
  // s=0: battery=1, room=lab
  [move_dock] s=0 -> 0.25:(s'=0) + 0.75:(s'=1);
  // s=1: battery=0, room=dock
  [terminal] s=1 -> 1.0:(s'=1);
endmodule

rewards "cost"
  [move_dock] s=0 : 1.1;
endrewards

rewards "time"
  [move_dock] s=0 : 1.0;
endrewards

rewards "risk"
  [move_dock] s=0 : 0.1;
endrewards

label "terminal" = s=1;
label "docked" = s=1;
label "init_2" = true;
"""
    assert properties == """\
// minimal expected discounted total cost from the initial state (Storm >= 1.11 syntax)
"cost": R{"cost"}min=? [ Cdiscount=19/20 ];
// maximal and minimal probability of ever reaching each label
"reach_docked": Pmax=? [ F "docked" ];
"reach_min_docked": Pmin=? [ F "docked" ];
"reach_init_2": Pmax=? [ F "init_2" ];
"reach_min_init_2": Pmin=? [ F "init_2" ];
"""


def test_undiscounted_model_asks_for_the_cost_to_terminate():
    _, properties = to_prism(two_states(discount=1.0))
    assert properties.splitlines()[-1] == '"cost": R{"cost"}min=? [ F "terminal" ];'


def test_label_runs_become_ranges():
    mask = np.zeros(12, dtype=bool)
    mask[[0, 3, 4, 5, 9, 11]] = True
    model = from_arrays([np.eye(12)], [np.ones(12)], discount=0.5)
    text, _ = to_prism(dataclasses.replace(model, labels={"x": mask, "none": np.zeros(12, dtype=bool)}))
    assert 'label "x" = s=0 | (s>=3 & s<=5) | s=9 | s=11;' in text
    assert 'label "none" = false;' in text
    assert 'label "terminal" = false;' in text


def test_empty_cost_structure_gets_a_zero_reward():
    model = from_arrays([[[1]]], [[0]], discount=0.5)
    text, _ = to_prism(model)
    assert 'rewards "cost"\n  true : 0;  // Storm rejects an empty reward structure\nendrewards' in text


def test_names_are_sanitised_and_unique():
    model = from_arrays([np.eye(2)] * 4, {"cost": [[1, 1]] * 4, "time": [[0, 0]] * 4}, discount=0.5,
                        action_names=["move(a b)", "move_a_b", "max", "s"])
    names = prism_names(model)
    assert names.actions == ("move_a_b", "move_a_b_2", "max_2", "s_2", "terminal")
    assert dict(names.terms) == {"cost": "cost_2", "time": "time"}
    assert prism_names(from_arrays([np.eye(2)], [[1, 1]], discount=0.5)).terms == {"cost": "cost"}


def test_sole_term_named_cost_is_the_total():
    text, _ = to_prism(two_states())
    assert text.count("rewards ") == 1


def test_non_finite_cost_is_a_model_error():
    model = two_states()
    costs = {"cost": np.array([np.inf, 0.0, 0.0])}
    with pytest.raises(ModelError, match="non-finite"):
        to_prism(dataclasses.replace(model, costs=costs))


def test_two_choices_of_one_action_in_a_state_are_a_model_error():
    model = two_states()
    with pytest.raises(ModelError, match="state 0 has several choices of action 'go'"):
        to_prism(dataclasses.replace(model, row_action=np.array([0, 0, 2], dtype=np.int32)))


def test_files(tmp_path):
    model_path, properties_path = to_prism_files(two_states(), tmp_path / "out.prism")
    assert (model_path.name, properties_path.name) == ("out.prism", "out.props")
    assert model_path.read_text() == EXPECTED_MODEL
    assert properties_path.read_text() == EXPECTED_PROPERTIES
