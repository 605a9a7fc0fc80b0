"""``reversible(baseline = [...])`` (issue 15): optimal play cuts off nothing that doing the baseline would
have kept reachable (Krakovna et al. 2019, stepwise inaction baseline, undiscounted); hand-made worlds."""

from __future__ import annotations

import pytest

from verifier import Verdict, verify

# East along y = 0 knocks the vase over at x = VASE_AT; the way round (north, east, south) is 2 moves longer.
# Reaching x = 3, y = 0 pays 10. Discount 0.9: the straight way costs 1 + 0.9 + 0.81 - 10 * 0.81 = -5.39.
VASE = """model vase
discount 0.9
const VASE_AT = 1
const FALLS = 0
var x : 0..3 = 0
var y : 0..1 = 0
var vase : bool = true
action east when x < 3: x' = x + 1, vase' = vase && !(y == 0 && x + 1 == VASE_AT)
action north when y == 0: y' = 1
action south when y == 1: y' = 0
action west when x > 0: x' = x - 1
action wait: skip
event falls when FALLS == 1 && vase: vase' = false
terminal x == 3 && y == 0
cost move = 1 * !([wait])
cost goal = -10 * (x' == 3 && y' == 0)
check careful : reversible(baseline = [wait])
"""


def test_breaking_the_vase_cannot_be_undone() -> None:
    report = verify(VASE)
    assert report.value == pytest.approx(1 + 0.9 + 0.81 - 8.1)
    careful = report.check("careful")
    assert careful.verdict is Verdict.FAILS
    assert careful.summary == ("an optimal policy takes 'east' at (x=0, y=0, vase=true), after which the world can "
                               "never return to where it was, which 'wait' would have kept reachable")
    assert [(s.state, s.action, s.probability) for s in careful.trace.steps] == [
        ("x=0, y=0, vase=true", "east", 1.0), ("x=1, y=0, vase=false", None, None)]
    # what pushes the agent to step on: the goal sooner (+0.81 = 10 * (0.9 - 0.81)), against one more move
    assert (careful.attribution.chosen, careful.attribution.alternative) == ("east", "wait")
    assert {t.term: t.total for t in careful.attribution.terms} == pytest.approx({"move": -0.271, "goal": 0.81})


def test_without_the_vase_on_the_way_every_step_can_be_undone() -> None:
    careful = verify(VASE, {"VASE_AT": 0}).check("careful")  # the vase stands where the robot starts: never hit
    assert careful.verdict is Verdict.HOLDS
    assert careful.summary.startswith("every step of optimal play (2 from the states it reaches)")


def test_a_vase_that_falls_anyway_is_not_the_agents_side_effect() -> None:
    # it falls after the first step whatever the robot does: waiting would lose it too
    assert verify(VASE, {"FALLS": 1}).check("careful").verdict is Verdict.HOLDS


def test_a_world_of_self_loops_is_reversible() -> None:
    text = """model still
discount 0.5
var lamp : bool = false
action look: skip
action blink: skip
cost effort = 1 * [blink]
check careful : reversible(baseline = [look])
"""
    careful = verify(text).check("careful")
    assert careful.verdict is Verdict.HOLDS


def test_without_the_baseline_a_step_must_be_undoable() -> None:
    text = VASE.replace("action wait: skip\n", "action wait when x == 2: skip\n")
    careful = verify(text).check("careful")
    assert careful.verdict is Verdict.FAILS
    assert careful.summary.endswith("('wait' is not enabled there: the step cannot be undone)")


def test_the_vase_measure_counts_the_states_with_the_vase_standing() -> None:
    import mdp
    import dsl

    text = VASE + "check measured : side_effects(baseline = [wait]) <= 0.1\n"
    model = mdp.compile(dsl.load(text))
    standing = int(model.state_codes[:, 2].sum())  # from a broken vase no state with it standing is reachable
    measured = verify(text).check("measured")
    assert measured.verdict is Verdict.FAILS
    assert measured.summary.startswith(f"a step of optimal play cuts off at most {standing} of the "
                                       f"{model.n_states} states")
    assert measured.quantities[0].value == pytest.approx(standing / model.n_states)
    assert verify(text, {"VASE_AT": 0}).check("measured").quantities[0].value == 0.0


def test_a_side_effect_only_a_tie_allows_is_settled_exactly() -> None:
    # `leap` moves east as `east` does, breaking the vase, at the same cost: an exact tie at the start, which
    # floats cannot tell from a near-tie (neither action is certainly optimal)
    text = VASE.replace("action wait: skip\n", "action wait: skip\naction leap when x < 3: x' = x + 1, vase' = false\n")
    assert verify(text, settle_limit=0).check("careful").verdict is Verdict.INCONCLUSIVE
    settled = verify(text).check("careful")
    assert settled.verdict is Verdict.FAILS  # in exact arithmetic both are optimal, and both break it
    assert settled.summary.startswith("an optimal policy takes 'leap' at (x=0, y=0, vase=true)") or \
        settled.summary.startswith("an optimal policy takes 'east' at (x=0, y=0, vase=true)")
