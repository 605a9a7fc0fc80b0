"""verifier.layout and the matplotlib picture's geometry: layers, order, wrapping, no overlaps, sane sizes."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import pytest

import dsl
import mdp
from mdp.dot import MORE
from verifier.layout import (BAND_GAP, BAND_WIDTH, COLUMN_GAP, LAYER_GAP, MAX_ASPECT, ROW_GAP, Layout, crossings,
                             layered_layout, layers, ordered_layers)
from verifier.render import (CHOICE_PAD, Picture, figure_size, picture, picture_dpi, picture_layout, text_size,
                             write_picture)

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def overlapping(layout: Layout) -> list[tuple[str, str]]:
    """The pairs of nodes whose boxes (with the room above them) overlap."""
    boxes = {node: layout.box(node) for node in layout.position}
    return [(a, b) for a, b in itertools.combinations(boxes, 2)
            if boxes[a][0] < boxes[b][2] and boxes[b][0] < boxes[a][2]
            and boxes[a][1] < boxes[b][3] and boxes[b][1] < boxes[a][3]]


def inside(layout: Layout) -> bool:
    """Every box, and the room above it, lies within ``[0, width] x [0, height]``."""
    eps = 1e-9
    return all(x0 >= -eps and y0 >= -eps and x1 <= layout.width + eps and y1 <= layout.height + eps
               for x0, y0, x1, y1 in map(layout.box, layout.position))


def rooted(edges: list[tuple[str, str]], root: str = "r") -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(edges)
    graph.nodes[root]["initial"] = True
    return graph


# --- layers and their order -----------------------------------------------------------------------------


def test_layers_are_breadth_first_depths_with_the_unreached_and_the_cut_last() -> None:
    graph = rooted([("r", "a"), ("a", "b"), ("b", "r"), ("x", "a"), ("a", MORE)])
    assert layers(graph) == {"r": 0, "a": 1, "b": 2, "x": 3, MORE: 3}
    graph.nodes["x"]["initial"] = True  # several start states: all in the first layer
    assert layers(graph) == {"r": 0, "a": 1, "b": 2, "x": 0, MORE: 3}


def test_barycentre_sweeps_remove_the_crossing_breadth_first_order_leaves() -> None:
    # breadth first: [r], [a, b, c], [y, x]; the edge b-x crosses c-y. Sweeping up, c (next to y) moves
    # above b (next to x): [a, c, b] has no crossing
    graph = rooted([("r", "a"), ("r", "b"), ("r", "c"), ("a", "y"), ("b", "x"), ("c", "y")])
    assert crossings(graph, [["r"], ["a", "b", "c"], ["y", "x"]]) == 1
    order = ordered_layers(graph, layers(graph))
    assert order == [["r"], ["a", "c", "b"], ["y", "x"]]
    assert crossings(graph, order) == 0


def test_crossings_count_pairs_of_edges_between_neighbouring_layers_only() -> None:
    # a-d and b-c cross; the edge r-d skips a layer and is not counted; a self-loop is not either
    graph = nx.MultiDiGraph([("r", "a"), ("r", "b"), ("a", "d"), ("b", "c"), ("r", "d"), ("a", "a")])
    assert crossings(graph, [["r"], ["a", "b"], ["c", "d"]]) == 1
    assert crossings(graph, [["r"], ["b", "a"], ["c", "d"]]) == 0


# --- wrapping -------------------------------------------------------------------------------------------


def test_a_wide_layer_wraps_into_columns_row_by_row() -> None:
    # 30 leaves 100 x 40 under a root 100 x 40. In k columns the leaves take ceil(30 / k) rows:
    #   k=1: 1548 high, 236 wide: max(236 / 1.6, 1548) = 1548
    #   k=3: 10 rows, 508 high, 100 + 36 + 3 * 100 + 2 * 24 = 484 wide: max(302.5, 508) = 508
    #   k=4:  8 rows, 404 high, 608 wide: max(380, 404) = 404, the least
    #   k=5:  6 rows, 300 high, 732 wide: max(457.5, 300) = 457.5
    leaves = [f"n{i:02d}" for i in range(30)]
    graph = rooted([("r", leaf) for leaf in leaves])
    layout = layered_layout(graph, dict.fromkeys(["r", *leaves], (100.0, 40.0)))
    assert (layout.width, layout.height, layout.n_bands) == (608.0, 404.0, 1)
    assert layout.height == 8 * 40 + 7 * ROW_GAP and layout.width == 100 + LAYER_GAP + 4 * 100 + 3 * COLUMN_GAP
    assert layout.position["r"] == (50.0, 202.0)  # centred in the height
    # row by row: n00 n01 n02 n03 / n04 ..., so the order still runs top to bottom
    assert [layout.position[leaf] for leaf in leaves[:5]] == [(186.0, 384.0), (310.0, 384.0), (434.0, 384.0),
                                                               (558.0, 384.0), (186.0, 332.0)]
    assert layout.position["n29"] == (310.0, 20.0)  # the last row holds n28 and n29
    assert overlapping(layout) == [] and inside(layout)


def test_a_long_chain_wraps_into_bands_until_it_is_at_most_max_aspect_wide() -> None:
    # 40 boxes 100 x 40 in a row are 40 * 100 + 39 * 36 = 5404 wide and 40 high. In b bands of about
    # 40 / b layers, one below the other (48 apart):
    #   b=4: 10 a band, 1324 wide, 4 * 40 + 3 * 48 = 304 high: 4.4 times as wide, more than MAX_ASPECT (3)
    #   b=5:  8 a band, 1052 wide, 392 high: 2.7 times as wide (and narrower than BAND_WIDTH)
    chain = [f"n{i:02d}" for i in range(40)]
    graph = rooted(list(itertools.pairwise(chain)), root="n00")
    layout = layered_layout(graph, dict.fromkeys(chain, (100.0, 40.0)))
    assert layout.n_bands == 5
    assert (layout.width, layout.height) == (8 * 100 + 7 * LAYER_GAP, 5 * 40 + 4 * BAND_GAP)
    assert layout.width / layout.height <= MAX_ASPECT
    # each band runs left to right, the bands top to bottom: reading order is the chain's order
    reading = sorted(chain, key=lambda node: (-layout.position[node][1], layout.position[node][0]))
    assert reading == chain
    assert [node for node in chain if layout.position[node][0] == 50.0] == ["n00", "n08", "n16", "n24", "n32"]
    assert overlapping(layout) == [] and inside(layout)


def test_a_short_chain_stays_in_one_band() -> None:
    # 6 boxes in a row are 6 * 100 + 5 * 36 = 780 wide: 19.5 times as wide as high, but narrower than BAND_WIDTH
    chain = [f"n{i}" for i in range(6)]
    layout = layered_layout(rooted(list(itertools.pairwise(chain)), root="n0"), dict.fromkeys(chain, (100.0, 40.0)))
    assert (layout.n_bands, layout.width, layout.height) == (1, 780.0, 40.0) and layout.width < BAND_WIDTH
    assert [layout.position[node] for node in chain] == [(50.0 + 136 * i, 20.0) for i in range(6)]


def test_room_above_a_box_and_for_edge_labels_is_kept() -> None:
    graph = rooted([("r", "a"), ("r", "b"), ("r", "r")])
    size = {"r": (50.0, 20.0), "a": (50.0, 20.0), "b": (50.0, 20.0)}
    layout = layered_layout(graph, size, above={"b": 15.0}, label_width={("r", "a"): 70.0})
    # the gap before layer 1 fits the label of r -> a and 10 points on either side of it
    assert layout.position["a"][0] - 25 - (layout.position["r"][0] + 25) == 90.0
    # a's box, then b's box with its 15 points of room above, stacked with one row gap
    assert layout.height == 20 + ROW_GAP + 15 + 20
    assert layout.box("b") == (140.0, 0.0, 190.0, 35.0) and layout.box("a") == (140.0, 47.0, 190.0, 67.0)
    assert overlapping(layout) == [] and inside(layout)


def test_one_node_is_a_picture_of_its_box() -> None:
    layout = layered_layout(rooted([("r", "r")]), {"r": (30.0, 10.0)})
    assert (layout.position, layout.width, layout.height, layout.n_bands) == ({"r": (15.0, 5.0)}, 30.0, 10.0, 1)


# --- the matplotlib picture of real models ----------------------------------------------------------------


def drawing_of(name: str, **options: object) -> Picture:
    spec = dsl.load(EXAMPLES / name)
    model = mdp.compile(spec)
    return picture(spec, model, mdp.solve(model), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=[("household_robot.corrigo", 105, 222), ("gridworld_robot.corrigo", 128, 87)],
                ids=["household_robot-105-states", "gridworld_robot-128-states"])
def large(request: pytest.FixtureRequest) -> tuple[Picture, Layout]:
    name, n_states, n_choices = request.param
    drawing = drawing_of(name)
    kinds = [kind for _, kind in drawing.graph.nodes(data="kind")]
    assert (drawing.n_shown, kinds.count("state"), kinds.count("choice")) == (n_states, n_states, n_choices)
    return drawing, picture_layout(drawing.graph)


def test_no_boxes_overlap_in_pictures_of_over_a_hundred_states(large: tuple[Picture, Layout]) -> None:
    drawing, layout = large
    assert set(layout.position) == set(drawing.graph) and overlapping(layout) == [] and inside(layout)


def test_boxes_fit_their_labels(large: tuple[Picture, Layout]) -> None:
    drawing, layout = large
    for node, data in drawing.graph.nodes(data=True):
        width, height = text_size(data["label"], 8.0 if data["kind"] == "state" else 7.0)
        box_width, box_height = layout.size[node]
        assert width < box_width <= width + 8 and height < box_height <= height + 8
    long_label = max((data["label"] for _, data in drawing.graph.nodes(data=True)), key=len)
    assert max(w for w, _ in layout.size.values()) >= text_size(long_label, 8.0)[0]


def test_pictures_of_over_a_hundred_states_are_at_most_4000_pixels_and_not_too_narrow(
        large: tuple[Picture, Layout]) -> None:
    drawing, layout = large
    width, height = figure_size(drawing, layout)
    dpi = picture_dpi(width, height)
    pixels = (width * dpi / 72, height * dpi / 72)
    assert max(pixels) <= 4000 and max(pixels) / min(pixels) < 4
    assert 1 < layout.width / layout.height <= MAX_ASPECT and layout.n_bands == 1
    # readable: at 110 dpi, 8-point state labels are 12 pixels high
    assert dpi == 110


def test_the_png_is_as_large_as_computed_and_the_docs_example_is_no_longer_a_column(tmp_path: Path) -> None:
    # the picture of docs/render.md's --max-nodes 20 command was 1334 x 5192 pixels, one column of 68 choices
    from PIL import Image

    drawing = drawing_of("household_robot.corrigo", max_nodes=20)
    out = tmp_path / "robot.png"
    assert write_picture(drawing, out, "png", engine="matplotlib") == "matplotlib"
    width, height = figure_size(drawing, picture_layout(drawing.graph))
    with Image.open(out) as image:
        pixels = image.size
    # matplotlib truncates the canvas to whole pixels: within a pixel of the size computed
    assert all(0 <= size * 110 / 72 - drawn < 1 + 1e-9 for drawn, size in zip(pixels, (width, height)))
    assert max(pixels) <= 2000 and max(pixels) / min(pixels) < 2


@pytest.mark.parametrize("dpi", [110, 92, 72, 40])
def test_text_size_is_what_matplotlib_draws_and_labels_fit_their_boxes_at_lower_resolutions(dpi: int) -> None:
    # exactly at the pictures' 110 dpi; a very large picture is drawn at less (hinted glyphs are then a
    # little narrower or wider), where a label still fits in the room between it and its box
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    label = "battery=4\nroom=switch_room\nswitch=armed"
    figure = Figure(dpi=dpi)
    FigureCanvasAgg(figure)
    extent = figure.text(0.5, 0.5, label, fontsize=8).get_window_extent()
    drawn = (extent.width * 72 / dpi, extent.height * 72 / dpi)
    width, height = text_size(label, 8.0)
    if dpi == 110:
        assert drawn == pytest.approx((width, height), abs=1e-9)
    assert drawn[0] <= width + 2 * CHOICE_PAD and drawn[1] <= height + 2 * CHOICE_PAD
    # the widest line, 16 characters; three lines of 8 points (1.2 lines apart before matplotlib 3.11, which
    # spaces them by the font's own line height: 28.1 points then, 30.3 now)
    assert 70 < width < 85 and 27 < height < 35
    assert text_size("battery=4\nroom=hall", 8.0)[1] < height


def test_the_layout_does_not_depend_on_string_hashing() -> None:
    # the order of a set of node names changes with PYTHONHASHSEED; the household robot's picture came out
    # 3225 or 3237 pixels wide when the barycentres summed over sets
    import os
    import subprocess
    import sys

    script = ("import dsl, mdp; from verifier.render import picture, picture_layout; "
              "spec = dsl.load('examples/household_robot.corrigo'); model = mdp.compile(spec); "
              "layout = picture_layout(picture(spec, model, mdp.solve(model)).graph); "
              "print(sorted(layout.position.items()))")
    root = EXAMPLES.parent
    outputs = {subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1 and "('s0', (" in outputs.pop()
