"""``render_html``: a report as an HTML fragment, for notebooks (``Report._repr_html_``).

It shows what the Markdown report shows (:func:`~verifier.reports.markdown.render_markdown`): the
summary and one table row per check, then for every check that does not hold a ``<details>`` element,
collapsed so the summary stays short, with its counterexample (step, state, action, probability) and
its attribution (the agent's choice against the alternative, term by term). :func:`render_check_html`
is one check alone, open (``CheckResult._repr_html_``). All text is escaped by :mod:`mdp.tables` or
:func:`html.escape`, after control and invisible characters are made visible
(:func:`~verifier.reports.escaping.printable_strings`).
"""

from __future__ import annotations

from html import escape

from mdp.tables import html_table

from ..results import CheckResult, Report, Verdict
from .escaping import printable_strings
from .text import NO_CHECKS

__all__ = ["render_check_html", "render_html"]

_ICON = {Verdict.HOLDS: "✅ HOLDS", Verdict.FAILS: "❌ FAILS", Verdict.INCONCLUSIVE: "⚠️ INCONCLUSIVE"}


def render_html(report: Report) -> str:
    """A ``<div>`` with a summary, the checks table, then a collapsed section per failed or inconclusive check."""
    report = printable_strings(report)
    rows: list[list[str]] = []
    for check in report.checks:
        rows.append([check.name, _ICON[check.verdict], check.text, check.summary])
        rows += [[f"↳ {part.text}", _ICON[part.verdict], "", part.summary] for part in check.parts]
    model = f"{report.model_summary}."
    summary = (f"<strong>{_ICON[report.verdict]}</strong>: {len(report.checks)} check(s) over every optimal policy."
               if report.checks else f"<strong>⚠️ NO CHECKS</strong>: {NO_CHECKS}.")
    parts = [
        '<div class="corrigo-report">',
        f"<h3>corrigo: {escape(report.spec)} ({escape(report.path)})</h3>",
        f"<p>{summary} {model}</p>",
        *([html_table(["check", "verdict", "property", "result"], rows)] if rows else []),
    ]
    for check in report.checks:
        if check.verdict is not Verdict.HOLDS:
            parts += ["<details>", f"<summary>{_heading(check)}{_contents(check)}</summary>", *_section(check),
                      "</details>"]
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def render_check_html(check: CheckResult) -> str:
    """One check as a ``<div>``: its verdict, property and summary, its parts, unless it holds its counterexample
    and attribution, and the numbers it rests on."""
    check = printable_strings(check)
    quantities = [[q.name, f"{q.value:.10g}", f"{q.bound:.2g}"] for q in check.quantities]
    statement, *evidence = _section(check)
    halves = [[part.text, _ICON[part.verdict], part.summary] for part in check.parts]
    parts = ['<div class="corrigo-check">', f"<p>{_heading(check)}</p>", statement,
             *([html_table(["part", "verdict", "result"], halves)] if halves else []), *evidence]
    if quantities:
        parts += ["<p>Quantities (each within its certified bound):</p>",
                  html_table(["quantity", "value", "bound"], quantities, right=[1, 2])]
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def _heading(check: CheckResult) -> str:
    where = f" ({escape(str(check.location))})" if check.location else ""
    return f"<strong>{escape(check.name)}</strong>: {_ICON[check.verdict]}{where}"


def _contents(check: CheckResult) -> str:
    """What the collapsed section holds, so the summary line says whether it is worth opening."""
    shown = [what for what, present in (("counterexample", _has_trace(check)),
                                        ("attribution", _has_attribution(check)),
                                        ("what would settle it", check.verdict is Verdict.INCONCLUSIVE
                                         and bool(check.settle))) if present]
    return f": {', '.join(shown)}" if shown else ""


def _has_trace(check: CheckResult) -> bool:
    return check.trace is not None or any(part.trace is not None for part in check.parts)


def _has_attribution(check: CheckResult) -> bool:
    return any(c.attribution is not None and c.attribution.alternative is not None for c in (check, *check.parts))


def _section(check: CheckResult) -> list[str]:
    lines = [f"<p><code>{escape(check.text)}</code>: {escape(check.summary)}.</p>"]
    if check.verdict is Verdict.INCONCLUSIVE and check.settle:
        lines.append(f"<p>To settle it: {escape(check.settle)}.</p>")
    if check.verdict is not Verdict.HOLDS:
        lines += _evidence(check)
        for part in check.parts:  # a second failing half has its own counterexample
            if part.trace is not None and part.trace != check.trace:
                lines += [f"<p><strong>{escape(part.text)}</strong>: {escape(part.summary)}.</p>", *_evidence(part)]
    return lines


def _evidence(check: CheckResult) -> list[str]:
    lines: list[str] = []
    if check.trace is not None:
        steps = [[i, step.state, step.action or "", "" if step.probability is None else f"{step.probability:.6g}"]
                 for i, step in enumerate(check.trace.steps)]
        lines += [f"<p>Counterexample (probability {check.trace.probability:.6g}):</p>",
                  html_table(["step", "state", "action", "P(step)"], steps, right=[0, 3])]
    attribution = check.attribution
    if attribution is not None and attribution.alternative is not None:
        tie = " (a tie)" if attribution.is_tie else ""
        gap = "?" if attribution.gap is None else f"{attribution.gap:.6g}"
        terms = [[term.term, f"{term.immediate:+.6g}", f"{term.future:+.6g}", f"{term.total:+.6g}"]
                 for term in attribution.terms]
        if attribution.terms:
            terms.append(["sum", "", "", f"{sum(term.total for term in attribution.terms):+.6g}"])
        lines += [f"<p>At <code>{escape(attribution.state)}</code> the agent prefers <code>{escape(attribution.chosen)}"
                  f"</code> over <code>{escape(attribution.alternative)}</code> by {gap}{tie}. By cost term "
                  f"(positive: towards <code>{escape(attribution.chosen)}</code>):</p>",
                  html_table(["term", "immediate", "future", "total"], terms, right=[1, 2, 3])]
    return lines
