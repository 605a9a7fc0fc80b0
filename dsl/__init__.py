"""The corrigo spec language: parse and check ``.corrigo`` files into a :class:`Spec`."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from .errors import (CorrigoError, Diagnostic, ResourceLimitError, Source, Span, SpecError, SpecSyntaxError,
                     SpecTypeError)
from .imports import with_imports
from .parser import parse
from .spec import Spec
from .typecheck import typecheck

__all__ = [
    "CorrigoError", "Diagnostic", "ResourceLimitError", "Source", "Span", "Spec", "SpecError",
    "SpecSyntaxError", "SpecTypeError", "check_source", "decode_source", "load", "parse", "read_source", "typecheck",
]


def read_source(path_or_text: str | PathLike[str]) -> Source:
    """The spec text: read from a file when given a path (or a one-line string naming a file), else the text itself.

    A file is decoded as UTF-8 (a leading byte order mark is dropped, as editors do).

    Raises
    ------
    SpecError
        When the file is missing, a directory, or not UTF-8 text.
    """
    if not isinstance(path_or_text, PathLike):
        given = Source("<string>", path_or_text)
        if "\n" in given.text or not _is_file_name(path_or_text):
            return given
    path = Path(path_or_text)
    shown = str(path_or_text)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(Diagnostic(f"no such file '{shown}'", None), Source(shown, "")) from None
    except IsADirectoryError:
        hint = f"name the files, e.g. {shown.rstrip('/')}/*.corrigo"
        raise SpecError(Diagnostic(f"'{shown}' is a directory, not a spec file", None, hint=hint),
                        Source(shown, "")) from None
    except OSError as error:
        raise SpecError(Diagnostic(f"cannot read '{shown}': {error.strerror}", None), Source(shown, "")) from None
    except ValueError:  # a NUL in the name, which only the Python API can pass
        raise SpecError(Diagnostic(f"cannot read {shown!r}: a file name cannot contain a NUL character", None),
                        Source(shown, "")) from None
    return decode_source(data, shown)


def decode_source(data: bytes, shown: str) -> Source:
    """The spec text of ``data`` read from ``shown`` (a file, ``<stdin>``): UTF-8, a leading byte order mark dropped.

    Raises
    ------
    SpecError
        When ``data`` is not UTF-8, located at the first bad byte.
    """
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = Source(shown, data[:error.start].decode("utf-8")).text  # lines counted as the lexer counts them
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise SpecError(Diagnostic("the file is not UTF-8 text", Span(shown, line, column, line, column + 1),
                                   hint="save the spec as UTF-8"), Source(shown, "")) from None
    return Source(shown, text)


def _is_file_name(text: str) -> bool:
    """Whether a one-line string names a spec file rather than holding a spec."""
    if text.endswith(".corrigo"):
        return True
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # too long for a file name, or a NUL in it: spec text
        return False


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
    return check_source(read_source(path_or_text), overrides)


def check_source(source: Source, overrides: Mapping[str, object] | None = None, world: str | None = None) -> Spec:
    """Parse and check the spec of ``source``, with what it imports (:mod:`dsl.imports`); ``world``: the
    scenario it is loaded as, with the actions and events declared `in` it (None: the spec's own world)."""
    module, source = with_imports(parse(source.text, source.path), source,
                                  lambda path: read_source(Path(path)), parse)
    return typecheck(module, source, overrides, world)
