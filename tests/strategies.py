"""Hypothesis strategies shared by the test suite: small random MDPs as arrays (see ``from_arrays``), and
small random spec texts with checks of every kind (see ``spec_texts``)."""

from __future__ import annotations

import re

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

import dsl
import mdp
from dsl.spec import Spec
from exact_reference import ExactChecks, InvalidModel
from mdp.model import ModelError, TabularMDP, from_arrays

__all__ = ["MDPArrays", "exact_checks", "mdp_arrays", "spec_texts"]


@dataclass(frozen=True)
class MDPArrays:
    """The arrays a random MDP was built from, and the model: ``transitions[a]`` is ``(n, n)``."""

    transitions: tuple[np.ndarray, ...]
    costs: dict[str, tuple[np.ndarray, ...]]
    discount: float
    terminal: np.ndarray
    initial: int

    def build(self) -> TabularMDP:
        return from_arrays(list(self.transitions), {t: list(v) for t, v in self.costs.items()}, self.discount,
                           initial=self.initial, terminal=self.terminal)


@st.composite
def mdp_arrays(draw: st.DrawFn, max_states: int = 4, max_actions: int = 3, ssp: bool = False,
               terms: int = 1) -> MDPArrays:
    """A small MDP whose probabilities are ``w / sum(w)`` for small integer weights and whose costs are small
    integers (sometimes halves or negative, for discount < 1), so exact ties are common.

    With ``ssp=True`` the discount is 1, the last state is terminal, costs are positive and every other
    state has an action ``escape`` to the terminal state, so a proper policy exists and no loop is optimal.
    Actions are sometimes duplicated (same row twice) to force exact ties.
    """
    n = draw(st.integers(1 if not ssp else 2, max_states))
    n_actions = draw(st.integers(1, max_actions))
    discount = 1.0 if ssp else draw(st.sampled_from([0.5, 0.9, 0.95, 0.3, 0.99]))
    terminal = np.zeros(n, dtype=bool)
    if ssp:
        terminal[-1] = True
    elif draw(st.booleans()):
        terminal[draw(st.integers(0, n - 1))] = True
    weights = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    transitions: list[np.ndarray] = []
    available = np.zeros((n_actions, n), dtype=bool)
    duplicate = np.zeros((n_actions + 1, n), dtype=bool)
    for a in range(n_actions):
        matrix = np.zeros((n, n))
        for s in range(n):
            if a > 0 and draw(st.integers(0, 3)) == 0:
                continue  # action not available here
            if a > 0 and draw(st.integers(0, 5)) == 0:
                matrix[s] = transitions[0][s]  # a duplicate of action 0 (costs copied below): an exact tie
                duplicate[a, s] = True
            else:
                w = np.array(draw(weights), dtype=float)
                if w.sum() == 0:
                    w[draw(st.integers(0, n - 1))] = 1.0
                matrix[s] = w / w.sum()
            available[a, s] = matrix[s].sum() > 0
        if a == 0:
            matrix[~(matrix.sum(axis=1) > 0), 0] = 1.0
            available[0] = True
        transitions.append(matrix)
    if ssp:
        escape = np.zeros((n, n))
        escape[:, -1] = 1.0
        transitions.append(escape)
    cost_values = st.sampled_from([1.0, 2.0, 3.0, 0.5, 1.5]) if ssp else \
        st.sampled_from([0.0, 1.0, 2.0, -1.0, 0.5, 3.0, 1.0])
    costs: dict[str, tuple[np.ndarray, ...]] = {}
    for t in range(terms):
        vectors = [np.array(draw(st.lists(cost_values, min_size=n, max_size=n))) for _ in transitions]
        if ssp:
            vectors[-1] = vectors[-1] + 4.0  # escaping is allowed but rarely cheapest
        for a in range(1, len(vectors)):
            vectors[a] = np.where(duplicate[a], vectors[0], vectors[a])
        costs[f"term{t}"] = tuple(vectors)
    initial = draw(st.integers(0, n - 1))
    return MDPArrays(tuple(transitions), costs, discount, terminal, initial)


# --- spec texts for the differential test against the exact reference -----------------------------------

# weights chosen so that exact ties (equal weights, `0.3` and `0.1 + 0.2`, sums through the discount) and
# near-ties (weights 1e-15 or 1e-17 apart, `1/3` and its float) are common
WEIGHTS = ("0", "1", "2", "10", "0.5", "1/3", "2/3", "0.1", "0.2", "0.3", "(0.1 + 0.2)", "0.3333333333333333",
           "(1 + 1e-15)", "(1 - 1e-15)", "(1 + 1e-17)", "1e-15", "(1 + 1e-12)")
NEGATIVE_WEIGHTS = ("-1", "-0.5", "-(1/3)", "-(0.1 + 0.2)")
# a second weight equal to a first, or nearly
NUDGES = ("", "", " + 1e-15", " - 1e-15", " + 1e-17", " - 1e-17", " + 1e-12", " - 1e-10")
POSITIVE = ("1", "1/3", "0.5", "0.1", "(0.1 + 0.2)")  # every step's cost with discount 1: no loop is free
FREE_WEIGHTS = ("0", "0", "1", "1/3", "1e-17", "1e-15", "1e-12")  # discount 1 with free steps: loops nearly free
DISTRIBUTIONS = (("1",), ("1",), ("1/2", "1/2"), ("1/3", "2/3"), ("0.1", "0.9"), ("0.25", "0.75"),
                 ("1/3", "1/3", "1/3"), ("0.1", "0.2", "0.7"), ("1/3", "1 - 1/3"))
# a threshold relative to the true value v: on it, just off it (floats cannot tell), the nearest float, off it
# by a relative 1e-12 or 1e-10 (about the solver's certified bounds: only its certificate can tell), far
OFFSETS = ("0", "0", "0", "1e-15", "-1e-15", "1e-17", "-1e-17", "float", "1e-12 relative", "-1e-10 relative",
           "1e-10 relative", "0.1", "-0.1")
COMPARISONS = ("<", "<=", ">", ">=")
CHECKS_MARK = "# checks\n"


def rational(q: Fraction) -> str:
    """An exact rational as a spec writes it: ``3.0``, ``(1.0 / 3.0)``, ``-(2.0 / 7.0)`` (reals, so whole
    numbers of any size stay within the language's limits)."""
    body = f"{abs(q.numerator)}.0" if q.denominator == 1 else f"({abs(q.numerator)}.0 / {q.denominator}.0)"
    return f"-{body}" if q < 0 else body


Condition = tuple[str, Callable[[int, bool], bool]]  # a condition's text, and its value at (x, b)


@st.composite
def conditions(draw: st.DrawFn, top: int, has_b: bool, compound: bool = True) -> Condition:
    """A condition on ``x : 0..top`` (and ``b : bool``), with its meaning."""
    v = draw(st.integers(0, top))
    atoms: list[Condition] = [(f"x == {v}", lambda x, b: x == v), (f"x != {v}", lambda x, b: x != v),
                              (f"x < {max(v, 1)}", lambda x, b: x < max(v, 1)), (f"x >= {v}", lambda x, b: x >= v)]
    if has_b:
        atoms += [("b", lambda x, b: b), ("!b", lambda x, b: not b)]
    text, holds = draw(st.sampled_from(atoms))
    if compound and draw(st.integers(0, 3)) == 0:
        other, also = draw(conditions(top, has_b, compound=False))
        if draw(st.booleans()):
            return f"{text} && {other}", lambda x, b: holds(x, b) and also(x, b)
        return f"{text} || {other}", lambda x, b: holds(x, b) or also(x, b)
    return text, holds


@st.composite
def state_conditions(draw: st.DrawFn, top: int, has_b: bool, compound: bool = True) -> str:
    """The text of a condition on ``x : 0..top`` (and ``b : bool``)."""
    return draw(conditions(top, has_b, compound))[0]


@st.composite
def _outcome(draw: st.DrawFn, top: int, has_b: bool, moves_x: bool = False) -> str:
    moves = [f"x' = min(x + 1, {top})", f"x' = max(x - 1, 0)", "x' = 0", f"x' = {top}"]
    updates = [draw(st.sampled_from(moves if moves_x else [None, *moves]))]
    if has_b:
        updates.append(draw(st.sampled_from([None, "b' = true", "b' = false", "b' = !b"])))
    return ", ".join(u for u in updates if u) or "skip"


@st.composite
def _body(draw: st.DrawFn, top: int, has_b: bool, moves_x: bool = False) -> str:
    distribution = draw(st.sampled_from(DISTRIBUTIONS))
    if len(distribution) == 1:
        return draw(_outcome(top, has_b, moves_x))
    return " ".join(f"{p} -> {draw(_outcome(top, has_b, moves_x))}" for p in distribution)


@st.composite
def _weight(draw: st.DrawFn, negative: bool) -> str:
    return draw(st.sampled_from(WEIGHTS + (NEGATIVE_WEIGHTS if negative else ())))


@st.composite
def model_texts(draw: st.DrawFn) -> str:
    """The model part of a random small spec: ``x : 0..top`` (and sometimes ``b : bool``), at most 8 states;
    2-4 actions ``a0..a3`` with guards and probabilistic branches, often copies of each other (so the
    costs alone tell them apart); sometimes one or two events and a terminal condition; 1-3 cost terms whose
    weights make ties and near-ties common (sometimes through a ``param``); one intent ``goal``.

    With discount 1 the terminal states are ``x == top`` and ``a0`` always moves towards them. Mostly every
    step costs something, so the spec is valid; a quarter are *free*: some steps cost nothing (or 1e-17),
    so an optimal policy may loop forever (a located error) or nearly (a loop 1e-17 from optimal)."""
    discount = draw(st.sampled_from(["0.5", "0.9", "0.95", "1"]))
    total = discount == "1"
    free = total and draw(st.integers(0, 3)) == 0
    has_b = not free and draw(st.booleans())
    top = draw(st.integers(1, 3 if has_b or free else 7))
    x0, b0 = draw(st.integers(0, top - 1 if total else top)), has_b and draw(st.booleans())
    lines = ["model random", f"discount {discount}", f"var x : 0..{top} = {x0}"]
    if has_b:
        lines.append(f"var b : bool = {str(b0).lower()}")
    n_actions = draw(st.integers(2, 3 if free else 4))  # free: the reference enumerates every policy
    bodies: list[str] = []
    for a in range(n_actions):
        if a == 0 and total:
            body = f"x' = min(x + 1, {top})"
        elif a == n_actions - 1 and free:
            body = "skip"  # a loop: optimal if it costs nothing, nearly if 1e-17
        elif a > 0 and draw(st.integers(0, 2)) == 0:
            body = draw(st.sampled_from(bodies))  # the same outcomes as an earlier action: a tie unless costs differ
        else:
            body = draw(_body(top, has_b, moves_x=a == 0))  # a0 moves: few one-state models
        bodies.append(body)
        guard = "" if a == 0 else draw(st.sampled_from(["", f" when {draw(state_conditions(top, has_b, False))}"]))
        lines.append(f"action a{a}{guard}: {body}")
    updates = ["b' = !b", "b' = true"] if has_b else ["x' = max(x - 1, 0)", "x' = 0"]
    for e in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
        branches = draw(st.sampled_from([("0.1",), ("1/3",), ("0.5",), ("0.1", "0.2"), ("1/3", "1/3")]))
        body = " ".join(f"{p} -> {draw(st.sampled_from(updates))}" for p in branches)
        lines.append(f"event e{e} when {draw(state_conditions(top, has_b))}: {body}")
    if total:
        lines.append(f"terminal x == {top}")
    elif draw(st.booleans()):
        text, holds = draw(conditions(top, has_b))
        if not holds(x0, b0) or draw(st.integers(0, 9)) == 0:  # rarely in the initial state: a one-state model
            lines.append(f"terminal {text}")
    terms = []
    kinds = draw(st.lists(st.sampled_from(["effort", "place", "base"]), min_size=1, max_size=3, unique=True))
    if free:
        kinds = ["effort"] + [kind for kind in kinds if kind == "place"]
    elif total and "base" not in kinds:
        kinds.append("base")
    for kind in kinds:
        if kind == "effort" and free:
            terms.append("cost effort = " + " + ".join(f"{draw(st.sampled_from(FREE_WEIGHTS))} * [a{a}]"
                                                      for a in range(n_actions)))
        elif kind == "effort":
            base = draw(_weight(not total))
            if draw(st.integers(0, 3)) == 0:  # a weight the sweep could vary: at its value, like a constant
                lines.append(f"param w = {base} in [-10, 100]")
                base = "w"
            parts = []
            for a in range(n_actions):
                weight = f"({base}{draw(st.sampled_from(NUDGES))})" if draw(st.booleans()) else draw(_weight(not total))
                parts.append(f"{weight} * [a{a}]")
            terms.append("cost effort = " + " + ".join(parts))
        elif kind == "place":
            weight = draw(st.sampled_from(FREE_WEIGHTS)) if free else draw(_weight(not total))
            terms.append(f"cost place = {weight} * ({draw(state_conditions(top, has_b))})")
        else:
            terms.append(f"cost base = {draw(st.sampled_from(POSITIVE)) if total else draw(_weight(True))}")
    lines += terms
    intent = (f"{draw(_weight(not total))} * ({draw(state_conditions(top, has_b))}) + "
              f"{draw(_weight(not total))} * [a{draw(st.integers(0, n_actions - 1))}]")
    positive = total and not (free and draw(st.booleans()))  # free: the intent may cost nothing on a loop too
    lines.append(f"intent goal = {intent}" + (f" + {draw(st.sampled_from(POSITIVE))}" if positive else ""))
    return "\n".join(lines) + "\n"


@st.composite
def check_texts(draw: st.DrawFn, model_text: str) -> list[tuple[str, str]]:
    """``(check, threshold offset)`` pairs: every check kind but the sampled ones, once each, with ``{}`` where
    the threshold goes (the offset is relative to the true value, ``""`` for checks without one)."""
    top = int(model_text.split("var x : 0..")[1].split(" ")[0])
    has_b = "var b : bool" in model_text
    n_actions = model_text.count("\naction ")
    terms = [line.split()[1] for line in model_text.splitlines() if line.startswith("cost ")]

    def condition() -> str:
        return draw(state_conditions(top, has_b))

    def bound() -> str:
        return draw(st.sampled_from(COMPARISONS)) + " {}"

    action = f"a{draw(st.integers(0, n_actions - 1))}"
    comply = draw(st.lists(st.integers(0, n_actions - 1), min_size=1, max_size=2, unique=True))
    mechanism = draw(st.sampled_from(["x", "b", "x, b"] if has_b else ["x"]))
    checks = [
        f"cost {bound()}",
        f"cost[{draw(st.sampled_from(terms))}] {bound()}",
        f"P {bound()} [ F {condition()} ]",
        f"P {bound()} [ ({condition()}) U ({condition()}) ]",
        f"P {bound()} [ G {condition()} ]",
        f"P {bound()} [ F<={draw(st.sampled_from([0, 1, 2, 3, 4, 10, 30]))} ({condition()}) ]",
        f"P {bound()} [ X {condition()} ]",
        f"regret(goal) {bound()}",
        f"accepts_shutdown(request = {condition()}, comply = [{', '.join(f'a{a}' for a in comply)}], "
        f"mechanism = [{mechanism}])",
        f"never {condition()}",
        f"always {condition()}",
        draw(st.sampled_from([f"never [{action}]", f"never ({condition()} && [{action}])",
                              f"always ({condition()} -> [{action}])"])),
    ]
    return [(check, draw(st.sampled_from(OFFSETS)) if "{}" in check else "") for check in checks]


def _threshold(value: Fraction, offset: str, probability: bool) -> Fraction:
    if offset == "float":
        moved = Fraction(float(value))
    elif offset.endswith(" relative"):
        moved = value + Fraction(offset.split()[0]) * max(Fraction(1), abs(value))
    else:
        moved = value + Fraction(offset)
    return value if probability and not 0 <= moved <= 1 else moved


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    """A random small spec (:func:`model_texts`) with one check of every kind (but the sampled ones) whose
    threshold lies on the true value, 1e-15 or 1e-17 off it, on its nearest float, or 0.1 off it (the true
    values from :class:`exact_reference.ExactChecks`). A spec whose model is invalid (a located
    :class:`~mdp.model.ModelError`) keeps thresholds 0."""
    model_text = draw(model_texts())
    checks = draw(check_texts(model_text))
    skeleton = model_text + CHECKS_MARK + "".join(f"check c{i} : {c.format('0')}\n" for i, (c, _) in enumerate(checks))
    spec = dsl.load(skeleton)
    try:
        reference = exact_checks(model_text, spec)
    except (ModelError, InvalidModel):
        return skeleton
    lines = []
    for i, ((text, offset), check) in enumerate(zip(checks, spec.checks)):
        value = reference.quantity(check)
        threshold = "" if value is None else rational(_threshold(value, offset, text.startswith("P ")))
        lines.append(f"check c{i} : {text.format(threshold)}\n")
    return model_text + CHECKS_MARK + "".join(lines)


_REFERENCES: dict[str, ExactChecks] = {}


def exact_checks(model_text: str, spec: Spec) -> ExactChecks:
    """The exact reference of a generated spec whose model part is ``model_text`` (the model does not depend
    on the checks; cached, so the strategy and the test share it)."""
    if model_text not in _REFERENCES:
        if len(_REFERENCES) >= 8:
            _REFERENCES.clear()
        _REFERENCES[model_text] = ExactChecks(mdp.compile(spec, exact=True))
    return _REFERENCES[model_text]


def with_horizon(text: str, steps: int) -> str:
    """A generated spec or model text with episodes of ``steps`` steps (``horizon``, after its discount)."""
    return re.sub(r"^(discount .*)$", rf"\1\nhorizon {steps}", text, count=1, flags=re.M)
