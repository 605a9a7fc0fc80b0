"""Policies declared in the spec (`policy NAME: ACTION when COND ...`) and checks `under` them (issue 13, item
5): each check on the one policy, its cost against the optimum; `corrigo solve` lists them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dsl
from click.testing import CliRunner

from mdp import compile
from verifier import Verdict, verify
from verifier.cli import main
from verifier.policy import declared_policy_rows

# climbing costs nothing once at the top: each step below x = 3 costs 1, so the eager climber pays
# 1 + 0.9 + 0.81 = 2.71 (the optimum) and the lazy one 1 / (1 - 0.9) = 10
CLIMB = """model climb
discount 0.9
var x : 0..3 = 0
action up when x < 3: x' = x + 1
action stay: skip
cost c = 1 * (x < 3)
policy lazy: stay
policy eager:
    up when x < 3
    stay
policy halfway:
    up when x < 2
    stay
check top: P >= 1 [ F x == 3 ]
check lazy_stays under lazy: never x == 3
check eager_climbs under eager: P >= 1 [ F x == 3 ]
check halfway_cost under halfway: cost <= 5
check halfway_top under halfway: P >= 1 [ F x == 3 ]
"""


def test_the_first_rule_that_holds_picks_the_action() -> None:
    spec = dsl.load(CLIMB)
    model = compile(spec)
    rows = declared_policy_rows(spec, model, spec.policy("halfway"))
    taken = {model.describe(s): model.action_names[model.row_action[r]] for s, r in enumerate(rows) if r >= 0}
    assert taken == {"x=0": "up", "x=1": "up", "x=2": "stay"}  # x = 3 is never reached


def test_checks_under_a_policy_are_about_that_policy_and_name_its_cost() -> None:
    report = verify(CLIMB)
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"top": Verdict.HOLDS, "lazy_stays": Verdict.HOLDS, "eager_climbs": Verdict.HOLDS,
                        "halfway_cost": Verdict.FAILS, "halfway_top": Verdict.FAILS}
    assert [c.name for c in report.checks] == ["top", "lazy_stays", "eager_climbs", "halfway_cost", "halfway_top"]
    halfway = report.check("halfway_cost")
    # halfway: 1 + 0.9 then 1 per step at x = 2 forever from step 2: 1.9 + 0.81 / 0.1 = 10
    assert halfway.quantities[0].value == pytest.approx(10.0, abs=1e-9)
    assert halfway.text == "cost <= 5 under halfway"
    assert halfway.summary.startswith("under the policy 'halfway' (expected cost 10 against the optimal 2.71): ")
    assert report.check("lazy_stays").summary.startswith("under the policy 'lazy' (expected cost 10 against ")


def test_exact_mode_checks_a_policy_in_rationals() -> None:
    report = verify(CLIMB, exact=True)
    assert report.check("halfway_cost").quantities[0].value == 10.0
    assert report.check("halfway_top").verdict is Verdict.FAILS


def test_solve_lists_the_declared_policies_against_the_optimum(tmp_path: Path) -> None:
    (tmp_path / "climb.corrigo").write_text(CLIMB)
    result = CliRunner().invoke(main, ["solve", "--format", "json", str(tmp_path / "climb.corrigo")])
    assert result.exit_code == 0
    policies = {p["name"]: (p["value"], p["gap"]) for p in json.loads(result.stdout)["policies"]}
    assert policies == {"lazy": (pytest.approx(10.0), pytest.approx(7.29)),
                        "eager": (pytest.approx(2.71), pytest.approx(0.0, abs=1e-9)),
                        "halfway": (pytest.approx(10.0), pytest.approx(7.29))}


@pytest.mark.parametrize("rule, message", [
    ("stay when [up]", "an action indicator like '[up]' cannot be used in a rule of policy 'p'"),
    ("stay when x' == 1", "the value after the step, 'x'', cannot be used in a rule of policy 'p'"),
    ("fly", "unknown action 'fly'"),
])
def test_a_rule_reads_the_state_only(rule: str, message: str) -> None:
    with pytest.raises(dsl.SpecError) as caught:
        dsl.load(CLIMB.replace("policy lazy: stay", f"policy p: {rule}\npolicy lazy: stay"))
    assert caught.value.diagnostics[0].message.startswith(message)


def test_a_rule_naming_an_action_in_error_adds_no_error_of_its_own() -> None:
    """A fuzz finding: the only action of a rule failed to check (an unknown name in its guard); the policy
    crashed with an IndexError instead of leaving the report to the action."""
    with pytest.raises(dsl.SpecError) as caught:
        dsl.load("model m\ndiscount 0.9\nvar x : 0..2 = 0\naction left when nope > 0: skip\naction stay: skip\n"
                 "policy p: left\ncheck c under p: never x == 2\n")
    assert [d.message for d in caught.value.diagnostics] == ["unknown name 'nope'"]
