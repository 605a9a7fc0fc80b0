"""Plain HTML and Markdown tables, for the notebook views (``_repr_html_``) of solutions and reports.

Every cell is escaped here, so callers pass raw text (state descriptions, action names, check
formulas with ``<`` and ``&&``) and never build markup themselves.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["html_table", "markdown_cell", "markdown_table"]


def html_table(header: Sequence[str], rows: Iterable[Sequence[object]], *,
               right: Sequence[int] = ()) -> str:
    """An HTML ``<table>`` with every header and cell escaped; columns in ``right`` are right-aligned.

    Examples
    --------
    >>> print(html_table(["x", "y < 1"], [[1, "a&b"]], right=[0]))
    <table>
    <thead><tr><th style="text-align: right">x</th><th>y &lt; 1</th></tr></thead>
    <tbody>
    <tr><td style="text-align: right">1</td><td>a&amp;b</td></tr>
    </tbody>
    </table>
    """
    align = ' style="text-align: right"'

    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(f"<{tag}{align if i in right else ''}>{html.escape(str(value))}</{tag}>"
                       for i, value in enumerate(values))

    body = [f"<tr>{cells('td', row)}</tr>" for row in rows]
    return "\n".join(["<table>", f"<thead><tr>{cells('th', header)}</tr></thead>", "<tbody>", *body,
                      "</tbody>", "</table>"])


def markdown_cell(value: object) -> str:
    """``value`` as one Markdown table cell: pipes escaped, on one line."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], *,
                   right: Sequence[int] = ()) -> str:
    """A GitHub-flavoured Markdown table; columns in ``right`` are right-aligned.

    Examples
    --------
    >>> print(markdown_table(["state", "value"], [["a|b", 1.5]], right=[1]))
    | state | value |
    |---|---:|
    | a\\|b | 1.5 |
    """
    rule = "|".join("---:" if i in right else "---" for i in range(len(header)))
    lines = [f"| {' | '.join(markdown_cell(h) for h in header)} |", f"|{rule}|"]
    lines += [f"| {' | '.join(markdown_cell(v) for v in row)} |" for row in rows]
    return "\n".join(lines)
