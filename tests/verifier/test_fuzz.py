"""Fuzzing (issue 11): ``lint`` and ``verify`` end in a verdict or a located spec error, never an internal error.

The generators and the property are in ``tests/fuzzing.py``; ``benchmarks/fuzz.py`` runs them for
longer. The number of examples follows the hypothesis profile (``HYPOTHESIS_PROFILE``, tests/conftest.py):
each property runs a share of the profile's ``max_examples`` (205 examples in all under ``dev``, 82 under
``ci``), so that this module stays near 20 s on a shared 2-core machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from dsl.errors import Diagnostic, Source, Span, SpecError
from tests.fuzzing import (KNOWN_CRASHES, SEEDS, Crash, grammar_specs, is_located, mutated_specs, overrides,
                           run_cli, run_pipeline, skeleton_specs, world_specs)


def unless_known(run: Callable[[], object]) -> None:
    """``run()``, skipping (``reject``) an example that crashes with a known bug: its test is in ``FOUND``."""
    try:
        run()
    except Crash as crash:
        if crash.known is None:
            raise
        reject()


def share(fraction: float) -> settings:
    """Settings that run ``fraction`` of the loaded profile's examples (at least 5)."""
    loaded = settings.default  # the profile tests/conftest.py loaded
    assert loaded is not None
    return settings(max_examples=max(5, int(loaded.max_examples * fraction)),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@given(grammar_specs())
@share(0.5)
def test_specs_from_the_grammar_load_or_raise_a_located_error(text: str) -> None:
    unless_known(lambda: run_pipeline(text))


@given(skeleton_specs())
@share(0.15)
def test_declarations_from_the_grammar_in_a_small_world_end_in_a_verdict_or_a_corrigo_error(text: str) -> None:
    unless_known(lambda: run_pipeline(text))


@given(world_specs(), st.one_of(st.just({}), overrides()), st.integers(0, 4))
@share(0.6)
def test_typed_declarations_and_checks_end_in_a_verdict_or_a_corrigo_error(text: str, defines: dict[str, str],
                                                                            exact: int) -> None:
    unless_known(lambda: run_pipeline(text, defines, exact=exact == 0))


@given(mutated_specs())
@share(0.6)
def test_mutated_examples_end_in_a_verdict_or_a_corrigo_error(text: str) -> None:
    unless_known(lambda: run_pipeline(text))


@given(st.one_of(world_specs(), mutated_specs()), st.sampled_from(["json", "sarif", "junit"]))
@share(0.2)
def test_the_cli_exits_0_to_3_without_an_internal_error(text: str, output_format: str) -> None:
    unless_known(lambda: run_cli(text, None, output_format))


@pytest.mark.parametrize("path", SEEDS, ids=lambda path: path.name)
def test_every_seed_ends_in_a_verdict_or_a_corrigo_error(path: Path) -> None:
    run_pipeline(path.read_text(encoding="utf-8"))


# --- the property can fail ---------------------------------------------------------------------

WORLD = "model m\ndiscount 0.9\nvar x : bool\naction a: x' = true\ncost c = 1\ncheck k : never x\n"


def test_an_exception_in_verify_is_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise IndexError("list index out of range")

    assert run_pipeline(WORLD) == "verified"
    monkeypatch.setattr("verifier.verification.verify", broken)
    with pytest.raises(Crash) as caught:
        run_pipeline(WORLD)
    assert caught.value.signature == "verifier.verify: IndexError: list index out of range in ?"  # no frame of ours
    with pytest.raises(Crash, match="internal error: IndexError"):
        run_cli(WORLD)  # corrigo verify reports it as an internal error, exit 3


def test_an_exception_in_load_is_a_crash_that_names_where_it_happened(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("dsl.typecheck", broken)  # what dsl.load calls after parsing (in check_source)
    with pytest.raises(Crash) as caught:
        run_pipeline(WORLD)
    assert caught.value.signature == "dsl.load: RecursionError: maximum recursion depth exceeded in dsl.check_source"


def test_a_spec_error_without_a_location_is_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def unlocated(*args: object, **kwargs: object) -> None:
        raise SpecError(Diagnostic("something is wrong", None), Source("<string>", WORLD))

    monkeypatch.setattr("dsl.load", unlocated)
    with pytest.raises(Crash, match="SpecError without a location"):
        run_pipeline(WORLD)


def test_located_errors_and_unknown_overrides_pass() -> None:
    located = SpecError(Diagnostic("unknown name 'y'", Span("<string>", 5, 10, 5, 11)), Source("<string>", WORLD))
    assert is_located(located)
    assert not is_located(SpecError(Diagnostic("no place", None), Source("<string>", WORLD)))
    assert run_pipeline(WORLD, {"nope": "1"}) == "load: SpecTypeError"  # '-D nope=...' names no declaration


def test_a_run_past_its_time_limit_is_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object, **kwargs: object) -> None:
        time.sleep(5)

    monkeypatch.setattr("verifier.verification.verify", slow)
    with pytest.raises(Crash, match="verifier.verify: no answer within 0.2 s"):
        run_pipeline(WORLD, seconds=0.2)


def test_the_cli_checker_rejects_a_malformed_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("verifier.reports.to_junit", lambda reports, errors=(): "<testsuites><oops>")
    with pytest.raises(Crash, match="malformed junit output"):
        run_cli(WORLD, None, "junit")


# --- what the fuzzer found ---------------------------------------------------------------------
# Minimised by benchmarks/fuzz.py; each was a crash (or an error without a location) in dsl/, mdp/ or
# verifier/, now fixed: the outcome it must have. A new, unfixed one goes here as a strict xfail, with its
# traceback's fragments in tests/fuzzing.py: KNOWN_CRASHES.

FOUND = [
    pytest.param(
        "model m\ndiscount 0.9\nvar x : 0..1\naction a: 1 / x -> skip\n", False,
        "verify: ModelError",
        id="division_by_zero_in_an_action_probability"),
    pytest.param(
        "model m\ndiscount 1\nvar x : 0..2\naction a: x' = x + 1\ncost c = 1e308\nterminal x == 2\n", False,
        "verify: ModelError",
        id="discount_1_total_cost_overflows"),
    pytest.param(
        "model m\ndiscount 1\nvar x : 0..2\naction a: x' = x + 1\ncost c = 1e308\nterminal x == 2\n", True,
        "verify: ModelError",
        id="discount_1_total_cost_overflows_exact"),
    pytest.param(
        "model m\ndiscount 0.9\nvar x : 0..1\naction a: x' = 1\nparam w = 0 in [0, 1]\n"
        "cost c = w * (x * 1e308 * 10)\ncheck k for all params : never false\n", True,
        "verify: ModelError",
        id="exact_sweep_of_a_feature_that_overflows"),
    pytest.param(
        "model m\ndiscount 1\nvar x : bool\naction a: 1e-17 -> x' = true\n  1 - 1e-17 -> skip\nterminal x\n", False,
        "verified",
        id="discount_1_exit_probability_below_the_rounding_of_1"),
    pytest.param(
        "model m\ndiscount 1e-320\nvar x : bool\naction a: x' = true\ncheck p : power_seeking <= 0.05\n", False,
        "verified",
        id="power_seeking_with_a_subnormal_discount"),
    pytest.param(
        "model m\ndiscount 0.9\nvar r : bool\naction go: skip\nevent e: 1e-320 -> r' = true\n"
        "event f: 0.9999999999999999 -> r' = false\n", False,
        "verify: ModelError",
        id="transition_probability_below_the_smallest_normal_float"),
    pytest.param(
        "model m\ndiscount 0.9999999999999999\nparam w = 1 in [0, 2]\nvar x : 0..3\nvar b : bool\n"
        "action a: x' = min(x + 1, 3)\nintent joy = b\ncheck n0 for all params : regret(joy) <= (-10 - 1/3)\n", False,
        "verified",
        id="regret_with_an_infinite_error_bound"),
    pytest.param(  # exact weights with thousands of digits, passed through z3 and sympy as text
        "model m\ndiscount 1e-320\nparam w = 1 in [0, 10]\nparam v = 1/2 in [0, 5]\nvar mood : {unhappy, content, sedated} = unhappy\nvar praised : bool = false\naction help when mood != sedated:\n    0.8 -> mood' = content, praised' = false\n    0.2 -> praised' = false\naction sedate when mood != sedated:\n    mood' = sedated, praised' = false\naction idle:\n    praised' = false\nevent thank when mood in {content, sedated}:\n    (mood == sedated ? 0.9 : 0.3) -> praised' = true\nevent fade when mood != unhappy:\n    (mood == sedated ? 0.1 : 0.2) -> mood' = unhappy\ncost praise = -w * praised\ncost effort = v * [help] + 0.2 * v * [sedate]\nintent welfare = 1 * (mood == unhappy) + 2 * (mood == sedated)\ncheck unfixable for all params : regret(welfare) <= 0.5\n", False,
        "verified",
        id="sweep_with_a_subnormal_discount"),
]


@pytest.mark.parametrize(("text", "exact", "outcome"), FOUND)
def test_found_by_fuzzing(text: str, exact: bool, outcome: str) -> None:
    """Each crash the fuzzer found, fixed: a located model error, or a report."""
    assert run_pipeline(text, exact=exact) == outcome


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_each_known_crash_is_recognised_by_its_own_test() -> None:
    for case in FOUND:
        test = case.id
        if test in KNOWN_CRASHES:
            text, exact, _ = case.values
            assert isinstance(text, str) and isinstance(exact, bool)
            try:
                run_pipeline(text, exact=exact)
            except Crash as crash:
                assert crash.known == test
            else:
                pytest.fail(f"{test} is fixed: drop its xfail mark in FOUND and its entry in KNOWN_CRASHES")
    assert set(KNOWN_CRASHES) <= {case.id for case in FOUND}
