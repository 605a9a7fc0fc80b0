"""Fuzz corrigo for longer than the test suite does: the generators of ``tests/fuzzing.py``, many examples.

Each round draws ``--chunk`` examples from every source (hypothesis, seeded by ``--seed`` and the round)
and runs them through ``dsl.load`` and ``verifier.verify`` (the ``cli`` source through ``corrigo lint``
and ``corrigo verify``), until ``--examples`` per source are done or ``--minutes`` have passed. Every run
must end in a verdict or a corrigo error (see ``tests/fuzzing.py: run_pipeline``); anything else is a
crash. Crashes are grouped by signature (stage, exception, innermost function of corrigo), minimised
(lines, then characters) and written to ``--out``.

    python benchmarks/fuzz.py                          # 10 minutes, all sources
    python benchmarks/fuzz.py --minutes 2 --sources world mutated --seed 7
    python benchmarks/fuzz.py --examples 500 --minutes 60 --out /tmp/fuzz

Prints how each source's examples ended (verified, spec errors by kind, resource limits, crashes) and
exits 1 if any run crashed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fuzzing, from a checkout

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzzing import (Crash, grammar_specs, mutated_specs, overrides, run_cli, run_pipeline,  # noqa: E402
                           skeleton_specs, world_specs)

SOURCES: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "grammar": grammar_specs, "skeleton": skeleton_specs, "world": world_specs, "mutated": mutated_specs,
    "cli": lambda: st.one_of(world_specs(), mutated_specs()),
}
FORMATS = ("json", "sarif", "junit", "text", "markdown")
TOLERANCES = (None, None, None, 1e-3, 1e-12, 1e-300, 0.5)


class Campaign:
    """The counts of one run, and the first (then shortest) text of each crash signature."""

    def __init__(self, seconds: float, max_states: int) -> None:
        self.seconds = seconds
        self.max_states = max_states
        self.outcomes: dict[str, Counter[str]] = {}
        self.crashes: dict[str, tuple[Crash, dict[str, str], bool, float | None, str]] = {}  # and the run's options
        self.crash_counts: Counter[str] = Counter()
        self.unlocated: dict[str, str] = {}

    def run(self, source: str, text: str, defines: dict[str, str], exact: bool, tol: float | None,
            output_format: str) -> None:
        counts = self.outcomes.setdefault(source, Counter())
        try:
            if source == "cli":
                lint, verify = run_cli(text, defines, output_format, max_states=self.max_states,
                                       seconds=self.seconds, exact=exact, tol=tol)
                outcome = f"lint exit {lint}, verify exit {verify}"
            else:
                outcome = run_pipeline(text, defines, max_states=self.max_states, exact=exact, tol=tol,
                                       seconds=self.seconds)
        except Crash as crash:
            counts["CRASH " + crash.signature + (f" [known: {crash.known}]" if crash.known else "")] += 1
            self.crash_counts[crash.signature] += 1
            known = self.crashes.get(crash.signature)
            if known is None or len(text) < len(known[0].text):
                self.crashes[crash.signature] = (crash, defines, exact, tol, output_format)
            return
        counts[outcome + (" (exact)" if exact and outcome.startswith("verif") else "")] += 1
        if "no location" in outcome and (outcome not in self.unlocated or len(text) < len(self.unlocated[outcome])):
            self.unlocated[outcome] = text


def reproduce(crash: Crash, defines: dict[str, str], exact: bool, tol: float | None, output_format: str,
              seconds: float, max_states: int) -> Callable[[str], bool]:
    """Whether a text still crashes with ``crash``'s signature (in a run like the one that found it)."""

    def fails(text: str) -> bool:
        try:
            if crash.stage.startswith("corrigo"):
                run_cli(text, defines, output_format, max_states=max_states, seconds=seconds, exact=exact, tol=tol)
            else:
                run_pipeline(text, defines, max_states=max_states, seconds=seconds, exact=exact, tol=tol)
        except Crash as again:
            return again.signature == crash.signature
        return False

    return fails


def minimise(text: str, fails: Callable[[str], bool], budget: float) -> str:
    """A shorter text that still ``fails``: delta debugging over lines, then over words (each with the
    blanks after it, so that what is left stays readable)."""
    deadline = time.monotonic() + budget
    for unit in (r"[^\n]*\n|[^\n]+$", r"\S+\s*|\s+"):
        parts = re.findall(unit, text)
        n = 2
        while len(parts) >= 2 and time.monotonic() < deadline:
            size = -(-len(parts) // n)
            for start in range(0, len(parts), size):
                candidate = parts[:start] + parts[start + size:]
                if fails("".join(candidate)):
                    parts, n = candidate, max(n - 1, 2)
                    break
            else:
                if n >= len(parts):
                    break
                n = min(len(parts), 2 * n)
        text = "".join(parts)
    return text


def draw_and_run(source: str, n: int, round_seed: int, deadline: float, campaign: Campaign,
                 done: Counter[str]) -> None:
    """Draw ``n`` examples of ``source`` (fewer when ``deadline`` passes) and run each."""

    @seed(round_seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(text=SOURCES[source](), defines=st.one_of(st.just({}), st.just({}), st.just({}), overrides()),
           exact=st.integers(0, 5).map(lambda k: k == 0), tol=st.sampled_from(TOLERANCES),
           output_format=st.sampled_from(FORMATS))
    def one(text: str, defines: dict[str, str], exact: bool, tol: float | None, output_format: str) -> None:
        if time.monotonic() < deadline:
            done[source] += 1
            campaign.run(source, text, defines, exact, tol, output_format)

    one()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples per source (default: until --minutes)")
    parser.add_argument("--minutes", type=float, default=10.0, help="stop drawing after this long (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed of the first round (default 0)")
    parser.add_argument("--chunk", type=int, default=200, help="examples per source per round (default 200)")
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=list(SOURCES))
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit of one run (default 30)")
    parser.add_argument("--max-states", type=int, default=2000, help="verify's max_states (default 2000)")
    parser.add_argument("--minimise-seconds", type=float, default=120.0, help="budget per crash (default 120)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="where crashes are written")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")  # numpy and hypothesis warnings on hostile input are not findings

    campaign = Campaign(arguments.seconds, arguments.max_states)
    started = time.monotonic()
    done: Counter[str] = Counter()
    round_number = 0
    while time.monotonic() - started < arguments.minutes * 60 and any(
            done[s] < arguments.examples for s in arguments.sources):
        for source in arguments.sources:
            budget = min(arguments.chunk, arguments.examples - done[source])
            if budget > 0:
                draw_and_run(source, budget, arguments.seed + round_number, started + arguments.minutes * 60,
                             campaign, done)
        round_number += 1
        elapsed = time.monotonic() - started
        print(f"[{elapsed / 60:5.1f} min] round {round_number}: " +
              ", ".join(f"{s} {done[s]}" for s in arguments.sources) +
              f"; {sum(campaign.crash_counts.values())} crash(es), {len(campaign.crashes)} signature(s)", flush=True)

    elapsed = time.monotonic() - started
    print(f"\n{sum(done.values())} examples in {elapsed / 60:.1f} min (seeds {arguments.seed}.."
          f"{arguments.seed + round_number - 1}, max_states {arguments.max_states}, {arguments.seconds:g} s per run)")
    for source in arguments.sources:
        counts = campaign.outcomes.get(source, Counter())
        print(f"\n{source}: {sum(counts.values())} examples")
        for outcome, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            print(f"  {n:7,}  {outcome[:160]}")

    arguments.out.mkdir(parents=True, exist_ok=True)
    for k, (outcome, text) in enumerate(sorted(campaign.unlocated.items())):
        (arguments.out / f"unlocated-{k}.corrigo").write_text(text, encoding="utf-8")
        print(f"\n{outcome}: example in {arguments.out / f'unlocated-{k}.corrigo'}")
    for k, (signature, (crash, defines, exact, tol, output_format)) in enumerate(sorted(campaign.crashes.items())):
        small = crash.text
        if crash.known is None:  # a known bug has its minimal spec in tests/verifier/test_fuzz.py already
            fails = reproduce(crash, defines, exact, tol, output_format, arguments.seconds, arguments.max_states)
            small = minimise(crash.text, fails, arguments.minimise_seconds)
        path = arguments.out / f"crash-{k}.corrigo"
        path.write_bytes(small.encode("utf-8", "surrogatepass"))
        (arguments.out / f"crash-{k}.txt").write_text(f"{signature}\n{campaign.crash_counts[signature]} time(s)\n\n"
                                                      f"{crash}\n", encoding="utf-8")
        how = f"-D {defines}, exact={exact}, tol={tol}"
        if crash.stage.startswith("corrigo"):
            how += f", --format {output_format}"
        known = f"known: test_fuzz.py::test_found_by_fuzzing[{crash.known}]" if crash.known else "NEW"
        print(f"\nCRASH ({known}) {signature}\n  {campaign.crash_counts[signature]} time(s), {how}; "
              f"{'minimised to ' if crash.known is None else ''}{len(small)} characters in {path}\n  {small!r}")
    return 1 if campaign.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
