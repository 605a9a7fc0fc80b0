"""``render_markdown``: a report to paste into a design review."""

from __future__ import annotations

from ..results import CheckResult, Report, Verdict

__all__ = ["render_markdown"]

_ICON = {Verdict.HOLDS: "✅ HOLDS", Verdict.FAILS: "❌ FAILS", Verdict.INCONCLUSIVE: "⚠️ INCONCLUSIVE"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """A summary table of every check, then one section per failed or inconclusive check."""
    lines = [
        f"## corrigo: `{report.spec}` ({report.path})",
        "",
        f"**{_ICON[report.verdict]}**: {len(report.checks)} check(s) over every optimal policy. "
        f"{report.n_states:,} states, {report.n_rows:,} choices; optimal policies reach "
        f"{report.n_optimal_states:,} states; optimal cost {report.value:.6g}, discount {report.discount:g}.",
        "",
        "| check | verdict | property | result |",
        "|---|---|---|---|",
    ]
    for check in report.checks:
        lines.append(f"| `{check.name}` | {_ICON[check.verdict]} | `{_cell(check.text)}` | {_cell(check.summary)} |")
        for part in check.parts:
            lines.append(f"| ↳ {part.text} | {_ICON[part.verdict]} | | {_cell(part.summary)} |")
    for check in report.checks:
        if check.verdict is not Verdict.HOLDS:
            lines += ["", *_section(check)]
    return "\n".join(lines) + "\n"


def _section(check: CheckResult) -> list[str]:
    where = f" ({check.location})" if check.location else ""
    lines = [f"### `{check.name}`: {_ICON[check.verdict]}{where}", "", f"`{check.text}`: {check.summary}."]
    if check.verdict is Verdict.INCONCLUSIVE and check.settle:
        lines += ["", f"To settle it: {check.settle}."]
    lines += _evidence(check)
    for part in check.parts:  # a second failing half has its own counterexample
        if part.trace is not None and part.trace != check.trace:
            lines += ["", f"**{part.text}**: {part.summary}.", *_evidence(part)]
    return lines


def _evidence(check: CheckResult) -> list[str]:
    lines: list[str] = []
    if check.trace is not None:
        lines += ["", f"Counterexample (probability {check.trace.probability:.6g}):", "",
                  "| step | state | action | P(step) |", "|---:|---|---|---:|"]
        for i, step in enumerate(check.trace.steps):
            p = "" if step.probability is None else f"{step.probability:.6g}"
            lines.append(f"| {i} | {_cell(step.state)} | {step.action or ''} | {p} |")
    attribution = check.attribution
    if attribution is not None and attribution.alternative is not None:
        tie = " (a tie)" if attribution.is_tie else ""
        lines += ["", f"At `{attribution.state}` the agent prefers `{attribution.chosen}` over "
                      f"`{attribution.alternative}` by {attribution.gap:.6g}{tie}. By cost term (positive: towards "
                      f"`{attribution.chosen}`):", "",
                  "| term | immediate | future | total |", "|---|---:|---:|---:|"]
        for term in attribution.terms:
            lines.append(f"| {term.term} | {term.immediate:+.6g} | {term.future:+.6g} | {term.total:+.6g} |")
    return lines
