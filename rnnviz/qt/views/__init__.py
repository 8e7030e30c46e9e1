"""rnnviz's Qt views: each a :class:`TraceView` that reads a Trace and never recomputes it.

A view registers under its panel's name (:mod:`rnnviz.app.panels`, the one list of panels the
tabs, lessons and exporters share); :data:`VIEW_CLASSES` is in the registry's order.
``make_views()`` returns one of each.
"""

from __future__ import annotations

from rnnviz.app.panels import PANELS
from rnnviz.qt.views.base import TraceView
from rnnviz.qt.views.dynamics import DynamicsView
from rnnviz.qt.views.equations import EquationsView
from rnnviz.qt.views.gates import GatesView
from rnnviz.qt.views.gradients import GradientFlowView
from rnnviz.qt.views.graph_view import GraphView
from rnnviz.qt.views.predictions import PredictionsView
from rnnviz.qt.views.saturation import SaturationView
from rnnviz.qt.views.spectrum import SpectrumView
from rnnviz.qt.views.states import CellStateView, HiddenStateView
from rnnviz.qt.views.training import TrainingView

_VIEWS: dict[str, type[TraceView]] = {}


def register_view(name: str, cls: type[TraceView]) -> type[TraceView]:
    """Register ``cls`` as the Qt view of panel ``name`` (which must be in the panel registry)."""
    if name not in PANELS:
        raise ValueError(f"no panel {name!r} is registered (rnnviz.app.panels.register_panel first)")
    _VIEWS[name] = cls
    VIEW_CLASSES.clear()
    VIEW_CLASSES.update((n, _VIEWS[n]) for n in PANELS if n in _VIEWS)
    return cls


#: panel name → view class, in the panel registry's order.
VIEW_CLASSES: dict[str, type[TraceView]] = {}

for _name, _cls in (("graph", GraphView), ("hidden", HiddenStateView), ("cell", CellStateView),
                    ("gates", GatesView), ("saturation", SaturationView), ("gradients", GradientFlowView),
                    ("training", TrainingView), ("spectrum", SpectrumView), ("predictions", PredictionsView),
                    ("equations", EquationsView), ("dynamics", DynamicsView)):
    register_view(_name, _cls)


def make_views() -> dict[str, TraceView]:
    """One instance of every view, keyed by name (needs a QApplication)."""
    return {name: cls() for name, cls in VIEW_CLASSES.items()}


__all__ = ["VIEW_CLASSES", "CellStateView", "DynamicsView", "EquationsView", "GatesView", "GradientFlowView",
           "GraphView", "HiddenStateView", "PredictionsView", "SaturationView", "SpectrumView", "TraceView",
           "TrainingView", "make_views", "register_view"]
