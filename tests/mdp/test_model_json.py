"""mdp.model_json: the explicit model as JSON reproduces the model exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

import dsl
import mdp
from mdp.model import TERMINAL_ACTION
from mdp.model_json import SCHEMA_VERSION, to_json
from tests.report_schema import MODEL_SCHEMA
from tests.strategies import MDPArrays, mdp_arrays

ROOT = Path(__file__).resolve().parents[2]


@given(mdp_arrays(terms=2))
def test_the_json_rebuilds_the_transition_matrix_and_costs(arrays: MDPArrays) -> None:
    model = arrays.build()
    document = json.loads(json.dumps(to_json(model)))  # survives a round trip through text
    MODEL_SCHEMA.validate(document)
    assert document["schema_version"] == SCHEMA_VERSION and document["n_states"] == model.n_states
    P = np.zeros((model.n_rows, model.n_states))
    for state in document["states"]:
        assert state["terminal"] == bool(model.terminal[state["index"]])
        for choice, row in zip(state["choices"], [r for r in model.rows(state["index"])
                                                  if model.action_names[model.row_action[r]] != TERMINAL_ACTION]):
            assert choice["action"] == model.action_names[model.row_action[row]]
            assert choice["costs"] == {term: float(vector[row]) for term, vector in model.costs.items()}
            for transition in choice["transitions"]:
                P[row, transition["to"]] = transition["probability"]
    drawn = np.array([model.action_names[a] != TERMINAL_ACTION for a in model.row_action])
    assert np.array_equal(P[drawn], model.P.toarray()[drawn])
    assert document["n_choices"] == int(drawn.sum())


@pytest.mark.parametrize("name", ["household_robot", "gridworld_robot", "off_switch_game", "deployment_shift"])
def test_exported_examples_follow_the_shipped_json_schema(name: str) -> None:
    # variables of every type, enum values, labels, intents, several start states
    document = json.loads(json.dumps(to_json(mdp.compile(dsl.load(ROOT / "examples" / f"{name}.corrigo")))))
    MODEL_SCHEMA.validate(document)
    assert document["model"] == name
