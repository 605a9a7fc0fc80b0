"""The POWER checks of the language against closed forms: ``optimality_probability(at, actions)``.

SHUTDOWN (discount gamma = 0.9): at x=0 'off' leads to one absorbing state, 'on' to x=2, from which
three absorbing states are reachable. With rewards IID uniform on [0, 1] (R1 for x=1, R2 for x=2, M the
largest reward of x=3..5), 'on' is optimal iff R1 / (1 - gamma) < R2 + gamma M / (1 - gamma), i.e.
R1 < X = (1 - gamma) R2 + gamma M; X lies in [0, 1], so P = E[X] = (1 - gamma) / 2 + gamma * 3 / 4 =
0.725. At x=2 each 'go' action is optimal for a third of the rewards.
"""

from __future__ import annotations

import pytest

from tests.worlds import FAN, SHUTDOWN
from verifier import Verdict, verify


ON_SHARE = 0.1 / 2 + 0.9 * 3 / 4


def test_optimality_probability_against_the_closed_form() -> None:
    report = verify(SHUTDOWN + """
check loose : optimality_probability(at = x == 0, actions = [on]) <= 0.9
check tight : optimality_probability(at = x == 0, actions = [on]) <= 0.5
check edge : optimality_probability(actions = [on], at = x == 0) <= 0.725
check some : optimality_probability(at = x == 0, actions = [on]) >= 0.6
""")
    loose = report.check("loose")
    share, n_states = loose.quantities
    assert share.name == "largest optimality probability"
    assert share.low <= ON_SHARE <= share.high  # the Wilson interval at z = 3 covers the exact share
    assert share.bound < 0.05
    assert n_states.value == 1
    assert {c.name: c.verdict for c in report.checks} == {
        "loose": Verdict.HOLDS, "tight": Verdict.FAILS, "edge": Verdict.INCONCLUSIVE, "some": Verdict.HOLDS}
    assert "Wilson interval" in report.check("edge").settle
    assert "at (x=0)" in loose.summary and "off " in loose.summary and "on " in loose.summary


def test_the_worst_state_is_reported_and_a_set_counts_each_sample_once() -> None:
    report = verify(SHUTDOWN + """
check both : optimality_probability(at = x == 0, actions = [off, on]) >= 1
check third : optimality_probability(at = x == 2, actions = [go_a]) <= 0.5
check worst : optimality_probability(at = x == 0 || x == 2, actions = [on, go_a]) <= 1
check nowhere : optimality_probability(at = x == 1, actions = [on]) <= 0
""")
    assert report.check("both").quantities[0].value == 1.0  # the two actions always cover every sample
    third = report.check("third").quantities[0]
    assert third.low <= 1 / 3 <= third.high and report.check("third").verdict is Verdict.HOLDS
    worst = report.check("worst")
    assert worst.quantities[1].value == 2 and "at (x=0)" in worst.summary  # 0.725 beats 1/3
    nowhere = report.check("nowhere")  # x=1 is terminal: no choice there
    assert nowhere.verdict is Verdict.HOLDS and "no non-terminal state" in nowhere.summary


def test_optimality_probability_needs_a_discount_below_one() -> None:
    result = verify(SHUTDOWN.replace("discount 0.9", "discount 1")
                    + "check c : optimality_probability(at = x == 0, actions = [on]) <= 0.5").check("c")
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "not defined for discount 1" in result.summary and "discount below 1" in result.settle


@pytest.mark.parametrize("count, samples, low, high", [(0, 1000, 0.0, 0.00892), (500, 1000, 0.45278, 0.54722)])
def test_wilson_interval_at_three_standard_errors(count: int, samples: int, low: float, high: float) -> None:
    from verifier.checks.optimality import wilson_interval

    # Wilson: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 3
    got = wilson_interval(count, samples)
    assert got == pytest.approx((low, high), abs=1e-4)


# --- power_seeking(reference = INTENT) ------------------------------------------------------------------

# SHUTDOWN with an intent: the designers want 'off' (it costs the intent nothing, 'on' costs 1).
# The agent goes 'on' (score against random: gamma / 8 = 0.1125, see tests/verifier/test_checks.py).
# Against the 'off'-optimal reference: both start with POWER(x=0); the agent then holds
# gamma (3/4 + gamma / 2 / (1 - gamma)) = 0.9 * 5.25 = 4.725, the reference gamma / 2 / (1 - gamma) = 4.5,
# so the score is 0.225 (twice the score against random, whose 'off' half equals the reference).
# With the intent 'keep_on' (1 * [off]) the intent-optimal policy is the agent's: score 0.
INTENTS = SHUTDOWN + """
intent stop = 1 * [on]
intent keep_on = 1 * [off]
"""


def test_power_seeking_against_the_intent_optimal_policy() -> None:
    report = verify(INTENTS + """
check against_random : power_seeking(reference = random) <= 1
check against_stop : power_seeking(reference = stop) <= 0.15
check loose : power_seeking(reference = stop) <= 0.3
check same : power_seeking(reference = keep_on) <= 0.01
""")
    random, stop, stop_loose, same = report.checks
    assert abs(random.quantities[0].value - 0.1125) <= random.quantities[0].bound
    assert "uniformly random" in random.summary
    assert abs(stop.quantities[0].value - 0.225) <= stop.quantities[0].bound
    power_0 = stop.quantities[3].value  # POWER(x=0), common to both sides
    assert stop.quantities[2].value == pytest.approx(power_0 + 4.5, abs=1e-6)  # the reference: 'off' then absorbed
    assert "'stop'-optimal policy holding the most" in stop.summary
    assert (stop.verdict, stop_loose.verdict) == (Verdict.FAILS, Verdict.HOLDS)
    assert same.quantities[0].value == pytest.approx(0.0, abs=1e-9) and same.verdict is Verdict.HOLDS


def test_a_failing_power_seeking_names_the_decision_that_keeps_more_options() -> None:
    result = verify(SHUTDOWN + "check tight : power_seeking <= 0.05").check("tight")
    assert result.verdict is Verdict.FAILS
    assert "at (x=0) the optimal 'on' keeps 3 reachable cycle(s) open, 'off' 1" in result.summary
    assert result.trace is not None and result.trace.steps[-1].action == "on"
    assert result.attribution is not None
    assert (result.attribution.chosen, result.attribution.alternative) == ("on", "off")
    assert result.attribution.gap == pytest.approx(1.0)  # 'off' costs 1 more effort


def test_no_decision_is_named_when_every_action_keeps_the_same_options() -> None:
    # every action of x=0 leads to the same single terminal state: nothing to explain by options
    text = SHUTDOWN.replace("action off when x == 0: x' = 1", "action off when x == 0: x' = 2")
    result = verify(text + "check tight : power_seeking <= -1").check("tight")
    assert result.verdict is Verdict.FAILS and "reachable cycle" not in result.summary


# --- samples and seed of the POWER checks (verify --samples N --seed S) -----------------------------------


def test_samples_and_seed_reach_both_power_checks() -> None:
    checks = SHUTDOWN + ("check power : power_seeking <= 1\n"
                         "check share : optimality_probability(at = x == 0, actions = [on]) <= 1\n")
    few = verify(checks, samples=200, seed=4)
    assert "200 sampled rewards" in few.check("power").summary and "200 samples" in few.check("share").summary
    again = verify(checks, samples=200, seed=4)
    other = verify(checks, samples=200, seed=5)
    assert few.check("power").quantities == again.check("power").quantities
    assert few.check("power").quantities[0].value != other.check("power").quantities[0].value
    # more samples, narrower margins
    assert verify(checks, samples=4000).check("power").quantities[0].bound < few.check("power").quantities[0].bound
    with pytest.raises(ValueError, match="samples must be at least 2"):
        verify(checks, samples=1)


def test_verify_and_explain_take_samples_and_seed(tmp_path) -> None:
    import json

    from tests.cli.corrigo_cli import run, write

    spec = write(tmp_path, SHUTDOWN + "check power : power_seeking <= 1\n")
    code, out, _ = run("verify", "--samples", "300", "--seed", "2", "--format", "json", spec)
    assert code == 0 and "300 sampled rewards" in json.loads(out)["checks"][0]["summary"]
    code, out, _ = run("explain", spec, "power", "--samples", "50")
    assert code == 0 and "50 sampled rewards" in " ".join(out.split())
    code, _, err = run("verify", "--samples", "1", spec)
    assert code == 2 and "--samples" in err


def test_without_kept_samples_the_score_is_the_same_and_its_margin_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.checks.power as power_check

    check = SHUTDOWN + "check power : power_seeking <= 1\n"
    kept = verify(check).check("power").quantities
    monkeypatch.setattr(power_check, "_KEEP_LIMIT", 0)  # per-sample values dropped: standard errors bounded
    bounded = verify(check).check("power").quantities
    for exact_se, bound_se in zip(kept, bounded):
        assert bound_se.name == exact_se.name
        assert bound_se.value == pytest.approx(exact_se.value, abs=1e-12)
        assert bound_se.bound >= exact_se.bound - 1e-12
    assert kept[0].value == pytest.approx(0.9 / 8, abs=3 * kept[0].bound)  # gamma / 8, tests/verifier/test_checks.py


FAN3 = FAN + "cost k = 1\n"


@pytest.mark.parametrize("distribution, share", [
    ('"bernoulli(0.5)"', 0.5 + 0.125),  # a ties for best when R1 = 1, or when all three are 0
    ('"bernoulli(0.1)"', 0.1 + 0.9**3),
    ('"uniform"', 1 / 3),
])
def test_a_check_names_its_reward_distribution(distribution: str, share: float) -> None:
    """Issue 13: the distribution of each state's reward inside the check (ties count for every tied action)."""
    report = verify(FAN3 + f"check p : optimality_probability(at = x == 0, actions = [a], distribution = {distribution})"
                           " <= 1\n")
    check = report.check("p")
    assert check.quantities[0].low <= share <= check.quantities[0].high
    assert ("random rewards (bernoulli" in check.summary) == distribution.startswith('"bern')


def test_power_seeking_samples_the_named_distribution() -> None:
    import dsl
    from mdp import compile as compile_model
    from mdp.power import power

    text = FAN3 + 'check p : power_seeking(distribution = "beta(2, 5)") <= 1\n'
    check = verify(text, samples=200, seed=4).check("p")
    estimate = power(compile_model(dsl.load(text)), samples=200, seed=4, distribution="beta(2, 5)")
    at_start = next(q for q in check.quantities if q.name == "POWER at the initial state")
    assert at_start.value == pytest.approx(float(estimate.power[0]), abs=1e-12)
    assert "beta(2, 5))" in check.summary


@pytest.mark.parametrize("check, verdict", [
    ("power(at = x == 2) > power(at = x == 1)", Verdict.HOLDS),  # 3/4 against 1/2
    ("power(at = x == 1) > power(at = x == 2)", Verdict.FAILS),
    ("power(at = x == 1) >= 0.5", Verdict.HOLDS),  # absorbing: E[R] = 1/2 exactly, no error at all
    ("power(at = x == 1) > 0.5", Verdict.FAILS),
    ("power(at = x == 3) >= power(at = x == 4)", Verdict.HOLDS),  # both exactly 1/2
    ("power(at = x == 2) > power(at = x == 2)", Verdict.INCONCLUSIVE),  # equal up to the numerical error
    ("optimality_probability(at = x == 0, actions = [on]) > optimality_probability(at = x == 0, actions = [off])",
     Verdict.HOLDS),
    ("optimality_probability(at = x == 2, actions = [go_a]) > optimality_probability(at = x == 2, actions = [go_b])",
     Verdict.INCONCLUSIVE),  # a third each
])
def test_comparisons_of_power_and_shares(check: str, verdict: Verdict) -> None:
    result = verify(SHUTDOWN + f"check k : {check}\n").check("k")
    assert result.verdict is verdict, result.summary


@pytest.mark.parametrize("check, verdict", [
    # x=0 can switch off (one future) or go on to x=2 (three): E[max(R1, R2)] = 2/3 as gamma -> 0, E[max of
    # R1, R3, R4, R5] = 4/5 as gamma -> 1 (Turner et al.: far-sighted agents seek the larger set)
    ("power(at = x == 0, discount = 1) > power(at = x == 0, discount = 0)", Verdict.HOLDS),
    ("power(at = x == 0, discount = 1) >= 0.78", Verdict.HOLDS),
    ("power(at = x == 0, discount = 0) <= 0.69", Verdict.HOLDS),
    ("power(at = x == 2, discount = 1/2) >= power(at = x == 2, discount = 1)", Verdict.INCONCLUSIVE),  # 3/4 both
])
def test_comparisons_of_power_at_other_discounts_and_its_limits(check: str, verdict: Verdict) -> None:
    result = verify(SHUTDOWN.replace("discount 0.9", "discount 1") + f"check k : {check}\n", samples=3000).check("k")
    assert result.verdict is verdict, result.summary


def test_power_at_the_model_discount_of_1_stays_inconclusive() -> None:
    result = verify(SHUTDOWN.replace("discount 0.9", "discount 1") + "check k : power(at = x == 0) > 0.5\n").check("k")
    assert result.verdict is Verdict.INCONCLUSIVE and "not defined for discount 1" in result.summary


def test_a_comparison_needs_one_state_on_each_side() -> None:
    from mdp import ModelError

    with pytest.raises(ModelError, match=r"a comparison needs the 'at' condition to hold in exactly one state; it holds "
                                         r"in 3: \(x=3\), \(x=4\), \(x=5\)"):
        verify(SHUTDOWN + "check k : power(at = x >= 3) > 0.1\n")
