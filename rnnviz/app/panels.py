"""The panel registry: every picture rnnviz can show, named once (no Qt).

A *panel* is one way of looking at a Trace: the hidden-state heatmap, the gates, the gradient
flow, ... Its ``name`` is the one key used everywhere: the window's tabs and views
(``rnnviz.qt.views.VIEW_CLASSES``), lesson files (``panels = ["gates", ...]``), the exported
PNG / SVG / GIF frames (``rnnviz.export.frames``) and the ``--panels`` option of the CLI.
Titles and "which runs does it apply to" live here too, so the window's tab and the exported
frame cannot disagree about them. How a panel colours its data (levels, log rule, gates shown,
saturation thresholds) is the Qt-free panel model in :mod:`rnnviz.app.panel_model`.

Adding a panel: ``register_panel(PanelSpec("mine", "My view"))`` here (or from your own
module), then register a Qt view under the same name in ``rnnviz/qt/views/__init__.py`` and,
if it can be exported, an export frame with ``@rnnviz.export.frames.frame("mine")``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["ALIASES", "DEFAULT_EXPORT", "PANELS", "PanelSpec", "default_panels", "get_panel", "has_cell_state",
           "has_gates", "panels_for", "register_panel", "resolve"]


def _always(_config: Mapping) -> bool:
    return True


def has_gates(config: Mapping) -> bool:
    """True for a cell with gates (LSTM, GRU, ...), from a config dict (``trace.config``)."""
    from rnnviz.app.panel_model import cell_gates

    return bool(cell_gates(str(config.get("cell", "rnn"))))


def has_cell_state(config: Mapping) -> bool:
    """True for a cell that carries a separate cell state c_t (the LSTM)."""
    from rnnviz.app.panel_model import cell_has_state

    return cell_has_state(str(config.get("cell", "rnn")))


@dataclass(frozen=True)
class PanelSpec:
    """One panel: ``name`` (the stable key), ``title`` (tab and figure title), ``applies``
    (config dict → bool: does this panel show something for such a run?) and ``about`` (one
    line saying what it shows: tooltips and CLI help)."""

    name: str
    title: str
    applies: Callable[[Mapping], bool] = _always
    about: str = ""


#: Every panel in display order, name → spec. Iterating gives the names.
PANELS: dict[str, PanelSpec] = {}

#: Other names accepted on input (older CLI / export names), mapped to the panel's name.
ALIASES = {"loss": "training", "outputs": "predictions", "gradient": "gradients", "grads": "gradients",
           "gate": "gates", "states": "hidden", "state": "hidden", "c": "cell"}

#: What a figure or animation shows when no panels are named (those that apply to the run).
DEFAULT_EXPORT = ("hidden", "gates", "gradients", "graph")


def register_panel(spec: PanelSpec) -> PanelSpec:
    """Add (or replace, keeping its place) panel ``spec.name``; returns the spec."""
    if not spec.name or not spec.name.replace("_", "").isalnum():
        raise ValueError(f"panel names are short identifiers, got {spec.name!r}")
    PANELS[spec.name] = spec
    return spec


def resolve(name: str) -> str:
    """The registered name for ``name`` or one of its :data:`ALIASES`; ValueError if unknown."""
    name = str(name).strip()
    name = ALIASES.get(name, name)
    if name not in PANELS:
        raise ValueError(f"unknown panel {name!r}; valid panels: {', '.join(PANELS)}")
    return name


def get_panel(name: str) -> PanelSpec:
    """The spec of panel ``name`` (aliases accepted); ValueError naming the valid panels if unknown."""
    return PANELS[resolve(name)]


def panels_for(config: Mapping) -> list[PanelSpec]:
    """The panels that show something for a run with this config dict, in display order."""
    return [p for p in PANELS.values() if p.applies(config)]


def default_panels(config: Mapping | None = None, available=None) -> list[str]:
    """The default export panels (:data:`DEFAULT_EXPORT`) that apply to ``config`` (all without
    one) and are in ``available`` (all registered without it)."""
    out = []
    for name in DEFAULT_EXPORT:
        spec = PANELS[name]
        if (config is None or spec.applies(config)) and (available is None or name in available):
            out.append(name)
    return out


for _spec in (
    PanelSpec("graph", "Computation graph", about="the unrolled graph, coloured by |h_t| or ‖∂L/∂h_t‖"),
    PanelSpec("hidden", "Hidden state", about="h_t as a units × time heatmap"),
    PanelSpec("cell", "Cell state", has_cell_state, about="the LSTM's cell state c_t (units × time)"),
    PanelSpec("gates", "Gates", has_gates, about="gate activations, one heatmap per gate"),
    PanelSpec("saturation", "Gate saturation", has_gates, about="how often each unit's gates are shut / open"),
    PanelSpec("gradients", "Gradient flow", about="‖∂L/∂h_t‖ through time, log axis"),
    PanelSpec("training", "Training", about="loss and gradient norm per training step"),
    PanelSpec("spectrum", "W_hh spectrum", about="eigenvalues and singular values of W_hh"),
    PanelSpec("predictions", "Predictions", about="outputs ŷ_t against the targets"),
    PanelSpec("equations", "Equations", about="the cell's step equations in the notes' notation"),
    PanelSpec("dynamics", "Dynamics", about="phase portrait on principal components, fixed points and their "
              "stability, Jacobian singular values beside ‖∂L/∂h_t‖"),
):
    register_panel(_spec)
