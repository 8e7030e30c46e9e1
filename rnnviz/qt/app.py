"""Starting the GUI: ``run_gui`` opens the window (or renders it to a PNG and exits).

``rnnviz`` (the CLI) calls :func:`run_gui`; so can Python::

    from rnnviz.qt.app import run_gui
    raise SystemExit(run_gui(lesson="lstm", screenshot="lstm.png"))
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rnnviz.app.lessons import Lesson
from rnnviz.core.cells import display_name
from rnnviz.core.config import ConfigError, RunConfig

SCREENSHOT_SIZE = (1600, 1000)

#: Built-in states used when no lesson of that name exists: name → (title, flat overrides).
BUILTIN_STATES: dict[str, tuple[str, dict]] = {
    "default": (f"{display_name('rnn')} (tanh) on the adding problem, many-to-one",
                {"cell": "rnn", "activation": "tanh", "hidden_size": 32, "task": "adding", "seq_len": 50,
                 "batch_size": 16}),
    "lstm": ("2-layer bidirectional LSTM on the copy task",
             {"cell": "lstm", "num_layers": 2, "bidirectional": True, "hidden_size": 32, "task": "copy",
              "seq_len": 30, "forget_bias": 1.0}),
    "exploding": ("ReLU RNN with a scaled identity init: states and gradients explode to Inf/NaN",
                  {"cell": "rnn", "activation": "relu", "init": "identity", "init_scale": 3.0,
                   "hidden_size": 32, "task": "adding", "seq_len": 120, "lr": 0.1, "optimizer": "sgd"}),
}


def builtin_config(name: str) -> RunConfig:
    """The RunConfig of built-in state ``name`` (see :data:`BUILTIN_STATES`)."""
    if name not in BUILTIN_STATES:
        raise ConfigError(f"unknown lesson {name!r}; built-in states: {', '.join(BUILTIN_STATES)}")
    return RunConfig().with_overrides(**BUILTIN_STATES[name][1])


def resolve_lesson(name: str):
    """(config, lesson or None) for ``name``: a lesson file/name if the lessons module knows it,
    else a built-in state. Raises ConfigError with a one-line message if neither exists."""
    from rnnviz.app.lessons import LessonError, load_lesson

    try:
        lesson = load_lesson(name)
        return lesson.config, lesson
    except (LessonError, ConfigError, OSError) as exc:  # fall back to the built-in states
        if name not in BUILTIN_STATES:
            raise ConfigError(str(exc).splitlines()[0] if str(exc) else f"unknown lesson {name!r}") from None
    return builtin_config(name), None


def _ensure_platform(offscreen: bool) -> None:
    if offscreen and "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


def get_app(argv=None):
    """The one QApplication of this process (created on first use)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "rnnviz"])
        app.setApplicationName("rnnviz")
        app.setOrganizationName("rnnviz")
        leave_a_core_for_the_gui()
        _quiet_offscreen_noise()
        _collect_garbage_on_the_event_loop(app)
    return app


def _collect_garbage_on_the_event_loop(app) -> None:
    """Run Python's cyclic GC from a timer in the GUI thread, never inside a Qt call.

    A collection that starts inside, say, QObject::disconnect can destroy a stale Qt object
    whose destructor waits on the mutex disconnect holds: the window freezes for good (seen in
    our test runs). :class:`~rnnviz.qt.collector.QuietCollector` disables automatic collection
    and collects from the event loop, the slow collections only while the window is quiet.
    """
    from rnnviz.qt.collector import QuietCollector

    app._rnnviz_gc = QuietCollector()


_NOISE = ("propagateSizeHints",)  # the offscreen platform says this on every window: not news


def _quiet_offscreen_noise() -> None:
    from PySide6.QtCore import qInstallMessageHandler

    def handler(mode, context, message):
        if not any(n in message for n in _NOISE):
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def leave_a_core_for_the_gui() -> None:
    """Give torch one core fewer than the machine has, so painting never waits on it, and flush
    subnormals for the whole program (see :mod:`rnnviz.core.numerics`).

    With as many OpenMP threads as cores, a recording in the worker thread and the GUI thread
    fight for the CPU: seen here on 2 cores, a 50-step recording took 0.4 s instead of 0.04 s
    and the window stuttered. An explicit OMP_NUM_THREADS, RNNVIZ_THREADS or --threads is respected.
    """
    from rnnviz.core.numerics import configure_process

    configure_process(limit=max(1, (os.cpu_count() or 2) - 1))


def build_window(config: RunConfig | None = None, lesson=None, record: bool = True, warm_up: bool = True):
    """Create the state and the main window (the QApplication must exist); record synchronously."""
    from rnnviz.app.state import SessionState
    from rnnviz.qt.main_window import MainWindow

    state = SessionState(config or builtin_config("default"))
    if lesson is not None:
        state.lesson = lesson.name
    window = MainWindow(state, warm_up=warm_up)
    if record:
        window.record_sync()
    if lesson is not None:
        from rnnviz.qt.lesson_controller import telling_panel

        panel = telling_panel(lesson, window.views, started=False)
        if panel is not None:
            window.show_view(panel)
        state.status = f"lesson: {lesson.title}" + (f" — {state.status}" if state.status else "")
    return window


def run_gui(config: RunConfig | str | os.PathLike | None = None, lesson: str | None = None,
            present: bool = False, screenshot: str | os.PathLike | None = None, argv=None) -> int:
    """Open the rnnviz window and run until it closes; returns the exit code.

    ``config``: a RunConfig or a path to a .toml/.json config. ``lesson``: a lesson name or file
    (or a built-in state: default, lstm, exploding). ``present``: presentation mode.
    ``screenshot``: render the window offscreen at 1600×1000 to this PNG and exit 0 (1 on error).
    """
    _ensure_platform(offscreen=screenshot is not None)
    try:
        lesson_obj = None
        if isinstance(config, (str, os.PathLike)):
            from rnnviz.core.config import load_config

            config = load_config(config)
        if lesson is not None:
            lesson_config, lesson_obj = resolve_lesson(str(lesson))
            if config is None:
                config = lesson_config
            if lesson_obj is None:
                lesson_obj = _BuiltinLesson(str(lesson), BUILTIN_STATES[str(lesson)][0])
    except ConfigError as exc:
        print(f"rnnviz: {exc}", file=sys.stderr)
        return 2

    app = get_app(argv)
    window = build_window(config, lesson_obj, record=True, warm_up=screenshot is None)
    if screenshot is not None and isinstance(lesson_obj, Lesson):  # show the lesson's point, not its start
        try:
            window.lesson_controller.run_sync(lesson_obj)
        except ValueError as exc:
            print(f"rnnviz: {exc}", file=sys.stderr)
    if present:
        from rnnviz.qt.presentation import apply_presentation

        apply_presentation(window)

    if screenshot is not None:
        return _screenshot(app, window, Path(screenshot))
    window.resize(1500, 950)
    window.show()
    code = app.exec()
    _dispose(app, window)
    return int(code)


def _screenshot(app, window, path: Path) -> int:
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    for _ in range(5):
        app.processEvents()
    window.views["graph"].finish_build()  # the graph draws its steps a slice per event-loop turn
    app.processEvents()
    ok = False
    try:
        from PySide6.QtCore import QBuffer, QIODevice

        from rnnviz.core.safeio import FileRefused
        from rnnviz.core.safewrite import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        if window.grab().save(buf, "PNG"):
            data = bytes(buf.data())
            try:  # through the atomic writer: a full disk never leaves a truncated PNG
                atomic_write(path, lambda f: f.write(data))
                ok = True
            except (OSError, FileRefused) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                print(f"rnnviz: could not write {path}: {reason}", file=sys.stderr)
        else:
            print(f"rnnviz: could not render the window to {path}", file=sys.stderr)
    finally:
        window.shutdown()
        window.close()
        _dispose(app, window)
    return 0 if ok else 1


def _dispose(app, window) -> None:
    window.shutdown()
    window.deleteLater()
    app.processEvents()
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


class _BuiltinLesson:
    """Minimal lesson-like object for the built-in states."""

    def __init__(self, name: str, title: str):
        self.name, self.title, self.panels, self.text = name, title, [], title


__all__ = ["BUILTIN_STATES", "SCREENSHOT_SIZE", "build_window", "builtin_config", "get_app", "resolve_lesson",
           "run_gui"]
