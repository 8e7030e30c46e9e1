"""The window's menus and keyboard shortcuts, built from the controllers' public methods.

:func:`build_menus` fills the menu bar (File, View, Run, Lessons, Help) and returns the actions
by name (``window.actions``). Every action runs through :func:`~rnnviz.qt.errors.guarded`: an
unexpected error is shown once and logged, never a traceback on the console only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from rnnviz.qt import open_model, presentation
from rnnviz.qt.errors import guarded

SHORTCUTS = [
    ("Space", "Play / pause the timeline"),
    ("→ / ←", "One time step forward / back (forward pass, then BPTT)"),
    ("Home / End", "Jump to the start / the end (End twice: end of BPTT)"),
    ("Ctrl+T", "Train live in the background (again: more steps, the count continues)"),
    ("Ctrl+P", "Pause / resume training"),
    ("Esc", "Stop training (and playing)"),
    ("Ctrl+R", "Record the current setting again (fresh weights, no training)"),
    ("Ctrl+K", "Compare two runs"),
    ("Ctrl+O / Ctrl+Shift+O", "Open a session / open a trace (.npz)"),
    ("Ctrl+Shift+M / Ctrl+Shift+D", "Open your own model (PyTorch, ONNX, Keras) / your own data"),
    ("Ctrl+Shift+C", "Copy a Python script that reproduces the figure"),
    ("Ctrl+1 … Ctrl+9", "Show a view tab"),
    ("F6", "Run the lesson's action"),
    ("F5", "Presentation mode"),
    ("Page Down / Page Up", "Next / previous step (then the next / previous lesson): presenter clickers"),
]


class _Builder:
    def __init__(self, window):
        self.window = window
        self.actions: dict[str, QAction] = {}

    def add(self, name: str, text: str, slot, shortcut=None, tip: str = "", menu: QMenu | None = None) -> QAction:
        act = QAction(text, self.window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(guarded(self.window, slot))
        self.window.addAction(act)
        if menu is not None:
            menu.addAction(act)
        self.actions[name] = act
        return act


def build_menus(window) -> dict[str, QAction]:
    """Create the menu bar of ``window`` (a MainWindow with its controllers); returns the actions."""
    b = _Builder(window)
    for fill in (_file_menu, _view_menu, _run_menu, _lessons_menu, _help_menu):
        fill(window, b.add)
    return b.actions


def _file_menu(window, add) -> None:
    sessions, exports = window.session_controller, window.export_controller
    m = window.file_menu = window.menuBar().addMenu("&File")
    add("open_session", "Open session…", sessions.open_dialog, QKeySequence.StandardKey.Open,
        "Open a saved session (config, weights, history, traces, the tab in front)", m)
    add("save_session", "Save session", sessions.save_dialog, "Ctrl+S", "Save everything to one file", m)
    add("save_session_as", "Save session as…", lambda: sessions.save_dialog(as_new=True), "Ctrl+Shift+S",
        "Save everything to a new file", m)
    sessions.recent_menu = m.addMenu("Recent sessions")
    sessions.rebuild_recent()
    add("open_trace", "Open trace…", sessions.open_trace_dialog, "Ctrl+Shift+O",
        "Load a recorded run (.npz) and show it", m)
    add("open_model", "Open model…", lambda: open_model.open_model(window), "Ctrl+Shift+M",
        "Open your own network (PyTorch .pt, ONNX, Keras 3 .keras), checked against its framework", m)
    add("open_data", "Open data…", lambda: open_model.open_data(window), "Ctrl+Shift+D",
        "Your own sequences (CSV/.npy/.npz time series: next-step prediction) or a text file", m)
    add("copy_python", "Copy as Python", lambda: open_model.copy_as_python(window), "Ctrl+Shift+C",
        "Copy a script that reproduces the figure in front from its config and seed", m)
    m.addSeparator()
    add("export_panel", "Export panel PNG/SVG…", exports.export_panel_dialog, "Ctrl+E",
        "The panel in front (or several) as PNG or SVG, with titles and colour bars", m)
    add("export_window", "Export window PNG…", exports.export_window_dialog, None, "A screenshot of the window", m)
    add("export_animation", "Export GIF/MP4…", exports.export_animation_dialog, None,
        "Animate the forward pass, the backward pass or training", m)
    add("export_trace", "Export trace .npz…", exports.export_trace_dialog, None, "The current run's arrays", m)
    add("export_series", "Export series CSV…", exports.export_series_dialog, None,
        "Per-timestep gradient norms, losses and gate saturation", m)
    m.addSeparator()
    add("quit", "Quit", window.close, "Ctrl+Q", "Close rnnviz", m)


def _view_menu(window, add) -> None:
    m = window.view_menu = window.menuBar().addMenu("&View")
    m.addAction(window.build_dock.toggleViewAction())
    m.addSeparator()
    for i, name in enumerate(window.tab_names):
        title = window.views.title(name)
        add(f"show_{name}", title, lambda n=name: window.show_view(n), f"Ctrl+{i + 1}" if i < 9 else None,
            f"Show the {title} view", m)
    m.addSeparator()
    for phase, text in (("forward", "Forward pass, step by step"), ("backward", "BPTT, step by step"),
                        ("full", "Whole run at once")):
        add(f"phase_{phase}", text, lambda p=phase: window.set_phase(p), None,
            "Which part of the timeline the cursor walks", m)
    m.addSeparator()
    add("present", "Presentation mode", lambda: presentation.toggle_presentation(window), "F5",
        "Full screen, large fonts, high contrast; Page Up/Down step (presenter clicker)", m)


def _run_menu(window, add) -> None:
    s, runs = window.state, window.training_controller
    m = window.run_menu = window.menuBar().addMenu("&Run")
    add("train", "Train", runs.train, "Ctrl+T",
        "Train live in the background; again after Stop: more steps, the count continues", m)
    add("pause", "Pause training", runs.pause, "Ctrl+P", "Pause the training loop", m)
    add("resume", "Resume training", runs.resume, "Ctrl+Shift+P", "Continue a paused training", m)
    add("stop", "Stop", runs.stop, Qt.Key.Key_Escape,
        "Stop training (the weights so far are kept), cancel a recording, stop playing", m)
    add("reset", "Reset", runs.reset, "Ctrl+Shift+R", "Forget training: fresh weights, empty loss curve", m)
    add("record", "Record", runs.record, "Ctrl+R",
        "Build the network with fresh weights and record one forward + BPTT pass", m)
    m.addSeparator()
    add("play", "Play / pause", window.timeline.toggle_play, Qt.Key.Key_Space,
        "Step through the forward pass and then BPTT at the chosen speed", m)
    add("step_forward", "Step forward", s.step_forward, Qt.Key.Key_Right,
        "One time step forward (after the last step: into BPTT)", m)
    add("step_back", "Step back", s.step_back, Qt.Key.Key_Left, "One time step back", m)
    add("jump_start", "Jump to start", s.jump_start, Qt.Key.Key_Home, "t = 0 of the forward pass", m)
    add("jump_end", "Jump to end", s.jump_end, Qt.Key.Key_End, "End of the forward pass; again: end of BPTT", m)
    add("page_next", "Next step (then next lesson)", lambda: presentation.page(window, +1), "PgDown",
        "Presenter clicker: one step; past the end, the next lesson", m)
    add("page_prev", "Previous step (then previous lesson)", lambda: presentation.page(window, -1), "PgUp",
        "Presenter clicker: one step back; before the start, the previous lesson", m)
    m.addSeparator()
    add("compare", "Compare…", window.compare_controller.compare, "Ctrl+K",
        "Run the same data and seed with one setting changed, side by side", m)
    add("clear_compare", "Clear comparison", window.compare_controller.clear, None, "Leave compare mode", m)


def _lessons_menu(window, add) -> None:
    lessons = window.lesson_controller
    m = window.lessons_menu = window.menuBar().addMenu("&Lessons")
    add("lesson_run", "Run the lesson's action", lessons.run, "F6", "Train / compare / sample as the lesson says", m)
    add("lesson_reset", "Reset lesson to its start", lessons.reset, "Ctrl+Shift+L",
        "The lesson's config, fresh weights, t = 0", m)
    add("lesson_open", "Open lesson file…", lessons.open_file_dialog, "Ctrl+L", "Load a lesson .toml file", m)
    add("lesson_next", "Next lesson", lambda: window.lesson_browser.go(+1), "Ctrl+PgDown", "", m)
    add("lesson_prev", "Previous lesson", lambda: window.lesson_browser.go(-1), "Ctrl+PgUp", "", m)
    m.addAction(window.lesson_dock.toggleViewAction())


def _help_menu(window, add) -> None:
    m = window.help_menu = window.menuBar().addMenu("&Help")
    add("shortcuts", "Keyboard shortcuts", lambda: show_shortcuts(window), "F1", "List the shortcuts", m)
    add("about", "About rnnviz", lambda: show_about(window), None, "", m)


def show_shortcuts(window) -> None:
    """Help ▸ Keyboard shortcuts."""
    rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
    QMessageBox.information(window, "Keyboard shortcuts", f"<table cellspacing=6>{rows}</table>")


def show_about(window) -> None:
    """Help ▸ About."""
    import rnnviz

    QMessageBox.about(window, "About rnnviz",
                      f"<b>rnnviz {rnnviz.__version__}</b><br>See how recurrent networks work: "
                      "the unrolled graph, hidden states, gates and gradients through time.")


__all__ = ["SHORTCUTS", "build_menus", "show_about", "show_shortcuts"]
