"""``corrigo render``: a picture of the model or of M*, optimal choices highlighted, a counterexample in red.

:func:`picture` decides what to show (which states, which choices, which path) as a graph from
:func:`mdp.dot.model_graph`; :func:`write_picture` writes it as DOT text, or as SVG/PNG through
Graphviz's ``dot`` program when it is on ``PATH`` and through matplotlib otherwise, so a picture needs
nothing beyond ``pip install``. matplotlib draws the boxes where :func:`picture_layout` puts them (the layered
layout of :mod:`verifier.layout`, boxes sized to their labels), in a figure sized to hold them.

Large models are cut, never refused: the picture shows the first ``max_nodes`` states in breadth-first
order from the initial state (the nearest ones), plus every state of the counterexample path, and one
dashed node stands for the rest.
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from dsl.errors import CorrigoError
from dsl.spec import Spec
from mdp.dot import MORE, OPTIMAL_COLOR, OTHER_COLOR, PATH_COLOR, legend, model_graph, to_dot
from mdp.graph import start_order, state_graph
from mdp.model import TabularMDP
from mdp.solver import Solution

from .layout import Layout, layered_layout
from .results import CheckResult, Trace
from .submodel import optimal_submodel
from .verification import verify_model

__all__ = ["FORMATS", "GraphvizNotFoundError", "Picture", "RenderError", "find_graphviz", "picture", "picture_layout",
           "write_picture"]

FORMATS = ("dot", "svg", "png")
DOT_TIMEOUT = 60.0
"""Seconds Graphviz may take to lay out a picture before we give up (with a message, not a hang)."""
DOT_EDGES = 300
"""Beyond this many edges Graphviz lays out with ``sfdp`` (seconds) instead of ``dot`` (layered, but it took
over two minutes for the 943 edges of the whole household robot), with its ``prism`` overlap removal (without
it, 826 pairs of the 215 boxes of the gridworld robot's picture overlapped)."""
SFDP_OPTIONS = ("-Goverlap=prism", "-Goutputorder=edgesfirst")
"""sfdp places nodes as springs would, some on top of others: ``prism`` moves them apart; boxes go over edges."""


ENGINES = ("auto", "graphviz", "matplotlib")
GRAPHVIZ_PACKAGES = "apt install graphviz, brew install graphviz, or conda install -c conda-forge graphviz"
"""Where Graphviz comes from: it is a program, not a Python package."""


class RenderError(CorrigoError):
    """A picture could not be drawn: Graphviz failed or took too long."""


class GraphvizNotFoundError(RenderError, FileNotFoundError):
    """Graphviz was asked for explicitly, but its ``dot`` program is not on ``PATH``."""

    def __init__(self) -> None:
        super().__init__(f"Graphviz's 'dot' program is not on PATH; install Graphviz ({GRAPHVIZ_PACKAGES}), "
                         "or use --engine matplotlib")


def find_graphviz() -> str:
    """The path of Graphviz's ``dot`` program.

    Raises
    ------
    GraphvizNotFoundError
        ``dot`` is not on ``PATH``.
    """
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFoundError()
    return program


@dataclass(frozen=True, eq=False)
class Picture:
    """What to draw, and the words that go with it."""

    graph: nx.MultiDiGraph  # from mdp.dot.model_graph
    name: str  # the model's name
    title: str
    n_states: int  # states of the part drawn (the model, or M*) before the cut
    n_shown: int  # states shown
    note: str | None = None  # about the check: why no path is drawn


def picture(spec: Spec, model: TabularMDP, solution: Solution, *, optimal: bool = False, check: str | None = None,
            max_nodes: int = 200) -> Picture:
    """The reachable model (or, with ``optimal``, M*) of a solved spec as a graph to draw.

    Parameters
    ----------
    spec, model, solution
        The checked spec, its compiled model and :func:`mdp.solve`'s solution.
    optimal
        Show only what optimal policies reach and take (M*) instead of every state and choice.
    check
        The name of a check of ``spec``; when it fails with a counterexample, that path is drawn in red.
    max_nodes
        Show at most this many states (breadth-first from the initial state), plus the path's.
    """
    sub = optimal_submodel(solution, model)
    if optimal:
        rows, order = sub.rows, sub.order
    else:
        rows = np.ones(model.n_rows, dtype=bool)
        order = start_order(model)
    steps: list[tuple[int, int, int]] = []
    note = None
    if check is not None:
        result = verify_model(spec, model, solution, checks=(check,)).check(check)
        trace = counterexample(result)
        if trace is None:
            note = (f"check '{check}' holds: no counterexample to draw" if result.holds else
                    f"check '{check}' is {str(result.verdict).lower()} without a counterexample path: "
                    f"{result.summary}")
        else:
            steps = trace_steps(model, trace) + violating_choice(model, result, trace)
    shown = np.unique(np.concatenate([order[:max_nodes], np.array([s for step in steps for s in step[::2] if s >= 0],
                                                                   dtype=np.int64)]))
    graph = model_graph(model, shown, rows=rows, optimal=sub.rows, path=steps)
    part = ("the states and choices optimal policies reach (M*)" if optimal else "the reachable model")
    title = f"{model.name}: {part}, {order.size:,} states"
    if shown.size < order.size:
        title += f", the {shown.size:,} nearest to the initial state shown"
    if steps:
        title += f"; counterexample of '{check}' in red"
    return Picture(graph, model.name, title, int(order.size), int(shown.size), note)


def counterexample(result: CheckResult) -> Trace | None:
    """The trace of a failed check, or of its first failed part (``accepts_shutdown``); None if it holds."""
    if result.holds:
        return None
    if result.trace is not None:
        return result.trace
    return next((part.trace for part in result.parts if part.trace is not None and not part.holds), None)


def trace_steps(model: TabularMDP, trace: Trace) -> list[tuple[int, int, int]]:
    """The ``(state, row, successor)`` indices of a trace, found by walking it from its start state."""
    steps = []
    state = _trace_start(model, trace)
    for step, following in zip(trace.steps, trace.steps[1:]):
        row, successor = _step(model, state, step.action, following.state)
        steps.append((state, row, successor))
        state = successor
    return steps


def _trace_start(model: TabularMDP, trace: Trace) -> int:
    """The start state a trace begins in (the initial state, or one of an ``init``)."""
    return next((int(s) for s in model.start_states if model.describe(int(s)) == trace.steps[0].state), model.initial)


def violating_choice(model: TabularMDP, result: CheckResult, trace: Trace) -> list[tuple[int, int, int]]:
    """The choice the agent makes at the end of the trace, when that choice is the violation (its attribution).

    Given as ``(state, row, -1)``: the choice is drawn red, none of its outcomes.
    """
    attribution = result.attribution or next((p.attribution for p in result.parts if p.trace == trace), None)
    if attribution is None or attribution.state != trace.steps[-1].state:
        return []
    end = trace_steps(model, trace)[-1][2] if len(trace.steps) > 1 else _trace_start(model, trace)
    rows = [row for row in model.rows(end) if model.action_names[model.row_action[row]] == attribution.chosen]
    return [(end, rows[0], -1)] if rows else []


def _step(model: TabularMDP, state: int, action: str | None, described: str) -> tuple[int, int]:
    for row in model.rows(state):
        if model.action_names[model.row_action[row]] != action:
            continue
        start, stop = model.P.indptr[row], model.P.indptr[row + 1]
        for successor in model.P.indices[start:stop].tolist():
            if model.describe(successor) == described:
                return row, successor
    raise AssertionError(f"the trace leaves the model at {model.describe(state)} taking '{action}'")


def write_picture(drawing: Picture, path: str | PathLike[str] | None, fmt: str, engine: str = "auto") -> str:
    """Write ``drawing`` as ``fmt`` (dot, svg, png) to ``path``; return the DOT text when ``path`` is None.

    ``engine`` is ``"graphviz"``, ``"matplotlib"`` or ``"auto"`` (Graphviz when ``dot`` is on ``PATH``).
    Returns what drew it: ``"dot text"``, ``"graphviz"`` or ``"matplotlib"`` (or the DOT text itself).

    Raises
    ------
    GraphvizNotFoundError
        ``engine`` is ``"graphviz"`` and ``dot`` is not on ``PATH``.
    RenderError
        Graphviz could not be run, failed, or took longer than :data:`DOT_TIMEOUT`.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")
    text = to_dot(drawing.graph, drawing.name, drawing.title + (f"\n{drawing.note}" if drawing.note else ""))
    if fmt == "dot":
        if path is None:
            return text
        Path(path).write_text(text, encoding="utf-8")
        return "dot text"
    if path is None:
        raise ValueError(f"{fmt} needs a file to write to; only DOT text can be returned")
    program = find_graphviz() if engine == "graphviz" else shutil.which("dot") if engine == "auto" else None
    if program is None:
        _draw_with_matplotlib(drawing, path, fmt)
        return "matplotlib"
    layout = "dot" if drawing.graph.number_of_edges() <= DOT_EDGES else "sfdp"
    options = () if layout == "dot" else SFDP_OPTIONS
    try:
        subprocess.run([program, f"-K{layout}", *options, f"-T{fmt}", "-o", str(path)], input=text.encode("utf-8"),
                       capture_output=True, check=True, timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz took longer than {DOT_TIMEOUT:g} s to lay out {drawing.n_shown:,} states; "
                          "show fewer with --max-nodes or --optimal, or use --engine matplotlib") from None
    except subprocess.CalledProcessError as error:
        message = error.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz failed (exit {error.returncode}): {message}") from None
    except OSError as error:  # on PATH but cannot be started: removed since, not executable, built for another machine
        raise RenderError(f"cannot run Graphviz's 'dot' program ({program}): {error.strerror or error}; reinstall "
                          f"Graphviz ({GRAPHVIZ_PACKAGES}), or use --engine matplotlib") from None
    return "graphviz" if layout == "dot" else "graphviz sfdp"


STATE_FONT = 8.0
"""Font sizes (points) of the matplotlib pictures: state labels, choice labels, edge labels, the title."""
CHOICE_FONT = 7.0
EDGE_FONT = 6.0
TITLE_FONT = 10.0
STATE_PAD = 4.0
"""Room between a state's label and its box, in points (a choice's: :data:`CHOICE_PAD`)."""
CHOICE_PAD = 2.0
MARGIN = 24.0
"""Room around the boxes, in points: the bends of the edges along the border stay inside it."""
BEND = 8.0
"""How far an edge bends away from the straight line, in points, at its control point; each further edge
between the same two nodes bends that much further (it bulges half as far)."""
MIN_WIDTH = 480.0
"""A small picture is this wide, in points, so that its title is not broken into a tall column."""
LEGEND_HEIGHT = 20.0
"""Room below the picture for the legend of the line styles, in points."""
DPI = 110
"""Resolution of a PNG, lowered for a picture that would be wider or higher than :data:`MAX_PIXELS`."""
MAX_PIXELS = 3600


@functools.lru_cache(maxsize=4096)  # the labels of edges repeat: "0.5", "move(dock)"
def text_size(text: str, fontsize: float) -> tuple[float, float]:
    """Width and height in points of ``text`` (lines split at ``\\n``) as matplotlib draws it at :data:`DPI`."""
    label = _measuring_text()
    label.set_text(text)
    label.set_fontsize(fontsize)
    extent = label.get_window_extent()  # in pixels (glyphs are hinted at the resolution drawn)
    return float(extent.width) * 72 / DPI, float(extent.height) * 72 / DPI


@functools.cache
def _measuring_text() -> Any:
    """A text in a figure that is never drawn, to measure labels with (no pyplot, no backend chosen)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(dpi=DPI)
    FigureCanvasAgg(figure)
    return figure.text(0, 0, "", ha="center", va="center")


def picture_layout(graph: nx.MultiDiGraph) -> Layout:
    """Where the matplotlib picture of ``graph`` puts each box: :func:`verifier.layout.layered_layout` of boxes
    that fit their labels, with room above for self-loop labels and between layers for edge labels."""
    size: dict[str, tuple[float, float]] = {}
    for node, data in graph.nodes(data=True):
        fontsize, pad = (STATE_FONT, STATE_PAD) if data["kind"] == "state" else (CHOICE_FONT, CHOICE_PAD)
        width, height = text_size(data["label"], fontsize)
        size[node] = (width + 2 * pad, height + 2 * pad)
    above: dict[str, float] = {}
    label_width: dict[tuple[str, str], float] = {}
    for source, target, data in graph.edges(data=True):
        if source == target:  # a self-loop is a line of text above the box
            above[source] = above.get(source, 0.0) + _LOOP_LINE
        elif data["label"]:
            width = text_size(data["label"], EDGE_FONT)[0]
            label_width[source, target] = max(label_width.get((source, target), 0.0), width)
    return layered_layout(graph, size, above=above, label_width=label_width)


_LOOP_LINE = 1.3 * EDGE_FONT
"""The height of one self-loop label above a state's box."""


def _draw_with_matplotlib(drawing: Picture, path: str | PathLike[str], fmt: str) -> None:
    """The layered layout of :func:`picture_layout`: boxes, arrows ending at their borders, a title, a legend.

    The figure is as large as the layout plus the title, the legend and a margin, computed before drawing,
    so it is drawn once (``bbox_inches="tight"`` would draw it twice).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    graph = drawing.graph
    layout = picture_layout(graph)
    width, height = figure_size(drawing, layout)
    title = _title(drawing, width)
    figure = Figure(figsize=(width / 72, height / 72))
    # the axes' data coordinates are points: a box is drawn at the size laid out
    left = (width - layout.width) / 2
    axes = figure.add_axes((left / width, (LEGEND_HEIGHT + MARGIN) / height, layout.width / width,
                            layout.height / height))
    axes.set_xlim(0, layout.width)
    axes.set_ylim(0, layout.height)
    axes.set_axis_off()
    marks_optimal = any(flag for *_, flag in graph.edges(data="optimal", default=False))
    for node, data in graph.nodes(data=True):
        color = _mpl_color(data, marks_optimal)
        (x, y), (box_width, box_height) = layout.position[node], layout.size[node]
        corner = (x - box_width / 2, y - box_height / 2)
        if data["kind"] == "state":
            fill = "#dbe9f6" if data["initial"] else "#e8e8e8" if data["terminal"] else "white"
            axes.add_patch(FancyBboxPatch(corner, box_width, box_height, "round,pad=0,rounding_size=4", zorder=3,
                                          facecolor=fill, edgecolor=color,
                                          linewidth=2.5 if data["initial"] or data["path"] else 1.0))
            axes.text(x, y, data["label"], ha="center", va="center", zorder=3, fontsize=STATE_FONT)
        else:
            axes.add_patch(FancyBboxPatch(corner, box_width, box_height, "round,pad=0,rounding_size=2", zorder=3,
                                          facecolor="white", edgecolor=color, linewidth=1.0,
                                          linestyle="--" if data["kind"] == "more" else "-"))
            axes.text(x, y, data["label"], ha="center", va="center", zorder=3, fontsize=CHOICE_FONT, color=color)
    loops: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for source, target, data in graph.edges(data=True):
        color = _mpl_color(data, marks_optimal)
        if source == target:  # a self-loop: written above the box, in the room the layout left there
            (x, y), (_, box_height) = layout.position[source], layout.size[source]
            k = loops[source] = loops.get(source, -1) + 1
            axes.text(x, y + box_height / 2 + _LOOP_LINE * (k + 0.5), f"↻ {data['label']}", ha="center",
                      va="center", fontsize=EDGE_FONT, color=color, zorder=4)
            continue
        k = seen[(source, target)] = seen.get((source, target), -1) + 1
        start = _border(layout, source, layout.position[target])
        end = _border(layout, target, layout.position[source])
        # bend by a few points, not by a share of the length: a long edge would bulge out of the picture
        rad = (BEND + BEND * k) / max(math.dist(start, end), 1.0)
        bold = data["optimal"] or data["path"]
        axes.annotate("", xy=end, xytext=start, zorder=2,
                      arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 1.8 if bold else 0.8,
                                  "linestyle": "--" if target == MORE else "-", "connectionstyle": f"arc3,rad={rad}",
                                  "shrinkA": 1, "shrinkB": 1})
        if data["label"]:  # under the boxes: a label never hides a state
            x, y = _on_arc(start, end, rad, 0.45)
            axes.text(x, y, data["label"], fontsize=EDGE_FONT, color=color, ha="center", va="center", zorder=2.5,
                      bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    handles = [Line2D([], [], color=OPTIMAL_COLOR, linewidth=1.8, label="optimal choice")]
    if marks_optimal and not all(flag for *_, flag in graph.edges(data="optimal", default=False)):
        handles.append(Line2D([], [], color=OTHER_COLOR, linewidth=0.8, label="not optimal"))
    if any(flag for *_, flag in graph.edges(data="path", default=False)):
        handles.append(Line2D([], [], color=PATH_COLOR, linewidth=1.8, label="counterexample path"))
    figure.legend(handles=handles, loc="lower left", bbox_to_anchor=(MARGIN / width, 0), fontsize=8, frameon=False,
                  ncols=3)
    figure.text(0.5, 1 - MARGIN / 2 / height, "\n".join(title), ha="center", va="top", fontsize=TITLE_FONT)
    figure.savefig(path, format=fmt, dpi=picture_dpi(width, height))


def figure_size(drawing: Picture, layout: Layout) -> tuple[float, float]:
    """Width and height in points of the matplotlib picture of ``drawing`` laid out as ``layout``: the boxes,
    a margin, the title above, the legend below."""
    width = max(layout.width + 2 * MARGIN, MIN_WIDTH)
    title_height = text_size("\n".join(_title(drawing, width)), TITLE_FONT)[1]
    return width, MARGIN / 2 + title_height + layout.height + 2 * MARGIN + LEGEND_HEIGHT


def _title(drawing: Picture, width: float) -> list[str]:
    """The lines of the title, the legend line and the note, broken to fit a picture ``width`` points wide."""
    paragraphs = [drawing.title, legend(drawing.graph), *([drawing.note] if drawing.note else [])]
    return _wrap(paragraphs, width - 2 * MARGIN, TITLE_FONT)


def picture_dpi(width: float, height: float) -> float:
    """The resolution of a PNG ``width`` x ``height`` points large: :data:`DPI`, less when it would be wider or
    higher than :data:`MAX_PIXELS`."""
    return min(DPI, MAX_PIXELS * 72 / max(width, height))


def _wrap(paragraphs: list[str], width: float, fontsize: float) -> list[str]:
    """The lines of ``paragraphs`` broken between words to fit ``width`` points at ``fontsize``."""
    lines = []
    for paragraph in paragraphs:
        for line in paragraph.splitlines():
            words: list[str] = []
            for word in line.split(" "):
                if words and text_size(" ".join([*words, word]), fontsize)[0] > width:
                    lines.append(" ".join(words))
                    words = []
                words.append(word)
            lines.append(" ".join(words))
    return lines


def _border(layout: Layout, node: str, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from the centre of the node's box towards a point leaves the box (arrows end there)."""
    (x, y), (width, height) = layout.position[node], layout.size[node]
    dx, dy = toward[0] - x, toward[1] - y
    t = min(width / 2 / abs(dx) if dx else math.inf, height / 2 / abs(dy) if dy else math.inf, 1.0)
    return x + t * dx, y + t * dy


def _on_arc(start: tuple[float, float], end: tuple[float, float], rad: float, t: float) -> tuple[float, float]:
    """The point at ``t`` along matplotlib's ``arc3,rad=rad`` curve from ``start`` to ``end`` (a quadratic Bezier).

    Its control point is the chord's midpoint moved ``rad`` times the chord's length to the right of it.
    """
    (x0, y0), (x1, y1) = start, end
    cx, cy = (x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)
    return ((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1,
            (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1)


def _mpl_color(data: dict[str, Any], marks_optimal: bool) -> str:
    if data.get("path"):
        return PATH_COLOR
    if data.get("optimal"):
        return OPTIMAL_COLOR
    return OTHER_COLOR if marks_optimal and data.get("kind") != "state" else "black"

