"""``corrigo sweep --plot``: the param box coloured by verdict, one panel per check (matplotlib).

Two params: every piece of constant verdicts is a polygon, green where the check holds, red where it
fails, amber where it is inconclusive (regions with the same verdict merge into one area); boundary faces whose
verdict differs from both sides are drawn thick in their own colour (a diamond for a point). One param:
one bar per check, a run narrower than 1.5% of the box widened to that and labelled with its interval.
The spec's current weights are marked in black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike

from ..results import Verdict
from ..sweep import SweepResult, format_number, polygon_of, runs

__all__ = ["Bar", "bars", "plot_regions"]

MIN_SHARE = 0.015  # the narrowest bar drawn, as a share of the box (12 px of the 8-inch figure at 120 dpi)

_COLOURS = {Verdict.HOLDS: "#3a9d5d", Verdict.FAILS: "#d1495b", Verdict.INCONCLUSIVE: "#edae49"}


@dataclass(frozen=True, slots=True)
class Bar:
    """One run of neighbouring cells with the same verdict on one check, as drawn (one param)."""

    left: float
    right: float
    verdict: Verdict
    label: str | None  # the exact interval, for a run widened to stay visible


def bars(result: SweepResult, check: str, least: float = MIN_SHARE) -> list[Bar]:
    """The bars of one check's row (boundary points aside): a run narrower than ``least`` of the box is widened
    to it (kept inside the box) and labelled with its exact interval, so a failing sliver cannot vanish between
    two pixels."""
    p = result.params[0]
    lo, hi, out = float(p.lo), float(p.hi), []
    for run in runs(result, lambda c: c.verdict(check)):
        ends = sorted(v[0] for cell in run for v in polygon_of(result, cell))
        if ends[0] == ends[-1]:
            continue  # a boundary point whose verdict differs from both sides: drawn as a diamond
        left, right, label = float(ends[0]), float(ends[-1]), None
        if right - left < least * (hi - lo):
            label = f"[{format_number(ends[0])}, {format_number(ends[-1])}]"
            middle = min(max((left + right) / 2, lo + least * (hi - lo) / 2), hi - least * (hi - lo) / 2)
            left, right = middle - least * (hi - lo) / 2, middle + least * (hi - lo) / 2
        out.append(Bar(left, right, run[0].verdict(check), label))
    return out


def plot_regions(result: SweepResult, path: str | PathLike[str]) -> None:
    """Write the picture of ``result`` (one or two swept params) to ``path``; the format from its suffix.

    Raises
    ------
    ValueError
        With more than two swept params (the CLI asks for ``--params`` first).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Polygon

    k = len(result.params)
    if k not in (1, 2):
        raise ValueError(f"a plot shows one or two params, the sweep has {k}")
    names = [name for name, _ in result.checks]
    odd = {(face.index, name) for face, name in result.odd_faces()}
    if k == 1:
        p = result.params[0]
        figure, axes = plt.subplots(figsize=(8, 0.7 * len(names) + 1.6))
        for row, name in enumerate(names):
            for bar in bars(result, name):
                colour = _COLOURS[bar.verdict]
                axes.barh(row, bar.right - bar.left, left=bar.left, height=0.6, color=colour,
                          edgecolor="black" if bar.label else colour, linewidth=0.8 if bar.label else 0.5,
                          zorder=2 if bar.label else 1)  # over its neighbours, which it overlaps
                if bar.label:
                    at_end = "left" if bar.left <= p.lo else "right" if bar.right >= p.hi else "center"
                    x = {"left": bar.left, "right": bar.right, "center": (bar.left + bar.right) / 2}[at_end]
                    axes.annotate(bar.label, (x, row - 0.32), ha=at_end, va="bottom", fontsize=7)
            for cell in result.faces():
                if (cell.index, name) in odd:
                    axes.plot([float(cell.point[0])], [row], marker="D", markersize=9,
                              color=_COLOURS[cell.verdict(name)], markeredgecolor="black", zorder=3)
        ordered = sorted(result.cells, key=lambda c: (c.point[0], c.is_face))
        boundaries = sorted({b.point[0] for a, b in zip(ordered, ordered[1:]) if b.is_face and a.verdicts != b.verdicts}
                            | {a.point[0] for a, b in zip(ordered, ordered[1:]) if a.is_face and a.verdicts != b.verdicts})
        if len(boundaries) <= 8:  # the weights where some verdict changes, exact
            # the box's ends too, unless a boundary sits so close that the labels would overlap
            close = 0.04 * float(p.hi - p.lo)
            ticks = list(boundaries) + [end for end in (p.lo, p.hi)
                                        if all(abs(float(end - b)) > close for b in boundaries)]
            axes.set_xticks([float(t) for t in ticks], [format_number(t) for t in ticks], fontsize=8)
        axes.axvline(float(result.current[0]), color="black", linestyle="--", linewidth=1.2)
        axes.set_yticks(range(len(names)), names)
        axes.invert_yaxis()
        axes.set_xlim(float(p.lo), float(p.hi))
        axes.set_xlabel(f"{p.name}   (dashed: the spec's value {format_number(p.value)})")
    else:
        columns = min(3, len(names))
        rows = math.ceil(len(names) / columns)
        figure, grid = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.9 * rows + 0.6), squeeze=False)
        px, py = result.params
        for index, name in enumerate(names):
            axes = grid[index // columns][index % columns]
            for cell in result.full_cells():
                polygon = [(float(x), float(y)) for x, y in polygon_of(result, cell)]
                if len(polygon) >= 3:
                    colour = _COLOURS[cell.verdict(name)]
                    axes.add_patch(Polygon(polygon, closed=True, facecolor=colour, edgecolor=colour, linewidth=0.5))
            for face in result.faces():
                if (face.index, name) not in odd:
                    continue
                points = [(float(x), float(y)) for x, y in polygon_of(result, face)]
                colour = _COLOURS[face.verdict(name)]
                if len(points) >= 2:
                    xs, ys = zip(*points)
                    axes.plot(xs, ys, color="black", linewidth=4.5, solid_capstyle="round", zorder=3)
                    axes.plot(xs, ys, color=colour, linewidth=2.5, solid_capstyle="round", zorder=4)
                elif points:
                    axes.plot(*points[0], marker="D", markersize=8, color=colour, markeredgecolor="black", zorder=4)
            axes.plot(float(result.current[0]), float(result.current[1]), marker="*", markersize=14,
                      color="black", markeredgecolor="white", zorder=5)
            axes.set_xlim(float(px.lo), float(px.hi))
            axes.set_ylim(float(py.lo), float(py.hi))
            axes.set_xlabel(px.name)
            axes.set_ylabel(py.name)
            axes.set_title(name, fontsize=11)
        for index in range(len(names), rows * columns):
            grid[index // columns][index % columns].axis("off")
    handles = [Patch(color=_COLOURS[v], label=str(v)) for v in (Verdict.HOLDS, Verdict.FAILS, Verdict.INCONCLUSIVE)]
    marker = "dashed line" if k == 1 else "black star"
    partial = "" if result.complete else "  PARTIAL: not every part of the box was reached"
    figure.suptitle(f"'{result.spec}': where each check holds ({marker}: the spec's weights){partial}", fontsize=11)
    figure.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=9)
    figure.tight_layout(rect=(0, 0.06, 1, 0.95))
    figure.savefig(path, dpi=120)
    plt.close(figure)
