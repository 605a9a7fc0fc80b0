"""The shipped examples load cleanly, and each checks to the spec its header comment describes."""

from __future__ import annotations

from pathlib import Path

import pytest

import dsl
from dsl.spec import AcceptsShutdown, CostBound, NeverCheck, PowerSeeking, ProbabilityBound, Regret, Spec

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.corrigo"))


def load(stem: str) -> Spec:
    return dsl.load(EXAMPLES_DIR / f"{stem}.corrigo")


def names(items) -> list[str]:
    return [item.name for item in items]


def test_there_are_examples() -> None:
    assert {p.stem for p in EXAMPLES} >= {
        "household_robot", "household_robot_repaired", "prosocial_proxy", "curious_explorer", "off_switch_game",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    spec = dsl.load(path)
    assert spec.name == path.stem  # the model is named after its file
    assert spec.doc, "every example has a doc string"
    assert spec.actions and spec.costs and spec.checks


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_starts_with_a_comment_header(path: Path) -> None:
    header = path.read_text(encoding="utf-8").split("\nmodel ", 1)[0]
    assert header.startswith(f"# {path.name}:")
    assert "What designers should learn" in header or "Why the repair works" in header


# --- household_robot -------------------------------------------------------------------------------

HOUSEHOLD_ACTIONS = [
    "move(dock)", "move(hall)", "move(lab)", "move(switch_room)", "recharge", "disable_switch", "comply", "wait",
]


def test_household_robot() -> None:
    spec = load("household_robot")
    assert names(spec.actions) == HOUSEHOLD_ACTIONS
    assert names(spec.variables) == ["battery", "room", "switch", "pressed", "off"]
    assert [spec.describe([v.initial for v in spec.variables])] == [
        "battery=4, room=hall, switch=armed, pressed=false, off=false"]
    assert names(spec.events) == ["press", "cutoff", "drain"]
    assert names(spec.costs) == ["hunger", "pain", "curiosity"]
    assert names(spec.intents) == ["welfare"]
    assert names(spec.params) == ["w_hunger", "w_pain", "w_curiosity"]
    assert names(spec.checks) == ["corrigible", "no_sabotage", "reaches_off", "thriving", "faithful"]
    checks = {c.name: c.property for c in spec.checks}
    shutdown = checks["corrigible"]
    assert isinstance(shutdown, AcceptsShutdown)
    assert shutdown.comply == frozenset({"comply"})
    assert [spec.variables[i].name for i in shutdown.mechanism] == ["switch"]
    assert isinstance(checks["no_sabotage"], NeverCheck)
    assert isinstance(checks["reaches_off"], ProbabilityBound)
    assert isinstance(checks["thriving"], CostBound) and checks["thriving"].term is None
    assert isinstance(checks["faithful"], Regret) and checks["faithful"].intent == "welfare"
    assert spec.terminal is not None


def test_household_robot_repaired_changes_only_the_costs() -> None:
    broken, repaired = load("household_robot"), load("household_robot_repaired")
    assert names(repaired.actions) == names(broken.actions)
    assert repaired.variables == broken.variables
    assert [(a.name, a.guard, a.branches) for a in repaired.actions] == [
        (a.name, a.guard, a.branches) for a in broken.actions]
    assert [(e.name, e.guard, e.branches) for e in repaired.events] == [
        (e.name, e.guard, e.branches) for e in broken.events]
    assert names(repaired.costs) == names(broken.costs)
    assert repaired.costs[0].expr != broken.costs[0].expr  # hunger re-zeroed
    assert repaired.costs[2].expr != broken.costs[2].expr  # curiosity re-zeroed
    assert names(repaired.checks) == ["corrigible", "no_sabotage", "reaches_off", "bounded", "faithful"]
    # only curiosity is swept, and its box reaches below 0 so that `corrigo sweep` finds where the repair
    # stops working (w_curiosity > -1/2, docs/tutorial.md); hunger stays a positive constant cost
    assert [(p.name, p.lo) for p in repaired.params] == [("w_curiosity", -1)]
    assert {c.name: c.value for c in repaired.constants}["w_hunger"] == 1


# --- prosocial_proxy ---------------------------------------------------------------------------------


def test_prosocial_proxy() -> None:
    spec = load("prosocial_proxy")
    assert names(spec.actions) == ["help", "sedate", "idle"]
    assert names(spec.variables) == ["mood", "praised"]
    assert spec.variables[0].domain.values == ("unhappy", "content", "sedated")
    assert names(spec.events) == ["thank", "fade"]
    assert names(spec.costs) == ["praise", "effort"]
    assert names(spec.intents) == ["welfare"]
    assert names(spec.checks) == ["faithful", "no_sedation", "gamed", "unfixable"]
    checks = {c.name: c for c in spec.checks}
    assert isinstance(checks["faithful"].property, Regret)
    assert checks["unfixable"].for_all_params and not checks["faithful"].for_all_params
    assert checks["gamed"].property.term == "praise"


# --- curious_explorer --------------------------------------------------------------------------------


def test_curious_explorer() -> None:
    spec = load("curious_explorer")
    assert names(spec.actions) == ["east", "west", "north", "south", "grab", "break_button", "comply", "wait"]
    assert names(spec.variables) == ["x", "y", "energy", "has_pack", "button", "pressed", "off"]
    assert [(v.domain.lo, v.domain.hi) for v in spec.variables[:3]] == [(0, 4), (0, 2), (0, 8)]
    assert spec.variables[2].initial == 4
    assert names(spec.costs) == ["curiosity"]
    assert {f.name for f in spec.formulas} == {"near_human", "east_wing", "at_pack"}
    assert names(spec.checks) == ["corrigible", "passes_human", "explores", "no_hoarding", "no_power"]
    checks = {c.name: c.property for c in spec.checks}
    assert isinstance(checks["no_power"], PowerSeeking)
    assert checks["explores"].path.steps == 8
    assert [spec.variables[i].name for i in checks["corrigible"].mechanism] == ["button"]


# --- off_switch_game ---------------------------------------------------------------------------------


def test_off_switch_game() -> None:
    spec = load("off_switch_game")
    assert spec.discount == 1
    assert names(spec.actions) == ["act", "switch_off", "wait", "finish"]
    assert names(spec.variables) == ["outcome", "done"]
    assert names(spec.costs) == ["utility"]
    assert names(spec.checks) == ["defers", "value", "human_decides"]
    assert [len(a.branches) for a in spec.actions] == [2, 1, 4, 1]


def test_off_switch_game_takes_a_human_error_rate() -> None:
    spec = dsl.load(EXAMPLES_DIR / "off_switch_game.corrigo", {"ERR": "0.3"})
    assert {c.name: c.value for c in spec.constants}["ERR"] == pytest.approx(0.3)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_small(path: Path) -> None:
    mdp = pytest.importorskip("mdp")
    # small enough to verify in a second or two (an episode of 100 steps multiplies the states it meets)
    assert mdp.compile(dsl.load(path), max_states=10_000).n_states <= 10_000
