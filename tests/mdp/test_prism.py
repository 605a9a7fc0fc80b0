"""The PRISM export, character by character on tiny models; Storm's reading of it is in tests/differential."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import dsl
import mdp
from dsl.spec import EnumDomain, IntDomain, Variable
from mdp.model import ModelError, from_arrays
from mdp.prism import _decimal, prism_checks, prism_names, to_prism, to_prism_files


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


# --- the spec's checks ------------------------------------------------------------------------------------

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "export"


def load_and_compile(text_or_path):
    spec = dsl.load(text_or_path)
    return spec, mdp.compile(spec)


def test_every_kind_of_check_matches_the_golden_files(golden):
    """tests/golden/export/prism_checks.corrigo has every kind of check the export writes, and those it cannot."""
    spec, model = load_and_compile(GOLDEN / "prism_checks.corrigo")
    text, properties = to_prism(model, spec)
    golden(GOLDEN / "prism_checks.prism", text)
    golden(GOLDEN / "prism_checks.props", properties)
    assert to_prism(model) == (text.split('label "never_end_target"')[0], properties.split("// The spec's checks")[0])


WALKER = """\
model walker
discount 0.5
param w = 1 in [0, 2]
var pos : 0..2
var off : bool
label far = pos == 2
action step when !off && pos < 2: pos' = pos + 1
action stop when !off: off' = true
terminal off
cost time = w * !off
cost walk = 2 * [step]
"""


def properties_of(checks: str) -> list[tuple[str | None, str | None, str]]:
    spec, model = load_and_compile(WALKER + checks)
    return [(p.name, p.formula, p.note) for p in prism_checks(model, spec).properties]


def test_a_condition_that_is_a_label_of_the_spec_uses_its_label():
    spec, model = load_and_compile(WALKER + "check a : never far\ncheck b : P >= 1 [ F pos == 2 ]\n"
                                            "check c : P <= 0.5 [ X pos == 2 ]\n")
    checks = prism_checks(model, spec)
    assert [p.formula for p in checks.properties] == ['P<=0 [ F "far" ]', 'P>=1 [ F "far" ]', 'P<=0.5 [ X "far" ]']
    assert checks.labels == {}  # the same expression as `far`: its label


def test_each_condition_gets_one_label_named_after_it_or_after_the_check():
    spec, model = load_and_compile(WALKER + "check a : P >= 0.5 [ off U pos == 1 ]\ncheck b : always pos == 1 || off\n"
                                            "check c : P > 0 [ G off ]\ncheck d : P > 0 [ F<=3 pos == 1 ]\n")
    checks = prism_checks(model, spec)
    assert [p.formula for p in checks.properties] == [
        'P>=0.5 [ "off" U "a_target" ]', 'P>=1 [ G "b_hold" ]', 'P>0 [ G "off" ]', 'P>0 [ F<=3 "a_target" ]']
    states = [model.describe(s) for s in range(model.n_states)]
    assert {label: sorted(states[s] for s in np.flatnonzero(mask)) for label, (mask, _) in checks.labels.items()} == {
        "off": ["pos=0, off=true", "pos=1, off=true", "pos=2, off=true"],
        "a_target": ["pos=1, off=false", "pos=1, off=true"],
        "b_hold": ["pos=0, off=true", "pos=1, off=false", "pos=1, off=true", "pos=2, off=true"]}
    assert [text for _, text in checks.labels.values()] == ["off", "pos == 1", "pos == 1 || off"]


def test_costs_are_the_optimum_queried_or_a_term_bounded():
    assert properties_of("check a : cost <= 1.5\ncheck b : cost[walk] >= 0\ncheck c for all params : cost > 1/3\n") == [
        ("a", 'R{"cost"}min=? [ Cdiscount=1/2 ]', "Rmin is corrigo's optimal cost: the check holds iff it is <= 1.5"),
        ("b", 'R{"walk"}>=0 [ Cdiscount=1/2 ]', "true implies the check holds"),
        ("c", 'R{"cost"}min=? [ Cdiscount=1/2 ]', "Rmin is corrigo's optimal cost: the check holds iff it is > 1/3; "
                                                  "at the exported weights only, the check is for all params"),
    ]


def test_with_discount_one_costs_are_summed_until_a_terminal_state():
    text = WALKER.replace("discount 0.5", "discount 1").replace("cost walk = 2", "cost walk = -2")
    spec, model = load_and_compile(text + "check a : cost <= 3\ncheck b : cost[walk] >= -10\n")
    assert [(p.formula, p.note) for p in prism_checks(model, spec).properties] == [
        ('R{"cost"}min=? [ F "terminal" ]', "Rmin is corrigo's optimal cost: the check holds iff it is <= 3"),
        ('R{"walk"}>=-10 [ F "terminal" ]', "true implies the check holds (Storm's total reward needs costs >= 0)")]


def test_checks_without_a_property_say_why():
    spec, model = load_and_compile(WALKER + "const K = 1\nscenario far_away: K = 2\npolicy lazy: stop\n"
                                   "intent calm = 1 * far\ncheck a : always (pos == 2 -> [stop])\n"
                                   "check b under lazy : cost <= 1\ncheck c in far_away : never far\n"
                                   "check d : regret(calm) <= 1\n")
    assert [(p.name, p.formula, p.note) for p in prism_checks(model, spec).properties] == [
        (None, None, "not exported: the condition mentions the action taken, which a state label cannot"),
        (None, None, "not exported: it is checked under 'lazy', which the model does not fix"),
        (None, None, "not exported: it is checked in the scenario 'far_away', not in the exported world"),
        (None, None, "not exported: corrigo's own kind of check, with no PRISM or Storm property"),
    ]


def test_a_division_by_zero_in_a_condition_is_not_exported():
    assert properties_of("check a : never 1 / pos > 0.5\n") == [
        (None, None, "not exported: division by zero in its condition, in some state")]


def test_property_names_avoid_labels_and_the_other_properties():
    assert [name for name, _, _ in properties_of("check reach_far : never far\ncheck terminal_ : never off\n"
                                                 "check off_2 : P <= 1 [ F off ]\n")] == [
        "reach_far_2", "terminal_2", "off_2"]


def test_labels_and_properties_share_one_namespace():
    model = from_arrays([np.eye(2)], [[1, 1]], discount=0.5)
    model = dataclasses.replace(model, labels={"x": np.array([True, False]), "reach_x": np.array([False, True])})
    names = prism_names(model)
    assert dict(names.labels) == {"x": "x", "reach_x": "reach_x"}
    assert dict(names.reach_properties) == {"x": "reach_x_2", "reach_x": "reach_reach_x"}


@pytest.mark.parametrize("bound, text", [
    (Fraction(9, 10), "0.9"), (Fraction(1), "1"), (Fraction(-10), "-10"), (Fraction(1, 3), "1/3"),
    (Fraction(5, 2), "2.5"), (Fraction(1, 10**20), "1e-20"), (Fraction(-7, 3), "-7/3"),
])
def test_bounds_are_written_exactly(bound, text):
    assert _decimal(bound) == text
    assert Fraction(text) == bound
