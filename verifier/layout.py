"""A layered layout of a picture's graph: columns by breadth-first depth, few crossings, wide columns wrapped.

:func:`layered_layout` places the boxes of ``corrigo render``'s pictures (:func:`mdp.dot.model_graph`) left to
right, as Graphviz's ``dot`` does, without Graphviz: layer ``d`` holds the nodes at breadth-first depth ``d``
from the initial state; within a layer, nodes are ordered by a few barycentre sweeps (Sugiyama et al.'s
heuristic: each node moves to the mean place of its neighbours in the layer before, or after), keeping the
order with the fewest crossings between neighbouring layers. A layer too tall for the picture wraps into
several columns (row by row, so the order still runs top to bottom), and a wide picture too wide for its
height wraps its layers into bands, one below the other. How much to wrap is chosen so that the picture comes out
about :data:`ASPECT` times as wide as it is high.

It is a pure function of the graph and the size of each node's box, in points, so that tests check that no
boxes overlap and how large the picture gets without drawing it.

References
----------
K. Sugiyama, S. Tagawa, M. Toda. Methods for visual understanding of hierarchical system structures. IEEE
Transactions on Systems, Man, and Cybernetics 11(2), 1981.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from mdp.dot import MORE

__all__ = ["ASPECT", "Layout", "layered_layout", "layers", "ordered_layers"]

ASPECT = 1.6
"""The width : height a picture aims for (it is drawn left to right), wrapping the columns of its layers."""
MAX_ASPECT = 3.0
"""The widest a picture may be for its height before its layers wrap into bands, one below the other..."""
BAND_WIDTH = 1200.0
"""... unless it is narrower than this, in points (a small picture is short and wide, its title above it)."""
LAYER_GAP = 36.0
"""The least room between two layers, in points; more when the labels of the edges between them need it."""
LABEL_MARGIN = 10.0
"""Room on either side of an edge label between two layers."""
ROW_GAP = 12.0
"""Room between two boxes one above the other."""
COLUMN_GAP = 24.0
"""Room between the columns a wrapped layer is drawn in."""
BAND_GAP = 48.0
"""Room between two bands of layers."""
SWEEPS = 8
"""Barycentre sweeps (down, up, down, ...) ordering the layers."""


@dataclass(frozen=True, eq=False)
class Layout:
    """Where each node's box goes, in points (1/72 inch), ``y`` upwards; the boxes lie in ``width`` x ``height``.

    ``above`` is the room kept free above a box (a state's self-loop labels are written there); no box
    and no such room overlap another's.
    """

    position: dict[str, tuple[float, float]]  # the centre of each node's box
    size: dict[str, tuple[float, float]]  # (width, height) of each node's box
    above: dict[str, float]
    width: float
    height: float
    depth: dict[str, int]  # the layer of each node
    n_bands: int

    def box(self, node: str) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the node's box and the room above it."""
        (x, y), (width, height) = self.position[node], self.size[node]
        return x - width / 2, y - height / 2, x + width / 2, y + height / 2 + self.above.get(node, 0.0)


def layers(graph: nx.MultiDiGraph) -> dict[str, int]:
    """The breadth-first depth of every node from the initial state(s); nodes it does not reach go last.

    Examples
    --------
    >>> graph = nx.MultiDiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")])
    >>> graph.nodes["a"]["initial"] = True
    >>> layers(graph)
    {'a': 0, 'b': 1, 'c': 2, 'd': 3}
    """
    sources = [node for node, initial in graph.nodes(data="initial") if initial] or list(graph)[:1]
    depth = {node: i for i, layer in enumerate(nx.bfs_layers(graph, sources)) for node in layer}
    last = max(depth.values(), default=-1) + 1
    if MORE in graph:
        depth[MORE] = last  # the states left out lie beyond everything shown
    return {node: depth.get(node, last) for node in graph}


def ordered_layers(graph: nx.MultiDiGraph, depth: Mapping[str, int]) -> list[list[str]]:
    """The nodes of each layer, top to bottom, ordered by barycentre sweeps to cut down crossings.

    The sweeps start from breadth-first order; the order kept is the one with the fewest crossings between
    the edges of neighbouring layers (:func:`crossings`).
    """
    n_layers = max(depth.values(), default=-1) + 1
    first_seen = {node: i for i, node in enumerate(_breadth_first(graph, depth))}
    order: list[list[str]] = [[] for _ in range(n_layers)]
    for node in sorted(graph, key=first_seen.__getitem__):
        order[depth[node]].append(node)
    # in the graph's order, not a set's: sums of places (and so ties) must not depend on string hashing
    neighbours = {node: [other for other in dict.fromkeys([*graph.predecessors(node), *graph.successors(node)])
                         if other != node] for node in graph}
    best, fewest = [list(layer) for layer in order], crossings(graph, order)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        place = _places(order)
        for d in range(1, n_layers) if down else range(n_layers - 2, -1, -1):
            near = d - 1 if down else d + 1

            def barycentre(node: str, near: int = near) -> float:
                places = [place[other] for other in neighbours[node] if depth[other] == near]
                return sum(places) / len(places) if places else place[node]

            order[d].sort(key=barycentre)  # stable: nodes with equal barycentres keep their order
            place.update(_places([order[d]]))
        count = crossings(graph, order)
        if count < fewest:
            best, fewest = [list(layer) for layer in order], count
    return best


def crossings(graph: nx.MultiDiGraph, order: Sequence[Sequence[str]]) -> int:
    """How many pairs of edges between neighbouring layers cross, when each layer is a column in ``order``.

    Examples
    --------
    >>> graph = nx.MultiDiGraph([("a", "d"), ("b", "c")])
    >>> crossings(graph, [["a", "b"], ["c", "d"]]), crossings(graph, [["a", "b"], ["d", "c"]])
    (1, 0)
    """
    where = {node: (d, i) for d, layer in enumerate(order) for i, node in enumerate(layer)}
    between: dict[int, list[tuple[int, int]]] = {}
    for source, target in graph.edges():
        (d, i), (e, j) = where[source], where[target]
        if abs(d - e) == 1:
            between.setdefault(min(d, e), []).append((i, j) if d < e else (j, i))
    total = 0
    for pairs in between.values():
        ends = np.array(pairs, dtype=np.int64)  # (n_edges, 2): the place at the left end, at the right end
        left, right = ends[:, 0], ends[:, 1]
        total += int(np.count_nonzero(np.subtract.outer(left, left) * np.subtract.outer(right, right) < 0)) // 2
    return total


def _places(order: Sequence[Sequence[str]]) -> dict[str, float]:
    """Each node's place in its layer, from 0 (top) to 1 (bottom)."""
    return {node: i / max(len(layer) - 1, 1) for layer in order for i, node in enumerate(layer)}


def _breadth_first(graph: nx.MultiDiGraph, depth: Mapping[str, int]) -> list[str]:
    """The nodes in the order a breadth-first search from the first layer meets them, the unreached after."""
    sources = [node for node in graph if depth[node] == 0]
    seen = [node for layer in nx.bfs_layers(graph, sources) for node in layer] if sources else []
    met = set(seen)
    return seen + [node for node in graph if node not in met]


@dataclass(frozen=True, slots=True)
class _Wrapped:
    """A layer drawn in ``n_columns`` columns, row by row: its size and the size of each column and row."""

    n_columns: int
    column_widths: tuple[float, ...]
    row_heights: tuple[float, ...]

    @property
    def width(self) -> float:
        return sum(self.column_widths) + COLUMN_GAP * (self.n_columns - 1)

    @property
    def height(self) -> float:
        return sum(self.row_heights) + ROW_GAP * (len(self.row_heights) - 1)


def _wrappings(layer: Sequence[str], size: Mapping[str, tuple[float, float]],
               above: Mapping[str, float]) -> list[_Wrapped]:
    """The layer in 1, 2, ... ``len(layer)`` columns (index ``k - 1``)."""
    widths = [size[node][0] for node in layer]
    heights = [size[node][1] + above.get(node, 0.0) for node in layer]
    return [_Wrapped(k, tuple(max(widths[j::k]) for j in range(min(k, len(layer)))),
                     tuple(max(heights[i:i + k]) for i in range(0, len(layer), k)))
            for k in range(1, len(layer) + 1)]


def _bands(widths: Sequence[float], gaps: Sequence[float], n_bands: int) -> list[range]:
    """Split the layers, in order, into at most ``n_bands`` bands of about equal width (greedy)."""
    total = sum(widths) + sum(gaps[1:])
    target = total / n_bands
    bands: list[range] = []
    start, run = 0, 0.0
    for d, width in enumerate(widths):
        extra = width + (gaps[d] if d > start else 0.0)
        if d > start and run + extra / 2 > target and len(bands) < n_bands - 1:
            bands.append(range(start, d))
            start, run = d, width
        else:
            run += extra
    bands.append(range(start, len(widths)))
    return bands


def layered_layout(graph: nx.MultiDiGraph, size: Mapping[str, tuple[float, float]], *,
                   above: Mapping[str, float] | None = None,
                   label_width: Mapping[tuple[str, str], float] | None = None, aspect: float = ASPECT) -> Layout:
    """Place every node of ``graph``: layers left to right, wrapped so that the picture is about ``aspect`` wide.

    Parameters
    ----------
    graph
        The picture's graph (:func:`mdp.dot.model_graph`): its ``initial`` nodes make the first layer.
    size
        ``(width, height)`` of each node's box, in points.
    above
        Room to keep free above a node's box, in points (default: none).
    label_width
        The width of the label of each edge ``(source, target)`` that has one, in points: the room between
        two layers fits the labels of the edges between them.
    aspect
        The width : height to aim for.

    Returns
    -------
    Layout
        Positions in points with ``y`` upwards, inside ``[0, width] x [0, height]``.

    Examples
    --------
    >>> graph = nx.MultiDiGraph([("a", "b"), ("a", "c")])
    >>> graph.nodes["a"]["initial"] = True
    >>> layout = layered_layout(graph, {"a": (40, 20), "b": (60, 20), "c": (60, 30)})
    >>> layout.width, layout.height
    (136.0, 62.0)
    >>> layout.position
    {'a': (20.0, 31.0), 'b': (106.0, 52.0), 'c': (106.0, 15.0)}
    """
    above = dict(above or {})
    label_width = label_width or {}
    depth = layers(graph)
    order = ordered_layers(graph, depth)
    n_layers = len(order)
    gaps = [0.0] * n_layers  # the room to the left of each layer
    for (source, target), width in label_width.items():
        d, e = depth[source], depth[target]
        if abs(d - e) == 1:
            gaps[max(d, e)] = max(gaps[max(d, e)], width + 2 * LABEL_MARGIN)
    gaps = [0.0] + [max(gap, LAYER_GAP) for gap in gaps[1:]]
    wrappings = [_wrappings(layer, size, above) for layer in order]

    def arrange(budget: float, n_bands: int) -> tuple[list[_Wrapped], list[range], float, float]:
        """Each layer in as few columns as fit ``budget`` high, the layers in ``n_bands`` bands; the extent."""
        chosen = [next((w for w in options if w.height <= budget), options[-1]) for options in wrappings]
        bands = _bands([w.width for w in chosen], gaps, n_bands)
        width = max(sum(chosen[d].width + (gaps[d] if d > band.start else 0.0) for d in band) for band in bands)
        height = sum(max(chosen[d].height for d in band) for band in bands) + BAND_GAP * (len(bands) - 1)
        return chosen, bands, width, height

    # the candidate column heights: each layer's height in each number of columns, from a single row up
    floor = max(options[-1].height for options in wrappings)
    budgets = sorted({w.height for options in wrappings for w in options if w.height >= floor})
    arranged = None
    for n_bands in range(1, n_layers + 1):  # bands break the flow left to right: as few as keep it in shape
        candidates = [arrange(budget, n_bands) for budget in budgets]
        candidates = [candidate for candidate in candidates if len(candidate[1]) == n_bands] or candidates
        # the most compact: the shorter the longer side, the width weighed by the aspect aimed for
        arranged = min(candidates, key=lambda candidate: max(candidate[2] / aspect, candidate[3]))
        if arranged[2] <= max(MAX_ASPECT * arranged[3], BAND_WIDTH):
            break
    assert arranged is not None, "a graph has a node"
    chosen, bands, width, height = arranged

    position: dict[str, tuple[float, float]] = {}
    top = height
    for band in bands:
        band_height = max(chosen[d].height for d in band)
        left = 0.0
        for d in band:
            wrapped = chosen[d]
            left += gaps[d] if d > band.start else 0.0
            row_top = top - (band_height - wrapped.height) / 2  # each layer centred in its band
            for r, row_height in enumerate(wrapped.row_heights):
                x = left
                for j, node in enumerate(order[d][r * wrapped.n_columns:(r + 1) * wrapped.n_columns]):
                    node_height = size[node][1] + above.get(node, 0.0)
                    box_top = row_top - (row_height - node_height) / 2 - above.get(node, 0.0)
                    position[node] = (x + wrapped.column_widths[j] / 2, box_top - size[node][1] / 2)
                    x += wrapped.column_widths[j] + COLUMN_GAP
                row_top -= row_height + ROW_GAP
            left += wrapped.width
        top -= band_height + BAND_GAP
    return Layout({node: position[node] for node in graph}, {node: size[node] for node in graph}, above, width,
                  height, depth, len(bands))
