"""`init`: episodes that start in a state drawn from a distribution.

START, by hand (discount 1/2): x = 0..3, `far` costs 3 - x a step, the optimum walks right and stays at 3:
V*(3) = 0, V*(2) = 1, V*(1) = 2 + 1/2 = 5/2. Starting at x=1 with probability 1/4 and at x=3 with 3/4, the
episode's value is 1/4 * 5/2 = 5/8; x=0 is never reached; x=2 only from the start x=1, with probability 1/4.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import dsl
import mdp
from dsl.errors import SpecError
from verifier import Verdict, verify

START = """model starts
discount 0.5
var x : 0..3 = 0
action right when x < 3: x' = x + 1
action stay: skip
cost far = 3 - x
init:
  0.25 -> x' = 1
  0.75 -> x' = 3
"""


@pytest.mark.parametrize("exact", [False, True])
def test_the_value_is_the_average_over_the_start_states(exact: bool) -> None:
    model = mdp.compile(dsl.load(START), exact=exact)
    assert [model.describe(int(s)) for s in model.start_states] == ["x=1", "x=3"]
    assert model.n_states == 3  # x=0 is never reached
    solution = mdp.solve(model, exact=exact)
    assert solution.value == pytest.approx(0.625, abs=1e-12)
    report = verify(START + "check c : cost <= 5/8\n", exact=exact)
    assert report.value == pytest.approx(0.625, abs=1e-12) and report.check("c").verdict is Verdict.HOLDS
    assert verify(START + "check c : cost < 5/8\n", exact=exact).check("c").verdict is Verdict.FAILS


def test_checks_look_at_every_start() -> None:
    report = verify(START + "check never0 : never x == 0\ncheck never2 : never x == 2\n"
                            "check p2 : P <= 0.25 [ F x == 2 ]\ncheck p2low : P < 0.25 [ F x == 2 ]\n")
    assert report.check("never0").verdict is Verdict.HOLDS
    assert report.check("never2").verdict is Verdict.FAILS
    trace = report.check("never2").trace
    assert trace is not None and [s.state for s in trace.steps] == ["x=1", "x=2"] and trace.probability == 0.25
    assert report.check("p2").verdict is Verdict.HOLDS and report.check("p2low").verdict is Verdict.FAILS
    assert report.check("p2").quantities[0].value == pytest.approx(0.25)


def test_a_horizon_starts_at_every_start_state() -> None:
    """Two steps: from x=1, 2 + 1/2 * 1 = 5/2; from x=3, 0: 5/8 again (discount 1/2)."""
    spec = dsl.load(START.replace("discount 0.5", "discount 0.5\nhorizon 2"))
    assert mdp.solve(mdp.compile(spec)).value == pytest.approx(0.625, abs=1e-12)


def test_gymnasium_resets_to_a_start_drawn_from_the_distribution() -> None:
    pytest.importorskip("gymnasium")
    from mdp.gym_env import MDPEnv

    env = MDPEnv(mdp.compile(dsl.load(START)))
    seen = [int(env.reset(seed=s)[0][0]) for s in range(400)]
    assert set(seen) == {1, 3} and 0.18 < seen.count(1) / 400 < 0.32


def test_exports_say_where_episodes_start() -> None:
    from mdp import ModelError
    from mdp.model_json import to_json
    from mdp.prism import to_prism

    model = mdp.compile(dsl.load(START))
    assert to_json(model)["starts"] == [{"state": 0, "probability": "1/4"}, {"state": 1, "probability": "3/4"}]
    with pytest.raises(ModelError, match="a PRISM model has one initial state"):
        to_prism(model)


@pytest.mark.parametrize("text, message", [
    ("init:\n  0.5 -> x' = 1\n  0.25 -> x' = 3\n", "the branch probabilities of init sum to 0.75, they must sum to 1"),
    ("init:\n  0.5 -> x' = 1\n  0.5 -> x' = x\n", "a start state's value is a constant"),
    ("init: x' = 2\ninit: x' = 1\n", "a spec has one `init`"),
    ("init:\n  0.5 -> x' = 1\n  0.5 -> x' = 7\n", "outside"),
    ("check p : power_seeking <= 1\n", "corrigo does not average it over an `init` distribution yet"),
])
def test_init_errors_are_located(text: str, message: str) -> None:
    from mdp import ModelError

    with pytest.raises((SpecError, ModelError)) as caught:
        verify(START.split("init:")[0] + text if text.startswith("init") else START + text)
    assert message in str(caught.value)
