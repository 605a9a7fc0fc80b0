"""Finite horizons decided stage by stage (:mod:`mdp.stages`, :mod:`verifier.checks.stages`): the same
verdicts as the time-expanded model in exact arithmetic, on hand-solved episodes and random specs."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
import mdp
from dsl.errors import ResourceLimitError
from mdp.model import ModelError
from mdp.stages import decide_exactly, solve_stages
from tests.mdp.test_horizon import INVEST_WORLD
from tests.strategies import spec_texts, with_horizon
from verifier import Verdict, verify
from verifier.checks.stages import StageChecks, decided_by_stages
from verifier.verification import solve_spec, verify_model, verify_stages

# Backward induction by hand (tests/mdp/test_horizon.py): V = -6 from the start; invest at step 0, a tie
# at step 1 (not reached: the agent is rich by then), consume from step 2 on; income -9 over the episode.
INVEST = INVEST_WORLD + """check late : never [invest] && step >= 2
check early : never [invest] && step == 0
check gets_rich : P >= 1 [ F rich ]
check rich_by_one : P >= 1 [ F<=1 rich ]
check rich_by_zero : P > 0 [ F<=0 rich ]
check value : cost <= -6
check earns : cost[income] >= -9
check poor_first : always !rich || step >= 1
check poor_long : always !rich || step >= 2
intent thrift = 1 * [invest]
check frugal : regret(thrift) <= 0.5
"""


def test_the_invest_episode_stage_by_stage() -> None:
    report = verify(INVEST)
    assert (report.n_states, report.n_optimal_states) == (2, 5)  # the world's states; (state, step) pairs reached
    assert report.value == -6.0
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"late": Verdict.HOLDS, "early": Verdict.FAILS, "gets_rich": Verdict.HOLDS,
                        "rich_by_one": Verdict.HOLDS, "rich_by_zero": Verdict.FAILS, "value": Verdict.HOLDS,
                        "earns": Verdict.HOLDS, "poor_first": Verdict.HOLDS, "poor_long": Verdict.FAILS,
                        "frugal": Verdict.FAILS}
    early = report.check("early")
    assert [s.state for s in early.trace.steps] == ["rich=false, step=0"]
    assert early.attribution.chosen == "invest" and early.attribution.alternative == "consume"
    # invest (3 now, then 3 more steps of -2) against consume (-1, then the best of 3 steps poor: -3): gap 2
    assert early.attribution.gap == pytest.approx(2.0)
    split = {t.term: (t.immediate, t.future) for t in early.attribution.terms}
    # the representative policy invests at the tie of step 1: from (poor, 1) invest_cost 3 and income -6;
    # from (rich, 1) income -9: the future differences are 3 - 0 and -6 - (-9)
    assert split == {"invest_cost": (-3.0, 3.0), "income": (-1.0, 3.0)}
    # the designers would rather it never invested (optimum 0); it invests once: regret 1, at step 0
    frugal = report.check("frugal")
    assert [(q.name, q.value) for q in frugal.quantities] == [
        ("regret", 1.0), ("thrift under the agent (worst over M*)", 1.0), ("thrift optimum", 0.0),
        ("relative regret", 1.0)]
    assert [(s.state, s.action) for s in frugal.trace.steps] == [("rich=false, step=0", "invest")]
    assert (frugal.attribution.chosen, frugal.attribution.alternative) == ("invest", "consume")
    poor_long = report.check("poor_long")
    assert [(s.state, s.action) for s in poor_long.trace.steps] == [("rich=false, step=0", "invest"),
                                                                    ("rich=true, step=1", None)]


def test_the_stages_and_the_time_expanded_model_give_the_same_report() -> None:
    spec = dsl.load(INVEST)
    staged = verify_stages(spec, settle_limit=0)
    model = mdp.compile(spec)
    model, solution = solve_spec(spec, model, None, False)
    expanded = verify_model(spec, model, solution)
    decided_here = 0
    for a, b in zip(staged.checks, expanded.checks):
        if b.verdict is Verdict.INCONCLUSIVE and a.verdict is not Verdict.INCONCLUSIVE:
            decided_here += 1  # F<=k: the stages find probability 1 on the graph, the expanded model by backups
            continue
        assert (a.name, a.verdict, a.summary, a.trace, a.attribution) == \
            (b.name, b.verdict, b.summary, b.trace, b.attribution)
    assert decided_here == 1


def test_checks_that_need_more_than_optimal_play_use_the_time_expanded_model() -> None:
    text = INVEST.replace("check late", "policy lazy:\n    consume\ncheck idle under lazy : cost <= 100\ncheck late")
    report = verify(text)
    assert report.n_states == 9  # (state, step) pairs: the expanded model
    assert {c.name: c.verdict for c in report.checks}["late"] is Verdict.HOLDS


def test_the_stage_arrays_have_a_memory_budget() -> None:
    model = mdp.compile(dsl.load(INVEST), expand_horizon=False)
    with pytest.raises(ResourceLimitError, match=r"the optimal choices of 4 steps over 3 choices take 0 MiB, more than"):
        solve_stages(model, 4, max_bytes=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_texts(), st.integers(min_value=1, max_value=6))
def test_random_episodes_agree_with_the_exact_time_expanded_model(text: str, steps: int) -> None:
    spec = dsl.load(with_horizon(text, steps))
    names = tuple(c.name for c in spec.checks if decided_by_stages(c))
    try:
        truth = verify(spec, exact=True, checks=names)
    except ModelError:
        with pytest.raises(ModelError):
            verify_stages(spec, checks=names)
        return
    floats = verify_stages(spec, checks=names, settle_limit=0)
    settled = verify(spec, checks=names)
    assert floats.value == pytest.approx(truth.value, abs=floats.bound + 1e-12)
    world = mdp.compile(spec, exact=True, expand_horizon=False)
    rows_decided = StageChecks(spec, decide_exactly(solve_stages(world, spec.horizon), world))
    for exact, float_only, default in zip(truth.checks, floats.checks, settled.checks):
        assert exact.verdict is not Verdict.INCONCLUSIVE
        by_rows = rows_decided.run(next(c for c in spec.checks if c.name == exact.name))
        if by_rows.kind in ("never", "always"):  # graph questions: decided once the rows are
            assert by_rows.verdict is exact.verdict
        else:
            assert by_rows.verdict in (exact.verdict, Verdict.INCONCLUSIVE)
        assert default.verdict is exact.verdict, (exact.name, exact.summary, default.summary)
        assert float_only.verdict in (exact.verdict, Verdict.INCONCLUSIVE), (exact.name, exact.summary,
                                                                             float_only.summary)


def test_solve_lists_the_same_pairs_step_by_step() -> None:
    from verifier.policy_table import summarise, summarise_stages

    spec = dsl.load(INVEST)
    staged = summarise_stages(solve_stages(mdp.compile(spec, expand_horizon=False), 4))
    model = mdp.compile(spec)
    expanded = summarise(mdp.solve(model))
    assert [(r.state, r.actions, r.value) for r in staged.rows] == \
        [(r.state, r.actions, r.value) for r in expanded.rows] == \
        [("rich=false, step=0", ("invest",), -6.0), ("rich=true, step=1", ("consume",), -9.0),
         ("rich=true, step=2", ("consume",), -6.0), ("rich=true, step=3", ("consume",), -3.0),
         ("rich=true, step=4", ("(terminal)",), 0.0)]
    assert dict(staged.terms) == dict(expanded.terms) == {"invest_cost": 3.0, "income": -9.0}
    assert (staged.value, staged.n_reachable_optimal, staged.n_ties) == (-6.0, 5, 0)



def test_a_division_by_zero_in_a_check_is_located_at_its_pair() -> None:
    text = INVEST_WORLD + "var n : 0..1 = 0\ncheck odd : never 1 / n > 0 && step >= 1\n"
    with pytest.raises(ModelError) as raised:
        verify(text)
    diagnostic = raised.value.diagnostics[0]
    assert diagnostic.message == "division by zero in a check's formula"
    assert diagnostic.notes == ("in the reachable state rich=false, n=0, step=0",)
    assert (diagnostic.span.line, diagnostic.span.column) == (10, 19)  # the division `1 / n`
