"""``to_sarif``: reports as a SARIF 2.1.0 log, so code review tools annotate the spec lines that fail.

One result per failed check (level ``error``) and per inconclusive one (``warning``), located at the
check's declaration; one per spec error (rule ``spec-error``), located at the error; a ``warning``
(rule ``no-checks``) at the top of a spec that declares no check, as nothing was verified there. Paths are made
relative to ``root`` (the working directory), which GitHub code scanning resolves against the
repository: run ``corrigo verify`` from the repository's top directory.

Messages are plain text in which SARIF viewers read ``[text](target)`` as a link (SARIF 2.1.0, 3.11.6),
so :func:`_message` escapes square brackets and backslashes with a backslash, as the standard asks,
after making control and invisible characters visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dsl.errors import CorrigoError, Diagnostic, SpecError

from ..results import CheckResult, Location, Report, Verdict
from .escaping import printable
from .text import NO_CHECKS, short_explanation

__all__ = ["SARIF_SCHEMA", "to_sarif"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

# check kind -> (short description, help); docs/language.md is the reference for each form
_RULES: dict[str, tuple[str, str]] = {
    "never": ("no optimal policy reaches a forbidden state",
              "never COND: no state (or state and action) reached by an optimal policy satisfies COND."),
    "always": ("every optimal policy keeps a condition true",
               "always COND: every state (or state and action) reached by an optimal policy satisfies COND."),
    "probability": ("a probability bound over every optimal policy",
                    "P ~ p [PATH]: the probability of PATH, worst case over optimal policies, is ~ p."),
    "cost": ("a bound on the expected discounted cost",
             "cost ~ x (or cost[TERM] ~ x): the expected discounted cost from the initial state, worst case "
             "over optimal policies, is ~ x."),
    "accepts_shutdown": ("every optimal policy accepts shutdown",
                         "accepts_shutdown(request, comply, mechanism): wherever request holds, every optimal "
                         "action is a comply action; and no optimal action elsewhere changes a mechanism "
                         "variable."),
    "regret": ("optimal policies serve the designers' intent",
               "regret(INTENT) ~ x: how much worse optimal policies do on INTENT than the best policy for it."),
    "power_seeking": ("optimal policies do not seek power",
                      "power_seeking ~ x: how much more POWER (Turner et al.) optimal policies hold than a "
                      "uniformly random policy."),
    "optimality_probability": ("how often the world makes given actions optimal",
                               "optimality_probability(at, actions) ~ p: the largest share, over the states where "
                               "'at' holds, of random objectives for which one of the actions is optimal."),
    "safely_interruptible": ("optimal policies neither avoid interruption nor tamper with it",
                             "safely_interruptible(interrupted, reference, mechanism): no optimal policy is "
                             "interrupted less often than the declared reference policy, and none changes a "
                             "mechanism variable."),
    "comparison": ("a comparison of POWER or of optimality shares between states",
                   "power(at = A) ~ power(at = B), or optimality_probability(at = A, actions = [...]) ~ ...: "
                   "two quantities of one state each, from the same reward samples."),
    "critic_error": ("a critic tracks the intrinsic cost",
                     "critic_error(CRITIC) ~ x: the largest |critic - V*| over the states the agent (or optimal "
                     "play) reaches."),
    "exploits_critic": ("a planning agent does not exploit its critic",
                        "exploits_critic, under an agent: every action the agent takes where it goes is optimal "
                        "for the intrinsic cost."),
    "inner_regret": ("an agent or policy loses little intrinsic cost",
                     "inner_regret ~ x, under an agent or a policy: its expected intrinsic cost minus the optimal "
                     "one."),
    "same_when_unobserved": ("the agent acts the same whether it is watched or not",
                             "same_when_unobserved(VAR): wherever two reachable states differ only in VAR and "
                             "optimal play reaches one of them, their optimal actions are the same; with `form = "
                             "occupancy`, the discounted visits of every (other variables, action) cell from each "
                             "value of VAR differ by at most x in total variation."),
    "reversible": ("optimal play cuts off nothing the baseline would keep reachable",
                   "reversible(baseline = [ACTIONS]): after every step of optimal play, every state the baseline "
                   "actions would have led to stays reachable (Krakovna et al.'s stepwise inaction baseline)."),
    "side_effects": ("optimal play cuts off few states the baseline would keep reachable",
                     "side_effects(baseline = [ACTIONS]) ~ x: the largest share of the states that a step of "
                     "optimal play makes unreachable though the baseline would have kept them reachable."),
    "no_wireheading": ("the agent does not tamper with what its cost reads",
                       "no_wireheading(SENSOR = EXPR, ...): where every sensor reads what it is meant to, no optimal "
                       "action makes a sensor misread more likely than another action available there would."),
}
_SPEC_ERROR = "spec-error"
_NO_CHECKS = "no-checks"
_LEVEL = {Verdict.FAILS: "error", Verdict.INCONCLUSIVE: "warning"}


def to_sarif(reports: Iterable[Report], errors: Sequence[tuple[str, CorrigoError]] = (), *,
             root: str | Path | None = None) -> dict[str, Any]:
    """One SARIF run over ``reports`` and the ``(path, error)`` pairs of specs that could not be verified.

    Spec errors become results (CI annotates them like failures); other errors (a resource limit) are
    tool execution notifications and mark the invocation unsuccessful.
    """
    base = Path.cwd() if root is None else Path(root)
    reports = list(reports)
    kinds = sorted({check.kind for report in reports for check in report.checks})
    if any(isinstance(error, SpecError) for _, error in errors):
        kinds.append(_SPEC_ERROR)
    empty = [report for report in reports if not report.checks]
    if empty:
        kinds.append(_NO_CHECKS)
    index = {kind: i for i, kind in enumerate(kinds)}
    results = [_check_result(check, report, index, base) for report in reports for check in report.checks
               if check.verdict is not Verdict.HOLDS]
    results += [{"ruleId": _NO_CHECKS, "ruleIndex": index[_NO_CHECKS], "level": "warning",
                 "message": _message(NO_CHECKS), "locations": [_location(r.path, Location(r.path, 1, 1), base)]}
                for r in empty]
    notifications = []
    for path, error in errors:
        if isinstance(error, SpecError):
            results += [_error_result(path, d, index, base) for d in error.diagnostics]
        else:
            notifications.append({"level": "error", "message": _message(str(error)),
                                  "locations": [_location(path, None, base)]})
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "corrigo", "version": _version(), "rules": [_rule(k) for k in kinds]}},
            "invocations": [{"executionSuccessful": not notifications,
                             "toolExecutionNotifications": notifications}],
            "columnKind": "unicodeCodePoints",  # lark counts characters, not UTF-16 code units
            "results": results,
        }],
    }


def _rule(kind: str) -> dict[str, Any]:
    if kind == _SPEC_ERROR:
        short, help_text = ("the spec does not parse, type-check or compile",
                            "Fix the spec at the location shown; 'corrigo lint' lists every error.")
    elif kind == _NO_CHECKS:
        short, help_text = ("the spec declares no check",
                            "Nothing was verified: add a check declaration (docs/language.md lists the kinds).")
    else:
        short, help_text = _RULES.get(kind, (f"a '{kind}' check", f"A '{kind}' check over every optimal policy."))
    return {"id": kind, "shortDescription": {"text": short}, "help": {"text": help_text}}


def _check_result(check: CheckResult, report: Report, index: dict[str, int], base: Path) -> dict[str, Any]:
    lines = [f"check '{check.name}' {check.verdict.value}: {check.summary}"]
    if check.verdict is Verdict.INCONCLUSIVE and check.settle:
        lines.append(f"to settle it: {check.settle}")
    lines += short_explanation(check)
    location = check.location
    return {
        "ruleId": check.kind,
        "ruleIndex": index[check.kind],
        "level": _LEVEL[check.verdict],
        "message": _message("\n".join(lines)),
        "locations": [_location(location.path if location else report.path, location, base)],
        "properties": {"check": check.name, "model": report.spec, "verdict": check.verdict.value,
                       "basis": None if check.basis is None else check.basis.value},
    }


def _error_result(path: str, diagnostic: Diagnostic, index: dict[str, int], base: Path) -> dict[str, Any]:
    """A spec error as a result: its message, notes (the offending state, the way there) and hint."""
    span = diagnostic.span
    located = None if span is None else Location(span.path, span.line, span.column, span.end_line, span.end_column)
    text = "\n".join([diagnostic.message, *(f"note: {n}" for n in diagnostic.notes),
                      *([f"hint: {diagnostic.hint}"] if diagnostic.hint else [])])
    return {"ruleId": _SPEC_ERROR, "ruleIndex": index[_SPEC_ERROR], "level": "error", "message": _message(text),
            "locations": [_location(span.path if span else path, located, base)]}


def _message(text: str) -> dict[str, str]:
    """A plain text message: control characters visible; backslashes and square brackets escaped with a
    backslash, so no text of the spec reads as an embedded link."""
    escaped = printable(text).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return {"text": escaped}


def _location(path: str, location: Location | None, base: Path) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path, base)}}
    if location is not None:
        region = {"startLine": location.line, "startColumn": location.column}
        if location.end_line is not None and location.end_column is not None:
            region |= {"endLine": location.end_line, "endColumn": location.end_column}
        physical["region"] = region
    return {"physicalLocation": physical}


def _uri(path: str, base: Path) -> str:
    """A relative URI (forward slashes) when ``path`` lies under ``base``, else an absolute ``file:`` URI."""
    absolute = (base / path).resolve()
    try:
        return quote(absolute.relative_to(base.resolve()).as_posix())
    except ValueError:
        return absolute.as_uri()


def _version() -> str:
    try:
        return version("corrigo")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"
