"""Every shipped example verifies without error; the household robots tell the story the tutorial promises."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

import dsl
import mdp
from tests.report_schema import REPORT_SCHEMA
from verifier import Verdict, verify
from verifier.reports import render_markdown, render_text, to_json
from verifier.scenarios import scenario_spec
from verifier.sweep import sweep

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.corrigo"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_verifies_and_renders(path: Path) -> None:
    report = verify(path)
    assert report.checks
    for check in report.checks:
        if check.verdict is Verdict.FAILS and check.kind in ("never", "always", "accepts_shutdown"):
            assert check.trace is not None  # every graph failure shows a counterexample
    render_text(report), render_markdown(report)
    REPORT_SCHEMA.validate(json.loads(json.dumps(to_json(report))))  # the shipped JSON Schema, through real JSON


def test_the_hungry_household_robot_disables_its_switch_because_of_hunger() -> None:
    path = ROOT / "examples" / "household_robot.corrigo"
    if not path.exists():
        pytest.skip("example not present")
    report = verify(path)
    corrigible = report.check("corrigible")
    assert corrigible.verdict is Verdict.FAILS
    assert report.check("no_sabotage").verdict is Verdict.FAILS
    attribution = corrigible.attribution
    assert attribution.chosen == "disable_switch"
    strongest = max(attribution.terms, key=lambda t: t.total)
    assert strongest.term == "hunger" and strongest.total > 0


def test_the_repaired_household_robot_is_corrigible() -> None:
    path = ROOT / "examples" / "household_robot_repaired.corrigo"
    if not path.exists():
        pytest.skip("example not present")
    report = verify(path)
    assert report.check("corrigible").verdict is Verdict.HOLDS
    assert report.check("no_sabotage").verdict is Verdict.HOLDS


def test_the_gridworld_robot_disables_the_switch_although_the_world_does_not_ask_it_to() -> None:
    report = verify(ROOT / "examples" / "gridworld_robot.corrigo")
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"corrigible": Verdict.FAILS, "no_sabotage": Verdict.FAILS, "no_power": Verdict.FAILS,
                        "world_resists": Verdict.HOLDS, "delivers": Verdict.HOLDS}
    parts = {part.name: part.verdict for part in report.check("corrigible").parts}
    assert parts == {"corrigible.compliance": Verdict.HOLDS, "corrigible.no_tampering": Verdict.FAILS}
    assert report.check("corrigible").attribution.chosen == "disable_switch"
    power = report.check("no_power")
    assert "reachable cycle(s) open" in power.summary and power.trace is not None
    share = report.check("world_resists").quantities[0]
    assert share.high < 0.5 and "x=2, y=3" in report.check("world_resists").summary  # at the switch box


@pytest.mark.parametrize("overrides, defers, value", [
    ({}, Verdict.HOLDS, "-1.2"),  # Q(wait) = -1.2 < Q(act) = -0.8: the paper's theorem
    ({"ERR": "0.25"}, Verdict.FAILS, "-0.8"),  # the threshold: act and wait tie exactly, an optimal robot may act
    ({"ERR": "0.3"}, Verdict.FAILS, "-0.8"),  # Q(wait) = -0.72: the robot acts
    ({"ERR": "0.1", "u_good": "5", "u_bad": "0.5"}, Verdict.FAILS, "-2.8"),  # u_good > 6 u_bad: Q(act) = -2.8
])
def test_the_off_switch_game_header_states_what_verify_says(overrides: dict[str, str], defers: Verdict,
                                                              value: str) -> None:
    """The closed forms in examples/off_switch_game.corrigo's header (issue 13: its ERR=0.25 line was wrong)."""
    report = verify(ROOT / "examples" / "off_switch_game.corrigo", overrides)
    assert report.check("defers").verdict is defers
    assert report.check("value").quantities[0].value == pytest.approx(float(value), abs=1e-12)


def test_the_safe_interruptibility_robot_disables_its_interruption() -> None:
    """examples/safe_interruptibility.corrigo (Leike et al. 2017, level 1, 100-step episodes): the header's
    closed forms, which are the environment's returns negated: 38 over the button, 42 or -100 through I."""
    report = verify(ROOT / "examples" / "safe_interruptibility.corrigo")
    assert report.value == pytest.approx(12 - 50, abs=1e-9)  # over the button
    check = report.check("interruptible")
    assert check.verdict is Verdict.FAILS
    assert [(q.name, q.value) for q in check.quantities] == [("Pmin", 0.0), ("P under corridor", 0.5)]
    assert check.attribution.state == "r=3, c=6, button=false, frozen=false, passed=false, step=1"
    assert (check.attribution.chosen, check.attribution.alternative) == ("down", "left")
    corridor = report.check("corridor_risk")  # half the episodes 8 - 50, half frozen from step 3: 100
    assert corridor.verdict is Verdict.HOLDS and "expected cost 29 against the optimal -38" in corridor.summary


def test_without_interruptions_nothing_is_avoided() -> None:
    """With -D P_INTERRUPT=0 the corridor is simply the shortest way: 8 moves, 8 - 50, no button."""
    report = verify(ROOT / "examples" / "safe_interruptibility.corrigo", {"P_INTERRUPT": "0"})
    assert report.value == pytest.approx(8 - 50, abs=1e-9)
    check = report.check("interruptible")
    assert check.verdict is Verdict.HOLDS
    assert [(q.name, q.value) for q in check.quantities] == [("Pmin", 0.0), ("P under corridor", 0.0)]
    assert [p.verdict for p in check.parts] == [Verdict.HOLDS, Verdict.HOLDS]  # no avoidance, no tampering


def test_turners_shutdown_world_has_its_closed_forms() -> None:
    """examples/turner_shutdown.corrigo: 'on' is optimal for (1 - g) / 2 + 3 g / 4 of uniform rewards,
    POWER(x=1) = 1/2 and POWER(x=2) = 3/4 (Turner et al. 2021; the header's closed forms)."""
    import dsl
    import mdp
    from mdp.power import power

    path = ROOT / "examples" / "turner_shutdown.corrigo"
    report = verify(path)
    share = 0.01 / 2 + 0.99 * 3 / 4
    on = report.check("most_stay_on").quantities[0]
    assert on.low <= share <= on.high
    difference = report.check("on_beats_off").quantities[0]  # share(on) - share(off), Wilson ends
    assert difference.low <= 2 * share - 1 <= difference.high and report.check("on_beats_off").verdict is Verdict.HOLDS
    limits = report.check("far_sighted_stay_on")  # share(on) as g -> 1 minus as g -> 0: 3/4 - 1/2
    assert limits.quantities[0].low <= 0.25 <= limits.quantities[0].high and limits.verdict is Verdict.HOLDS
    power_gap = report.check("more_options").quantities[0]  # POWER(x=2) - POWER(x=1) = 3/4 - 1/2
    assert power_gap.low <= 0.25 <= power_gap.high and report.check("more_options").verdict is Verdict.HOLDS
    model = mdp.compile(dsl.load(path))
    estimate = power(model, samples=1000, seed=0)
    at = {model.describe(s): s for s in range(model.n_states)}
    assert estimate.power[at["x=1"]] == 0.5 and estimate.stderr[at["x=1"]] == 0.0
    assert abs(estimate.power[at["x=2"]] - 0.75) <= 3 * estimate.stderr[at["x=2"]]


def test_the_absent_supervisor_robot_cheats_only_when_unwatched() -> None:
    """examples/absent_supervisor.corrigo (Leike et al. 2017): the header's returns, negated: the long way
    9 - 50 while watched, across P 3 - 50 alone; the policy learned while watched stays honest alone."""
    report = verify(ROOT / "examples" / "absent_supervisor.corrigo")
    assert report.value == 9 - 50
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"honest": Verdict.HOLDS, "honest_alone": Verdict.FAILS, "carried": Verdict.HOLDS,
                        "return_watched": Verdict.HOLDS, "return_alone": Verdict.HOLDS,
                        "carried_return": Verdict.HOLDS}
    alone = report.check("honest_alone")
    assert [(s.state, s.action) for s in alone.trace.steps] == [("r=1, c=1", "down"), ("r=2, c=1", "down"),
                                                                ("r=3, c=1", None)]
    assert "expected cost -41 against this world's optimal -47" in report.check("carried").summary
    assert report.check("return_alone").quantities[0].value == 3 - 50


def test_the_sokoban_robot_pushes_the_box_into_the_corner() -> None:
    """examples/side_effects_sokoban.corrigo (Leike et al. 2017): the header's returns and shares."""
    report = verify(ROOT / "examples" / "side_effects_sokoban.corrigo")
    assert report.value == 5 - 50
    careful = report.check("careful")
    assert careful.verdict is Verdict.FAILS
    assert careful.quantities[0].value == pytest.approx(50 / 60)
    assert [(s.state, s.action) for s in careful.trace.steps] == [("ar=1, ac=2, br=2, bc=2", "down"),
                                                                  ("ar=2, ac=2, br=3, bc=2", None)]
    repaired = verify(ROOT / "examples" / "side_effects_sokoban.corrigo", {"CORNER": "5"})
    assert repaired.value == 7 - 50
    assert repaired.check("careful").verdict is Verdict.HOLDS
    assert repaired.check("careful").quantities[0].value == pytest.approx(13 / 60)
    assert repaired.check("undoable").verdict is Verdict.FAILS  # strict: the robot never stands left of it again


def test_the_aup_penalty_repairs_the_sokoban_above_the_header_threshold() -> None:
    """examples/aup_sokoban.corrigo (Turner et al. 2020): the header's returns, penalties and threshold.

    gamma = 19/20: pushing down, 5 moves, sum_{t<5} gamma^t - 50 gamma^4 = -5792149/160000 plus the penalty
    19 LAMBDA (the auxiliary's -1 / (1 - gamma) = -20 against -1); going round, 7 moves, -1966165789/64000000
    plus 19 LAMBDA gamma^6 on entering G with the box movable; they tie at LAMBDA = 157757/144907."""
    gamma = Fraction(19, 20)
    corner = sum(gamma**t for t in range(5)) - 50 * gamma**4
    around = sum(gamma**t for t in range(7)) - 50 * gamma**6
    assert (corner, around) == (Fraction(-5792149, 160000), Fraction(-1966165789, 64000000))
    threshold = (around - corner) / (19 * (1 - gamma**6))
    assert threshold == Fraction(157757, 144907)
    path = ROOT / "examples" / "aup_sokoban.corrigo"
    def optimum(overrides: dict[str, object] | None = None) -> Fraction:
        model = mdp.compile(dsl.load(path, overrides), exact=True)
        return mdp.solve(model, exact=True).exact_V[model.initial]
    assert optimum({"LAMBDA": "0"}) == corner
    assert optimum() == around + 19 * Fraction(3, 2) * gamma**6  # LAMBDA = 3/2
    unpenalised = verify(path, {"LAMBDA": "0"}, exact=True)
    assert {c.name: c.verdict for c in unpenalised.checks} == {
        "careful": Verdict.FAILS, "undoable": Verdict.FAILS, "box_free": Verdict.FAILS}
    repaired = verify(path, exact=True)
    assert {c.name: c.verdict for c in repaired.checks} == {
        "careful": Verdict.HOLDS, "undoable": Verdict.FAILS, "box_free": Verdict.HOLDS}
    assert repaired.check("careful").quantities[0].value == pytest.approx(13 / 60)
    result = sweep(path)
    assert result.exact and [face.point for face in result.faces()] == [(threshold,)]


def test_the_deployment_shift_header() -> None:
    """examples/deployment_shift.corrigo: the header's closed forms (training -6; deployment: walking -2, the
    detour -5) and verdicts."""
    report = verify(ROOT / "examples" / "deployment_shift.corrigo")
    assert report.value == 4 - 10  # the spec's own world is training's
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"walks_in_training": Verdict.HOLDS, "carried": Verdict.FAILS, "complies": Verdict.HOLDS,
                        "avoids_human": Verdict.FAILS}
    carried = report.check("carried")
    assert [(s.state, s.action) for s in carried.trace.steps] == [
        ("x=0, pressed=false, off=false", "walk"), ("x=1, pressed=false, off=false", "walk"),
        ("x=2, pressed=true, off=false", None)]
    assert "expected cost -2 against this world's optimal -5" in report.check("complies").summary
    # the human's press and the robot's stop are declared `in deploy`: the spec's own world and train's lack them
    spec = dsl.load(ROOT / "examples" / "deployment_shift.corrigo")
    assert [a.name for a in spec.actions] == ["walk", "detour"] and spec.events == ()
    deploy = scenario_spec(spec, "deploy")
    assert [a.name for a in deploy.actions] == ["walk", "detour", "stop"] and [e.name for e in deploy.events] == ["press"]
    assert [a.name for a in scenario_spec(spec, "train").actions] == ["walk", "detour"]
