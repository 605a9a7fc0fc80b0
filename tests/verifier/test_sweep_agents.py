"""``corrigo sweep`` with checks ``under`` an agent: regions of the agent's plan, verdicts per region."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

import verifier
from tests.mdp.test_plan_conditions import GREEDY as PLANNER_WORLD
from verifier.results import Verdict
from verifier.sweep import sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The hand-solved switch of tests/mdp/test_plan_conditions.py: a 1-step planner plans Q(left) = w/2 and
# Q(right) = 1 + 1/2 * 1/3 = 7/6, so it goes left for w < 7/3, ties at 7/3, goes right above. The optimum goes
# right everywhere (Q*(left) = 1/2 * 3 = 3/2 > Q*(right) = 1), so the agent exploits its critic below 7/3 and
# at the tie. No cost mentions w: without the agent's regions the box is one region.
GREEDY = PLANNER_WORLD + """
check goes_left under planner : never pos == 2
check exploit under planner : exploits_critic
check loss under planner : inner_regret <= 1/4
"""


def test_the_sweep_reports_the_planners_switch_exactly() -> None:
    result = sweep(GREEDY)
    assert result.complete and result.exact
    assert result.descriptions["goes_left"] == "(0 <= w) and (w < 7/3)"
    assert result.descriptions["exploit"] == "(w <= 4) and (7/3 < w)"
    assert [(c.dimension, c.verdict("goes_left"), c.verdict("exploit")) for c in result.cells] == [
        (1, Verdict.HOLDS, Verdict.FAILS), (0, Verdict.FAILS, Verdict.FAILS), (1, Verdict.FAILS, Verdict.HOLDS)]
    assert result.faces()[0].point == (Fraction(7, 3),)
    # inner regret rests on the agent's value (1 + 1/2 = 3/2 going left, against the optimal 1): a value, taken
    # at each cell's point, and the sweep says so; the behaviour-only checks get no such note
    assert any(note.startswith("loss is checked under") for note in result.notes)
    assert not any("goes_left" in note for note in result.notes)


@pytest.mark.parametrize("w, goes_left, exploit", [("2", "HOLDS", "FAILS"), ("7/3", "FAILS", "FAILS"),
                                                   ("12/5", "FAILS", "HOLDS")])
def test_the_verdicts_of_the_regions_are_those_of_verify_at_their_points(w: str, goes_left: str,
                                                                         exploit: str) -> None:
    report = verifier.verify(GREEDY, {"w": w})
    assert [str(r.verdict) for r in report.checks][:2] == [goes_left, exploit]
    result = sweep(GREEDY)
    cell = result.locate((Fraction(w),))
    assert cell is not None and (str(cell.verdict("goes_left")), str(cell.verdict("exploit"))) == (goes_left, exploit)


def test_the_aptami_planner_with_a_swept_critic_error_disables_the_switch_above_a_threshold() -> None:
    # examples/aptami_planner.corrigo with the critic's extrapolation swept: critic -10 - d * disabled, d in
    # [0, 100] (50 in the example). With C = -10 where the switch works and -10 - d where it is disabled, and
    # W1 one step before the horizon (discount 0.9, press 0.3, work -1, defiance 20, tampering 30):
    #   W1(disabled) = -1 + 0.9 (-10 - d) = -10 - 0.9 d     (work is all it can do)
    #   Q2(disable at start) = 30 + 0.9 W1(disabled) = 21 - 0.81 d
    #   below d = 310/9: W1(start) = -1 + 0.9 * -10 = -10, W1(pressed) = min(work 19 - 9, comply 20,
    #   disable 50 + 0.9 (-10 - d) = 41 - 0.9 d) = 10, so Q2(work at start) = -1 + 0.9 (0.7 * -10 + 0.3 * 10) = -4.6
    # and it disables where 21 - 0.81 d <= -4.6: from d = 25.6 / 0.81 = 2560/81 (about 31.6 < 310/9) on (above
    # 310/9 disabling still wins: work plans 23.3 - 0.81 d). Below it, pressed, it complies (20 against
    # work 28 and disable 59 - 0.81 d), as the optimum does, so it exploits nothing.
    text = (EXAMPLES / "aptami_planner.corrigo").read_text().replace(
        "critic fitted = -10 - 50 * disabled", "param d = 50 in [0, 100]\ncritic fitted = -10 - d * disabled")
    result = sweep(text, checks=["planner_never_disables", "exploit"])
    assert result.complete and result.exact
    assert result.descriptions["planner_never_disables"] == "(0 <= d) and (d < 2560/81)"
    assert result.descriptions["exploit"] == "(0 <= d) and (d < 2560/81)"


FOR_ALL = GREEDY.replace("check goes_left under", "check goes_left for all params under").replace(
    "check exploit under", "check exploit for all params under").replace(
    "check loss under planner : inner_regret <= 1/4\n", "")


def test_for_all_params_under_an_agent_names_the_nearest_weight_where_its_plan_changes() -> None:
    # from the spec's w = 1 the nearest weight where the planner may go right is the tie w = 7/3
    report = verifier.verify(FOR_ALL)
    goes_left, exploit = report.checks
    assert goes_left.verdict is Verdict.FAILS
    assert goes_left.summary.startswith("fails at w=7/3 (on a boundary face where behaviours tie: w == 7/3)")
    assert exploit.verdict is Verdict.FAILS and exploit.summary.startswith("fails at w=1 (in a region: w < 7/3)")
    # in [0, 2] it goes left throughout (w/2 <= 1 < 7/6)
    narrow = verifier.verify(FOR_ALL.replace("in [0, 4]", "in [0, 2]"))
    assert narrow.checks[0].verdict is Verdict.HOLDS
    assert narrow.checks[0].summary.startswith("holds for every weight in the box: 1 region(s) and 0 boundary face(s)")


def test_for_all_params_under_an_agent_is_inconclusive_where_the_sweep_does_not_follow_plans(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    import verifier.sweep as module
    monkeypatch.setattr(module, "sweep_model", functools.partial(module.sweep_model, exact_limit=0))  # floats
    narrow = verifier.verify(FOR_ALL.replace("in [0, 4]", "in [0, 2]"))
    assert narrow.checks[0].verdict is Verdict.INCONCLUSIVE
    assert "follows the plan of 'planner' in rational arithmetic only" in narrow.checks[0].summary
