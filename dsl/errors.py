"""Errors a user can cause, rendered the way a compiler does: ``file:line:col``, the line, a caret, a hint.

Every error corrigo raises for bad input derives from :class:`CorrigoError`. Errors about the text of a
spec are :class:`SpecError`\\ s: they carry one or more :class:`Diagnostic`\\ s (several independent
mistakes in one file are all reported) and the :class:`Source` they point into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CorrigoError",
    "Diagnostic",
    "ResourceLimitError",
    "Source",
    "Span",
    "SpecError",
    "SpecSyntaxError",
    "SpecTypeError",
]


_LINE_BREAK = re.compile("\r\n?|[\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Source:
    """A spec's text and the path it was read from (``<string>`` for text given directly).

    The text is kept with every line break as ``\\n``: CRLF and lone CR (old Mac files), NEL (U+0085),
    LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029) all end a line, as editors show them.
    The lexer reads this text and counts lines by ``\\n`` alone, so the lines of messages and excerpts
    are the lines it counted: a comment cannot swallow what an editor shows on the next line, and a
    form feed or vertical tab is not a line break.
    """

    path: str
    text: str
    imported: tuple[Source, ...] = field(default=(), repr=False, compare=False)  # the files it imports, all
    lines: tuple[str, ...] = field(init=False, repr=False, compare=False)  # split once: excerpts are many

    def __post_init__(self) -> None:
        text = _LINE_BREAK.sub("\n", self.text)
        object.__setattr__(self, "text", text)  # frozen: set once, here
        object.__setattr__(self, "lines", tuple(text.split("\n")))

    def line(self, number: int) -> str:
        """The 1-based line ``number`` without its line break ('' past the end)."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    def of(self, span: Span) -> Source:
        """The source ``span`` points into: this file or one it imports."""
        return next((s for s in self.imported if s.path == span.path), self) if span.path != self.path else self

    def text_at(self, span: Span) -> str:
        """The code under ``span`` on one line, for quoting it in messages and reports (``check.text``).

        Comments are dropped and each run of blanks and line breaks becomes one space, so a check
        written over several lines reads as it parses, and a comment inside it cannot reach a report.
        Code quoted this way is an expression or a property, which holds no string: every ``#`` in it
        starts a comment.
        """
        lines = list(self.of(span).lines[span.line - 1:span.end_line])
        if not lines:
            return ""
        lines[-1] = lines[-1][:span.end_column - 1]
        lines[0] = lines[0][span.column - 1:]
        return " ".join(" ".join(line.partition("#")[0] for line in lines).split())


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file, 1-based and end-exclusive in the column, like lark's positions."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One located message: what was found, what was expected, and what to change."""

    message: str
    span: Span | None
    hint: str | None = None
    notes: tuple[str, ...] = ()

    def render(self, source: Source | None) -> str:
        """``path:line:col: error: message``, then the source line with a caret under the span."""
        gutter = "    "
        if self.span is None:
            out = [f"{source.path if source else '<input>'}: error: {self.message}"]
        else:
            out = [f"{self.span}: error: {self.message}"]
            if source is not None and source.of(self.span).line(self.span.line):
                out.extend(_excerpt(source.of(self.span), self.span))
                gutter = " " * (len(str(self.span.line)) + 2)  # '=' under the excerpt's '|'
        out.extend(f"{gutter}= note: {note}" for note in self.notes)
        if self.hint:
            out.append(f"{gutter}= hint: {self.hint}")
        return "\n".join(out)


# control characters in an excerpt are drawn as their Unicode pictures (ESC as U+241B), one column each, so
# that a stray byte in a comment neither moves the caret nor reaches a terminal or a report as a control
_VISIBLE = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421} | {code: 0xFFFD for code in range(0x80, 0xA0)}


def _excerpt(source: Source, span: Span) -> list[str]:
    """The source line of ``span`` with carets under it (to the end of the line if it spans lines)."""
    text = source.line(span.line).expandtabs(1).translate(_VISIBLE)
    number = str(span.line)
    gutter = " " * (len(number) + 2)
    end = span.end_column if span.end_line == span.line else len(text) + 1
    width = max(1, min(end, len(text) + 1) - span.column)
    return [
        f"{gutter}|",
        f" {number} | {text}",
        f"{gutter}| {' ' * (span.column - 1)}{'^' * width}",
    ]


class CorrigoError(Exception):
    """Root of every error corrigo raises on purpose; the CLI prints these without a traceback."""


class ResourceLimitError(CorrigoError):
    """A configured limit (states, iterations, memory) was reached before the work was done."""


class SpecError(CorrigoError, ValueError):
    """A mistake in a spec, with every diagnostic found and the source they point into."""

    def __init__(self, diagnostics: str | Diagnostic | list[Diagnostic] | tuple[Diagnostic, ...],
                 source: Source | None = None) -> None:
        if isinstance(diagnostics, str):
            diagnostics = Diagnostic(diagnostics, None)
        if isinstance(diagnostics, Diagnostic):
            diagnostics = (diagnostics,)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        """All diagnostics in source order, each with its excerpt."""
        return "\n\n".join(d.render(self.source) for d in self.diagnostics)

    def with_source(self, source: Source) -> SpecError:
        """The same error, rendered against ``source`` (for errors raised before the text was known)."""
        return type(self)(self.diagnostics, source)

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable across processes
        return (type(self), (self.diagnostics, self.source))


class SpecSyntaxError(SpecError):
    """The text does not follow the grammar of the language."""


class SpecTypeError(SpecError):
    """The text parses but does not make sense: unknown names, type errors, values outside domains."""

