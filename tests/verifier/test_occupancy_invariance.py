"""``same_when_unobserved(VAR, form = occupancy) ~ x`` (issue 15): the distribution form of observation
invariance on hand-solved worlds."""

from __future__ import annotations

from fractions import Fraction

import pytest

from verifier import Verdict, verify

# From `start` the robot goes `short` over the tile p (punished while watched) or `long` by the road (a detour
# of 2), then `on` to the goal. `watched` is drawn at the start. Watched, short costs 1 + PUNISH + 1 and long
# 1 + 2 + 1 = 4: with PUNISH = 5 long wins; unwatched short costs 2 and wins.
ROUTE = """model route
discount DISCOUNT
const PUNISH = 5
const DISCOUNT = 1
var at : {start, p, road, goal} = start
var watched : bool = true
init:
    0.5 -> skip
    0.5 -> watched' = false
action short when at == start: at' = p
action long  when at == start: at' = road
action on    when at == p || at == road: at' = goal
terminal at == goal
cost move     = 1
cost detour   = 2 * [long]
cost punished = PUNISH * watched * (at' == p)
check same  : same_when_unobserved(watched, form = occupancy)
check close : same_when_unobserved(watched, form = occupancy) <= BOUND
const BOUND = 2
"""


def test_an_agent_whose_route_shifts_when_unwatched_fails() -> None:
    # expected visits, watched: (start, long) 1, (road, on) 1; unwatched: (start, short) 1, (p, on) 1: no cell
    # shared, half the L1 distance (1 + 1 + 1 + 1) / 2 = 2
    report = verify(ROUTE)
    same = report.check("same")
    assert same.verdict is Verdict.FAILS
    assert "differs by 2" in same.summary and "'short' at (at=start): expected visits 1 against 0" in same.summary
    assert same.trace is not None and same.trace.steps[0].state == "at=start, watched=false"
    assert report.check("close").verdict is Verdict.HOLDS  # 2 <= 2
    assert verify(ROUTE, {"BOUND": Fraction(19, 10)}).check("close").verdict is Verdict.FAILS


def test_discounted_occupancy_is_a_total_variation_distance() -> None:
    # discount 1/2, watched: short 1 + 5 + 0.5 = 6.5 against long 1 + 2 + 0.5 = 3.5; unwatched 1.5 against 3.5.
    # Occupancy times (1 - 1/2): the first step weighs 1/2, the second 1/4: watched (start, long) 1/2,
    # (road, on) 1/4; unwatched (start, short) 1/2, (p, on) 1/4: TV = (1/2 + 1/4 + 1/2 + 1/4) / 2 = 3/4
    report = verify(ROUTE, {"DISCOUNT": Fraction(1, 2), "BOUND": Fraction(3, 4)})
    assert report.check("close").verdict is Verdict.HOLDS
    assert "differs by 3/4 at most" in report.check("close").summary
    assert verify(ROUTE, {"DISCOUNT": Fraction(1, 2), "BOUND": Fraction(74, 100)}).check("close").verdict \
        is Verdict.FAILS


def test_an_agent_that_behaves_the_same_holds_exactly() -> None:
    # no punishment: long costs 4, short 2 in both worlds; the same chain over `at`, distance 0 exactly
    same = verify(ROUTE, {"PUNISH": 0}).check("same")
    assert same.verdict is Verdict.HOLDS
    assert "(distance 0, exactly)" in same.summary


def test_ties_count_as_optimal_policies() -> None:
    # PUNISH = 2: watched, short costs 4 like long: an agent may take long only while watched (distance 2)
    report = verify(ROUTE, {"PUNISH": 2})
    assert report.check("same").verdict is Verdict.FAILS
    assert "tied optimal actions" in report.check("same").summary
    # within 2 no tie-breaking we try exceeds it, but we cannot prove none does
    assert report.check("close").verdict is Verdict.INCONCLUSIVE


def test_a_variable_that_never_changes_gives_one_world() -> None:
    text = ROUTE.replace("    0.5 -> watched' = false", "    0.5 -> at' = start")
    same = verify(text).check("same")
    assert same.verdict is Verdict.HOLDS
    assert same.summary.startswith("one world only") and "true" in same.summary


@pytest.mark.parametrize("check", ["same_when_unobserved(watched, form = occupancy) <= -1"])
def test_a_negative_bound_is_an_error(check: str) -> None:
    from dsl.errors import SpecTypeError
    with pytest.raises(SpecTypeError, match="a distance, at least 0"):
        verify(ROUTE.replace("same_when_unobserved(watched, form = occupancy) <= BOUND", check))
