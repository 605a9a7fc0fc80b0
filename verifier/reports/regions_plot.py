"""``corrigo sweep --plot``: the param box coloured by verdict, one panel per check (matplotlib).

Two params: every piece of constant verdicts is a polygon, green where the check holds, red where it
fails, amber where it is inconclusive (regions with the same verdict merge into one area); boundary faces whose
verdict differs from both sides are drawn thick in their own colour (a diamond for a point). One param:
one bar per check.
The spec's current weights are marked in black.
"""

from __future__ import annotations

import math
from os import PathLike

from ..results import Verdict
from ..sweep import SweepResult, format_number, polygon_of

__all__ = ["plot_regions"]

_COLOURS = {Verdict.HOLDS: "#3a9d5d", Verdict.FAILS: "#d1495b", Verdict.INCONCLUSIVE: "#edae49"}


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
            for cell in result.cells:
                ends = sorted(float(v[0]) for v in polygon_of(result, cell))
                colour = _COLOURS[cell.verdict(name)]
                if cell.is_face:
                    if (cell.index, name) in odd:
                        axes.plot([ends[0]], [row], marker="D", markersize=9, color=colour,
                                  markeredgecolor="black", zorder=3)
                    continue
                axes.barh(row, ends[-1] - ends[0], left=ends[0], height=0.6, color=colour, edgecolor=colour,
                          linewidth=0.5)
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
