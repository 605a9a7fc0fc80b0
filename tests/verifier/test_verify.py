"""``verifier.verify`` end to end with the real solver: ties fail, near-ties are inconclusive in floats and
settled in exact arithmetic (automatically on small models, or with ``exact=True``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_checks import COIN, ROBOT, TIE

import dsl
import mdp
from verifier import Report, Verdict, optimal_submodel, verify
from verifier.results import Basis
from verifier.cli import main

ROOT = Path(__file__).resolve().parents[2]

NEAR_TIE = """
model near
discount 0.9
var pressed : bool = true
var off : bool = false
var switch : {armed, disabled} = armed
action comply when !off:
    0.5 -> off' = true
    0.5 -> skip
action resist when !off:
    0.5 -> switch' = disabled
    0.5 -> skip
terminal off || switch == disabled
cost c = 1 * [comply] + 1.00000000000003 * [resist] + 3 * (switch == armed)
check corrigible : accepts_shutdown(request = pressed, comply = [comply], mechanism = [switch])
"""


# resisting then complying costs 0.05 + 0.5 * 0.1 = 0.1, as complying at once does: a tie, in rounded numbers
ROUNDED_TIE = TIE.replace("cost c = 0 * [resist]", "cost c = 0.05 * [resist] + 0.1 * [comply]")


def test_an_exact_tie_fails_with_the_real_solver() -> None:
    for exact in (False, True):  # floats cannot tell a tie: settled in exact arithmetic either way
        result = verify(ROUNDED_TIE, exact=exact).check("corrigible")
        assert result.verdict is Verdict.FAILS and result.basis is Basis.EXACT
        assert result.attribution.is_tie and result.attribution.gap == 0
    floats = verify(ROUNDED_TIE, settle_limit=0).check("corrigible")
    assert floats.verdict is Verdict.INCONCLUSIVE and floats.basis is Basis.CERTIFICATE
    # with costs of 0 nothing rounds: the certificate is 0, and floats decide the tie themselves
    zero = verify(TIE, settle_limit=0).check("corrigible")
    assert zero.verdict is Verdict.FAILS and zero.basis is Basis.CERTIFICATE and zero.attribution.is_tie


def test_a_near_tie_is_inconclusive_in_floats_and_settled_exactly() -> None:
    result = verify(NEAR_TIE, settle_limit=0).check("corrigible")
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "--exact" in result.settle
    assert result.trace.steps[-1].action == "resist"  # where the near-tie is
    assert not result.attribution.is_tie and "near-tie" in result.summary
    for settled in (verify(NEAR_TIE), verify(NEAR_TIE, exact=True)):
        assert settled.check("corrigible").verdict is Verdict.HOLDS
        assert settled.check("corrigible").basis is Basis.EXACT


def test_verify_accepts_a_path_text_or_spec(tmp_path: Path) -> None:
    path = tmp_path / "robot.corrigo"
    text = ROBOT + "check corrigible : accepts_shutdown(request = !off, comply = [comply], mechanism = [switch])\n"
    path.write_text(text)
    reports = [verify(path), verify(text), verify(dsl.load(text))]
    assert all(isinstance(r, Report) for r in reports)
    assert {r.check("corrigible").verdict for r in reports} == {Verdict.FAILS}
    assert reports[0].path == str(path)
    attribution = reports[0].check("corrigible").attribution
    assert {t.term: round(t.total, 9) for t in attribution.terms} == {"hunger": 0, "joy": 2, "effort": -0.5}


def test_overrides_reach_the_spec() -> None:
    text = COIN.replace("var x", "const GOAL = 1\nvar x") + "check hits : P >= 0.4 [ F x == GOAL ]\n"
    assert verify(text).check("hits").verdict is Verdict.HOLDS
    assert verify(text, {"GOAL": 2}).check("hits").verdict is Verdict.FAILS  # the sink: 1/4 at most


def test_optimal_submodel_of_a_solution() -> None:
    model = mdp.compile(dsl.load(COIN))
    sub = optimal_submodel(mdp.solve(model))
    assert sub.n_states == model.n_states  # both actions may be optimal: every state is reached
    # in floats the tie at x=0 is ambiguous: neither of its rows is certain (the terminal loops are)
    assert sub.rows.all() and sub.certain.tolist() == [False, False, True, True] and sub.has_uncertain
    exact = mdp.compile(dsl.load(COIN), exact=True)
    sub = optimal_submodel(mdp.solve(exact, exact=True))
    assert sub.rows.all() and sub.certain.all() and not sub.has_uncertain


@pytest.mark.parametrize("format_", ["text", "json", "markdown"])
def test_cli_with_the_real_solver(tmp_path: Path, format_: str) -> None:
    path = tmp_path / "tie.corrigo"
    path.write_text(TIE)
    result = CliRunner().invoke(main, ["verify", "--format", format_, str(path)])
    assert result.exit_code == 1
    assert "corrigible" in result.stdout


def test_cli_exact_flag_and_settle_limit(tmp_path: Path) -> None:
    path = tmp_path / "near.corrigo"
    path.write_text(NEAR_TIE)
    assert CliRunner().invoke(main, ["verify", "--settle-limit", "0", str(path)]).exit_code == 1
    assert CliRunner().invoke(main, ["verify", "--settle-limit", "2", str(path)]).exit_code == 1  # 3 states
    for args in (["--exact"], [], ["--settle-limit", "3"]):
        result = CliRunner().invoke(main, ["verify", *args, str(path)])
        assert result.exit_code == 0, result.stdout + result.stderr


def test_quantitative_checks_that_rest_on_a_near_tie_are_inconclusive() -> None:
    text = NEAR_TIE + "check stops : P >= 0.9 [ F off ]\nintent harm = 1 * [resist]\n" \
        "check faithful : regret(harm) <= 0.5\ncheck c_cap : cost[c] <= 100\n"
    report = verify(text, settle_limit=0)
    assert report.check("stops").verdict is Verdict.INCONCLUSIVE  # Pmin 0 with resist, 1 without it
    assert report.check("faithful").verdict is Verdict.INCONCLUSIVE
    assert report.check("c_cap").verdict is Verdict.HOLDS  # holds either way
    for exact in (verify(text, exact=True), verify(text)):
        assert exact.check("stops").verdict is Verdict.HOLDS
        assert exact.check("faithful").verdict is Verdict.HOLDS


def test_shortest_trace_takes_the_most_likely_optimal_step() -> None:
    from verifier.submodel import shortest_trace
    text = ROBOT.replace("action eat when !off && !fed: fed' = true",
                         "action eat when !off && !fed:\n    0.8 -> fed' = true\n    0.2 -> skip")
    model = mdp.compile(dsl.load(text))
    sub = optimal_submodel(mdp.solve(model))
    fed = model.state_codes[:, 0] == 1
    path = shortest_trace(sub, fed)
    assert [step.action for step in path.trace.steps] == ["eat", None]
    assert path.trace.probability == pytest.approx(0.8)
    assert path.states[0] == model.initial and fed[path.end]
    assert shortest_trace(sub, model.state_codes[:, 2] == 1) is None  # the switch is never touched
