"""Critic files in NumPy's ``.npy`` format: a trained network's outputs, tabulated over the states.

Two layouts (docs/language.md, "critic and agent"):

- dense: one axis per state variable in declaration order, as long as the variable's domain (an int ``lo..hi``
  at ``value - lo``, a bool false/true at 0/1, an enum in declared order); NaN marks a state not listed;
- structured: a field per variable (ints and bools as numbers, enums as the names the spec gives their
  values) and a field ``value``, one entry per state, as the columns of a CSV file.

Values become the exact fractions of their float64s. numpy is imported inside :func:`read_npy_critic`: the
spec language needs it only for these files.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .spec import BoolDomain, EnumDomain, Variable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["NpyCriticError", "read_npy_critic"]

Table = tuple[tuple[tuple[int, ...], Fraction], ...]  # (state codes, value), as Critic.table


class NpyCriticError(Exception):
    """What is wrong with the file and what to change; the caller locates it at the path in the spec (the
    file is binary, so there is no line to point at)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def read_npy_critic(path: str, variables: Sequence[Variable]) -> Table:
    """The listed states and their values in the ``.npy`` file at ``path`` (dense or structured).

    Raises
    ------
    OSError
        The file cannot be read.
    NpyCriticError
        It is no ``.npy`` file, holds Python objects, or does not fit ``variables``.
    """
    array = _load(path)
    if array.dtype.names is None:
        codes, values = _dense(array, variables)
    else:
        codes, values = _structured(array, variables)
    return tuple((tuple(row), Fraction(value)) for row, value in zip(codes.tolist(), values.tolist()))


def _load(path: str) -> npt.NDArray[Any]:
    """The array, never unpickling: an object array is refused from its header, before its data is read."""
    import numpy as np

    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
        except ValueError:
            raise NpyCriticError("the file is not a NumPy .npy file",
                                 "save the array with numpy.save (a .npz archive is not read)") from None
        try:
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            _, _, dtype = read_header(handle)
            if dtype.hasobject:
                raise NpyCriticError("the array holds Python objects, which corrigo does not unpickle",
                                     "save numbers (for enums in a structured array, strings): "
                                     "e.g. numpy.save(path, values.astype(float))")
            handle.seek(0)
            return np.lib.format.read_array(handle, allow_pickle=False)
        except ValueError:  # not numpy's words: they vary between versions
            raise NpyCriticError("the .npy file is damaged: its data does not match its header",
                                 "save the array again with numpy.save") from None


def _dense(array: npt.NDArray[Any], variables: Sequence[Variable]
           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """An axis per variable; the codes of each non-NaN entry are its indices plus the domain's ``lo``."""
    import numpy as np

    expected = tuple(v.domain.size for v in variables)
    if array.shape != expected:
        axes = ", ".join(f"{v.name} {v.domain} ({v.domain.size})" for v in variables) or "none: no variables"
        raise NpyCriticError(f"the array has shape {array.shape}; expected {expected}, an axis per variable: {axes}",
                             "index an int `lo..hi` by value - lo, a bool by 0/1, an enum in declared order, "
                             "and put NaN where there is no value")
    if array.dtype.kind not in "fiu":
        raise NpyCriticError(f"the array holds {_kind(array.dtype)}; expected numbers",
                             "save the values as floats: values.astype(float)")
    values = array.astype(np.float64)
    listed = np.argwhere(~np.isnan(values))  # (m, n_variables) indices, in C order
    codes = listed + np.array([v.domain.lo for v in variables], dtype=np.int64)
    return _finite(codes, values[tuple(listed.T)], variables)


def _structured(array: npt.NDArray[Any], variables: Sequence[Variable]
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """A field per variable and ``value``; NaN values are states not listed."""
    import numpy as np

    entries = array.reshape(-1)
    names = array.dtype.names or ()
    wanted = [v.name for v in variables] + ["value"]
    extra = [n for n in names if n not in wanted]
    missing = [w for w in wanted if w not in names]
    if extra or missing:
        found = f"has a field '{extra[0]}' that is no variable" if extra else \
            f"lacks {', '.join(repr(m) for m in missing)}"
        raise NpyCriticError(f"the structured array {found}", f"the fields are the variables and value: {', '.join(wanted)}")
    value = entries["value"]
    if value.dtype.kind not in "fiu":
        raise NpyCriticError(f"the field 'value' holds {_kind(value.dtype)}; expected numbers",
                             "save the values as floats")
    keep = ~np.isnan(value.astype(np.float64))
    entries, values = entries[keep], value[keep].astype(np.float64)
    at = np.flatnonzero(keep)  # the index of each kept entry in the file
    codes = np.column_stack([_codes(entries[v.name], v, at) for v in variables]) if variables else \
        np.zeros((len(entries), 0), dtype=np.int64)
    _, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    again = np.flatnonzero(first[inverse.reshape(-1)] != np.arange(len(codes)))
    if again.size:
        twice = again[0]
        raise NpyCriticError(f"the entries at index {at[first[inverse.reshape(-1)[twice]]]} and {at[twice]} both list "
                             f"{_described(codes[twice], variables)}", "give each state one entry")
    return _finite(codes, values, variables)


def _codes(column: npt.NDArray[Any], variable: Variable, at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The codes of one field: ints as values, bools as bools or 0/1, enums as the names of their values."""
    import numpy as np

    domain, kind = variable.domain, column.dtype.kind
    if isinstance(domain, EnumDomain):
        if kind not in "US":
            raise NpyCriticError(f"the field '{variable.name}' holds {_kind(column.dtype)}; expected the names of its values "
                                 f"({domain})", f"save the values as strings, e.g. numpy.array({list(domain.values)!r})")
        text = column.astype(str)
        matches = text[:, None] == np.array(domain.values)[None, :]
        bad = np.flatnonzero(~matches.any(axis=1))
        codes = matches.argmax(axis=1)
    else:
        if kind not in ("biu" if isinstance(domain, BoolDomain) else "iu"):
            wanted = "bools (or 0 and 1)" if isinstance(domain, BoolDomain) else "integers"
            raise NpyCriticError(f"the field '{variable.name}' holds {_kind(column.dtype)}; expected {wanted}",
                                 f"save '{variable.name}' as {wanted}")
        text = column.astype(np.int64).astype(str)
        codes = column.astype(np.int64)
        bad = np.flatnonzero((codes < domain.lo) | (codes > domain.hi))
    if bad.size:
        raise NpyCriticError(f"the entry at index {at[bad[0]]}: '{text[bad[0]]}' is not a value of '{variable.name}' "
                             f"({domain})", "list only states of the spec")
    return codes.astype(np.int64)


def _finite(codes: npt.NDArray[np.int64], values: npt.NDArray[np.float64], variables: Sequence[Variable]
            ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The codes and values, once no value is infinite (NaN was taken as not listed)."""
    import numpy as np

    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        raise NpyCriticError(f"the value at {_described(codes[infinite[0]], variables)} is {values[infinite[0]]:g}",
                             "give a finite number, or NaN where the critic has no value")
    return codes, values


def _described(codes: npt.NDArray[np.int64], variables: Sequence[Variable]) -> str:
    """``x=2, room=hall``: a state as messages name it."""
    return ", ".join(f"{v.name}={v.domain.decode(c)}" for v, c in zip(variables, codes.tolist())) or "the only state"


def _kind(dtype: np.dtype[Any]) -> str:
    """What an array's entries are, in words (``<U3`` is strings)."""
    words = {"b": "bools", "i": "integers", "u": "integers", "f": "floats", "c": "complex numbers", "U": "strings",
             "S": "bytes", "M": "dates", "m": "time spans", "V": "raw bytes"}
    return f"{words.get(dtype.kind, 'values')} ({dtype})"
