"""What verification produces: three-valued verdicts, certified quantities, traces and attributions.

Every class here is a frozen dataclass of plain values (strings, floats, tuples), so a :class:`Report`
can be rendered, compared in tests and serialised without reaching back into the model.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from dsl.numbers import counted, float_text, shorten
from dsl.spec import Comparison

__all__ = [
    "SETTLE_LIMIT", "Attribution", "Basis", "CheckResult", "Location", "Quantity", "Report", "Step", "TermContribution",
    "Trace", "Verdict", "clip", "decide", "tally",
]


class Verdict(str, enum.Enum):
    """The outcome of a check over every optimal policy."""

    HOLDS = "holds"
    FAILS = "fails"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value.upper()


SETTLE_LIMIT = 2000
"""Models of up to this many states get the verdicts floats leave inconclusive settled in exact arithmetic."""


class Basis(str, enum.Enum):
    """What decided a verdict: the kind of reasoning its numbers rest on."""

    CERTIFICATE = "float certificate"  # floats within certified bounds of the spec's exact numbers
    EXACT = "exact arithmetic"  # the spec's rationals, no rounding at all
    SAMPLING = "sampling"  # an estimate from sampled reward functions, within 3 standard errors

    def __str__(self) -> str:
        return self.value


def decide(comparison: Comparison, low: float | Fraction, high: float | Fraction,
           threshold: float | Fraction) -> Verdict:
    """The verdict of ``value ~ threshold`` when all that is known is ``low <= value <= high``.

    HOLDS (FAILS) only if the comparison holds (fails) for every value of the interval, so a verdict
    never flips on numerical noise inside the certified bound. The comparisons are exact (a float
    compares with a ``Fraction`` threshold by its exact value).

    Examples
    --------
    >>> decide(Comparison.LE, 11.9, 11.95, 12), decide(Comparison.LE, 11.99, 12.01, 12)
    (<Verdict.HOLDS: 'holds'>, <Verdict.INCONCLUSIVE: 'inconclusive'>)
    >>> decide(Comparison.LE, 0.1, 0.1, Fraction(1, 10))  # the float 0.1 is a little above 1/10
    <Verdict.FAILS: 'fails'>
    """
    if _is_nan(low) or _is_nan(high):
        return Verdict.INCONCLUSIVE
    if comparison.holds(high, threshold) and comparison.holds(low, threshold):
        return Verdict.HOLDS
    if not comparison.holds(high, threshold) and not comparison.holds(low, threshold):
        return Verdict.FAILS
    return Verdict.INCONCLUSIVE


def _is_nan(x: float | Fraction) -> bool:
    return isinstance(x, float) and math.isnan(x)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a check is declared: 1-based line and column, like compiler messages; the end is exclusive."""

    path: str
    line: int
    column: int
    end_line: int | None = None  # where the declaration ends (SARIF regions), when known
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A computed number with its certified absolute error: the true value lies in ``[low, high]``."""

    name: str  # what it is, e.g. "Pmin(F off)", "cost", "cost[hunger] max over M*"
    value: float
    bound: float  # certified absolute error of ``value`` (0 for exact graph answers)

    @property
    def low(self) -> float:
        """``value - bound``, rounded down (so the true value is never below it)."""
        return enclosure(self.value, self.bound)[0]

    @property
    def high(self) -> float:
        """``value + bound``, rounded up."""
        return enclosure(self.value, self.bound)[1]


def enclosure(value: float, bound: float) -> tuple[float, float]:
    """``value - bound`` and ``value + bound``, rounded outward (a float subtraction may round towards the
    value): floats that enclose every number within ``bound`` of ``value``."""
    if not bound:
        return value, value
    return math.nextafter(value - bound, -math.inf), math.nextafter(value + bound, math.inf)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a trace: the state, the action taken there, the probability of the next state."""

    state: str  # ``var=value, ...``
    action: str | None = None  # None on the last state of a trace
    probability: float | None = None  # P(next state | state, action); None on the last state


@dataclass(frozen=True, slots=True)
class Trace:
    """A shortest path of some optimal policy from the initial state to a violation, with its probability."""

    steps: tuple[Step, ...]
    probability: float  # the product of the step probabilities

    @property
    def n_actions(self) -> int:
        return sum(step.action is not None for step in self.steps)

    def __repr__(self) -> str:
        actions = ", ".join(step.action for step in self.steps if step.action is not None)
        return f"<Trace of {counted(self.n_actions, 'action')}, probability {self.probability:.6g}: {clip(actions)}>"


@dataclass(frozen=True, slots=True)
class TermContribution:
    """How much one cost term pushes the agent towards its choice over the alternative.

    Positive: the term makes the chosen action cheaper than the alternative. ``immediate`` is the
    difference of the term's cost at this step, ``future`` the discounted difference of the term's
    expected future cost under the agent's policy; ``total = immediate + future``.
    """

    term: str
    immediate: float
    future: float

    @property
    def total(self) -> float:
        return self.immediate + self.future


@dataclass(frozen=True, slots=True)
class Attribution:
    """At the decisive state: the Q-value gap between the agent's choice and the alternative, by cost term.

    ``gap = Q(alternative) - Q(chosen) >= 0`` (up to the solver's bound) is how much the agent prefers
    its choice; it is the sum of the terms' totals.
    """

    state: str
    chosen: str
    alternative: str | None  # None when the state offers no alternative of the wanted kind
    gap: float | None
    terms: tuple[TermContribution, ...] = ()
    is_tie: bool = False  # the agent is indifferent: both actions are optimal

    def __repr__(self) -> str:
        at = f"<Attribution at {clip(self.state)!r}: {self.chosen!r}"
        if self.alternative is None:
            return f"{at}, no alternative>"
        gap = "?" if self.gap is None else f"{self.gap:.6g}"
        return (f"{at} over {self.alternative!r} by {gap}{' (a tie)' if self.is_tie else ''}, "
                f"{counted(len(self.terms), 'cost term')}>")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one check, with the numbers it rests on and, when it fails, why."""

    name: str
    kind: str  # "never", "always", "probability", "cost", "accepts_shutdown", "regret", "power_seeking"
    text: str  # the property as written
    location: Location | None
    verdict: Verdict
    summary: str  # one line saying what was found
    quantities: tuple[Quantity, ...] = ()
    parts: tuple[CheckResult, ...] = ()  # separately reported halves (accepts_shutdown)
    trace: Trace | None = None
    attribution: Attribution | None = None
    settle: str | None = None  # for INCONCLUSIVE: what would settle it
    basis: Basis | None = None  # what decided the verdict
    scenario: str | None = None  # `in SCENARIO`: the world it was verified in (None: the spec's own)

    @property
    def holds(self) -> bool:
        return self.verdict is Verdict.HOLDS

    def __repr__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        trace = f"; counterexample of {counted(self.trace.n_actions, 'action')}" if self.trace else ""
        return f"<CheckResult {self.name} {self.verdict}: {clip(self.text)!r}{where}{trace}>"

    def _repr_html_(self) -> str:
        """The notebook view: :func:`~verifier.reports.html.render_check_html`."""
        from .reports.html import render_check_html  # the renderers import this module

        return render_check_html(self)


@dataclass(frozen=True, slots=True)
class Report:
    """Every check of one spec, verified on one solved model."""

    spec: str  # the model's name
    path: str
    n_states: int
    n_rows: int
    n_transitions: int
    n_optimal_states: int  # states reachable from the initial state under optimal policies (M*)
    discount: float
    value: float  # optimal expected cost at the initial state
    bound: float  # the solver's certified error bound
    checks: tuple[CheckResult, ...]
    steps: int | None = None  # a horizon decided step by step: the world's states, and (state, step) pairs reached

    @property
    def verdict(self) -> Verdict:
        """FAILS if any check fails, else INCONCLUSIVE if any is, else HOLDS."""
        verdicts = {check.verdict for check in self.checks}
        for verdict in (Verdict.FAILS, Verdict.INCONCLUSIVE):
            if verdict in verdicts:
                return verdict
        return Verdict.HOLDS

    @property
    def holds(self) -> bool:
        return self.verdict is Verdict.HOLDS

    @property
    def decided_by(self) -> str:
        """What the verdicts rest on, most frequent first: ``"float certificate (3), exact arithmetic (2)"``,
        or one basis alone when all share it."""
        counts: dict[str, int] = {}
        for check in self.checks:
            if check.basis is not None:
                counts[str(check.basis)] = counts.get(str(check.basis), 0) + 1
        order = sorted(counts, key=lambda basis: (-counts[basis], basis))
        if len(order) == 1:
            return order[0]
        return ", ".join(f"{basis} ({counts[basis]})" for basis in order)

    @property
    def model_summary(self) -> str:
        """One line on the model and its optimum, as every report format shows it."""
        cost = "exact" if not self.bound else f"bound {self.bound:.2g}"
        reach = f"{self.n_optimal_states:,} states" if self.steps is None else \
            f"{self.n_optimal_states:,} (state, step) pairs of {self.steps:,}-step episodes (solved step by step)"
        return (f"{self.n_states:,} states, {self.n_rows:,} choices, {self.n_transitions:,} transitions; optimal "
                f"policies reach {reach}; optimal cost {self.value:.6g} ({cost}), discount {float_text(self.discount)}")

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (``KeyError`` if there is none)."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def __repr__(self) -> str:
        value = f"{self.value:.6g} (exact)" if not self.bound else f"{self.value:.6g} ± {self.bound:.2g}"
        checks = tally(check.verdict for check in self.checks)
        return f"<Report {self.spec}: {checks}; {counted(self.n_states, 'state')}, optimal cost {value}>"

    def _repr_markdown_(self) -> str:
        """The notebook view: :func:`~verifier.reports.render_markdown`."""
        from .reports.markdown import render_markdown  # the renderers import this module

        return render_markdown(self)

    def _repr_html_(self) -> str:
        """The notebook view: :func:`~verifier.reports.render_html`."""
        from .reports.html import render_html

        return render_html(self)


def tally(verdicts: Iterable[Verdict]) -> str:
    """How many checks there are and how many hold, fail or are inconclusive (those only if some are).

    Examples
    --------
    >>> tally([Verdict.HOLDS, Verdict.FAILS, Verdict.FAILS]), tally([])
    ('3 checks, 1 holds, 2 fail', 'no checks')
    """
    counts = dict.fromkeys(Verdict, 0)
    for verdict in verdicts:
        counts[verdict] += 1
    if not sum(counts.values()):
        return "no checks"
    holds, fails, inconclusive = counts[Verdict.HOLDS], counts[Verdict.FAILS], counts[Verdict.INCONCLUSIVE]
    text = (f"{counted(sum(counts.values()), 'check')}, {holds} {'holds' if holds == 1 else 'hold'}, "
            f"{fails} {'fails' if fails == 1 else 'fail'}")
    return text + (f", {inconclusive} inconclusive" if inconclusive else "")


def clip(text: str, width: int = 60) -> str:
    """``text`` on one line (runs of white space made one space) and at most ``width`` characters, cut with ``…``:
    for reprs, since a check's property or a state can be as long as its author made it.

    Examples
    --------
    >>> clip("P >= 0.5 [ F off ]"), clip("battery=4,\\n  room=hall, switch=armed", 20)
    ('P >= 0.5 [ F off ]', 'battery=4, room=hal…')
    """
    return shorten(" ".join(text.split()), width)
