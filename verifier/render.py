"""``corrigo render``: a picture of the model or of M*, optimal choices highlighted, a counterexample in red.

:func:`picture` decides what to show (which states, which choices, which path) as a graph from
:func:`mdp.dot.model_graph`; :func:`write_picture` writes it as DOT text, or as SVG/PNG through
Graphviz's ``dot`` program when it is on ``PATH`` and through networkx + matplotlib otherwise, so a
picture needs nothing beyond ``pip install``.

Large models are cut, never refused: the picture shows the first ``max_nodes`` states in breadth-first
order from the initial state (the nearest ones), plus every state of the counterexample path, and one
dashed node stands for the rest.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable
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

from .results import CheckResult, Trace
from .submodel import optimal_submodel
from .verification import verify_model

__all__ = ["FORMATS", "GraphvizNotFoundError", "Picture", "RenderError", "find_graphviz", "picture", "write_picture"]

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


def layers(graph: nx.MultiDiGraph) -> dict[str, int]:
    """The breadth-first depth of every node from the initial state; nodes it does not reach go last."""
    sources = [node for node, initial in graph.nodes(data="initial") if initial] or list(graph)[:1]
    depth = {node: i for i, layer in enumerate(nx.bfs_layers(graph, sources)) for node in layer}
    last = max(depth.values(), default=-1) + 1
    if MORE in graph:
        depth[MORE] = last  # the states left out lie beyond everything shown
    return {node: depth.get(node, last) for node in graph}


def _ordered(graph: nx.MultiDiGraph, depth: dict[str, int]) -> nx.Graph:
    """The nodes with their ``layer``, each layer sorted by the mean place of its predecessors (fewer crossings)."""
    place: dict[str, float] = {}
    ordered: nx.Graph[str] = nx.Graph()
    for layer in range(max(depth.values(), default=-1) + 1):
        nodes = [node for node in graph if depth[node] == layer]
        def key(node: str) -> float:
            before = [place[p] for p in graph.predecessors(node) if p in place]
            return sum(before) / len(before) if before else float("inf")
        nodes.sort(key=key)
        for i, node in enumerate(nodes):
            place[node] = i / max(len(nodes) - 1, 1)
            ordered.add_node(node, layer=layer)
    return ordered


def _draw_with_matplotlib(drawing: Picture, path: str | PathLike[str], fmt: str) -> None:
    """Layered left-to-right layout (networkx ``multipartite_layout`` by depth), boxes, arrows, a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    graph = drawing.graph
    depth = layers(graph)
    position = nx.multipartite_layout(_ordered(graph, depth), subset_key="layer", align="vertical", scale=1.0)
    n_layers = max(depth.values(), default=0) + 1
    widest = max(int(np.bincount(list(depth.values())).max(initial=1)), 1)
    lines = max((data["label"].count("\n") + 1 for _, data in graph.nodes(data=True)), default=1)
    width, height = min(4 + 2.2 * n_layers, 60), min(2 + (0.16 * lines + 0.3) * widest, 60)
    figure, axes = plt.subplots(figsize=(width, height))
    axes.set_axis_off()
    marks_optimal = any(flag for *_, flag in graph.edges(data="optimal", default=False))
    boxes = {}
    for node, data in graph.nodes(data=True):
        color = _mpl_color(data, marks_optimal)
        x, y = position[node]
        if data["kind"] == "state":
            fill = "#dbe9f6" if data["initial"] else "#e8e8e8" if data["terminal"] else "white"
            box = {"boxstyle": "round,pad=0.4", "facecolor": fill, "edgecolor": color,
                   "linewidth": 2.5 if data["initial"] or data["path"] else 1.0}
            text = axes.text(x, y, data["label"], ha="center", va="center", fontsize=8, bbox=box,
                             zorder=3)
        else:
            box = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": color,
                   "linestyle": "--" if data["kind"] == "more" else "-"}
            text = axes.text(x, y, data["label"], ha="center", va="center", fontsize=7, color=color,
                             bbox=box, zorder=3)
        boxes[node] = text
    xs, ys = zip(*position.values())
    x_pad = (max(xs) - min(xs)) / max(2 * n_layers, 1) + 0.05
    y_pad = (max(ys) - min(ys)) / max(2 * widest, 1) + 0.05
    axes.set_xlim(min(xs) - x_pad, max(xs) + x_pad)
    axes.set_ylim(min(ys) - y_pad, max(ys) + y_pad)
    border = _box_borders(figure, axes, boxes, position)
    seen: dict[tuple[str, str], int] = {}
    for source, target, data in graph.edges(data=True):
        color = _mpl_color(data, marks_optimal)
        bold = data["optimal"] or data["path"]
        if source == target:  # a self-loop: written above the box, not drawn
            x, y = position[source]
            axes.annotate(f"↻ {data['label']}", (x, y), xytext=(0, 26), textcoords="offset points", ha="center",
                          fontsize=6, color=color, zorder=4)
            continue
        k = seen[(source, target)] = seen.get((source, target), -1) + 1
        axes.annotate("", xy=border(target, position[source]), xytext=border(source, position[target]), zorder=2,
                      arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 1.8 if bold else 0.8,
                                  "linestyle": "--" if target == MORE else "-",
                                  "connectionstyle": f"arc3,rad={0.08 + 0.12 * k}",
                                  "shrinkA": 1, "shrinkB": 1})
        if data["label"]:
            (x0, y0), (x1, y1) = position[source], position[target]
            axes.text(0.55 * x0 + 0.45 * x1, 0.55 * y0 + 0.45 * y1, data["label"], fontsize=6, color=color,
                      ha="center", va="center", zorder=4,
                      bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    handles = [Line2D([], [], color=OPTIMAL_COLOR, linewidth=1.8, label="optimal choice")]
    if marks_optimal and not all(flag for *_, flag in graph.edges(data="optimal", default=False)):
        handles.append(Line2D([], [], color=OTHER_COLOR, linewidth=0.8, label="not optimal"))
    if any(flag for *_, flag in graph.edges(data="path", default=False)):
        handles.append(Line2D([], [], color=PATH_COLOR, linewidth=1.8, label="counterexample path"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 0), fontsize=8, frameon=False, ncols=3)
    title = [drawing.title, *textwrap.wrap(legend(graph), width=int(12 * width))]
    if drawing.note:
        title.append(drawing.note)
    axes.set_title("\n".join(title), fontsize=10)
    figure.savefig(path, format=fmt, dpi=110, bbox_inches="tight")
    plt.close(figure)


def _box_borders(figure: Any, axes: Any, boxes: dict[str, Any],
                 position: dict[str, Any]) -> Callable[[str, Any], tuple[float, float]]:
    """``border(node, toward)``: where the segment from the node's centre towards a point leaves its box.

    Arrows end there; matplotlib's own clipping to a patch (``patchA``/``patchB``) took 40 ms per arrow.
    """
    figure.canvas.draw()  # sizes the boxes
    inverse = axes.transData.inverted()
    half = {}
    for node, text in boxes.items():
        extent = text.get_bbox_patch().get_window_extent()
        (x0, y0), (x1, y1) = inverse.transform([[extent.x0, extent.y0], [extent.x1, extent.y1]])
        half[node] = (abs(x1 - x0) / 2, abs(y1 - y0) / 2)

    def border(node: str, toward: Any) -> tuple[float, float]:
        (x, y), (half_width, half_height) = position[node], half[node]
        dx, dy = toward[0] - x, toward[1] - y
        t = min(half_width / abs(dx) if dx else np.inf, half_height / abs(dy) if dy else np.inf, 1.0)
        return float(x + t * dx), float(y + t * dy)

    return border


def _mpl_color(data: dict[str, Any], marks_optimal: bool) -> str:
    if data.get("path"):
        return PATH_COLOR
    if data.get("optimal"):
        return OPTIMAL_COLOR
    return OTHER_COLOR if marks_optimal and data.get("kind") != "state" else "black"

