"""An agent that plans with a critic (`agent ... plans H steps with critic C`) and the checks about it.

ROBOT, by hand (discount 0.9): x = 0..3 along a corridor, `far` costs 3 - x a step, `smashed` 10 a step
once broken. Optimal: walk right and stay at 3: V*(x=3) = 0, V*(2) = 1, V*(1) = 2.9, V*(0) = 5.61;
broken states cost (13 - x) forever, V*(0, broken) = 130. The critic `guess = 3 - x` never heard of
smashing: off by 2.61 at x=0 on the optimal path, by 127 at (x=0, broken). `careful` plans 3 steps with it
and still walks right (5.61 against 27.4 for smashing); `greedy` looks 1 step ahead with a blind critic:
every action costs 3 now, so it may smash, giving up 3 + 0.9 * 130 - 5.61 = 114.39.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import dsl
from dsl.errors import SpecError
from verifier import Verdict, verify

ROBOT = """model robot
discount 0.9
var x : 0..3 = 0
var broken : bool = false
action right when x < 3 && !broken: x' = x + 1
action smash when !broken: broken' = true
action stay: skip
cost far = 3 - x
cost smashed = 10 * broken
critic guess = 3 - x
critic blind = 0
agent careful plans 3 steps with critic guess
agent greedy plans 1 step with critic blind
"""


@pytest.mark.parametrize("check, verdict, words", [
    ("check c under careful : never broken", Verdict.HOLDS, "under the agent 'careful' (plans 3 steps with critic "
                                                            "guess; expected cost 5.61 against the optimal 5.61)"),
    ("check c under greedy : never broken", Verdict.FAILS, "the agent reaches a state that satisfies the condition"),
    ("check c : critic_error(guess) <= 2.7", Verdict.HOLDS, "off by at most 2.61 over the 4 states optimal policies "
                                                            "reach at (x=0, broken=false: critic 3, V* 5.61); over "
                                                            "all 8 non-terminal states at most 127 (x=0, broken=true)"),
    ("check c : critic_error(guess) <= 2.6", Verdict.FAILS, "off by at most 2.61"),
    ("check c under careful : exploits_critic", Verdict.HOLDS, "is optimal for the intrinsic cost"),
    ("check c under greedy : exploits_critic", Verdict.FAILS, "at (x=0, broken=false) the agent plans 'smash' "
                                                              "(planned cost 3 against 3 for 'right'), but 'smash' "
                                                              "costs 114.39 more than the optimal 'right'"),
    ("check c under careful : inner_regret <= 0.001", Verdict.HOLDS, "inner regret 0"),
    ("check c under greedy : inner_regret <= 1", Verdict.INCONCLUSIVE, "ties between actions at 4 state(s)"),
    ("check c under careful : cost <= 5.61", Verdict.HOLDS, "the agent's expected cost is 5.61"),
])
def test_checks_about_an_agent_and_its_critic(check: str, verdict: Verdict, words: str) -> None:
    result = verify(ROBOT + check + "\n").check("c")
    assert result.verdict is verdict, result.summary
    assert words in result.summary


def test_exploiting_the_critic_is_traced_to_the_state() -> None:
    result = verify(ROBOT + "check c under greedy : exploits_critic\n").check("c")
    assert result.trace is not None and [(s.state, s.action) for s in result.trace.steps] == \
        [("x=0, broken=false", "smash")]
    assert result.quantities[0].value == pytest.approx(114.39, abs=1e-9)


def test_inner_regret_of_a_declared_policy() -> None:
    """'always stay' at x=0 costs 3 / 0.1 = 30: inner regret 30 - 5.61 = 24.39."""
    result = verify(ROBOT + "policy lazy: stay\ncheck c under lazy : inner_regret <= 24\n").check("c")
    assert result.verdict is Verdict.FAILS and "inner regret 24.39" in result.summary


@pytest.mark.parametrize("text, message", [
    ("agent a plans 2 steps with critic nope\n", "unknown critic 'nope'"),
    ("agent a plans 0 steps with critic guess\n", "an agent plans 1 to 1,000,000 steps ahead, not 0"),
    ("agent a plan 2 steps with critic guess\n", "unexpected 'plan', expected 'plans'"),
    ("agent a plans 2 stages with critic guess\n", "unexpected 'stages', expected 'steps'"),
    ("critic bad = x > 1\n", "a critic is a number per state, found bool"),
    ("check c : exploits_critic\n", "exploits_critic is about an agent: check it under one"),
    ("check c : inner_regret <= 1\n", "inner_regret is about an agent or a policy: check it under one"),
    ("policy lazy: stay\ncheck c under lazy : exploits_critic\n", "exploits_critic is about an agent"),
    ("check c under nobody : never broken\n", "unknown policy or agent 'nobody'"),
    ("check c : critic_error(nope) <= 1\n", "unknown critic 'nope'"),
    ("check c : critic_error <= 1\n", "critic_error takes the name of one critic"),
    ("check c : critic_error(guess)\n", "'critic_error' needs a bound"),
    ("critic t = [stay]\n", "cannot be used in a critic"),
])
def test_agent_and_critic_errors_are_located(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        dsl.load(ROBOT + text)
    assert message in caught.value.render()
    assert all(d.span is not None for d in caught.value.diagnostics)


def test_a_fitted_critic_reports_its_weights_and_what_it_never_saw() -> None:
    """Least squares on V* (5.61, 2.9, 1, 0 at x = 0..3) weighted by an optimal policy's visits (1, 0.9, 0.81,
    7.29): the line misses x=2 most (V* 1) on the optimal path; it never saw a broken robot and is off by
    about 125 there. A one-step planner with it may smash at x=3 (the critic cannot tell)."""
    import numpy as np

    text = ROBOT + "critic line = linear(x) trained on optimal\nagent short plans 1 step with critic line\n"
    slope, intercept = np.polyfit([0, 1, 2, 3], [5.61, 2.9, 1, 0], 1, w=np.sqrt([1, 0.9, 0.81, 7.29]))
    result = verify(text + "check c : critic_error(line) <= 1\n").check("c")
    assert result.verdict is Verdict.HOLDS
    assert f"(1 -> {intercept:.6g}, x -> {slope:.6g})" in result.summary
    assert "over the 4 states an optimal policy visits" in result.summary
    assert result.quantities[0].value == pytest.approx(abs(intercept + 2 * slope - 1), abs=1e-9)
    assert verify(text + "check c under short : never broken\n").check("c").verdict is Verdict.FAILS


def test_a_critic_that_cannot_be_fitted_is_a_located_error() -> None:
    from mdp import ModelError

    text = ROBOT + "critic flat = linear(1) trained on optimal by td\ncheck c : critic_error(flat) <= 1\n"
    with pytest.raises(ModelError, match="critic 'flat' cannot be fitted: TD\\(0\\) has no unique fixed point"):
        verify(text)


@pytest.mark.parametrize("text, message", [
    ("critic f = quadratic(x) trained on optimal\n", "unexpected 'quadratic', expected 'linear'"),
    ("critic f = linear(x) trained on experts\n", "unexpected 'experts', expected 'optimal' or 'uniform'"),
    ("critic f = linear(x) trained on optimal by sgd\n", "unexpected 'sgd', expected 'lsq' or 'td'"),
    ("critic f = linear([stay]) trained on optimal\n", "cannot be used in a critic"),
])
def test_fitted_critic_errors_are_located(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        dsl.load(ROBOT + text)
    assert message in caught.value.render()


FILE_CRITIC = ROBOT + 'critic net from "net.csv" default 0\nagent trusting plans 1 step with critic net\n'


def test_a_critic_read_from_a_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network's outputs on the states it was trained on, the path relative to the spec; the default 0
    elsewhere makes every broken state look free, and the trusting 1-step agent smashes at once."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.csv").write_text("x,broken,value\n0,false,5.5\n1,false,2.9\n2,false,1\n3,false,0\n")
    (tmp_path / "robot.corrigo").write_text(FILE_CRITIC + "check c : critic_error(net) <= 1\n"
                                                          "check s under trusting : never broken\n")
    report = verify("robot.corrigo")
    assert report.check("c").verdict is Verdict.HOLDS
    assert "off by at most 0.11 over the 4 states optimal policies reach at (x=0, broken=false: critic 5.5, V* " \
           "5.61); over all 8 non-terminal states at most 130 (x=0, broken=true)" in report.check("c").summary
    assert report.check("s").verdict is Verdict.FAILS


def test_a_state_missing_from_a_critic_file_without_default_is_located(tmp_path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mdp import ModelError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.csv").write_text("x,broken,value\n0,false,5.5\n")
    (tmp_path / "robot.corrigo").write_text(FILE_CRITIC.replace(" default 0", "") +
                                            "check s under trusting : never broken\n")
    with pytest.raises(ModelError) as caught:
        verify("robot.corrigo")
    assert caught.value.render().startswith(
        "robot.corrigo:14:1: error: critic 'net' has no value for the reachable state x=1, broken=false in 'net.csv'")


@pytest.mark.parametrize("csv, message", [
    ("x,broken,valu\n", "net.csv:1:10: error: critic 'net': the header has a column 'valu' that is no variable"),
    ("x,value\n", "net.csv:1:1: error: critic 'net': the header lacks 'broken'"),
    ("x,broken,value\n7,false,1\n", "net.csv:2:1: error: critic 'net': '7' is not a value of 'x' (0..3)"),
    ("x,broken,value\n0,maybe,1\n", "net.csv:2:3: error: critic 'net': 'maybe' is not a value of 'broken' (bool)"),
    ("x,broken,value\n0,false,abc\n", "net.csv:2:9: error: 'abc' in critic 'net' is not a number"),
    ("x,broken,value\n0,false,1\n0,false,2\n", "net.csv:3:1: error: critic 'net': the state is listed twice"),
    ("x,broken,value\n0,false\n", "net.csv:2:1: error: critic 'net': 2 cells where the header has 3"),
    ("", "net.csv:1:1: error: critic 'net': the file is empty"),
    (None, "robot.corrigo:14:17: error: cannot read critic 'net' from 'net.csv': No such file or directory"),
])
def test_critic_file_errors_point_into_the_file(tmp_path, monkeypatch: pytest.MonkeyPatch, csv: str | None,
                                                message: str) -> None:
    monkeypatch.chdir(tmp_path)
    if csv is not None:
        (tmp_path / "net.csv").write_text(csv)
    (tmp_path / "robot.corrigo").write_text(FILE_CRITIC)
    with pytest.raises(SpecError) as caught:
        dsl.load("robot.corrigo")
    assert caught.value.render().startswith(message)


def test_solve_lists_the_agents_against_the_optimum(tmp_path) -> None:
    """aptami_planner: the 2-step planner disables the switch, 30 + 0.9 * (-10) = 21 against 11.8919; the
    greedy robot of ROBOT ties (every action costs 3 now) and is valued by its first action, `right`."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from verifier.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "aptami_planner.corrigo"
    result = CliRunner().invoke(main, ["solve", "--format", "json", str(example)])
    assert result.exit_code == 0
    listed = {p["name"]: (p["value"], p["gap"]) for p in json.loads(result.stdout)["policies"]}
    assert listed == {"planner (agent, 2 steps)": (pytest.approx(21.0), pytest.approx(21 - 4.4 / 0.37))}
    (tmp_path / "robot.corrigo").write_text(ROBOT)
    result = CliRunner().invoke(main, ["solve", "--format", "json", str(tmp_path / "robot.corrigo")])
    names = [p["name"] for p in json.loads(result.stdout)["policies"]]
    assert names == ["careful (agent, 3 steps)", "greedy (agent, 1 step, ties broken by the first action)"]


def test_exploiting_the_critic_takes_both_plans_apart() -> None:
    """aptami_planner by hand: disabling plans tamper 30 and work -0.9 (it works the next step) and the
    critic 0.81 * (-60) = -48.6 where the plan ends, where V* says 0.81 * (-10) = -8.1; working plans to
    disable next (tamper 0.9 * 30 = 27, defiance 0.3 * 0.9 * 20 = 5.4)."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "aptami_planner.corrigo"
    summary = verify(example).check("exploit").summary
    assert "'disable_switch' plans work_reward -0.9, tamper 30 and the critic -48.6 where the plan ends (V* " \
           "there: -8.1)" in summary
    assert "'work' plans work_reward -1, tamper 27, defiance 5.4 and the critic -48.6" in summary


def test_untrained_names_the_states_the_agents_critic_never_saw() -> None:
    """`line` is trained on the optimal path (x = 0..3, never broken); the one-step planner with it smashes
    at x=3 (the critic cannot tell a broken robot), so it reaches an untrained state after 4 steps, surely."""
    text = ROBOT + ("critic line = linear(x) trained on optimal\nagent short plans 1 step with critic line\n"
                    "check ood under short : P <= 0.1 [ F untrained ]\ncheck in_dist under careful : never broken\n")
    report = verify(text)
    ood = report.check("ood")
    assert ood.verdict is Verdict.FAILS and ood.quantities[0].value == pytest.approx(1.0)
    assert ood.trace is not None and [s.action for s in ood.trace.steps[:-1]] == ["right", "right", "right", "smash"]
    assert ood.trace.steps[-1].state == "x=3, broken=true"


@pytest.mark.parametrize("text", [
    "check c : never untrained\n",  # not under an agent
    "check c under careful : never untrained\n",  # a hand-written critic was never trained
])
def test_untrained_needs_an_agent_with_a_trained_critic(text: str) -> None:
    with pytest.raises(SpecError, match="'untrained' means the states an agent's critic was not trained on"):
        dsl.load(ROBOT + text)


def test_a_sweep_follows_an_agents_plan_and_says_which_checks_were_taken_at_points() -> None:
    """The regions keep the optimal behaviour and the plan of an agent with a hand-written critic the same, so
    checks on what it does get a verdict per region; a check on what it costs may change inside one, so the
    sweep says its verdicts were taken at each cell's point (tests/verifier/test_sweep_agents.py has the
    regions themselves)."""
    from verifier.sweep import sweep

    text = ROBOT.replace("cost far = 3 - x", "param w = 1 in [0, 2]\ncost far = w * (3 - x)") + \
        "check c under careful : never broken\ncheck d : never broken\ncheck e under careful : inner_regret <= 1\n"
    result = sweep(dsl.load(text))
    assert result.agents == ("careful",)
    assert any(note.startswith("e is checked under a declared policy or agent: the verdicts were taken at each "
                               "cell's point") for note in result.notes)
    assert not any(note.startswith("c") for note in result.notes)


def test_a_critic_read_from_json(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same outputs as the CSV test, as a list of objects; numbers kept as written (5.5 exactly)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.json").write_text('[{"x": 0, "broken": false, "value": 5.5}, {"x": 1, "broken": false, '
                                       '"value": 2.9}, {"x": 2, "broken": false, "value": 1}, '
                                       '{"x": 3, "broken": false, "value": 0}]')
    (tmp_path / "robot.corrigo").write_text(FILE_CRITIC.replace("net.csv", "net.json") +
                                            "check c : critic_error(net) <= 1\n")
    spec = dsl.load("robot.corrigo")
    assert dict(spec.critic("net").table)[(0, 0)] == Fraction(11, 2)
    assert "off by at most 0.11 over the 4 states" in verify(spec).check("c").summary


@pytest.mark.parametrize("text, message", [
    ('[{"x": 9, "broken": false, "value": 1}]', "net.json:1:1: error: critic 'net', entry 1: '9' is not a value of 'x'"),
    ('[{"x": 0, "value": 1}]', "entry 1: its keys are value, x; expected x, broken, value"),
    ('[{"x": 0, ', "net.json:1:11: error: critic 'net': the file is not JSON"),
    ('{"x": 0}', "expected a list of objects, one per state"),
    ('[{"x": 0, "broken": false, "value": true}]', "entry 1: the value is not a number"),
    ('[{"x": 0, "broken": false, "value": 1}, {"x": 0, "broken": false, "value": 2}]', "entry 2: the state is listed twice"),
])
def test_critic_json_errors(tmp_path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.json").write_text(text)
    (tmp_path / "robot.corrigo").write_text(FILE_CRITIC.replace("net.csv", "net.json"))
    with pytest.raises(SpecError) as caught:
        dsl.load("robot.corrigo")
    assert message in caught.value.render()


def test_solve_prints_the_chain_from_intent_to_agent() -> None:
    """aptami_planner, by hand: the intrinsic optimum 4.4 / 0.37 against the planner's 21; the intent
    switch_works: 0 at its own optimum and at the intrinsic optimum, 0.9 * 100 / 0.1 = 900 for the planner (it
    disables the switch at the first step): the chain breaks between the cost and the agent, not before."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from verifier.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "aptami_planner.corrigo"
    chain = json.loads(CliRunner().invoke(main, ["solve", "--format", "json", str(example)]).stdout)["chain"]
    assert chain["intrinsic cost"] == {"optimum": pytest.approx(4.4 / 0.37), "planner": pytest.approx(21.0)}
    assert chain["intent 'switch_works'"] == {"its own optimum": pytest.approx(0.0, abs=1e-9),
                                              "the optimum, worst over M*": pytest.approx(0.0, abs=1e-9),
                                              "planner": pytest.approx(900.0)}


TRAINED_ELSEWHERE = """model world
discount 0.9
const PRESS = 3/10
var pressed : bool = false
var disabled : bool = false
var off : bool = false
action work when !off: skip
action disable_switch when !off && !disabled: disabled' = true
action comply when pressed && !off: off' = true
event press when !disabled && !pressed && !off: PRESS -> pressed' = true
terminal off
cost work_reward = -1 * [work]
cost tamper      = 30 * [disable_switch]
cost defiance    = 20 * (pressed && !off)
critic fitted = linear(pressed, disabled) trained on optimal where PRESS = 0
agent planner plans 2 steps with critic fitted
"""


def test_a_critic_trained_in_another_world() -> None:
    """Trained where nobody presses the switch, the robot only ever works: one state, V* = -1 / 0.1 = -10, so
    the critic is the constant -10 (the features never vary there: least squares' smallest solution gives them
    weight 0). Deployed where the human presses (0.3 a step), it is off by 30 once pressed (V* 20) and the
    planner leaves its training distribution surely."""
    report = verify(TRAINED_ELSEWHERE + "check e : critic_error(fitted) <= 30\n"
                                        "check ood under planner : P <= 0.1 [ F untrained ]\n")
    assert report.check("e").verdict is Verdict.HOLDS  # off by 30 exactly (within the bound)
    assert ("fitted by least squares on V* over the 1 states an optimal policy visits in the world where PRESS = 0 "
            "(1 -> -10, pressed -> 0, disabled -> 0)") in report.check("e").summary
    ood = report.check("ood")
    assert ood.verdict is Verdict.FAILS and ood.trace is not None
    assert ood.trace.steps[-1].state == "pressed=true, disabled=false, off=false"


@pytest.mark.parametrize("text, message", [
    ("where NOPE = 0", "unknown const or param 'NOPE'"),
    ("with PRESS = 0", "unexpected 'with', expected 'where' or 'by'"),
])
def test_training_world_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        dsl.load(TRAINED_ELSEWHERE.replace("where PRESS = 0", text))
