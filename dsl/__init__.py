"""The corrigo spec language: parse and check ``.corrigo`` files into a :class:`Spec`."""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from .errors import (CorrigoError, Diagnostic, ResourceLimitError, Source, Span, SpecError, SpecSyntaxError,
                     SpecTypeError)
from .parser import parse
from .spec import Spec
from .typecheck import typecheck

__all__ = [
    "CorrigoError", "Diagnostic", "ResourceLimitError", "Source", "Span", "Spec", "SpecError",
    "SpecSyntaxError", "SpecTypeError", "load", "parse", "read_source", "typecheck",
]


def read_source(path_or_text: str | PathLike[str]) -> Source:
    """The spec text: read from a file when given a path (or a one-line string naming a file), else the text itself.

    Raises
    ------
    SpecError
        When the file is missing, a directory, or not UTF-8 text.
    """
    is_path = isinstance(path_or_text, PathLike) or ("\n" not in path_or_text and (
        str(path_or_text).endswith(".corrigo") or Path(path_or_text).exists()))
    if not is_path:
        return Source("<string>", str(path_or_text))
    path = Path(path_or_text)
    shown = str(path_or_text)
    if path.is_dir():
        raise SpecError(Diagnostic(f"'{shown}' is a directory, not a spec file", None,
                                   hint=f"name the files, e.g. {shown.rstrip('/')}/*.corrigo"), Source(shown, ""))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(Diagnostic(f"no such file '{shown}'", None), Source(shown, "")) from None
    except OSError as error:
        raise SpecError(Diagnostic(f"cannot read '{shown}': {error.strerror}", None), Source(shown, "")) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise SpecError(Diagnostic("the file is not UTF-8 text", Span(shown, line, column, line, column + 1),
                                   hint="save the spec as UTF-8"), Source(shown, "")) from None
    return Source(shown, text)


def load(path_or_text: str | PathLike[str], overrides: Mapping[str, object] | None = None) -> Spec:
    """Parse and check a spec, from a file path or from its text.

    Parameters
    ----------
    path_or_text
        A path to a ``.corrigo`` file, or the text of a spec.
    overrides
        ``{name: value}`` replacing the values of ``const`` and ``param`` declarations, as ``-D`` does.

    Returns
    -------
    Spec
        The checked spec: names resolved, actions expanded, every expression typed.

    Raises
    ------
    SpecError
        A ``SpecSyntaxError`` or ``SpecTypeError`` carrying every problem found.

    Examples
    --------
    >>> spec = load('''
    ... model coin
    ... discount 0.5
    ... var heads : bool
    ... action flip: 0.5 -> heads' = true
    ...              0.5 -> heads' = false
    ... cost tails = !heads
    ... ''')
    >>> [a.name for a in spec.actions], spec.discount
    (['flip'], Fraction(1, 2))
    """
    source = read_source(path_or_text)
    module = parse(source.text, source.path)
    return typecheck(module, source, overrides)
