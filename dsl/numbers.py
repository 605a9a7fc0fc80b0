"""The numbers corrigo's model can hold, and reading them from text without building values it cannot.

A spec's numbers are exact rationals, but the model computes with 64-bit numbers: whole ``int`` values
as int64, everything else as float64. A number is refused when the model could not hold it: an ``int``
outside int64, a real beyond the largest float64 (about 1.8e308), or a real that is not 0 but rounds to 0
as a float64 (below about 2.5e-324). Reading judges the size of a number from its digits and exponent
*before* building it, so ``1e99999999`` is refused at once instead of building 10**99999999, and
``1e-99999999`` instead of a fraction with that denominator.
"""

from __future__ import annotations

import re
import sys
from fractions import Fraction

__all__ = [
    "INT64_LIMIT", "MAX_DIGITS", "NumberError", "counted", "fit_problem", "float_text", "read_number", "shorten",
]

INT64_LIMIT = 2**63  # whole numbers are int64 in the model: -INT64_LIMIT <= n < INT64_LIMIT
FLOAT64_MAX = Fraction(sys.float_info.max)
MAX_DIGITS = 1000  # far more than a float64 keeps (17), far below Python's int-from-text limit (4300)
_FAR = 1000  # 10**1000 and 10**-1000 lie far outside float64's range: numbers beyond are refused unbuilt
_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")  # the grammar's NUMBER: ASCII digits only

_TOO_LARGE = ("is too large for corrigo's 64-bit arithmetic",
              "whole numbers must lie within ±9.2e18, others within ±1.8e308; rescale, e.g. count in thousands")
_ROUNDS_TO_ZERO = ("is not 0 but rounds to 0 in corrigo's 64-bit arithmetic",
                   "64-bit floats hold no number closer to 0 than about 5e-324: write a larger one, or 0 if 0 is meant")


class NumberError(ValueError):
    """A number the model cannot hold; ``what`` completes "'<the number>' ...", ``hint`` says what to do."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint


def fit_problem(value: int | Fraction, is_int: bool) -> NumberError | None:
    """Why the model cannot hold ``value`` as an int64 (``is_int``) or a float64; ``None`` if it can."""
    if is_int:
        return None if -INT64_LIMIT <= value < INT64_LIMIT else NumberError(*_TOO_LARGE)
    if not -FLOAT64_MAX <= value <= FLOAT64_MAX:
        return NumberError(*_TOO_LARGE)
    if value != 0 and float(value) == 0:
        return NumberError(*_ROUNDS_TO_ZERO)
    return None


def read_number(text: str) -> int | Fraction:
    """The exact value of a number written as the language writes them: ``4``, ``0.95``, ``1e-3``, ``2.5E+2``.

    Without a fraction or an exponent it is an ``int``, otherwise a :class:`~fractions.Fraction`. A number
    near the edges of the model's range is returned as it is (:func:`fit_problem` says whether the model
    can hold it); one far beyond them is refused from its digits and exponent, before it is built.

    Raises
    ------
    NumberError
        When the number is beyond 1e1000 or, other than 0, below 1e-1000, or when it has more than
        ``MAX_DIGITS`` significant digits.
    ValueError
        When ``text`` is not a number.

    Examples
    --------
    >>> read_number("4"), read_number("2.5E+2"), read_number("1e-3"), read_number("1e400") == 10**400
    (4, Fraction(250, 1), Fraction(1, 1000), True)
    >>> read_number("1e99999999")
    Traceback (most recent call last):
    ...
    dsl.numbers.NumberError: is too large for corrigo's 64-bit arithmetic
    """
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a number")
    whole, fraction, exponent = match.group(1), match.group(2) or "", match.group(3)
    is_int = not fraction and exponent is None
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return 0 if is_int else Fraction(0)
    if exponent is not None and len(exponent.lstrip("+-").lstrip("0")) > 5:  # |exponent| >= 100000
        raise NumberError(*(_ROUNDS_TO_ZERO if exponent.startswith("-") else _TOO_LARGE))
    scale = (int(exponent) if exponent is not None else 0) - len(fraction)
    size = len(digits) + scale  # the value lies in [10**(size - 1), 10**size)
    if size > _FAR:
        raise NumberError(*_TOO_LARGE)
    if size < -_FAR:
        raise NumberError(*_ROUNDS_TO_ZERO)
    if len(digits) > MAX_DIGITS:
        raise NumberError(f"has {len(digits):,} significant digits, more than the {MAX_DIGITS:,} corrigo reads",
                          "round it: a 64-bit float keeps about 17 significant digits")
    return int(digits) if is_int else int(digits) * Fraction(10) ** scale


def shorten(text: str, width: int = 40) -> str:
    """``text`` cut to ``width`` characters with an ellipsis, for quoting a long number in a message."""
    return text if len(text) <= width else text[:width - 1] + "…"


def counted(n: int, noun: str) -> str:
    """``n noun`` with the noun in the plural unless ``n`` is 1, for the short reprs: ``counted(105, "state")``.

    Examples
    --------
    >>> counted(1, "action"), counted(1200, "cost term")
    ('1 action', '1,200 cost terms')
    """
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def float_text(x: float) -> str:
    """A float as a reader should see it: short (``0.95``), but never rounded to another number (a
    discount of ``0.9999999999999999`` is not 1).

    Examples
    --------
    >>> float_text(0.95), float_text(1.0), float_text(0.9999999999999999)
    ('0.95', '1', '0.9999999999999999')
    """
    short = f"{x:g}"
    return short if float(short) == x else repr(x)
