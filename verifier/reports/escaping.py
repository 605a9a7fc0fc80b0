"""Text from a spec, made safe to show: invisible and control characters become visible escapes.

Reports carry text the spec's author wrote (a check's property with its comments, file paths, names)
into terminals, CI logs, XML files and pull request comments. An ESC starts a terminal control
sequence, a NUL or ESC makes an XML file unreadable, a bidi override or a line separator can hide text
from a reviewer (Trojan Source). :func:`printable` turns each such character into the escape Python
would write for it, so the reader sees that it is there; each format then escapes its own syntax.
"""

from __future__ import annotations

import dataclasses
import enum
import unicodedata
from typing import Any, TypeVar, cast

__all__ = ["printable", "printable_strings"]

T = TypeVar("T")

# control (Cc), format (Cf: bidi overrides, zero-width characters), surrogate (Cs), line and paragraph
# separators (Zl, Zp); U+FFFE and U+FFFF are not characters at all (and not allowed in XML 1.0)
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_KEPT = frozenset("\t\n")


def printable(text: str) -> str:
    r"""``text`` with every control, format, surrogate and separator character (but tab and newline) escaped.

    The escapes are Python's (``\x1b``, ``\u202e``, ``\U000e0041``), so the output holds only
    characters that display as themselves; it is idempotent.

    Examples
    --------
    >>> print(printable("never x # \x1b[2J\x00 \u202eevil\n"))
    never x # \x1b[2J\x00 \u202eevil
    <BLANKLINE>
    """
    if text.isprintable():
        return text
    return "".join(_escape(character) for character in text)


def _escape(character: str) -> str:
    if character in _KEPT or (unicodedata.category(character) not in _HIDDEN and character not in "\ufffe\uffff"):
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable_strings(value: T) -> T:
    """``value`` (a report, a check result, ...) with :func:`printable` applied to every string in it.

    Walks frozen dataclasses and tuples, so a renderer that shows every field as plain text makes the
    whole report safe in one call; enums (verdicts) and numbers are left as they are.
    """
    return cast(T, _map(value))  # _map rebuilds what it is given with the same types


def _map(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, tuple):
        return tuple(_map(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{field.name: _map(getattr(value, field.name))
                                             for field in dataclasses.fields(value) if field.init})
    return value
