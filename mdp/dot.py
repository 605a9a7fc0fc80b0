"""The model as a graph for people: states labelled by their varying variables, choices, probabilities.

:func:`model_graph` builds a :class:`networkx.MultiDiGraph` that says *what* to draw (which states,
which choices, which are optimal, which lie on a counterexample path); :func:`to_dot` writes it in
Graphviz's DOT language and decides *how it looks*. The matplotlib renderer of ``corrigo render``
styles the same graph, so both pictures show the same thing.

Nodes are states (``"s12"``), choices with several successors (``"r57"``, drawn small, labelled with
the action; their out-edges carry the probabilities), and, when only part of the model is shown, one
``"more"`` node standing for the states left out. A choice with a single successor is one edge
labelled with its action. Terminal self-loops are not drawn: terminal states are marked instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import networkx as nx
import numpy as np
import numpy.typing as npt

from .model import TERMINAL_ACTION, TabularMDP

__all__ = ["MORE", "legend", "model_graph", "state_parts", "to_dot", "varying_variables"]

MORE = "more"
"""The node standing for the states that are not shown."""

PATH_COLOR = "#d62728"  # red: the counterexample path
OPTIMAL_COLOR = "#1f4e9c"  # dark blue: optimal choices
OTHER_COLOR = "#9a9a9a"  # grey: the choices no optimal policy takes
INITIAL_FILL = "#dbe9f6"
TERMINAL_FILL = "#e8e8e8"


def varying_variables(model: TabularMDP, states: Sequence[int] | npt.NDArray[np.int64]) -> list[int]:
    """Columns of the variables that take more than one value among ``states`` (all, if none varies).

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=0.5)
    >>> varying_variables(model, [0, 1])
    [0]
    """
    if model.state_codes is None:
        return []
    codes = model.state_codes[np.asarray(states, dtype=np.int64)]
    varying = [i for i in range(codes.shape[1]) if codes.shape[0] and np.unique(codes[:, i]).size > 1]
    return varying or list(range(codes.shape[1]))


def state_parts(model: TabularMDP, state: int, columns: Sequence[int]) -> list[str]:
    """``var=value`` of the chosen variable columns of ``state``, in declaration order."""
    if model.state_codes is None:
        return [f"s={state}"]
    codes = model.state_codes[state]
    return [f"{model.variables[i].name}={model.variables[i].domain.decode(codes[i])}" for i in columns]


def model_graph(model: TabularMDP, states: Iterable[int] | None = None, *,
                rows: npt.NDArray[np.bool_] | None = None, optimal: npt.NDArray[np.bool_] | None = None,
                path: Sequence[tuple[int, int, int]] = ()) -> nx.MultiDiGraph:
    """What a picture of ``model`` shows, as a graph whose node and edge attributes carry the meaning.

    Parameters
    ----------
    model
        The model.
    states
        The states to show (default: all). Successors outside them lead to the node :data:`MORE`.
    rows
        (m,) the choices to draw (default: all); e.g. the optimal ones, for M*.
    optimal
        (m,) the optimal choices, marked ``optimal=True`` (default: none is marked).
    path
        ``(state, row, successor)`` steps of a counterexample, marked ``path=True``; successor ``-1`` marks
        only the choice (the violating choice at the end of a path).

    Returns
    -------
    networkx.MultiDiGraph
        Graph attribute ``n_hidden`` (states of the model not shown). State nodes ``s<i>`` have
        ``kind="state"``, ``label`` (the varying variables, one ``var=value`` per line), ``initial``,
        ``terminal``, ``path``; choice nodes ``r<row>`` have ``kind="choice"``, ``label`` (the action),
        ``optimal``, ``path``; edges have ``label`` (the action, or a probability below 1), ``optimal`` and
        ``path``.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=0.5, action_names=["go"], terminal=[0, 1])
    >>> graph = model_graph(model)
    >>> sorted(graph.edges(data="label"))
    [('s0', 's1', 'go')]
    """
    shown = np.arange(model.n_states) if states is None else np.fromiter(states, dtype=np.int64)
    is_shown = np.zeros(model.n_states, dtype=bool)
    is_shown[shown] = True
    drawn = np.ones(model.n_rows, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    is_optimal = np.zeros(model.n_rows, dtype=bool) if optimal is None else np.asarray(optimal, dtype=bool)
    path_rows = {row for _, row, _ in path}
    path_edges = {(row, successor) for _, row, successor in path}
    path_states = {state for step in path for state in (step[0], step[2]) if state >= 0}
    starts = set(model.start_states.tolist())
    columns = varying_variables(model, shown)

    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph(n_hidden=int(model.n_states - shown.size))
    for state in shown.tolist():
        graph.add_node(f"s{state}", kind="state", label="\n".join(state_parts(model, state, columns)),
                       initial=state in starts, terminal=bool(model.terminal[state]),
                       path=state in path_states)
    P = model.P
    for state in shown.tolist():
        for row in model.rows(state):
            name = model.action_names[model.row_action[row]]
            if not drawn[row] or name == TERMINAL_ACTION:
                continue
            start, stop = P.indptr[row], P.indptr[row + 1]
            successors = [(int(t), float(p)) for t, p in zip(P.indices[start:stop], P.data[start:stop]) if p > 0]
            marks = {"optimal": bool(is_optimal[row]), "path": row in path_rows}
            if len(successors) == 1:
                target = successors[0][0]
                graph.add_edge(f"s{state}", _node(target, is_shown, graph), label=name, **marks)
                continue
            choice = f"r{row}"
            graph.add_node(choice, kind="choice", label=name, **marks)
            graph.add_edge(f"s{state}", choice, label="", **marks)
            hidden = sum(p for target, p in successors if not is_shown[target])
            for target, p in successors:
                if is_shown[target]:
                    graph.add_edge(choice, f"s{target}", label=f"{p:.3g}", optimal=marks["optimal"],
                                   path=(row, target) in path_edges)
            if hidden > 0:  # one edge for all outcomes not shown
                graph.add_edge(choice, _node(-1, is_shown, graph), label=f"{hidden:.3g}", optimal=marks["optimal"],
                               path=False)
    return graph


def _node(state: int, is_shown: npt.NDArray[np.bool_], graph: nx.MultiDiGraph) -> str:
    """The node of a successor: its own when shown, else :data:`MORE` (added on first use)."""
    if state >= 0 and is_shown[state]:
        return f"s{state}"
    if MORE not in graph:
        graph.add_node(MORE, kind="more", label=f"{graph.graph['n_hidden']:,} more states", initial=False,
                       terminal=False, path=False)
    return MORE


def _quote(text: str) -> str:
    """A DOT string literal: quotes and backslashes escaped, line breaks as centred ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"\r\n|\r|\n", r"\\n", escaped) + '"'


def _attributes(attributes: dict[str, str]) -> str:
    return "[" + ", ".join(f"{key}={_quote(value)}" for key, value in attributes.items()) + "]"


def to_dot(graph: nx.MultiDiGraph, name: str = "model", title: str | None = None) -> str:
    """The graph of :func:`model_graph` in Graphviz's DOT language, styled for reading.

    States are rounded boxes (the initial state filled blue, terminal states grey with a double
    border), choices small ellipses; optimal choices are bold and dark blue, the others grey when some
    choice is marked optimal; the counterexample path is red. ``title`` goes above the picture,
    followed by a legend line.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=0.5, action_names=["go"], terminal=[0, 1])
    >>> print(to_dot(model_graph(model), "tiny"))  # doctest: +NORMALIZE_WHITESPACE
    digraph "tiny" {
      graph [rankdir="LR", fontname="Helvetica", labelloc="t", nodesep="0.3", ranksep="0.5"];
      node [fontname="Helvetica", fontsize="11"];
      edge [fontname="Helvetica", fontsize="9"];
      "s0" [label="s=0", shape="box", style="rounded,filled,bold", fillcolor="#dbe9f6", color="black"];
      "s1" [label="s=1", shape="box", style="rounded,filled", fillcolor="#e8e8e8", color="black", peripheries="2"];
      "s0" -> "s1" [label="go", color="black", fontcolor="black"];
    }
    """
    marks_optimal = any(optimal for *_, optimal in graph.edges(data="optimal", default=False))
    out = [f"digraph {_quote(name)} {{"]
    layout = {"rankdir": "LR", "fontname": "Helvetica", "labelloc": "t", "nodesep": "0.3", "ranksep": "0.5"}
    if title:
        layout["label"] = title + "\n" + legend(graph) + "\n"
        layout["fontsize"] = "14"
    out.append(f"  graph {_attributes(layout)};")
    out.append('  node [fontname="Helvetica", fontsize="11"];')
    out.append('  edge [fontname="Helvetica", fontsize="9"];')
    for node, data in graph.nodes(data=True):
        out.append(f"  {_quote(node)} {_attributes(_node_style(data, marks_optimal))};")
    for source, target, data in graph.edges(data=True):
        color = _color(data, marks_optimal)
        style = {"label": data["label"], "color": color, "fontcolor": color}
        if data["optimal"] or data["path"]:
            style["penwidth"] = "2.2"
        if target == MORE:
            style["style"] = "dashed"
        out.append(f"  {_quote(source)} -> {_quote(target)} {_attributes(style)};")
    out.append("}")
    return "\n".join(out) + "\n"


def _color(data: dict[str, object], marks_optimal: bool) -> str:
    """Red on the path, blue when optimal, grey for the other choices when optimal ones are marked."""
    if data.get("path"):
        return PATH_COLOR
    if data.get("optimal"):
        return OPTIMAL_COLOR
    return OTHER_COLOR if marks_optimal else "black"


def _node_style(data: dict[str, object], marks_optimal: bool) -> dict[str, str]:
    kind = data["kind"]
    if kind == "choice":
        color = _color(data, marks_optimal)
        return {"label": str(data["label"]), "shape": "ellipse", "style": "filled", "fillcolor": "white",
                "color": color, "fontcolor": color, "fontsize": "9", "margin": "0.02,0.01", "height": "0.2"}
    if kind == "more":
        return {"label": str(data["label"]), "shape": "box", "style": "dashed", "color": OTHER_COLOR,
                "fontcolor": OTHER_COLOR}
    style = {"label": str(data["label"]), "shape": "box", "style": "rounded,filled",
             "fillcolor": INITIAL_FILL if data["initial"] else TERMINAL_FILL if data["terminal"] else "white",
             "color": PATH_COLOR if data["path"] else "black"}
    if data["initial"] or data["path"]:
        style["style"] += ",bold"
    if data["terminal"]:
        style["peripheries"] = "2"
    return style


def legend(graph: nx.MultiDiGraph) -> str:
    """One line saying what the colours and shapes of :func:`to_dot` mean, for what the graph contains."""
    kinds = {kind for _, kind in graph.nodes(data="kind")}
    optimal = [flag for *_, flag in graph.edges(data="optimal", default=False)]
    parts = ["blue: initial state", "grey: terminal state"]
    if any(optimal):
        parts.append("bold blue: optimal choice" + ("" if all(optimal) else ", thin grey: not optimal"))
    if any(flag for *_, flag in graph.edges(data="path", default=False)):
        parts.append("red: counterexample path")
    if "choice" in kinds:
        parts.append("small ellipse: a choice with several outcomes, edges give their probabilities")
    if MORE in graph:
        parts.append(f"dashed: to the {graph.graph['n_hidden']:,} states not shown")
    return "; ".join(parts)
