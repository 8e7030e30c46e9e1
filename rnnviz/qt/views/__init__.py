"""rnnviz's Qt views: each a :class:`TraceView` that reads a Trace and never recomputes it.

``make_views()`` returns one of each, keyed "graph", "hidden", "cell", "gates", "saturation",
"gradients", "training", "spectrum", "predictions", "equations".
"""

from __future__ import annotations

from rnnviz.qt.views.base import TraceView
from rnnviz.qt.views.equations import EquationsView
from rnnviz.qt.views.gradients import GradientFlowView
from rnnviz.qt.views.graph_view import GraphView
from rnnviz.qt.views.heatmaps import CellStateView, GatesView, HiddenStateView, SaturationView
from rnnviz.qt.views.predictions import PredictionsView
from rnnviz.qt.views.spectrum import SpectrumView
from rnnviz.qt.views.training import TrainingView

VIEW_CLASSES: dict[str, type[TraceView]] = {
    "graph": GraphView,
    "hidden": HiddenStateView,
    "cell": CellStateView,
    "gates": GatesView,
    "saturation": SaturationView,
    "gradients": GradientFlowView,
    "training": TrainingView,
    "spectrum": SpectrumView,
    "predictions": PredictionsView,
    "equations": EquationsView,
}


def make_views() -> dict[str, TraceView]:
    """One instance of every view, keyed by name (needs a QApplication)."""
    return {name: cls() for name, cls in VIEW_CLASSES.items()}


__all__ = ["VIEW_CLASSES", "CellStateView", "EquationsView", "GatesView", "GradientFlowView", "GraphView",
           "HiddenStateView", "PredictionsView", "SaturationView", "SpectrumView", "TraceView", "TrainingView",
           "make_views"]
