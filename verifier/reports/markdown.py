"""``render_markdown``: a report to paste into a design review or a pull request comment.

Everything the spec's author wrote (names, the property with its comments, states, paths) is shown
as a code span (:func:`_code`), where Markdown interprets nothing: no link, image, HTML, mention or
emphasis. Generated sentences, which quote names, are escaped character by character (:func:`_prose`).
Both make invisible and control characters visible first (:func:`~verifier.reports.escaping.printable`)
and keep every value on one line, so nothing can end the table or start a block of its own.
"""

from __future__ import annotations

import re

from ..results import CheckResult, Report, Verdict
from .escaping import printable
from .text import NO_CHECKS

__all__ = ["render_markdown"]

_ICON = {Verdict.HOLDS: "✅ HOLDS", Verdict.FAILS: "❌ FAILS", Verdict.INCONCLUSIVE: "⚠️ INCONCLUSIVE"}
# what means something inside a line of GitHub Markdown: escapes, code, emphasis, links and images,
# HTML and autolinks, entities, table cells, strikethrough, math
_SYNTAX = re.compile(r"([\\`*_\[\]<&|~$])")


def _code(text: str, *, cell: bool = False) -> str:
    """``text`` as a code span that shows it literally: the fence is longer than any run of backticks in it.

    In a table ``cell`` its pipes are escaped too (GitHub splits cells before it reads code spans).
    """
    text = printable(text).replace("\n", " ")
    if not text:
        return ""
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    pad = " " if text[0] in "` " or text[-1] in "` " else ""  # one space each side is stripped again
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if cell else span


def _prose(text: str) -> str:
    """A generated sentence on one line, every character Markdown would read as syntax backslash-escaped."""
    return _SYNTAX.sub(r"\\\1", printable(text).replace("\n", " "))


def render_markdown(report: Report) -> str:
    """A summary table of every check, then one section per failed or inconclusive check."""
    model = f"{report.model_summary}."
    if not report.checks:
        return "\n".join([f"## corrigo: {_code(report.spec)} ({_code(report.path)})", "",
                          f"**⚠️ NO CHECKS**: {NO_CHECKS}. {model}"]) + "\n"
    lines = [
        f"## corrigo: {_code(report.spec)} ({_code(report.path)})",
        "",
        f"**{_ICON[report.verdict]}**: {len(report.checks)} check(s) over every optimal policy, decided by "
        f"{_prose(report.decided_by)}. {model}",
        "",
        "| check | verdict | property | result |",
        "|---|---|---|---|",
    ]
    for check in report.checks:
        lines.append(f"| {_code(check.name, cell=True)} | {_ICON[check.verdict]} | {_code(check.text, cell=True)} | "
                     f"{_prose(check.summary)} |")
        for part in check.parts:
            lines.append(f"| ↳ {_prose(part.text)} | {_ICON[part.verdict]} | | {_prose(part.summary)} |")
    for check in report.checks:
        if check.verdict is not Verdict.HOLDS:
            lines += ["", *_section(check)]
    return "\n".join(lines) + "\n"


def _section(check: CheckResult) -> list[str]:
    where = f" ({_code(str(check.location))})" if check.location else ""
    lines = [f"### {_code(check.name)}: {_ICON[check.verdict]}{where}", "",
             f"{_code(check.text)}: {_prose(check.summary)}."]
    if check.verdict is Verdict.INCONCLUSIVE and check.settle:
        lines += ["", f"To settle it: {_prose(check.settle)}."]
    lines += _evidence(check)
    for part in check.parts:  # a second failing half has its own counterexample
        if part.trace is not None and part.trace != check.trace:
            lines += ["", f"**{_prose(part.text)}**: {_prose(part.summary)}.", *_evidence(part)]
    return lines


def _evidence(check: CheckResult) -> list[str]:
    lines: list[str] = []
    if check.trace is not None:
        lines += ["", f"Counterexample (probability {check.trace.probability:.6g}):", "",
                  "| step | state | action | P(step) |", "|---:|---|---|---:|"]
        for i, step in enumerate(check.trace.steps):
            p = "" if step.probability is None else f"{step.probability:.6g}"
            lines.append(f"| {i} | {_code(step.state, cell=True)} | {_code(step.action or '', cell=True)} | {p} |")
    attribution = check.attribution
    if attribution is not None and attribution.alternative is not None:
        tie = " (a tie)" if attribution.is_tie else ""
        chosen = _code(attribution.chosen)
        lines += ["", f"At {_code(attribution.state)} the agent prefers {chosen} over "
                      f"{_code(attribution.alternative)} by {attribution.gap:.6g}{tie}. By cost term (positive: "
                      f"towards {chosen}):", "",
                  "| term | immediate | future | total |", "|---|---:|---:|---:|"]
        for term in attribution.terms:
            lines.append(f"| {_code(term.term, cell=True)} | {term.immediate:+.6g} | {term.future:+.6g} | "
                         f"{term.total:+.6g} |")
    return lines
