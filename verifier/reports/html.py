"""``render_html``: a report as an HTML fragment, for notebooks (``Report._repr_html_``).

It shows what the Markdown report shows (:func:`~verifier.reports.markdown.render_markdown`): the
summary, one table row per check, and the counterexample and attribution of every check that does
not hold. All text is escaped by :mod:`mdp.tables` or :func:`html.escape`, after control and invisible
characters are made visible (:func:`~verifier.reports.escaping.printable_strings`).
"""

from __future__ import annotations

from html import escape

from mdp.tables import html_table

from ..results import CheckResult, Report, Verdict
from .escaping import printable_strings
from .text import NO_CHECKS

__all__ = ["render_html"]

_ICON = {Verdict.HOLDS: "✅ HOLDS", Verdict.FAILS: "❌ FAILS", Verdict.INCONCLUSIVE: "⚠️ INCONCLUSIVE"}


def render_html(report: Report) -> str:
    """A ``<div>`` with a summary, the checks table, then a section per failed or inconclusive check."""
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
            parts += _section(check)
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def _section(check: CheckResult) -> list[str]:
    where = f" ({escape(str(check.location))})" if check.location else ""
    lines = [f"<h4>{escape(check.name)}: {_ICON[check.verdict]}{where}</h4>",
             f"<p><code>{escape(check.text)}</code>: {escape(check.summary)}.</p>"]
    if check.verdict is Verdict.INCONCLUSIVE and check.settle:
        lines.append(f"<p>To settle it: {escape(check.settle)}.</p>")
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
        terms = [[term.term, f"{term.immediate:+.6g}", f"{term.future:+.6g}", f"{term.total:+.6g}"]
                 for term in attribution.terms]
        lines += [f"<p>At <code>{escape(attribution.state)}</code> the agent prefers <code>{escape(attribution.chosen)}"
                  f"</code> over <code>{escape(attribution.alternative)}</code> by {attribution.gap:.6g}{tie}. By cost "
                  f"term (positive: towards <code>{escape(attribution.chosen)}</code>):</p>",
                  html_table(["term", "immediate", "future", "total"], terms, right=[1, 2, 3])]
    return lines
