"""``corrigo power --plot``: a picture of POWER per state (matplotlib is imported only when asked for).

A spec with at least two integer variables gets a heatmap over the first two (the cell shows the
largest POWER over the states with those coordinates, so an off switch or a power pack that raises
POWER anywhere in the cell shows); any other spec gets a bar chart of the states with the most POWER,
with one-standard-error bars.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from dsl.spec import IntDomain
from mdp.power import PowerEstimate

__all__ = ["plot_power"]

_BARS = 30


def plot_power(estimate: PowerEstimate, path: str | PathLike[str]) -> str:
    """Write a heatmap or bar chart of ``estimate`` to ``path`` (format from its suffix); return which kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = estimate.model
    coordinates = [i for i, v in enumerate(model.variables) if isinstance(v.domain, IntDomain)]
    title = (f"POWER of '{model.name}' (Turner et al.; {estimate.samples} rewards, "
             f"discount {model.discount:g})")
    figure, axes = plt.subplots(figsize=(7, 5))
    if len(coordinates) >= 2 and model.state_codes is not None:
        ix, iy = coordinates[:2]
        vx, vy = model.variables[ix], model.variables[iy]
        dx, dy = vx.domain, vy.domain
        assert isinstance(dx, IntDomain) and isinstance(dy, IntDomain)
        grid = np.full((dy.size, dx.size), np.nan)
        cx = model.state_codes[:, ix] - dx.lo
        cy = model.state_codes[:, iy] - dy.lo
        np.fmax.at(grid, (cy, cx), estimate.power)
        image = axes.imshow(grid, origin="lower", cmap="viridis",
                            extent=(dx.lo - 0.5, dx.hi + 0.5, dy.lo - 0.5, dy.hi + 0.5))
        figure.colorbar(image, ax=axes, label="largest POWER over the other variables")
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
