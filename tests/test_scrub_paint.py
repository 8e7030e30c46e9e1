"""The cheap-to-scrub items keep drawing the right thing: a CursorLine that keeps its box across
moves still covers the plot at its new step (and after a new view range), and a DimBand whose
sides repaint only the strip they moved across dims exactly the steps asked for; the graph's
loss bus is one line, each L_t keeping only its stub."""

from __future__ import annotations

import pyqtgraph as pg

from rnnviz.qt.views.base import DimBand, make_cursor


def _plot(qtbot):
    pw = pg.PlotWidget()
    qtbot.addWidget(pw)
    pw.resize(600, 300)
    pw.show()
    qtbot.waitExposed(pw)
    plot = pw.getPlotItem()
    plot.setXRange(0, 100, padding=0)
    plot.setYRange(-1, 1, padding=0)
    return pw, plot


def _x_on_screen(plot, x):
    return plot.vb.mapViewToScene(pg.Point(x, 0)).x()


def test_cursor_line_covers_the_plot_wherever_it_moves(qtbot):
    pw, plot = _plot(qtbot)
    line = make_cursor(plot)
    vb = plot.vb.sceneBoundingRect()
    for t in (10, 11, 57, 3, 99):
        line.setValue(t)
        qtbot.wait(1)
        box = line.sceneBoundingRect()
        x = _x_on_screen(plot, t)
        assert box.left() < x < box.right() and box.width() < 20, (t, box, x)
        assert box.top() <= vb.top() + 1 and box.bottom() >= vb.bottom() - 1
    plot.setYRange(-5, 20, padding=0)  # a new view range: the box follows it
    plot.setXRange(50, 150, padding=0)
    qtbot.wait(20)  # the view applies its new range when it paints
    line.setValue(120)
    qtbot.wait(20)
    box = line.sceneBoundingRect()
    x = _x_on_screen(plot, 120)
    assert box.left() < x < box.right() and box.width() < 20
    assert box.top() <= vb.top() + 1 and box.bottom() >= vb.bottom() - 1


def test_dim_band_dims_the_steps_asked_for(qtbot):
    pw, plot = _plot(qtbot)
    dim = DimBand(plot)
    dim.set_y(-1, 1)
    dim.update(None, 40.5, -0.5, 99.5)  # forward pass at step 40: the future dimmed
    assert dim.dimmed == (False, True)
    r = dim.right.rect
    assert (r.left(), r.right()) == (40.5, 99.5)
    dim.update(None, 41.5, -0.5, 99.5)  # one step on: the edge moved, the rest as it was
    assert (dim.right.rect.left(), dim.right.rect.right()) == (41.5, 99.5)
    dim.update(60.5, None, -0.5, 99.5)  # BPTT: the steps before 60 dimmed, nothing after
    assert dim.dimmed == (True, False)
    assert (dim.left.rect.left(), dim.left.rect.right()) == (-0.5, 60.5)
    dim.update(None, None, -0.5, 99.5)
    assert dim.dimmed == (False, False)
    # what is painted: the dimmed side is darker than the same pixels undimmed
    dim.update(None, 49.5, -0.5, 99.5)
    img = pw.grab().toImage()
    y = int(plot.vb.mapViewToScene(pg.Point(0, 0.5)).y())
    before = img.pixelColor(int(_x_on_screen(plot, 25)), y).lightness()
    after = img.pixelColor(int(_x_on_screen(plot, 75)), y).lightness()
    assert after != before


def test_loss_bus_is_one_line_and_each_step_keeps_a_stub(qtbot):
    """Many-to-many: each L_t → L edge is L_t's own stub up to the bus (a repaint near step t no
    longer paints every earlier step's path), and one bus from the first L_t runs into L, in the
    pen of the first L_t's edge."""
    import rnnviz
    from rnnviz.app.actions import record_run
    from rnnviz.core.graph import TOTAL_LOSS
    from rnnviz.qt.views.graph_view import GraphView

    trace = record_run(rnnviz.RunConfig().with_overrides(cell="rnn", task="char_lm", seq_len=30, batch_size=2,
                                                          hidden_size=6)).trace
    v = GraphView()
    qtbot.addWidget(v)
    v.resize(1000, 420)
    v.show()
    v.set_trace(trace)
    v.set_cursor(5, "forward", 0, 0)
    v.finish_build()
    step = v.node_items[("L", 1)].rect().center().x() - v.node_items[("L", 0)].rect().center().x()
    for t in range(30):
        stub = v.edge_items[(("L", t), TOTAL_LOSS)].path().boundingRect()
        assert stub.width() < step / 2, (t, stub)
    bus, first = v._bus
    assert first == (("L", 0), TOTAL_LOSS)
    box = bus.path().boundingRect()
    assert abs(box.left() - v.node_items[("L", 0)].rect().center().x()) < 1
    assert box.right() <= v.node_items[TOTAL_LOSS].rect().left() + 1
    assert bus.pen().style() == v.edge_items[first].pen().style()
    assert bus.pen().color() == v.edge_items[first].pen().color()
