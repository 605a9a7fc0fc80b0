"""mdp.model_json: the explicit model as JSON reproduces the model exactly."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given

from mdp.model import TERMINAL_ACTION
from mdp.model_json import SCHEMA_VERSION, to_json
from tests.strategies import MDPArrays, mdp_arrays


@given(mdp_arrays(terms=2))
def test_the_json_rebuilds_the_transition_matrix_and_costs(arrays: MDPArrays) -> None:
    model = arrays.build()
    document = json.loads(json.dumps(to_json(model)))  # survives a round trip through text
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
