"""Renderers of a :class:`~verifier.sweep.SweepResult`: plain text, versioned JSON and Markdown.

One param: every cell as an exact interval. More: the regions grouped by their pattern of verdicts,
with the share of the box each pattern covers (two params) and a point of it near the spec's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ..results import Verdict
from ..sweep import Cell, SweepResult, describe_cell, format_number, format_point, polygon_of, runs

__all__ = ["SWEEP_SCHEMA_VERSION", "render_sweep_markdown", "render_sweep_text", "sweep_to_json"]

SWEEP_SCHEMA_VERSION = 1

_SHORT = {Verdict.HOLDS: "HOLDS", Verdict.FAILS: "FAILS", Verdict.INCONCLUSIVE: "INCONCL."}


def render_sweep_text(result: SweepResult) -> str:
    """The sweep for a terminal: where each check holds, the regions, odd boundary faces, margins."""
    lines = _header(result)
    width = max(len(name) for name, _ in result.checks) if result.checks else 0
    lines.append("")
    lines.append("where each check holds")
    for name, _ in result.checks:
        lines.append(f"  {name:<{width}}  {result.descriptions[name]}")
    lines.append("")
    rows = _rows(result)
    headers = ["region" if len(result.params) == 1 else "pieces with these verdicts", *(name for name, _ in result.checks)]
    lines.append(_table(headers, rows))
    lines.extend(_faces_text(result))
    lines.append("")
    lines.extend(_current_text(result))
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def render_sweep_markdown(result: SweepResult) -> str:
    """The sweep as Markdown: the same content as the text, in tables."""
    lines = [f"## Weight space of `{result.spec}`", ""]
    lines += [f"- {line}" for line in _header(result)[1:]]
    lines += ["", "| check | holds where |", "|---|---|"]
    lines += [f"| `{name}` | {result.descriptions[name]} |" for name, _ in result.checks]
    headers = ["region" if len(result.params) == 1 else "pieces with these verdicts",
               *(f"`{name}`" for name, _ in result.checks)]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result)]
    faces = _faces_text(result)
    if faces:
        lines += ["", *(f"- {line.strip()}" for line in faces[1:])]
    lines += ["", *(f"- {line.strip()}" for line in _current_text(result))]
    lines += [f"- note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def sweep_to_json(result: SweepResult) -> dict[str, Any]:
    """A JSON-ready dict; rationals as strings (``"3/7"``), with float companions for plotting."""
    by_index = {c.index: c for c in result.cells}
    return {
        "schema_version": SWEEP_SCHEMA_VERSION,
        "spec": result.spec,
        "path": result.path,
        "n_states": result.n_states,
        "exact": result.exact,
        "complete": result.complete,
        "uncovered": _point(result.uncovered) if result.uncovered is not None else None,
        "params": [{"name": p.name, "lo": str(p.lo), "hi": str(p.hi), "value": str(p.value)} for p in result.params],
        "fixed": {name: str(value) for name, value in result.fixed},
        "checks": [{"name": name, "property": text, "verdict": result.verdict(name).value,
                    "holds_where": result.descriptions[name]} for name, text in result.checks],
        "regions": [{"index": r.index,
                     "inequalities": [_constraint(c.affine, c.op) for c in r.constraints]} for r in result.regions],
        "cells": [{"index": c.index, "region": c.region, "dimension": c.dimension, "point": _point(c.point),
                   "point_float": [float(x) for x in c.point],
                   "constraints": [_constraint(k.affine, k.op) for k in c.constraints],
                   "verdicts": {name: v.value for name, v in c.verdicts},
                   "neighbours": list(c.neighbours)} for c in result.cells],
        "odd_faces": [{"cell": face.index, "check": name, "verdict": face.verdict(name).value,
                       "neighbours": {str(i): by_index[i].verdict(name).value for i in face.neighbours}}
                      for face, name in result.odd_faces()],
        "current": {"point": _point(result.current), "cell": result.current_cell},
        "margins": [{"param": m.param, "direction": "up" if m.direction > 0 else "down",
                     "distance": None if m.distance is None else str(m.distance),
                     "at": None if m.at is None else str(m.at), "check": m.check,
                     "verdict": None if m.verdict is None else m.verdict.value} for m in result.margins],
        "notes": list(result.notes),
    }


# --- pieces ------------------------------------------------------------------------------------


def _header(result: SweepResult) -> list[str]:
    swept = ", ".join(f"{p.name} in [{format_number(p.lo)}, {format_number(p.hi)}] (spec value "
                      f"{format_number(p.value)})" for p in result.params)
    fixed = "; fixed: " + ", ".join(f"{n}={format_number(v)}" for n, v in result.fixed) if result.fixed else ""
    coverage = ("z3 proved the box covered" if result.complete else
                f"PARTIAL: the region budget ran out; {format_point(result.names, result.uncovered or ())} "
                "is not covered (raise --max-regions)")
    how = "exact rational arithmetic" if result.exact else "floats (the model is above the exact limit)"
    return [f"{result.path}: model '{result.spec}', {result.n_states} states",
            f"swept: {swept}{fixed}",
            f"{len(result.regions)} region(s) of constant optimal behaviour{_plans(result)}, "
            f"{len(result.full_cells())} piece(s) "
            f"of constant verdicts and {len(result.faces())} boundary face(s); {coverage}; {how}"]


def _plans(result: SweepResult) -> str:
    """`` and plans of agent 'planner'`` when the regions keep agents' plans the same too."""
    if not result.agents:
        return ""
    return f" and plans of agent{'s' if len(result.agents) > 1 else ''} " + ", ".join(f"'{a}'" for a in result.agents)


def _rows(result: SweepResult) -> list[list[str]]:
    names = [name for name, _ in result.checks]
    if len(result.params) == 1:  # neighbouring pieces with the same verdicts make one interval
        return [[_interval(result, run), *(_SHORT[run[0].verdict(n)] for n in names)]
                for run in runs(result, lambda c: c.verdicts)]
    groups: dict[tuple[Verdict, ...], list[Cell]] = {}
    for cell in result.full_cells():
        groups.setdefault(tuple(cell.verdict(n) for n in names), []).append(cell)
    total = _box_area(result)
    rows = []
    for pattern, cells in sorted(groups.items(), key=lambda item: -len(item[1])):
        near = min(cells, key=lambda c: sum((a - b) ** 2 for a, b in zip(c.point, result.current)))
        share = ""
        if total:
            area = sum((_area(polygon_of(result, c)) for c in cells), Fraction(0))
            share = f"{float(area / total):.0%} of the box, "
        rows.append([f"{len(cells)} piece(s), {share}e.g. {format_point(result.names, near.point)}",
                     *(_SHORT[v] for v in pattern)])
    return rows


def _interval(result: SweepResult, run: Sequence[Cell]) -> str:
    """One param: a run of neighbouring cells as ``lo < w <= hi`` (a lone boundary point as ``w = x``)."""
    p = result.params[0]
    if len(run) == 1 and run[0].is_face:
        return f"{p.name} = {format_number(run[0].point[0])}"
    ends = sorted(v[0] for cell in run for v in polygon_of(result, cell))
    lo = "<=" if run[0].is_face or ends[0] == p.lo else "<"
    hi = "<=" if run[-1].is_face or ends[-1] == p.hi else "<"
    return f"{format_number(ends[0])} {lo} {p.name} {hi} {format_number(ends[-1])}"


def _faces_text(result: SweepResult) -> list[str]:
    odd = result.odd_faces()
    if not odd:
        return []
    by_index = {c.index: c for c in result.cells}
    lines = ["", "boundary faces whose verdict differs from every neighbouring region"]
    for face, name in odd:
        around = ", ".join(sorted({_SHORT[by_index[i].verdict(name)] for i in face.neighbours}))
        lines.append(f"  {name} {_SHORT[face.verdict(name)]} at {format_point(result.names, face.point)} "
                     f"({describe_cell(result, face)}); next to it: {around}")
    return lines


def _current_text(result: SweepResult) -> list[str]:
    point = format_point(result.names, result.current)
    if result.current_cell is None:
        return [f"the spec's weights ({point}) lie outside the regions found"]
    cell = next(c for c in result.cells if c.index == result.current_cell)
    verdicts = ", ".join(f"{n} {_SHORT[v]}" for n, v in cell.verdicts)
    where = "on a boundary face" if cell.is_face else "inside a region"
    lines = [f"the spec's weights ({point}) lie {where}: {verdicts}"]
    for m in result.margins:
        way = "rise" if m.direction > 0 else "drop"
        if m.distance is None:
            lines.append(f"  {m.param} can {way} to the end of its box with no verdict changing")
        elif m.distance == 0:
            lines.append(f"  {m.param} cannot {way} at all: {m.check} becomes {_SHORT[m.verdict]} right there"
                         if m.verdict is not None else "")
        else:
            lines.append(f"  {m.param} can {way} by {format_number(m.distance)} (to {format_number(m.at)}) before "
                         f"{m.check} becomes {_SHORT[m.verdict]}" if m.verdict is not None and m.at is not None
                         else "")
    return lines


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    out = ["  ".join(f"{h:<{w}}" for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(f"{x:<{w}}" for x, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(out)


def _area(polygon: Sequence[tuple[Fraction, ...]]) -> Fraction:
    if len(polygon) < 3:
        return Fraction(0)
    total = Fraction(0)
    for (x0, y0), (x1, y1) in zip(polygon, [*polygon[1:], polygon[0]]):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def _box_area(result: SweepResult) -> Fraction:
    if len(result.params) != 2:
        return Fraction(0)
    (a, b) = result.params
    return (a.hi - a.lo) * (b.hi - b.lo)


def _point(point: Sequence[Fraction]) -> list[str]:
    return [str(x) for x in point]


def _constraint(affine: Sequence[Fraction], op: str) -> dict[str, Any]:
    return {"constant": str(affine[0]), "coefficients": [str(a) for a in affine[1:]], "op": op}
