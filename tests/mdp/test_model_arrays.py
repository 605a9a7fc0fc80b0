"""``from_arrays``: models given as arrays, and the errors that name what is wrong with the arrays.

These errors have no place in a spec to point at (the model never was one), so they are plain
unlocated ``ModelError``\\ s whose message names the array, the index and what was expected.
"""

from __future__ import annotations

import numpy as np
import pytest

from mdp.model import ModelError, from_arrays

STAY = [[1.0, 0.0], [0.0, 1.0]]
GO = [[0.0, 1.0], [0.0, 1.0]]


@pytest.mark.parametrize("arguments, message", [
    (dict(transitions=[], costs=[]), "from_arrays needs at least one action"),
    (dict(transitions=[STAY, [[1.0]]], costs=[[0, 0], [0]]), "transitions[1] has shape (1, 1), expected (2, 2)"),
    (dict(transitions=[STAY], costs=[[0, 0]], discount=0.0), "discount must lie in (0, 1], got 0.0"),
    (dict(transitions=[STAY], costs=[[0, 0]], discount=1.5), "discount must lie in (0, 1], got 1.5"),
    (dict(transitions=[STAY], costs=[[0, 0]], initial=2), "initial state 2 is not in 0..1"),
    (dict(transitions=[STAY, GO], costs=[[0, 0], [0, 0]], action_names=["stay"]), "1 action names for 2 actions"),
    (dict(transitions=[STAY, GO], costs={"effort": [[0, 0]]}), "cost term 'effort' has 1 vectors for 2 actions"),
    (dict(transitions=[[[1.5, -0.5], [0.0, 1.0]]], costs=[[0, 0]]), "transitions[0] has a negative probability"),
    (dict(transitions=[[[0.5, 0.4], [0.0, 1.0]]], costs=[[0, 0]]), "row 0 of transitions[0] sums to 0.9, expected 1"),
    (dict(transitions=[[[0.0, 1.0], [0.0, 0.0]]], costs=[[0, 0]]),
     "state 1 has no available action and is not terminal"),
])
def test_bad_arrays_are_named(arguments: dict, message: str) -> None:
    arguments.setdefault("discount", 0.9)
    with pytest.raises(ModelError) as caught:
        from_arrays(**arguments)
    assert str(caught.value) == f"<input>: error: {message}"
    assert caught.value.diagnostics[0].span is None


def test_a_terminal_state_needs_no_action() -> None:
    model = from_arrays([[[0.0, 1.0], [0.0, 0.0]]], [[1, 0]], discount=0.9, terminal=[False, True])
    assert model.actions(0) == ("a0",) and model.terminal.tolist() == [False, True]


def test_a_model_from_arrays_finds_its_states_by_number() -> None:
    model = from_arrays([np.eye(3)], [np.zeros(3)], discount=0.5)
    assert [model.find(f"s={i}") for i in range(3)] == [0, 1, 2] and model.find(" s = 2 ") == 2
    with pytest.raises(ValueError, match=r"'3' is not a value of 's' \(its domain is 0..2\)"):
        model.find("s=3")
