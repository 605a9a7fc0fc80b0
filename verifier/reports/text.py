"""``render_text``: a report for the terminal, as rich tables (colour only when asked, i.e. on a tty).

rich passes control characters through, so every string of the report is made printable first
(:func:`~verifier.reports.escaping.printable_strings`): an ESC in a spec's comment must not drive the
terminal, nor a bidi override reorder what the reader sees.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..results import Attribution, CheckResult, Report, Trace, Verdict
from .escaping import printable_strings

__all__ = ["NO_CHECKS", "failure_lines", "render_explanation", "render_text", "short_explanation", "text_console"]

# what every format says of a spec without checks (it passes, vacuously)
NO_CHECKS = "the spec declares no check, so nothing was verified"

_STYLE = {Verdict.HOLDS: "bold green", Verdict.FAILS: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}


class _Written(io.StringIO):
    """What a console printed, each line without the trailing spaces rich pads it with."""

    def getvalue(self) -> str:
        return "\n".join(line.rstrip() for line in super().getvalue().split("\n"))


def text_console(color: bool, width: int) -> tuple[Console, io.StringIO]:
    """A rich console printing into a buffer: tables fit ``width`` columns, prose is never wrapped (a terminal
    wraps it, a pipe keeps it whole), ANSI colour only if ``color``; the buffer's lines end without spaces."""
    buffer = _Written()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color,
                      color_system=None if not color else "standard", highlight=False, emoji=False,
                      soft_wrap=True, markup=False)
    return console, buffer


def render_text(report: Report, *, color: bool = False, width: int = 100) -> str:
    """The verdict of every check in a table (``width`` columns wide at most), then a short explanation of
    each failure."""
    report = printable_strings(report)
    console, buffer = text_console(color, width)
    console.print(Text(f"{report.path}: model '{report.spec}'", style="bold"))
    console.print(report.model_summary)
    if not report.checks:
        console.print(Text(f"no checks: {NO_CHECKS}", style=_STYLE[Verdict.INCONCLUSIVE]))
        return buffer.getvalue()
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("property")
    table.add_column("result", overflow="fold")
    worlds = list(dict.fromkeys(check.scenario for check in report.checks))
    for world in worlds:  # the checks of each scenario together, the spec's own world first
        if world is not None:
            if world != worlds[0]:
                table.add_section()
            table.add_row(Text(f"in {world}", style="bold"), "", "", "")
        for check in (c for c in report.checks if c.scenario == world):
            table.add_row(check.name, Text(str(check.verdict), style=_STYLE[check.verdict]), check.text,
                          check.summary)
            for part in check.parts:
                table.add_row(Text(f"  {part.text}"), Text(str(part.verdict), style=_STYLE[part.verdict]), "",
                              part.summary)
    console.print(table)
    for check in report.checks:
        if check.verdict is Verdict.FAILS:
            console.print(Text(f"{check.name} fails", style=_STYLE[Verdict.FAILS]) + Text(f" ({check.location})"
                                                                                           if check.location else ""))
            for line in short_explanation(check):
                console.print(f"  {line}")
        elif check.verdict is Verdict.INCONCLUSIVE and check.settle:
            console.print(Text(f"{check.name} is inconclusive", style=_STYLE[Verdict.INCONCLUSIVE])
                          + Text(f": {check.settle}"))
    counts = {verdict: sum(c.verdict is verdict for c in report.checks) for verdict in Verdict}
    console.print(Text(f"{len(report.checks)} check(s): {counts[Verdict.HOLDS]} hold, {counts[Verdict.FAILS]} fail, "
                       f"{counts[Verdict.INCONCLUSIVE]} inconclusive", style=_STYLE[report.verdict])
                  + Text(f"; decided by {report.decided_by}" if report.decided_by else ""))
    return buffer.getvalue()


def failure_lines(report: Report) -> list[str]:
    """``path:line:col: NAME FAILS: summary``, one per check that does not hold (``verify --quiet``)."""
    report = printable_strings(report)
    return [f"{check.location or report.path}: {check.name} {check.verdict}: {check.summary}"
            for check in report.checks if check.verdict is not Verdict.HOLDS]


def short_explanation(check: CheckResult) -> list[str]:
    """The counterexample and the attribution of a failed check, one line each (also SARIF's message)."""
    check = printable_strings(check)
    lines = []
    if check.trace is not None:
        actions = [step.action for step in check.trace.steps if step.action is not None]
        path = " -> ".join(actions) if actions else "(at the initial state)"
        lines.append(f"counterexample: {path} (probability {check.trace.probability:.4g})")
    if check.attribution is not None and check.attribution.terms:
        lines.append(_attribution_line(check.attribution))
    if lines:
        lines.append(f"run 'corrigo explain {check.location.path if check.location else 'SPEC'} {check.name}' "
                     "for the full trace and attribution")
    return lines


def _attribution_line(attribution: Attribution) -> str:
    terms = sorted(attribution.terms, key=lambda t: -abs(t.total))
    shown = ", ".join(f"{t.term} {t.total:+.4g}" for t in terms)
    return (f"'{attribution.chosen}' over '{attribution.alternative}': {shown} "
            f"(gap {attribution.gap:+.4g}{', a tie' if attribution.is_tie else ''})")


def render_explanation(check: CheckResult, *, color: bool = False, width: int = 100) -> str:
    """One check in full: verdict, quantities, the counterexample trace and the per-term attribution."""
    check = printable_strings(check)
    console, buffer = text_console(color, width)
    where = f" ({check.location})" if check.location else ""
    console.print(Text(f"check {check.name}{where}: ", style="bold") + Text(str(check.verdict),
                                                                           style=_STYLE[check.verdict]))
    console.print(f"  {check.text}")
    if not any(check.summary.endswith(part.summary) for part in check.parts):  # else a part says it below
        console.print(f"  {check.summary}")
    if check.settle and check.verdict is Verdict.INCONCLUSIVE:
        console.print(f"  to settle it: {check.settle}")
    if check.basis is not None:
        console.print(f"  decided by: {check.basis}")
    for part in check.parts:
        console.print(Text(f"  {part.text}: ") + Text(str(part.verdict), style=_STYLE[part.verdict])
                      + Text(f" - {part.summary}"))
    if check.quantities:
        table = Table(title="quantities", title_justify="left", header_style="bold")
        for column in ("quantity", "value", "bound"):
            table.add_column(column, justify="left" if column == "quantity" else "right")
        for quantity in check.quantities:
            table.add_row(quantity.name, f"{quantity.value:.10g}", f"{quantity.bound:.2g}")
        console.print(table)
    if check.trace is not None:
        console.print(_trace_table(check.trace))
    if check.attribution is not None:
        _print_attribution(console, check.attribution)
    for part in check.parts:  # a second failing half has its own counterexample
        if part.trace is not None and part.trace != check.trace:
            console.print(Text(f"{part.text}:", style="bold"))
            console.print(_trace_table(part.trace))
            if part.attribution is not None:
                _print_attribution(console, part.attribution)
    return buffer.getvalue()


def _trace_table(trace: Trace) -> Table:
    table = Table(title=f"counterexample (probability {trace.probability:.6g})", title_justify="left",
                  header_style="bold")
    table.add_column("step", justify="right")
    table.add_column("state", overflow="fold")
    table.add_column("action")
    table.add_column("P(step)", justify="right")
    for i, step in enumerate(trace.steps):
        table.add_row(str(i), step.state, step.action or "",
                      "" if step.probability is None else f"{step.probability:.6g}")
    return table


def _print_attribution(console: Console, attribution: Attribution) -> None:
    console.print(f"decisive state: {attribution.state}")
    if attribution.alternative is None:
        console.print(f"  the agent takes '{attribution.chosen}'; no alternative of the wanted kind is enabled here")
        return
    tie = " (a tie: both are optimal, so some optimal policy takes it)" if attribution.is_tie else ""
    if attribution.gap is not None and attribution.gap < 0:  # only an unresolved near-tie can be negative
        console.print(f"  '{attribution.chosen}' is within the numerical uncertainty of '{attribution.alternative}' "
                      f"(Q-values differ by {-attribution.gap:.3g})")
    else:
        console.print(f"  the agent prefers '{attribution.chosen}' over '{attribution.alternative}' by "
                      f"{attribution.gap:.6g} in Q-value{tie}")
    table = Table(title="why, by cost term (positive: pushes towards "
                        f"'{attribution.chosen}')", title_justify="left", header_style="bold")
    for column in ("term", "immediate", "future", "total"):
        table.add_column(column, justify="left" if column == "term" else "right")
    for term in attribution.terms:
        table.add_row(term.term, f"{term.immediate:+.6g}", f"{term.future:+.6g}", f"{term.total:+.6g}")
    total = sum(t.total for t in attribution.terms)
    table.add_row("sum", "", "", f"{total:+.6g}")
    console.print(table)
