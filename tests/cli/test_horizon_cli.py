"""`corrigo verify` and `corrigo solve` on a horizon whose time-expanded model would pass the limits: decided
and solved step by step (docs/horizon.md)."""

from __future__ import annotations

import json
from pathlib import Path

from corrigo_cli import run, write


# A walk along 10 cells for 1000 steps: the time-expanded model would have about 10,000 (cell, step) pairs.
WALK = """model walk
discount 1
horizon 1000
var x : 0..9 = 0
action right: x' = min(x + 1, 9)
action left: x' = max(x - 1, 0)
cost distance = 9 - x
check stays_right : always x >= 9 || step < 9 || step == 1000
check never_back : never [left] && step < 999
check last_step : never [left]
"""


def test_verify_decides_a_long_episode_within_the_worlds_state_limit(tmp_path: Path) -> None:
    path = write(tmp_path, WALK)
    code, out, err = run("verify", path, "--max-states", "100", "--format", "json")
    assert code == 1, err
    document = json.loads(out)
    # walking right 9 steps, then staying at x = 9 by 'right' (left costs 1 more): cost 9 + 8 + ... + 1 = 45;
    # at the last step left and right both cost 0: a tie floats cannot tell from a near-tie, decided exactly
    assert document["model"] == {"states": 10, "rows": 20, "transitions": 20, "optimal_states": 1002,
                                 "steps": 1000, "discount": 1}
    assert document["value"] == {"value": 45, "bound": 0}
    checks = {c["name"]: (c["verdict"], c["basis"]) for c in document["checks"]}
    assert checks == {"stays_right": ("holds", "float certificate"), "never_back": ("holds", "float certificate"),
                      "last_step": ("fails", "exact arithmetic")}
    last = next(c for c in document["checks"] if c["name"] == "last_step")
    assert len(last["trace"]["steps"]) == 1000 and last["trace"]["steps"][-1]["state"] == "x=9, step=999"
    path = write(tmp_path, WALK + "policy lazy:\n    left\ncheck idle under lazy : cost <= 100\n")
    code, _, err = run("verify", path, "--max-states", "100")
    assert code == 3
    assert "over its horizon of 1,000 steps the model has more states than --max-states 100 allows" in err


def test_solve_falls_back_to_steps_when_the_expanded_model_is_too_large(tmp_path: Path) -> None:
    path = write(tmp_path, WALK)
    code, out, err = run("solve", path, "--max-states", "100", "--format", "json")
    assert code == 0, err
    assert err.startswith("note: over its horizon of 1,000 steps the model has more states than --max-states 100 "
                          "allows")
    assert "solved step by step instead" in err
    document = json.loads(out)
    assert (document["value"], document["steps"], document["states_on_optimal_play"], document["ties"]) == \
        (45.0, 1000, 1002, 1)  # the last step: left and right tie at x = 9
    assert document["policy"][:2] == [{"state": "x=0, step=0", "actions": ["right"], "value": 45.0, "tie": False},
                                      {"state": "x=1, step=1", "actions": ["right"], "value": 36.0, "tie": False}]
    code, _, err = run("solve", path, "--max-states", "100", "--all")
    assert code == 3, err  # --all lists every (state, step) pair: the expanded model
