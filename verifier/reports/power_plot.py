"""``corrigo power --plot``: a picture of POWER per state (matplotlib is imported only when asked for).

A spec with at least two integer variables gets a heatmap over the first two. A cell shows the largest
POWER over the states with those coordinates whose other enum and bool variables keep their initial
values (switch armed, not pressed, not off: the world as it starts), so an off switch that may end
everything shows as a dip and a place where it can be disabled as a peak; a cell with no such state
shows the largest POWER over all its states, hatched. Each cell is labelled with its value, the
initial state's cell with "start", and cells where a spec label that marks places holds (in at most a
quarter of the cells: a switch box, a human's room) with its name. Any other spec gets a bar chart of the states with the most POWER,
with one-standard-error bars.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import numpy as np

from dsl.numbers import float_text
from dsl.spec import IntDomain
from mdp.power import PowerEstimate

__all__ = ["plot_power"]

_BARS = 30


def _place_labels(labels: Mapping[str, np.ndarray], rows: np.ndarray, columns: np.ndarray,
                  shape: tuple[int, int]) -> dict[tuple[int, int], list[str]]:
    """Cell -> the spec's labels that mark it: labels holding somewhere in at most a quarter of the cells
    (places such as a switch box or a human's room; labels about other variables hold nearly everywhere)."""
    placed: dict[tuple[int, int], list[str]] = {}
    for name, holds in labels.items():
        cells = np.zeros(shape, dtype=bool)
        cells[rows[holds], columns[holds]] = True
        if 0 < cells.sum() <= cells.size / 4:
            for cell in zip(*np.nonzero(cells)):
                placed.setdefault((int(cell[0]), int(cell[1])), []).append(name)
    return placed


def plot_power(estimate: PowerEstimate, path: str | PathLike[str]) -> str:
    """Write a heatmap or bar chart of ``estimate`` to ``path`` (format from its suffix); return which kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = estimate.model
    coordinates = [i for i, v in enumerate(model.variables) if isinstance(v.domain, IntDomain)]
    title = (f"POWER of '{model.name}' (Turner et al.; {estimate.samples} rewards, "
             f"discount {float_text(model.discount)})")
    figure, axes = plt.subplots(figsize=(7, 5))
    if len(coordinates) >= 2 and model.state_codes is not None:
        ix, iy = coordinates[:2]
        vx, vy = model.variables[ix], model.variables[iy]
        dx, dy = vx.domain, vy.domain
        assert isinstance(dx, IntDomain) and isinstance(dy, IntDomain)
        codes = model.state_codes
        cx, cy = codes[:, ix] - dx.lo, codes[:, iy] - dy.lo
        others = [i for i, v in enumerate(model.variables) if not isinstance(v.domain, IntDomain)]
        as_initial = np.all(codes[:, others] == codes[model.initial, others], axis=1)
        grid = np.full((dy.size, dx.size), np.nan)
        np.fmax.at(grid, (cy[as_initial], cx[as_initial]), estimate.power[as_initial])
        fallback = np.full((dy.size, dx.size), np.nan)
        np.fmax.at(fallback, (cy, cx), estimate.power)
        filled = np.isnan(grid) & ~np.isnan(fallback)
        grid[filled] = fallback[filled]
        image = axes.imshow(grid, origin="lower", cmap="viridis",
                            extent=(dx.lo - 0.5, dx.hi + 0.5, dy.lo - 0.5, dy.hi + 0.5))
        fixed = ", ".join(model.describe(model.initial).split(", ")[i] for i in others)
        figure.colorbar(image, ax=axes, label="largest POWER in the cell" + (f"\n({fixed})" if fixed else ""))
        for (row, column), value in np.ndenumerate(grid):
            if np.isnan(value):
                continue
            x, y = column + dx.lo, row + dy.lo
            if filled[row, column]:
                axes.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="//", lw=0))
            axes.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=8,
                      color="white" if value < np.nanmean(grid) else "black")
        sx, sy = codes[model.initial, ix], codes[model.initial, iy]
        axes.text(sx, sy - 0.3, "start", ha="center", va="center", fontsize=7, color="red")
        for (row, column), names in _place_labels(model.labels, cy, cx, grid.shape).items():
            axes.text(column + dx.lo, row + dy.lo + 0.3, "\n".join(names), ha="center", va="center", fontsize=6,
                      color="red", bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1})
        axes.set_xticks(np.arange(dx.lo, dx.hi + 1))
        axes.set_yticks(np.arange(dy.lo, dy.hi + 1))
        axes.set_xlabel(vx.name)
        axes.set_ylabel(vy.name)
        kind = "heatmap"
    else:
        order = np.lexsort((np.arange(model.n_states), -estimate.power))[:_BARS]
        labels = [model.describe(int(s)) for s in order]
        axes.barh(np.arange(order.size), estimate.power[order], xerr=estimate.stderr[order], color="tab:blue")
        axes.set_yticks(np.arange(order.size), labels, fontsize=7)
        axes.invert_yaxis()
        axes.set_xlabel("POWER (± one standard error)")
        kind = "bar chart"
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return kind
