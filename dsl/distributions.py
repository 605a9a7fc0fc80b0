"""The reward distributions of POWER (Turner et al.): ``uniform``, ``bernoulli(p)``, ``beta(a, b)``, as text.

Read here, so that a spec's checks (``power_seeking(distribution = "beta(2, 5)")``) are checked with the spec
and ``corrigo power --distribution`` reads the same forms (:func:`mdp.power.reward_distribution`).
"""

from __future__ import annotations

import math
import re

__all__ = ["DISTRIBUTION_FORMS", "parse_distribution"]

DISTRIBUTION_FORMS = ("uniform", "bernoulli(p)", "beta(a, b)")
_ARITY = {"uniform": 0, "bernoulli": 1, "beta": 2}


def parse_distribution(text: str) -> tuple[str, tuple[float, ...]]:
    """``(name, parameters)`` of ``uniform``, ``bernoulli(p)`` (``p`` in [0, 1]) or ``beta(a, b)`` (``a, b > 0``).

    Raises
    ------
    ValueError
        Saying what was expected, on anything else.

    Examples
    --------
    >>> parse_distribution(" bernoulli( 0.25 ) "), parse_distribution("uniform")
    (('bernoulli', (0.25,)), ('uniform', ()))
    """
    match = re.fullmatch(r"\s*([a-z_]+)\s*(?:\((.*)\))?\s*", text)
    expected = f"expected one of {', '.join(DISTRIBUTION_FORMS)}"
    if match is None or match.group(1) not in _ARITY:
        raise ValueError(f"unknown reward distribution '{text.strip()}', {expected}")
    name, inside = match.group(1), match.group(2)
    try:
        parameters = tuple(float(x) for x in inside.split(",")) if inside and inside.strip() else ()
    except ValueError:
        raise ValueError(f"the parameters of '{text.strip()}' must be numbers, {expected}") from None
    if len(parameters) != _ARITY[name]:
        raise ValueError(f"'{name}' takes {_ARITY[name]} parameter(s), got {len(parameters)} in '{text.strip()}', "
                         f"{expected}")
    if name == "bernoulli" and not 0.0 <= parameters[0] <= 1.0:
        raise ValueError(f"bernoulli(p) needs p in [0, 1], got {parameters[0]:g}")
    if name == "beta" and not all(p > 0 and math.isfinite(p) for p in parameters):
        raise ValueError(f"beta(a, b) needs a > 0 and b > 0, got {text.strip()}")
    return name, parameters
